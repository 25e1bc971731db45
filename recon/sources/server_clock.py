"""An API's clock as its responses' HTTP ``Date`` headers tell it, against the host's clock.

Watermarks are the host's time at the start of a read (``recon.sync``), but the APIs stamp
``updated_at`` with their own clocks. A host clock ahead of an API's by more than the look-back
(``[sync] lookback_hours``) leaves a gap: what the API changes after a read, stamped before that
read's watermark by the host, is before the next window too, and is never read. ``Date`` is
standard HTTP (RFC 9110 §6.6.1: the time the origin made the response, to the second); neither
reference doc says more of it, and a response without one (or with one that cannot be parsed)
is simply not counted.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from recon.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClockReading:
    """The host's time when a response arrived, and the ``Date`` that response carried."""

    host: datetime
    server: datetime

    @property
    def host_ahead(self) -> timedelta:
        """How far the host clock is ahead of the API's (negative: behind)."""
        return self.host - self.server


class ServerClock:
    """Readings of one API's ``Date`` headers since ``reset`` (one client, any thread).

    Keeps the reading with the host least ahead: a response's time in flight, and ``Date``
    being cut to the second, only ever make the host look further ahead, so the smallest
    difference is the closest to the true one (within about a second).
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._best: ClockReading | None = None

    def observe(self, response: httpx.Response) -> None:
        """Count ``response``'s ``Date`` header, if it has one that can be read."""
        header = response.headers.get("Date")
        if not header:
            return
        try:
            server = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)  # RFC 9110: an HTTP date is always GMT
        reading = ClockReading(self._clock.now(), server)
        with self._lock:
            if self._best is None or reading.host_ahead < self._best.host_ahead:
                self._best = reading

    def reading(self) -> ClockReading | None:
        """The reading with the host least ahead since ``reset``, or None without any."""
        with self._lock:
            return self._best

    def reset(self) -> None:
        """Forget the readings (a run measures its own)."""
        with self._lock:
            self._best = None


def host_ahead(api: str, clock: ServerClock | None, lookback: timedelta) -> timedelta:
    """How far the host clock was ahead of ``api``'s (``clock``'s reading) when that is more
    than a quarter of the ``lookback``, with a warning naming both clocks; else nothing: the
    look-back absorbs a smaller skew, and a host clock behind the API's loses nothing (a
    window then starts earlier than it needs to).
    """
    reading = clock.reading() if clock is not None else None
    if reading is None or reading.host_ahead <= lookback / 4:
        return timedelta(0)
    log.warning(
        "the host clock is ahead of %s's: it read %s when %s's Date header said %s (%s ahead, "
        "more than a quarter of [sync] lookback_hours); %s's watermarks are set that much "
        "earlier, so the next run's window starts earlier; set the host clock right (NTP). "
        "What %s changed in that gap before this run may have been missed: a backfill over "
        "the last days reads it",
        api,
        reading.host.isoformat(timespec="seconds"),
        api,
        reading.server.isoformat(timespec="seconds"),
        reading.host_ahead,
        api,
        api,
    )
    return reading.host_ahead
