"""APScheduler triggers for the built-in scheduler: a shop's wall-clock times, each once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

_TICK = timedelta(seconds=1)


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
