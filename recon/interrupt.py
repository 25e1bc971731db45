"""Stopping a run at its next safe point when the process is asked to stop (SIGINT, SIGTERM).

The first signal only records the request (``Interrupt``); the run checks it where stopping is
safe: the sync's readers before their next request (``recon.fetch``), remediation between two
writes, never in the middle of one (``recon.remediation.executor``), the nightly run between
its steps (``recon.service``), and a backfill between windows (``recon.backfill``). The run then
releases its lock and ends with ``RunInterruptedError``, saying what it did. A second signal
exits at once: whoever sends it prefers a quick exit to a clean one (a write in flight is then
resolved by the next run's recovery, and a dead holder's run lock is taken over at once on the
same host).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

from recon.errors import RunInterruptedError

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGINT, signal.SIGTERM)
RESUME = "the next run resumes from here"
_TICK = 0.05  # seconds between two looks at the request while waiting for one


class Interrupt:
    """A request to stop, shared by the run's threads; set once, by the first signal.

    Lock-free: ``request`` runs in a signal handler, which runs in the main thread wherever it
    was. Set through a ``threading.Event``, whose lock the main thread holds inside its own
    ``wait``, a signal landing there deadlocked the process (and the second signal, too).
    """

    def __init__(self) -> None:
        self._requested = False  # one assignment: atomic under the GIL
        self.signum = 0
        self.name = ""

    def request(self, signum: int) -> None:
        """Ask the run to stop at its next safe point."""
        if not self._requested:
            self.signum, self.name = signum, signal.Signals(signum).name
        self._requested = True

    @property
    def requested(self) -> bool:
        """Whether the run was asked to stop."""
        return self._requested

    def wait(self, timeout: float = 1.0) -> bool:
        """Wait up to ``timeout`` seconds for a request; whether one came (seen within a tick,
        ``_TICK``, of it: a sleep a signal lands in resumes after the handler, PEP 475)."""
        deadline = time.monotonic() + timeout
        while not self._requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, _TICK))
        return True

    def check(self, what: str, *, who: str = "the run", resume: str = RESUME) -> None:
        """Stop here if asked to: ``what`` says where the run is and what it did.

        Raises:
            RunInterruptedError: the run was asked to stop.
        """
        if self.requested:
            raise self.error(what, who=who, resume=resume)

    def error(
        self, what: str, *, who: str = "the run", resume: str = RESUME
    ) -> RunInterruptedError:
        """The error a stop ends ``who`` with: where it stopped and what it did (``what``), and
        how the work resumes (``resume``)."""
        return RunInterruptedError(
            f"{self.name}: {who} stopped {what}. The run lock is released; {resume}.",
            self.signum,
        )


@contextlib.contextmanager
def on_signals(interrupt: Interrupt) -> Iterator[Interrupt]:
    """SIGINT and SIGTERM request ``interrupt`` while the block runs (the first), or exit the
    process at once (the second, exit 128 + the signal). Handlers are restored on exit.

    Signals are handled in the main thread only; elsewhere the block runs without handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if interrupt.requested:
            _say(f"{name} again: exiting at once\n")
            os._exit(128 + signum)
        interrupt.request(signum)
        _say(f"{name}: stopping at the next safe point (send it again to exit at once)\n")
        log.warning("%s received: stopping at the next safe point", name)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield interrupt
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _say(text: str) -> None:
    """Write to stderr without Python's buffered stream: a signal handler may run while the
    main thread is in the middle of writing to it."""
    with contextlib.suppress(OSError):
        os.write(2, text.encode())
