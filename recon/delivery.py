"""Deliver report e-mails over SMTP or into an outbox directory, never losing a message.

``deliver`` first resends the ``.eml`` files waiting in the outbox, then sends the new messages;
a message that cannot be sent is written to the outbox as ``.eml`` and retried by the next run,
unless the relay refused it for good: then it is parked (``recon.mail_parked``).
``build_messages`` (``recon.mail_messages``) makes one message per team.
"""

from __future__ import annotations

import copy
import email
import email.policy
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Protocol

from recon.errors import (
    ConfigError,
    DeliveryError,
    MailLostError,
    MailRefusedError,
    RecipientsRefusedError,
)
from recon.mail_messages import REPORTED_AT_HEADER as REPORTED_AT_HEADER
from recon.mail_messages import SHOP_HEADER as SHOP_HEADER
from recon.mail_messages import TEAM_HEADER as TEAM_HEADER
from recon.mail_messages import XLSX_TYPE as XLSX_TYPE
from recon.mail_messages import build_messages as build_messages  # callers import it here
from recon.mail_parked import park_file, park_message, parked_error, parked_mail, parked_note
from recon.outbox import CLAIM_TIMEOUT, Claim, claim, place, reclaim_stale
from recon.smtp import RESEND_TO_HEADER
from recon.smtp import SmtpMailer as SmtpMailer  # the adapter lived here; callers import it here

log = logging.getLogger(__name__)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Mailer(Protocol):
    """Sends one e-mail or raises ``DeliveryError``."""

    def send(self, message: EmailMessage) -> None:
        """Send ``message``.

        Raises:
            DeliveryError: the message was not accepted.
        """
        ...


# Marks an .eml that outbox mode delivered, as opposed to one kept after a failed send.
DELIVERED_HEADER = "X-Recon-Delivered"


def eml_name(message: EmailMessage) -> str:
    """A stable, safe file name for a message: run, team and a digest of its Message-ID."""
    digest = hashlib.sha256(str(message.get("Message-ID", "")).encode()).hexdigest()[:12]
    run = _UNSAFE_NAME.sub("_", str(message.get("X-Recon-Run", "run")))[:60]
    team = _UNSAFE_NAME.sub("_", str(message.get(TEAM_HEADER, "all")))[:20]
    return f"{run}-{team}-{digest}.eml"


class OutboxMailer:
    """Writes each message as an ``.eml`` file into a directory (the default delivery mode)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        """Write the message.

        Raises:
            DeliveryError: the file could not be written.
        """
        delivered = copy.deepcopy(message)
        # Delivered here, not waiting: a later run in smtp mode must not mail it again.
        delivered[DELIVERED_HEADER] = "outbox"
        try:
            write_eml(delivered, self.directory)
        except OSError as exc:
            raise DeliveryError(f"cannot write to outbox {self.directory}: {exc}") from exc


def write_eml(message: EmailMessage, directory: Path) -> Path:
    """Write a message whole (a temp file of its own, then its name) so a crash never leaves
    half a file; as ``eml_name`` names it, or a free name beside it (``-2``...) when another
    copy of the report (for other recipients) has that name: nothing is written over.

    Raises:
        OSError: the directory or file cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    name = eml_name(message)
    temp = directory / f".{name}.{secrets.token_hex(4)}.part"
    try:
        temp.write_bytes(message.as_bytes(policy=email.policy.SMTP))
        return place(temp, directory, name)
    finally:
        temp.unlink(missing_ok=True)  # placed: gone already; else no half file is left


def read_eml(path: Path) -> EmailMessage:
    """Parse an ``.eml`` file back into an ``EmailMessage``."""
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)  # policy.default always builds EmailMessage
    return parsed


