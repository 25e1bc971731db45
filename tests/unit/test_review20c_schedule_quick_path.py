"""Review 20c: ``WallClockCron``'s quick path (``_away_from_changes``) and ``night_of``'s doubling
look-back give the answers of the full searches they stand in for, in zones whose clocks change
by 30 minutes (Lord Howe), an hour, and 2 hours (Antarctica/Troll), at random instants near the
changes and away from them, with and without a previous fire time (APScheduler's convention).

Regression guards for the quick paths of 0ba680d (both agreed on 8,000 random cases when
written); each example is a few trigger reads, the every-minute schedules aside.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.schedule_times import cron_trigger, night_of
from recon.schedule_trigger import WallClockCron

ZONES = (
    "Australia/Lord_Howe",  # +10:30 / +11: a 30-minute change
    "Antarctica/Troll",  # +00 / +02: a 2-hour change
    "America/New_York",
    "America/Santiago",  # changes at local midnight
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Havana",  # changes at 00:00 / 01:00
)
CRONS = (
    "30 2 * * *", "0 2 * * *", "45 1 * * *", "15 0 * * *", "0 3 * * 0", "0 0 1 * *",
    "*/15 * * * *", "30 * * * *", "*/20 0-4 * * *", "0 */2 * * *", "59 23 * * *",
)  # fmt: skip
DAYS = timedelta(days=1)


@cache
def _changes(zone: str) -> tuple[datetime, ...]:
    """The instants of 2026 at which ``zone``'s UTC offset changes (to the quarter hour)."""
    tz, found = ZoneInfo(zone), []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(tz).utcoffset()
    while moment.year == 2026:
        moment += timedelta(minutes=15)
        if moment.astimezone(tz).utcoffset() != offset:
            found.append(moment)
            offset = moment.astimezone(tz).utcoffset()
    return tuple(found)


@st.composite
def instants(draw: st.DrawFn, zone: str) -> datetime:
    """Within three days of a change of ``zone``'s clocks (or anywhere in 2026), to the
    microsecond or the second."""
    changes = _changes(zone)
    near: bool = draw(st.booleans())
    if changes and near:
        base = draw(st.sampled_from(changes))
        offset = draw(st.floats(min_value=-3 * 86400, max_value=3 * 86400))
    else:
        base, offset = datetime(2026, 1, 1, tzinfo=UTC), draw(st.floats(0, 365 * 86400))
    moment = base + timedelta(seconds=offset)
    exact: bool = draw(st.booleans())
    return moment if exact else moment.replace(microsecond=0)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, datetime, datetime | None]:
    zone, cron = draw(st.sampled_from(ZONES)), draw(st.sampled_from(CRONS))
    now = draw(instants(zone))
    back = draw(st.none() | st.floats(min_value=0, max_value=3 * 3600))
    return zone, cron, now, None if back is None else now - timedelta(seconds=back)


def _full_search(inner: WallClockCron, previous: datetime | None, now: datetime) -> object:
    """The answer without the quick path: the search through every wall time near ``now``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WallClockCron, "_away_from_changes", lambda self, start: None)
        return inner.get_next_fire_time(previous, now)


@settings(max_examples=120, deadline=None)
@given(cases())
def test_the_quick_path_answers_as_the_full_search(
    case: tuple[str, str, datetime, datetime | None],
) -> None:
    zone, cron, now, previous = case
    inner = cron_trigger(cron, zone).inner
    assert inner.get_next_fire_time(previous, now) == _full_search(inner, previous, now), case


def _night_of_by_steps(trigger: Any, now: datetime) -> datetime | None:
    """``night_of`` stepping through every time of the schedule from 40 days back."""
    inner = getattr(trigger, "inner", trigger)
    due, fire = None, inner.get_next_fire_time(None, now - 40 * DAYS)
    while fire is not None and fire <= now:
        due, fire = fire, inner.get_next_fire_time(fire, fire + timedelta(seconds=1))
    tz = trigger.timezone
    return None if due is None else due.astimezone(tz).replace(fold=0).astimezone(UTC)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.sampled_from(("30 2 * * *", "45 1 * * *", "0 3 * * 0", "0 0 1 * *", "0 */2 * * *")),
    st.data(),
)
def test_night_of_finds_the_latest_time_of_the_schedule_as_stepping_does(
    zone: str, cron: str, data: st.DataObject
) -> None:
    now = data.draw(instants(zone))
    trigger = cron_trigger(cron, zone)
    assert night_of(trigger, now) == _night_of_by_steps(trigger, now), (zone, cron, now)
