"""The built-in schedule's times around every kind of clock change, against cron's own rule.

The rule, minute by minute on the shop's wall clock: each time the cron expression names runs
once; in the hour the clocks repeat, at its first pass; in the hour they skip, when they jump
past it. The schedule's trigger is walked as APScheduler walks it (each next time asked with
the one before).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from recon.crontab import trigger_fields
from recon.scheduler import build_scheduler

# (zone, a local day the clocks change on): forward and back, at 02:00, at midnight
# (Santiago), by half an hour (Lord Howe), in both hemispheres.
CHANGES = [
    ("America/New_York", datetime(2026, 3, 8)),
    ("America/New_York", datetime(2026, 11, 1)),
    ("Europe/Berlin", datetime(2026, 3, 29)),
    ("Europe/Berlin", datetime(2026, 10, 25)),
    ("America/Santiago", datetime(2026, 9, 6)),
    ("America/Santiago", datetime(2026, 4, 5)),
    ("Australia/Lord_Howe", datetime(2026, 10, 4)),
    ("Australia/Lord_Howe", datetime(2026, 4, 5)),
    ("Australia/Sydney", datetime(2026, 10, 4)),
]
CRONS = ["0 0 * * *", "30 2 * * *", "0 1,2,3 * * *", "45 1 * * *", "*/20 0-3 * * *", "0 0 * * 1"]


def _wall_times(cron: str, start: datetime, days: int) -> list[datetime]:
    """The naive wall times ``cron`` names from ``start`` on: APScheduler's cron trigger in UTC,
    where no clock changes, steps the calendar."""
    from apscheduler.triggers.cron import CronTrigger

    end = start + timedelta(days=days)
    walls: set[datetime] = set()
    for fields in trigger_fields(cron):
        trigger = CronTrigger(**fields, timezone=UTC)
        at = trigger.get_next_fire_time(None, start.replace(tzinfo=UTC))
        while at is not None and at.replace(tzinfo=None) < end:
            walls.add(at.replace(tzinfo=None))
            at = trigger.get_next_fire_time(None, at + timedelta(minutes=1))
    return sorted(walls)


def _expected(cron: str, zone: ZoneInfo, start: datetime, days: int) -> list[datetime]:
    """Cron's rule for each wall time of the schedule from ``start`` (naive, local)."""
    times: set[datetime] = set()
    for wall in _wall_times(cron, start, days):
        first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if first.astimezone(zone).replace(tzinfo=None) == wall:
            times.add(first)
            continue
        # Skipped: the first minute whose wall clock reads past it.
        instant = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        while instant.astimezone(zone).replace(tzinfo=None) < wall:
            instant += timedelta(minutes=1)
        times.add(instant)
    return sorted(times)


def _walked(cron: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    scheduler: Any = build_scheduler(cron, lambda: None, timezone=zone.key)
    trigger = scheduler.get_job("recon-nightly").trigger
    fires: list[datetime] = []
    previous, now = None, start
    while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire < end:
        fires.append(fire.astimezone(UTC))
        previous = now = fire
    return fires


@pytest.mark.parametrize("cron", CRONS)
@pytest.mark.parametrize(("zone", "day"), CHANGES, ids=[f"{z}-{d:%m-%d}" for z, d in CHANGES])
def test_each_wall_time_of_the_schedule_runs_once_across_a_clock_change(
    zone: str, day: datetime, cron: str
) -> None:
    local = ZoneInfo(zone)
    start = day - timedelta(days=2)
    end = (day + timedelta(days=6)).replace(tzinfo=local).astimezone(UTC)
    expected = [t for t in _expected(cron, local, start, 6 + 2) if t < end]
    assert expected, "the window holds times of the schedule"
    walked = _walked(cron, local, start.replace(tzinfo=local).astimezone(UTC), end)
    assert [t.astimezone(local).isoformat() for t in walked] == [
        t.astimezone(local).isoformat() for t in expected
    ]
