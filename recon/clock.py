"""Clocks: the real one, and a virtual one that tests and the sandbox advance by hand."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


def shop_day(moment: datetime, timezone: str) -> date:
    """The shop's calendar day at ``moment`` (``[shop] timezone``): 15:00 UTC on 1 November is
    the 2nd in Sydney. Nightly reports are named and dated by it, as month-end periods are.

    Raises:
        ValueError: if ``moment`` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError("shop_day needs a tz-aware moment")
    return moment.astimezone(ZoneInfo(timezone)).date()


def as_argument(moment: datetime) -> str:
    """``moment`` as ``backfill --from``/``--to`` take it back: a day, or a day and a time.

    Here, not in ``recon.backfill``: the CLI refuses a bad range with it before it loads the
    backfill's heavy modules.
    """
    if moment.time() == datetime.min.time():
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%dT%H:%M:%S}"


def day_start(day: date, timezone: str) -> datetime:
    """The first moment of the shop's ``day``, in UTC (days with a clock change are 23 or 25
    hours long; a skipped midnight starts the day at the first moment that exists)."""
    return datetime.combine(day, datetime.min.time(), ZoneInfo(timezone)).astimezone(UTC)


def shop_time(moment: datetime, timezone: str) -> str:
    """``moment`` as the shop reads it, its zone named: ``2026-11-02 02:00 AEDT
    (Australia/Sydney)``; a UTC shop's is ``2026-11-01 06:00 UTC``.

    Raises:
        ValueError: if ``moment`` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError("shop_time needs a tz-aware moment")
    local = moment.astimezone(ZoneInfo(timezone))
    if timezone.upper() in ("UTC", "ETC/UTC"):
        return f"{local:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M %Z} ({timezone})"


class Clock(Protocol):
    """What recon needs of time: an aware UTC now, and a way to wait."""

    def now(self) -> datetime:
        """The current time, tz-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for rate limits and timeouts)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait; a virtual clock advances instead of blocking."""
        ...


class SystemClock:
    """Wall-clock time. ``scale`` > 1 makes rate-limit time pass faster (benchmarks only);
    ``shift`` moves ``now`` by a fixed amount (a child process following a sandbox's clock)."""

    def __init__(self, scale: float = 1.0, *, shift: timedelta = timedelta(0)) -> None:
        self.scale = scale
        self.shift = shift
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def monotonic(self) -> float:
        return self._origin + (time.monotonic() - self._origin) * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)


class VirtualClock:
    """A clock that only moves when told to; ``sleep`` advances it at once. Thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("VirtualClock needs a tz-aware start")
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(timedelta(seconds=seconds))

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        with self._lock:
            self._now += delta
            self._mono += delta.total_seconds()

    def set(self, moment: datetime) -> None:
        """Jump to a later moment (never backwards)."""
        with self._lock:
            if moment < self._now:
                raise ValueError("a VirtualClock never goes back")
            self._mono += (moment - self._now).total_seconds()
            self._now = moment
