"""Crontab fields read as cron(8) reads them (cronie / Vixie cron ``entry.c``): the truth table of
day-of-week forms and the days they fire, the other fields' edge forms, and the forms cron refuses.

Cron's rules, in short: ``*`` is the field's whole range, ``N/S`` is ``N-<max>/S`` (cronie), a
range must not run backwards, a step is at least 1, names are three letters (any case) in the
month and day-of-week fields only, and day-of-week runs 0..7 with 0 and 7 both Sunday, so its
``<max>`` is 7: ``1/2`` is Monday, Wednesday, Friday *and Sunday*.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from recon.errors import ConfigError
from recon.scheduler import build_scheduler

WEEK = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]


def fire_dates(cron: str, start: datetime, count: int) -> list[date]:
    """The UTC dates of the trigger's next ``count`` fire times from ``start``."""
    scheduler: Any = build_scheduler(cron, lambda: None, timezone="UTC")
    trigger = scheduler._pending_jobs[0][0].trigger
    dates, previous, now = [], None, start
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        dates.append(nxt.date())
        previous, now = nxt, nxt + timedelta(seconds=1)
    return dates


@pytest.mark.parametrize(
    ("day_of_week", "expected"),
    [
        ("*", WEEK),
        ("1/2", ["Sun", "Mon", "Wed", "Fri"]),  # 1-7/2: 1,3,5,7 (7 is Sunday)
        ("mon/2", ["Sun", "Mon", "Wed", "Fri"]),
        ("0/2", ["Sun", "Tue", "Thu", "Sat"]),
        ("*/2", ["Sun", "Tue", "Thu", "Sat"]),  # 0-7/2: 0,2,4,6
        ("*/3", ["Sun", "Wed", "Sat"]),  # 0,3,6
        ("*/7", ["Sun"]),  # 0,7
        ("2/5", ["Sun", "Tue"]),  # 2,7
        ("6/1", ["Sun", "Sat"]),  # 6,7
        ("7/2", ["Sun"]),
        ("1-7/2", ["Sun", "Mon", "Wed", "Fri"]),
        ("0-7", WEEK),
        ("5-7", ["Sun", "Fri", "Sat"]),
        ("7", ["Sun"]),
        ("0", ["Sun"]),
        ("07", ["Sun"]),
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("MON-FRI", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("Sat,sun", ["Sun", "Sat"]),
        ("sun-sat", WEEK),
        ("mon-fri/2", ["Mon", "Wed", "Fri"]),
        ("1,3-4,6/9", ["Mon", "Wed", "Thu", "Sat"]),
        ("*/8", ["Sun"]),  # cron allows a step past the range: only the first day
    ],
)
def test_days_of_the_week_fire_as_cron_reads_them(day_of_week: str, expected: list[str]) -> None:
    """Two weeks of fire dates from a Sunday: the set of weekdays they fall on is cron's."""
    start = datetime(2026, 11, 29, 3, tzinfo=UTC)  # a Sunday, after 02:00
    days = fire_dates(f"0 2 * * {day_of_week}", start, 2 * len(expected))
    assert sorted({d.strftime("%a") for d in days}, key=WEEK.index) == expected
    assert days[-1] - days[0] < timedelta(days=14)  # nothing but those days, every week


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        # N/S in the other fields runs to the field's maximum, as in day-of-week.
        ("0 2 25/3 * *", [date(2026, 12, 25), date(2026, 12, 28), date(2026, 12, 31)]),
        ("0 2 1 mar/6 *", [date(2027, 3, 1), date(2027, 9, 1), date(2028, 3, 1)]),
        ("0 2 1 nov/6 *", [date(2027, 11, 1), date(2028, 11, 1)]),
        ("0 2 1 JAN-mar *", [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]),
        # A day of the month with a day of the week that starts with "*": cron runs on days
        # matching both (its DOM_STAR / DOW_STAR rule), as APScheduler does.
        ("0 2 */2 * 1", [date(2026, 12, 7), date(2026, 12, 21), date(2027, 1, 11)]),
        ("0 2 1-7 * */7", [date(2026, 12, 6), date(2027, 1, 3), date(2027, 2, 7)]),
    ],
)
def test_other_fields_fire_as_cron_reads_them(cron: str, expected: list[date]) -> None:
    assert fire_dates(cron, datetime(2026, 11, 30, 3, tzinfo=UTC), len(expected)) == expected


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        # Both restricted (neither starts with "*"): days matching either.
        (
            "0 2 1 * 1",
            ["12-01 Tue", "12-07 Mon", "12-14 Mon", "12-21 Mon", "12-28 Mon", "01-01 Fri"],
        ),
        (
            "0 2 13 * 5",
            ["12-04 Fri", "12-11 Fri", "12-13 Sun", "12-18 Fri", "12-25 Fri", "01-01 Fri"],
        ),
        (
            "0 2 1,15 * sat,sun",
            ["12-01 Tue", "12-05 Sat", "12-06 Sun", "12-12 Sat", "12-13 Sun", "12-15 Tue"],
        ),
        (
            "0 2 1-2 * 7",
            ["12-01 Tue", "12-02 Wed", "12-06 Sun", "12-13 Sun", "12-20 Sun", "12-27 Sun"],
        ),
        # The month still applies to both: the 1st of January or its Mondays.
        (
            "0 2 1 jan mon",
            ["01-01 Fri", "01-04 Mon", "01-11 Mon", "01-18 Mon", "01-25 Mon", "01-01 Sat"],
        ),
        # A day the month never has: its Mondays only (cron does the same).
        (
            "0 2 31 2 1",
            ["02-01 Mon", "02-08 Mon", "02-15 Mon", "02-22 Mon", "02-07 Mon", "02-14 Mon"],
        ),
        # One starts with "*" (even "*/2"): days matching both.
        (
            "0 2 1 * */2",
            ["12-01 Tue", "04-01 Thu", "05-01 Sat", "06-01 Tue", "07-01 Thu", "08-01 Sun"],
        ),
        (
            "0 2 */10 * 1",
            ["12-21 Mon", "01-11 Mon", "02-01 Mon", "03-01 Mon", "05-31 Mon", "06-21 Mon"],
        ),
        # Neither restricted: every day.
        (
            "0 2 * * *",
            ["12-01 Tue", "12-02 Wed", "12-03 Thu", "12-04 Fri", "12-05 Sat", "12-06 Sun"],
        ),
    ],
)
def test_day_of_the_month_and_of_the_week_as_cron_combines_them(
    cron: str, expected: list[str]
) -> None:
    """Cron's DOM_STAR / DOW_STAR rule: when both day fields are restricted (neither starts with
    ``*``), a day matching either fires; when one starts with ``*``, a day must match both."""
    start = datetime(2026, 11, 30, 3, tzinfo=UTC)  # a Monday, after 02:00
    days = fire_dates(cron, start, len(expected))
    assert [f"{d:%m-%d %a}" for d in days] == expected