@dataclass
class DeliveryResult:
    """What ``deliver`` did: subjects sent, outbox files resent, and files kept for next time."""

    sent: list[str] = field(default_factory=list)
    resent: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # The teams whose message of this run was sent or kept in the outbox for the next run.
    went_out: list[str] = field(default_factory=list)
    # Refused for good by the relay in this run: parked in refused/, resent only by hand.
    parked: list[Path] = field(default_factory=list)
    # Parked by an earlier run and still there: said (a warning), no longer a failure.
    parked_earlier: list[Path] = field(default_factory=list)
    # The teams whose message of this run the relay refused for good, whole: parked, it
    # reached none of them, and no run resends it (in ``went_out`` too: it is kept on disk).
    refused: list[str] = field(default_factory=list)
    # The ``REPORTED_AT_HEADER`` of earlier runs' reports that waited in the outbox and were
    # parked on resend: counted as told when kept, they reached no one after all.
    unreported: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when this run left nothing waiting in the outbox, or parked."""
        return not self.kept and not self.parked


def deliver(
    messages: Sequence[EmailMessage],
    mailer: Mailer,
    outbox_dir: Path,
    *,
    shop: str | None = None,
    recipients: Mapping[str, Sequence[str]] | None = None,
    claim_timeout: float = CLAIM_TIMEOUT,
) -> DeliveryResult:
    """Resend what waits in the outbox, then send ``messages``; keep failures as ``.eml``.

    Only ``shop``'s waiting mail is resent (when given): shops may share an outbox directory
    (the default is one for all), and one shop's run must not send another's report through its
    own SMTP account. Mail kept before messages named their shop is resent by any shop, as then;
    each waiting message is claimed before it is sent, so two runs at once send it once, and a
    claim a crashed run left is taken back (at once if its process is gone, else after
    ``claim_timeout`` seconds) so nothing is lost (``recon.outbox``). ``shop``'s waiting message
    goes to its team's ``recipients`` as the settings name them now (``[delivery.recipients]``):
    a report refused for a mistyped address reaches the corrected one, and one who left the
    team gets no more. A message the relay took for some recipients and refused for others
    is sent, and a copy waits for the refused alone (``_keep_for_refused``).

    With an ``OutboxMailer`` the outbox *is* the destination, so nothing is resent. A
    configuration error at the moment of sending (an SMTP credential's variable unset) keeps the
    message like any other failure: the run has saved its findings, so the next run would see
    them as open, not new, and their e-mail would be lost.

    A message the relay refuses for good (``MailRefusedError``, and the recipients of a
    ``RecipientsRefusedError`` refused with a 5xx) is parked in ``refused/`` with the answer
    (``recon.mail_parked``): not resent by later runs, which list it in ``parked_earlier``.

    A message that can be neither sent nor kept (the outbox cannot be written either) does
    not stop the others: each team's mail is tried, then ``MailLostError`` names the lost ones
    and the teams whose message went out (sent or kept).

    Raises:
        MailLostError: a failed message could not even be written to the outbox.
    """
    result = DeliveryResult()
    lost: list[str] = []
    if not isinstance(mailer, OutboxMailer):
        addressed = _readdress(shop, recipients)
        lost = _resend_waiting(mailer, outbox_dir, shop, result, claim_timeout, addressed)
    for message in messages:
        try:
            mailer.send(message)
            result.sent.append(str(message["Subject"]))
        except RecipientsRefusedError as exc:
            result.sent.append(str(message["Subject"]))
            try:
                _keep_for_refused(message, exc, outbox_dir, result)
            except OSError as write_exc:
                lost.append(_lost(message, exc, write_exc))
        except MailRefusedError as exc:
            try:
                parked = park_message(message, eml_name(message), outbox_dir, str(exc))
            except OSError as write_exc:
                lost.append(_lost(message, exc, write_exc))
                continue
            result.parked.append(parked)
            result.refused.append(str(message[TEAM_HEADER]))
            result.errors.append(parked_error(parked, exc))
            log.error("%r refused for good; parked as %s: %s", str(message["Subject"]), parked, exc)
        except (DeliveryError, ConfigError) as exc:
            try:
                kept = write_eml(message, outbox_dir)
            except OSError as write_exc:
                lost.append(_lost(message, exc, write_exc))
                continue
            result.kept.append(kept)
            result.errors.append(f"{kept.name}: {exc}")
            log.warning(
                "could not send %r; kept in the outbox as %s: %s",
                str(message["Subject"]),
                kept,
                exc,
            )
        result.went_out.append(str(message[TEAM_HEADER]))
    if not isinstance(mailer, OutboxMailer):
        earlier = [p for p in parked_mail(outbox_dir, shop) if p not in result.parked]
        if earlier:
            result.parked_earlier = earlier
            log.warning(parked_note(earlier, outbox_dir))
    if lost:
        raise _lost_error(lost, result.went_out, result.refused)
    return result


def _lost(message: EmailMessage, exc: Exception, write_exc: OSError) -> str:
    """One lost message, for ``MailLostError``: its team and subject, and both failures."""
    said = f"{message[TEAM_HEADER]} ({message['Subject']}): {exc}; and the outbox failed too: "
    log.error("lost %s%s", said, write_exc)
    return f"{said}{write_exc}"


def _lost_error(
    lost: Sequence[str], went_out: Sequence[str], refused: Sequence[str]
) -> MailLostError:
    """What ``deliver`` ends with when messages were lost: each, whose mail went out, and
    whose of those the relay refused for good (parked)."""
    out = f"; the {', '.join(went_out)} message(s) went out" if went_out else ""
    return MailLostError(
        f"{len(lost)} message(s) could be neither sent nor kept in the outbox: "
        f"{'; '.join(lost)}{out}",
        tuple(went_out),
        tuple(refused),
    )


def _readdress(
    shop: str | None, recipients: Mapping[str, Sequence[str]] | None
) -> Callable[[EmailMessage], EmailMessage | None]:
    """What a waiting message is sent as: ``shop``'s own, to its team's current recipients;
    None when it is owed to no one any more (its team was taken out of the recipients).

    A copy kept for recipients the relay refused (``RESEND_TO_HEADER``) goes to those still
    on the team and to any added since the message was written (a corrected address), never
    to those who got it. Mail naming no shop (kept by an older version) or another shop stays
    as written, as does all mail when no ``recipients`` are given.
    """

    def addressed(waiting: EmailMessage) -> EmailMessage | None:
        if recipients is None or shop is None or waiting[SHOP_HEADER] != shop:
            return waiting
        current = recipients.get(str(waiting[TEAM_HEADER]))
        if not current:
            return None  # the team was removed (a mistyped only address?): no one waits
        owed = waiting[RESEND_TO_HEADER]
        if owed is not None:
            written = _addresses(waiting.get_all("To", []))
            refused = _addresses([str(owed)])
            # Refused then and still on the team, or new on it (a corrected address).
            still = [
                p for p in current if _addresses([p]) <= refused or not _addresses([p]) & written
            ]
            if not still:
                return None
            waiting.replace_header(RESEND_TO_HEADER, ", ".join(still))
        waiting.replace_header("To", ", ".join(current))
        return waiting

    return addressed


def _addresses(headers: Sequence[object]) -> set[str]:
    """The addresses (lower case) in header values such as ``"Name <a@b>, c@d"``."""
    return {address.lower() for _, address in getaddresses([str(h) for h in headers]) if address}


def _resend_waiting(
    mailer: Mailer,
    outbox_dir: Path,
    shop: str | None,
    result: DeliveryResult,
    timeout: float,
    addressed: Callable[[EmailMessage], EmailMessage | None],
) -> list[str]:
    """Resend ``shop``'s waiting mail (and mail naming no shop); what still fails stays.

    Each message is claimed before it is sent (``recon.outbox``): another run resending the
    same outbox at the same moment skips it, so it goes out once. Returns the messages lost
    (sent to some, refused for others whose copy the outbox could not keep: ``_lost``).
    """
    lost: list[str] = []
    reclaim_stale(outbox_dir, timeout)
    for path in sorted(outbox_dir.glob("*.eml")):
        try:
            waiting = read_eml(path)
        except FileNotFoundError:
            continue  # another run, sharing this outbox, claimed it since the listing
        if waiting[DELIVERED_HEADER] is not None:
            continue  # written by outbox mode: that was its delivery
        if shop is not None and waiting[SHOP_HEADER] not in (None, shop):
            continue  # another shop's: its own run resends it
        try:
            held = claim(path)
        except OSError as exc:  # the outbox is not writable: unsafe to send, it stays waiting
            result.kept.append(path)
            result.errors.append(f"{path.name}: cannot claim it in {outbox_dir}: {exc}")
            continue
        if held is None:
            continue  # another run claimed it first: that run sends it
        owed = addressed(waiting)
        if owed is None:  # its team, or its refused recipients, left: no one waits for it
            log.warning("%s is owed to no one on its team any more: filed in sent/", path.name)
            _sent(held, path)
            continue
        try:
            mailer.send(owed)
        except RecipientsRefusedError as exc:
            result.resent.append(path)  # to the others
            _sent(held, path)  # only the refused wait, in a copy of their own
            try:
                _keep_for_refused(waiting, exc, outbox_dir, result)
            except OSError as write_exc:
                lost.append(_lost(waiting, exc, write_exc))
            continue
        except MailRefusedError as exc:
            _park_waiting(held, waiting, exc, outbox_dir, result)
            continue
        except (DeliveryError, ConfigError) as exc:
            kept = held.release() or path  # a copy of the report may have taken its name
            result.kept.append(kept)
            result.errors.append(f"{kept.name}: {exc}")
            log.warning("still cannot send %s (kept in the outbox as %s): %s", path.name, kept, exc)
            continue
        except BaseException:
            held.release()  # not sent (interrupted): waiting again rather than held to timeout
            raise
        result.resent.append(path)
        _sent(held, path)
    return lost


def _park_waiting(
    held: Claim,
    waiting: EmailMessage,
    exc: MailRefusedError,
    outbox_dir: Path,
    result: DeliveryResult,
) -> None:
    """Park a waiting message the relay refused for good; one that cannot move waits on."""
    try:
        parked = park_file(held.path, outbox_dir, waiting, str(exc))
    except OSError as move_exc:
        kept = held.release() or held.waiting
        result.kept.append(kept)
        result.errors.append(f"{kept.name}: {exc}; and it could not be parked: {move_exc}")
        return
    held.close()
    result.parked.append(parked)
    if (stamp := waiting[REPORTED_AT_HEADER]) is not None:
        result.unreported.append(str(stamp))
    result.errors.append(parked_error(parked, exc))
    log.error("%s refused for good; parked as %s: %s", held.waiting.name, parked, exc)


def _sent(held: Claim, path: Path) -> None:
    """Move a sent message's claim to ``sent/``; one that cannot move is logged."""
    try:
        held.sent()
    except OSError as exc:
        # Sent, but still claimed: taken back and sent again once the claim is stale.
        log.error("%s was sent but could not be moved to sent/: %s", path.name, exc)


def _keep_for_refused(
    message: EmailMessage, exc: RecipientsRefusedError, outbox_dir: Path, result: DeliveryResult
) -> None:
    """Keep ``message`` for the recipients the relay refused, and them alone: a copy for
    those refused for good (5xx) parked, one for those refused for now (4xx) in the outbox.

    Raises:
        OSError: the outbox cannot be written.
    """
    final, later = exc.split()
    for refused in (final, later):
        if not refused:
            continue
        owed = copy.deepcopy(message)
        del owed[RESEND_TO_HEADER]
        owed[RESEND_TO_HEADER] = ", ".join(refused)
        if refused is final:
            parked = park_message(owed, eml_name(owed), outbox_dir, str(exc))
            result.parked.append(parked)
            result.errors.append(parked_error(parked, exc))
            log.error("%r: parked as %s: %s", str(message["Subject"]), parked, exc)
            continue
        kept = write_eml(owed, outbox_dir)
        result.kept.append(kept)
        result.errors.append(f"{kept.name}: {exc}")
        log.warning(
            "%r: kept in the outbox as %s for the next run: %s", str(message["Subject"]), kept, exc
        )
