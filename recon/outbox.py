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

Nothing in the outbox is written over. Copies of one report (for the recipients refused for
now, for those refused for good, the audit copies in ``sent/``) share its file name, so every
write and move into an outbox folder takes a free name (``place``): the name itself, else
``<stem>-2.eml``, ``-3``... A hard link makes the new name, and fails if the name exists, so
two processes never take one name; a move first renames the file aside (``move``), which one
process alone can do, so a file two runs move at once (a stale claim) lands once.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
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
# A file being moved (``move``): renamed aside so that no listing of ``*.eml`` sees it.
MOVING_SUFFIX = ".moving"
# What os.link raises on a filesystem without hard links (some network shares, FAT).
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


@dataclass(frozen=True)
class Claim:
    """A waiting message this run moved aside to send: ``path`` is where it is now."""

    path: Path
    waiting: Path  # where it waited, and goes back to if the send fails

    def sent(self) -> Path | None:
        """Keep an audit copy of what went out in ``sent/`` (beside the copies of the same
        report sent before: each recipient's is kept); the claim is over. Returns the copy,
        or None when another run took the claim back meanwhile (it deemed this one stale).

        Raises:
            OSError: ``sent/`` cannot be written (the message stays claimed).
        """
        kept = move(self.path, self.waiting.parent / SENT_DIR, self.waiting.name)
        if kept is None:
            log.warning("%s was taken back by another run while this one sent it", self.path.name)
        _remove_dir(self.path.parent)
        return kept

    def close(self) -> None:
        """End a claim whose message was moved elsewhere (parked: ``recon.mail_parked``)."""
        _remove_dir(self.path.parent)

    def release(self) -> Path | None:
        """Put the message back in the waiting list (the send failed): the next run resends.
        Returns where it waits: its name, or a free one beside it when another copy of the
        report took its name meanwhile (``outbox retry`` put a parked copy back).

        A claim another run took back meanwhile (it deemed this one stale) is that run's now:
        the message already waits again, or is being sent, so there is nothing to put back
        (None).

        Raises:
            OSError: the outbox cannot be written (the message stays claimed, taken back by
                the next run).
        """
        back = move(self.path, self.waiting.parent, self.waiting.name)
        if back is None:
            log.warning("%s was taken back by another run while this one sent it", self.path.name)
        _remove_dir(self.path.parent)
        return back


def claim(path: Path, *, holder: str | None = None, outbox_dir: Path | None = None) -> Claim | None:
    """Move a waiting message into a new claim directory; None when another run has it.

    The claim is made in ``outbox_dir`` (default: the message's own directory), whose runs
    take it back if this one dies holding it.

    Raises:
        OSError: the claim directory cannot be made (the outbox is not writable).
    """
    stamp = f"{int(time.time())}.{secrets.token_hex(4)}.{holder or holder_name()}"
    directory = (outbox_dir or path.parent) / CLAIMS_DIR / stamp
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
        # A ``.moving`` file is one its run died moving (``move``): its name is before the token.
        try:
            paths = [*directory.glob("*.eml"), *directory.glob(f"*{MOVING_SUFFIX}")]
        except FileNotFoundError:
            continue  # another run took this claim back and removed it since the listing
        for path in paths:
            if _placed(path):
                # Its run died between linking it where it was going (``sent/``, the outbox)
                # and removing it here: it is there already, and taken back it would go twice.
                path.unlink(missing_ok=True)
                log.info("%s was already placed by the run that left %s", path.name, directory)
                continue
            name = path.name.rsplit(".", 2)[0] if path.name.endswith(MOVING_SUFFIX) else path.name
            waiting = move(path, outbox_dir, name)
            if waiting is None:
                continue  # another run took it back first
            log.warning("took back %s from a claim its run left (%s)", waiting.name, directory.name)
            back.append(waiting)
        _remove_dir(directory)
    return back


def move(source: Path, directory: Path, name: str) -> Path | None:
    """Move ``source`` into ``directory`` as ``name``, or a free name beside it (``place``);
    returns where it is now, or None when another process moved it first.

    The file is first renamed aside, beside itself: of two processes moving one file at once
    (two runs taking back one stale claim) one alone does that, so it lands once. A file that
    cannot be placed is put back where it was.

    Raises:
        OSError: ``directory`` cannot be written.
    """
    aside = source.with_name(f"{source.name}.{secrets.token_hex(4)}{MOVING_SUFFIX}")
    try:
        source.rename(aside)
    except FileNotFoundError:
        return None
    try:
        return place(aside, directory, name)
    except OSError:
        if not os.path.lexists(aside):
            # Another process moved it from aside meanwhile (a run taking back the same stale
            # claim lists the aside file as one its run died moving): it lands once, there.
            return None
        with contextlib.suppress(OSError):
            aside.rename(source)
        raise


def place(source: Path, directory: Path, name: str) -> Path:
    """Give ``source`` (a file no other process moves: a new temp file, one set aside by
    ``move``) the name ``directory/name``, or ``<stem>-2<suffix>`` (``-3``...) when that is
    taken; never replaces a file. Returns its new path.

    Raises:
        OSError: ``directory`` cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in itertools.count(1):
        target = directory / (name if n == 1 else f"{stem}-{n}{suffix}")
        try:
            os.link(source, target)  # fails if the name exists, whoever took it since we looked
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            # No hard links here: look, then rename. Only shops sharing an outbox on such a
            # filesystem, moving copies of one report at the same instant, could still meet.
            if os.path.lexists(target):
                continue
            source.replace(target)
            return target
        # Gone already only when a run taking back a stale claim found it linked here and
        # removed it (``reclaim_stale``): it is placed either way.
        source.unlink(missing_ok=True)
        return target
    raise AssertionError("unreachable: itertools.count never ends")


def _placed(path: Path) -> bool:
    """Whether a claimed file has another name too: ``place`` linked it to its destination and
    its run died before removing it here. Nothing else links outbox files."""
    try:
        return path.stat().st_nlink > 1
    except FileNotFoundError:
        return False  # another run took it back since the listing


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
