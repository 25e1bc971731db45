"""Review 20 (scheduling): the built-in schedule on the nights around the spring clock change.

The schedule's fire times are walked as APScheduler walks them (each next time asked with
the previous one), from the trigger ``build_scheduler`` gives its nightly job.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from recon.scheduler import build_scheduler


def _nights_run(cron: str, zone: str, first: date, last: date) -> list[date]:
    """The shop's days (in ``zone``) the schedule fires on from ``first`` to ``last``."""
    scheduler: Any = build_scheduler(cron, lambda: None, timezone=zone)
    trigger = scheduler.get_job("recon-nightly").trigger
    local = ZoneInfo(zone)
    now = datetime.combine(first, datetime.min.time(), local).astimezone(UTC)
    previous = None
    nights = []
    for _ in range(100):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire.astimezone(local).date() > last:
            break
        nights.append(fire.astimezone(local).date())
        previous, now = fire, fire
    return nights


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.mark.parametrize(
    ("zone", "cron", "first", "last"),
    [
        # @daily is midnight: the night after the clocks went forward (Sunday 8 March, 02:00)
        # had no run; APScheduler stepped from Sunday 00:00 EST to Tuesday.
        ("America/New_York", "@daily", date(2026, 3, 6), date(2026, 3, 11)),
        ("Europe/Berlin", "0 0 * * *", date(2026, 3, 27), date(2026, 4, 1)),
        ("Australia/Sydney", "@midnight", date(2026, 10, 2), date(2026, 10, 7)),
        # The clocks go forward at midnight itself: cron runs the night once the hour is
        # skipped (at 01:00); the schedule ran nothing that night.
        ("America/Santiago", "0 0 * * *", date(2026, 9, 4), date(2026, 9, 9)),
    ],
)
def test_a_midnight_schedule_runs_every_night_across_the_spring_clock_change(
    zone: str, cron: str, first: date, last: date
) -> None:
    """Finance gets no report (and no refunds go out) for one night a year per shop."""
    assert _nights_run(cron, zone, first, last) == _days(first, last)


def test_a_weekly_monday_midnight_schedule_runs_the_monday_after_the_clocks_go_forward() -> None:
    """`0 0 * * 1` in New York: no run on Monday 9 March, two weeks between two reports."""
    nights = _nights_run("0 0 * * 1", "America/New_York", date(2026, 3, 1), date(2026, 3, 17))
    assert nights == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]


def test_the_other_hours_run_every_night_across_the_spring_clock_change() -> None:
    """What is right today, kept right by the fix: 02:00 (the hour that does not exist runs
    at 03:00, once) and 23:30 each run once a night."""
    first, last = date(2026, 3, 6), date(2026, 3, 11)
    for cron in ("0 2 * * *", "30 23 * * *", "0 1 * * *"):
        assert _nights_run(cron, "America/New_York", first, last) == _days(first, last)


def test_a_schedule_restarted_after_the_skipped_midnight_catches_it_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """New York, `@daily`: the last nightly run started Sunday 8 March 00:00 EST; the host was
    down over Monday's midnight and `schedule` starts again Monday 10:00 EDT. The night of
    Monday was missed: it runs at once, as any missed night does (``missed_run``)."""
    import recon.scheduler as scheduler_module
    from recon.scheduler import CATCH_UP_JOB

    monday = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # 10:00 EDT
    monkeypatch.setattr(scheduler_module, "_wall_now", lambda: monday)
    sunday = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST
    scheduler: Any = build_scheduler(
        "@daily", lambda: None, timezone="America/New_York", last_run=sunday
    )
    assert scheduler.get_job(CATCH_UP_JOB) is not None
