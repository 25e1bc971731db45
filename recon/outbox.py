"""Claims on waiting outbox mail: one run at a time sends a message several runs may resend.

Shops may share one outbox, and mail kept before messages named their shop is resent by every
shop's run. Before sending a waiting ``.eml`` a run *claims* it: one ``rename`` moves it out of
the waiting list into a claim directory of its own (``claimed/<time>.<token>.<holder>/``), and
only one rename of a file can succeed, so a run that loses the race skips the message. After the
send the claim moves to ``sent/``; after a failed send back to the waiting list.

A claim whose run died (a process of this host and boot that no longer runs) is taken back at
once; any other claim older than the timeout is taken back too (a run on another host sharing
the outbox, or one whose process cannot be told), so a crash never loses a message. What can
still go twice: a message the relay accepted just before its run died, before the rename to
``sent/`` (SMTP has no idempotent submission), or one whose run was still sending when the
timeout took its claim back (the timeout is far longer than any send).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from recon.lock import holder_name, holder_process_is_gone

log = logging.getLogger(__name__)
CLAIMS_DIR = "claimed"
SENT_DIR = "sent"
# Mail the relay refused for good (a 5xx answer): kept here, resent by hand (recon.mail_parked).
REFUSED_DIR = "refused"
# A claim whose holder cannot be checked is taken back after this long (seconds): far longer
# than sending one message takes (an SMTP timeout of 30 s a step), short enough for next night.
CLAIM_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Claim:
    """A waiting message this run moved aside to send: ``path`` is where it is now."""

    path: Path
    waiting: Path  # where it waited, and goes back to if the send fails

    def sent(self) -> None:
        """Keep an audit copy of what went out in ``sent/``; the claim is over."""
        sent_dir = self.waiting.parent / SENT_DIR
        sent_dir.mkdir(exist_ok=True)
        self.path.replace(sent_dir / self.waiting.name)
        _remove_dir(self.path.parent)

    def close(self) -> None:
        """End a claim whose message was moved elsewhere (parked: ``recon.mail_parked``)."""
        _remove_dir(self.path.parent)

    def release(self) -> None:
        """Put the message back in the waiting list (the send failed): the next run resends.

        A claim another run took back meanwhile (it deemed this one stale) is that run's now:
        the message already waits again, or is being sent, so there is nothing to put back.
        """
        try:
            self.path.replace(self.waiting)
        except FileNotFoundError:
            log.warning("%s was taken back by another run while this one sent it", self.path.name)
        _remove_dir(self.path.parent)


def claim(path: Path, *, holder: str | None = None) -> Claim | None:
    """Move a waiting message into a new claim directory; None when another run has it.

    Raises:
        OSError: the claim directory cannot be made (the outbox is not writable).
    """
    stamp = f"{int(time.time())}.{secrets.token_hex(4)}.{holder or holder_name()}"
    directory = path.parent / CLAIMS_DIR / stamp
    directory.mkdir(parents=True)
    try:
        path.rename(directory / path.name)  # atomic: one run wins
    except FileNotFoundError:
        _remove_dir(directory)  # another run claimed it (or sent it) since the listing
        return None
    return Claim(directory / path.name, path)


def reclaim_stale(outbox_dir: Path, timeout: float = CLAIM_TIMEOUT) -> list[Path]:
    """Put back in the waiting list the messages of claims whose run is gone; returns them."""
    claims = outbox_dir / CLAIMS_DIR
    if not claims.is_dir():
        return []
    back: list[Path] = []
    for directory in sorted(claims.iterdir()):
        if not directory.is_dir() or not _stale(directory.name, timeout):
            continue
        for path in directory.glob("*.eml"):
            try:
                path.replace(outbox_dir / path.name)
            except FileNotFoundError:
                continue  # another run took it back first
            log.warning("took back %s from a claim its run left (%s)", path.name, directory.name)
            back.append(outbox_dir / path.name)
        _remove_dir(directory)
    return back


def _stale(name: str, timeout: float) -> bool:
    """Whether a claim directory's run is gone: its process died, or the claim timed out."""
    stamp, _, rest = name.partition(".")
    _, _, holder = rest.partition(".")
    if not stamp.isdigit():
        return False  # not one of ours: never touched
    return holder_process_is_gone(holder) or time.time() - int(stamp) >= timeout


def _remove_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (a file left by hand) or gone: harmless
        directory.rmdir()
