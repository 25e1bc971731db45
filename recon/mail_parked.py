"""Mail the relay refused for good: parked in the outbox's ``refused/``, resent only by hand.

A 5xx answer to MAIL, RCPT or DATA (``recon.errors.MailRefusedError``: a workbook over the
relay's size limit, an unknown mailbox, a sender the account may not use) comes again for the
same message however often it is sent, so resending it every night only failed every night
(exit 5, for ever). The run that gets the answer parks the message: ``refused/<name>.eml``
with ``<name>.eml.answer.txt`` beside it (who it was for, and what the relay said), and ends 5
naming the answer. Later runs leave it there and warn that it waits. ``outbox retry`` (after
the cause is fixed) puts a shop's parked mail back in the outbox and resends it at once.
"""

from __future__ import annotations

import contextlib
import email.policy
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

from recon.mail_messages import SHOP_HEADER, TEAM_HEADER
from recon.outbox import REFUSED_DIR, claim, move, place
from recon.smtp import RESEND_TO_HEADER

ANSWER_SUFFIX = ".answer.txt"
RETRY_COMMAND = "`run_recon.py outbox retry`"
# In each error of a message parked by this run (``parked_error``), and in no other.
PARKED_MARK = "refused for good, so parked in"


def park_message(message: EmailMessage, name: str, outbox_dir: Path, answer: str) -> Path:
    """Write ``message`` into ``refused/`` as ``name`` (or a free name beside it: two copies
    of one report, for different recipients, have the same name), with the relay's
    ``answer``; returns its path.

    Raises:
        OSError: the outbox cannot be written.
    """
    directory = outbox_dir / REFUSED_DIR
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f".{name}.{secrets.token_hex(4)}.part"
    try:
        temp.write_bytes(message.as_bytes(policy=email.policy.SMTP))
        path = place(temp, directory, name)
    finally:
        temp.unlink(missing_ok=True)  # placed: gone already; else no half file is left
    write_answer(path, message, answer)
    return path


def park_file(path: Path, outbox_dir: Path, message: EmailMessage, answer: str) -> Path:
    """Move a waiting message (claimed by this run, at ``path``) into ``refused/``, under its
    name or a free one beside it.

    Raises:
        OSError: the outbox cannot be written, or another run took the claim back meanwhile
            (``FileNotFoundError``).
    """
    parked = move(path, outbox_dir / REFUSED_DIR, path.name)
    if parked is None:
        raise FileNotFoundError(f"{path.name} was taken back by another run while parking it")
    write_answer(parked, message, answer)
    return parked


def write_answer(parked: Path, message: EmailMessage, answer: str) -> None:
    """The relay's answer beside a parked message, for the person who fixes the cause.

    Raises:
        OSError: the file cannot be written.
    """
    lines = [
        f"refused for good at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC; recon does not "
        "resend it on its own",
        f"shop: {message.get(SHOP_HEADER, '')}",
        f"team: {message.get(TEAM_HEADER, '')}",
        f"subject: {message.get('Subject', '')}",
        f"to: {message.get(RESEND_TO_HEADER) or message.get('To', '')}",
        f"answer: {answer}",
        f"once the cause is fixed (the recipients, sender or the relay): {RETRY_COMMAND}",
    ]
    parked.with_name(parked.name + ANSWER_SUFFIX).write_text("\n".join(lines) + "\n", "utf-8")


def parked_mail(outbox_dir: Path, shop: str | None) -> list[Path]:
    """``shop``'s parked messages (and those naming no shop), oldest name first."""
    directory = outbox_dir / REFUSED_DIR
    if not directory.is_dir():
        return []
    mine = []
    for path in sorted(directory.glob("*.eml")):
        try:
            with path.open("rb") as file:
                named = BytesHeaderParser(policy=email.policy.default).parse(file)[SHOP_HEADER]
        except FileNotFoundError:
            continue  # another run (or an outbox retry) moved it since the listing
        if shop is None or named in (None, shop):
            mine.append(path)
    return mine


def unpark(outbox_dir: Path, shop: str | None) -> list[Path]:
    """Put ``shop``'s parked messages back in the outbox, where the next send takes them;
    returns their paths there. Each answer file goes with its message's parking.

    Raises:
        OSError: the outbox cannot be written.
    """
    back = []
    for path in parked_mail(outbox_dir, shop):
        # Claimed first, as a run claims waiting mail: of two retries (two shops' retries of
        # mail naming no shop) one alone moves it; and a retry that dies here leaves it to
        # the next run, which takes the claim back into the outbox.
        held = claim(path, outbox_dir=outbox_dir)
        if held is None:
            continue  # moved by another retry since the listing
        try:
            target = place(held.path, outbox_dir, path.name)  # beside a waiting copy
        except OSError:
            held.release()  # parked again, as it was
            raise
        held.close()
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + ANSWER_SUFFIX).unlink()
        back.append(target)
    return back


def parked_error(path: Path, answer: Exception) -> str:
    """What the run that parked ``path`` says (it ends 5 with it): the answer, and what next."""
    return (
        f"{path.name}: {answer}; {PARKED_MARK} {path.parent} and not resent "
        f"on its own (the answer is in {path.name}{ANSWER_SUFFIX}): fix the cause, then run "
        f"{RETRY_COMMAND}"
    )


def parked_note(paths: list[Path], outbox_dir: Path) -> str:
    """What a run says about mail parked by an earlier run (a warning, not a failure)."""
    return (
        f"{len(paths)} message(s) the relay refused for good wait in {outbox_dir / REFUSED_DIR} "
        f"and are not resent (the relay's answer is beside each); fix the cause, then run "
        f"{RETRY_COMMAND}"
    )