@pytest.mark.parametrize(
    ("cron", "field"),
    [
        ("0 2 * * 8", "day of the week"),
        ("0 2 * * 7-0", "day of the week"),
        ("0 2 * * sat-sun", "day of the week"),
        ("0 2 * * 1-8", "day of the week"),
        ("0 2 * * monday", "day of the week"),
        ("0 2 * * */0", "day of the week"),
        ("0 2 * * 1/", "day of the week"),
        ("0 2 * * /2", "day of the week"),
        ("0 2 * * 1,", "day of the week"),
        ("0 2 * * ,1", "day of the week"),
        ("0 2 * * 1-", "day of the week"),
        ("0 2 * * 1-5/mon", "day of the week"),
        ("0 2 * * *-5", "day of the week"),
        ("0 2 * * 1--5", "day of the week"),
        ("0 2 * * L", "day of the week"),
        ("0 2 * * 5#3", "day of the week"),
        ("0 2 last * *", "day of the month"),
        ("0 2 L * *", "day of the month"),
        ("0 2 0 * *", "day of the month"),
        ("0 2 32 * *", "day of the month"),
        ("0 2 1 13 *", "month"),
        ("0 2 1 0 *", "month"),
        ("0 2 1 mon *", "month"),
        ("0 24 * * *", "hour"),
        ("0 2-1 * * *", "hour"),
        ("60 2 * * *", "minute"),
        ("*/0 2 * * *", "minute"),
        ("x 2 * * *", "minute"),
        ("0 2 ? * *", "day of the month"),
    ],
)
def test_forms_cron_refuses_are_refused_naming_the_field(cron: str, field: str) -> None:
    with pytest.raises(ConfigError, match="invalid cron expression") as refused:
        build_scheduler(cron, lambda: None)
    assert f"{field} field" in str(refused.value)


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("@daily", [datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)]),
        ("@midnight", [datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)]),
        ("@hourly", [datetime(2026, 11, 30, 4, tzinfo=UTC), datetime(2026, 11, 30, 5, tzinfo=UTC)]),
        ("@weekly", [datetime(2026, 12, 6, tzinfo=UTC), datetime(2026, 12, 13, tzinfo=UTC)]),
        ("@monthly", [datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)]),
        ("@yearly", [datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)]),
        (" @annually ", [datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)]),
    ],
)
def test_crontab_nicknames_fire_as_cron_reads_them(cron: str, expected: list[datetime]) -> None:
    """crontab(5)'s nicknames: @daily is 0 0 * * *, @weekly 0 0 * * 0, and so on."""
    scheduler: Any = build_scheduler(cron, lambda: None, timezone="UTC")
    trigger = scheduler._pending_jobs[0][0].trigger
    first = trigger.get_next_fire_time(None, datetime(2026, 11, 30, 3, 30, tzinfo=UTC))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert [first, second] == expected


def test_at_reboot_is_refused_saying_why() -> None:
    """@reboot means once at start-up: a scheduler cannot do that; say so, not 'got 1 field'."""
    with pytest.raises(ConfigError, match="invalid cron expression") as refused:
        build_scheduler("@reboot", lambda: None)
    assert "@reboot" in str(refused.value) and "start-up" in str(refused.value)
    with pytest.raises(ConfigError, match="unknown nickname '@nightly'"):
        build_scheduler("@nightly", lambda: None)
