"""APScheduler triggers for the built-in scheduler: a shop's wall-clock times, each once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

_TICK = timedelta(seconds=1)
# Longer than any change of a zone's UTC offset (2 hours at most, e.g. Antarctica/Troll).
_SHIFT = timedelta(hours=3)


class WallClockCron(BaseTrigger):  # type: ignore[misc]  # apscheduler is untyped
    """Cron times on the shop's wall clock, as cron reads them, as instants (UTC).

    ``wall`` is APScheduler's cron trigger (or an ``OrTrigger`` of them) in UTC, asked about
    the shop's naive local times: it only ever steps a calendar, never a clock change. Its
    own zone handling (3.11) stepped a day across the spring change an hour late and then
    past that day: a midnight schedule in New York had no run on 9 March 2026, and a Monday
    one went two weeks without a report. Each wall time is then placed on the shop's clock:
    a time the clocks skip runs when they jump past it (cron's rule: 02:30 on the spring night
    in New York runs at 03:00); a time the clocks repeat comes at both passes, and
    ``OncePerWallTime`` keeps one.
    """

    __slots__ = ("wall", "zone")

    def __init__(self, wall: Any, zone: ZoneInfo) -> None:
        self.wall = wall
        self.zone = zone

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first instant at or after ``now`` (after ``previous_fire_time``, when it is
        later than ``now`` allows: APScheduler's convention) the wall clock reads a time of
        the schedule."""
        start = now.astimezone(UTC)
        if previous_fire_time is not None:
            after = previous_fire_time.astimezone(UTC) + timedelta(microseconds=1)
            start = min(start, after)
            if start == previous_fire_time:  # never the time just fired again
                start = after
        quick = self._away_from_changes(start)
        if quick is not None:
            return quick
        # An instant after ``start`` can read an earlier wall time (the hour the clocks repeat).
        wall = self.wall.get_next_fire_time(None, self._wall(start) - _SHIFT)
        best: datetime | None = None
        while wall is not None and (best is None or wall <= self._wall(best) + _SHIFT):
            for instant in self._instants(wall):
                if instant >= start and (best is None or instant < best):
                    best = instant
            wall = self.wall.get_next_fire_time(None, wall + _TICK)
        return best

    def _away_from_changes(self, start: datetime) -> datetime | None:
        """The answer when the clocks change neither within ``_SHIFT`` of ``start`` nor at the
        wall time found (it is read once): then wall time moves on with the clock and the next
        wall time of the schedule is the next fire. None: ask the full search (which steps
        through every time of the schedule within hours of ``start``: thousands for a
        schedule that fires every minute)."""
        offset = start.astimezone(self.zone).utcoffset()
        if any((start + d).astimezone(self.zone).utcoffset() != offset for d in (-_SHIFT, _SHIFT)):
            return None
        wall = self.wall.get_next_fire_time(None, self._wall(start))
        if wall is None:
            return None
        instants = self._instants(wall)
        if len(instants) != 1 or self._wall(instants[0]) != wall or instants[0] < start:
            return None
        return instants[0]

    def _wall(self, instant: datetime) -> datetime:
        """The shop's wall-clock reading of ``instant``, written as a UTC time."""
        return instant.astimezone(self.zone).replace(tzinfo=UTC, fold=0)

    def _instants(self, wall: datetime) -> list[datetime]:
        """When the shop's clock reads ``wall``: once, twice (the repeated hour), or never (the
        skipped hour: then the instant the clocks jump past it)."""
        naive = wall.replace(tzinfo=None)
        passes = sorted({
            naive.replace(tzinfo=self.zone, fold=fold).astimezone(UTC) for fold in (0, 1)
        })  # fmt: skip
        real = [p for p in passes if self._wall(p) == wall]
        if real:
            return real
        early, late = passes[0], passes[-1]  # either side of the jump
        while late - early > _TICK:
            middle = early + (late - early) / 2
            if self._wall(middle) >= wall:
                late = middle
            else:
                early = middle
        return [late.replace(microsecond=0)]

    def __str__(self) -> str:
        return f"{self.wall} on the wall clock of {self.zone.key}"


class OncePerWallTime(BaseTrigger):  # type: ignore[misc]  # apscheduler is untyped
    """A cron trigger that fires each wall-clock time of the shop once.

    When the clocks go back, the times of the repeated hour come twice (01:30 in Los Angeles on
    the first Sunday of November: 01:30 PDT, then 01:30 PST an hour later) and a cron trigger
    fires at both. The second is skipped when the trigger has fired at or after the first:
    decided from the fire times themselves, never from when a run happened to start (a run
    that started late in the first hour once ran again at the second 01:30). A scheduler
    started after the first pass, so that no fire came before, fires at the second, unless
    ``last_run`` (when the shop's last nightly run started, from the runs table) says the night
    already ran at or after the first pass: a scheduler restarted between the two passes does
    not run the night again.
    """

    __slots__ = ("inner", "last_run", "zone")

    def __init__(self, inner: Any, zone: ZoneInfo, last_run: datetime | None = None) -> None:
        self.inner = inner
        self.zone = zone
        self.last_run = last_run

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The next fire time after ``previous_fire_time`` (or from ``now``), skipping the
        repeat of a wall-clock time already fired at."""
        fire: datetime | None = self.inner.get_next_fire_time(previous_fire_time, now)
        # Before this scheduler's first fire, the last run recorded is what ran last.
        ran = previous_fire_time or self.last_run
        while fire is not None and self._repeat_of_fired(fire, ran):
            fire = self.inner.get_next_fire_time(fire, fire.astimezone(UTC) + _TICK)
        return fire

    def _repeat_of_fired(self, fire: datetime, previous: datetime | None) -> bool:
        local = fire.astimezone(self.zone)
        if local.fold == 0 or previous is None:
            return False
        first_pass = local.replace(fold=0).astimezone(UTC)
        return first_pass != fire and previous.astimezone(UTC) >= first_pass

    @property
    def timezone(self) -> ZoneInfo:
        """The shop's time zone the cron fields are read in."""
        return self.zone

    def __str__(self) -> str:
        return f"{self.inner} (each wall-clock time once)"
