"""The built-in scheduler: the cron trigger in the shop's time zone, one run per wall-clock time,
and a failed run that does not stop the schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from recon.clock import VirtualClock
from recon.errors import ConfigError, SourceError
from recon.scheduler import _guarded, build_scheduler, last_nightly_start
from recon.store.sql import SqlStore

NEW_YORK = "America/New_York"


def fire_times(cron: str, start: datetime, count: int) -> list[datetime]:
    """The trigger's next ``count`` fire times from ``start``, stepped as APScheduler does."""
    scheduler: Any = build_scheduler(cron, lambda: None, timezone=NEW_YORK)
    trigger = scheduler._pending_jobs[0][0].trigger
    times, previous, now = [], None, start
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        times.append(nxt.astimezone(UTC))
        previous, now = nxt, nxt.astimezone(UTC) + timedelta(seconds=1)
    return times


def test_a_bad_cron_expression_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid cron expression"):
        build_scheduler("61 2 * * *", lambda: None)


@pytest.mark.parametrize("cron", ["0 0 30 2 *", "0 2 31 4,6,9,11 *"])
def test_a_cron_expression_that_never_fires_is_refused(cron: str) -> None:
    """30 February, or the 31st of a 30-day month: the schedule started, said "scheduled" and
    never ran a night."""
    with pytest.raises(ConfigError, match="never fires"):
        build_scheduler(cron, lambda: None, timezone=NEW_YORK)


def test_a_leap_day_cron_is_accepted() -> None:
    assert build_scheduler("0 0 29 2 *", lambda: None, timezone=NEW_YORK) is not None


def test_the_job_never_overlaps_and_missed_runs_start_once_however_late() -> None:
    scheduler: Any = build_scheduler("0 2 * * *", lambda: None, timezone=NEW_YORK)
    job = scheduler._pending_jobs[0][0]
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, None)
    assert str(job.trigger.timezone) == NEW_YORK


LOS_ANGELES = "America/Los_Angeles"


def nightly_runs(
    cron: str, timezone: str, start: datetime, until: datetime, late: dict[int, timedelta]
) -> list[datetime]:
    """When the job started (UTC), driven as APScheduler drives it.

    The scheduler asks the trigger for each next fire time after the last; the ``n``-th job
    starts ``late[n]`` after its fire time (a busy machine, a slow thread pool), else on time.
    """
    scheduler: Any = build_scheduler(cron, lambda: None, timezone=timezone)
    trigger = scheduler._pending_jobs[0][0].trigger
    ran: list[datetime] = []
    clock: list[datetime] = []
    job = _guarded(lambda: ran.append(clock[-1]))
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire < until:
        clock.append(fire.astimezone(UTC) + late.get(len(clock), timedelta(0)))
        job()
        fire = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
    return ran


def shop_days(runs: list[datetime], timezone: str) -> list[str]:
    return [f"{r.astimezone(ZoneInfo(timezone)):%Y-%m-%d}" for r in runs]


@pytest.mark.parametrize(
    "late",
    [{}, {0: timedelta(minutes=3)}, {0: timedelta(minutes=45)}],
    ids=["on-time", "3-minutes-late", "45-minutes-late"],
)
def test_when_the_clocks_go_back_each_shop_day_runs_once(late: dict[int, timedelta]) -> None:
    """01:30 comes twice in Los Angeles on 2026-11-01 (PDT, then PST an hour later). The night
    runs once, even when that night's run started late in the first 01:30's hour (it ran
    again at the second 01:30, which read as another wall-clock time)."""
    runs = nightly_runs(
        "30 1 * * *",
        LOS_ANGELES,
        datetime(2026, 10, 31, 12, tzinfo=UTC),
        datetime(2026, 11, 3, 12, tzinfo=UTC),
        late,
    )
    assert shop_days(runs, LOS_ANGELES) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert runs[0] == datetime(2026, 11, 1, 8, 30, tzinfo=UTC) + late.get(0, timedelta(0))


@pytest.mark.parametrize("cron", ["0,30 1 * * *", "*/20 1 * * *"])
def test_several_times_in_the_repeated_hour_each_run_once(cron: str) -> None:
    """A cron at 01:00 and 01:30 (or every 20 minutes of 01:xx) in New York on 2026-11-01:
    each wall-clock time runs once, in the first (EDT) hour; its EST repeat is skipped."""
    runs = nightly_runs(
        cron,
        NEW_YORK,
        datetime(2026, 11, 1, 4, tzinfo=UTC),
        datetime(2026, 11, 1, 12, tzinfo=UTC),
        {},
    )
    local = [f"{r.astimezone(ZoneInfo(NEW_YORK)):%H:%M %Z}" for r in runs]
    expected = ["01:00 EDT", "01:30 EDT"] if cron.startswith("0,30") else None
    assert local == (expected or ["01:00 EDT", "01:20 EDT", "01:40 EDT"])


def test_a_scheduler_started_in_the_repeated_hour_runs_that_night() -> None:
    """Started at 01:10 PST, after the first 01:30 had passed unseen: the night's run is the
    second 01:30 (no run of that night came before it)."""
    runs = nightly_runs(
        "30 1 * * *",
        LOS_ANGELES,
        datetime(2026, 11, 1, 9, 10, tzinfo=UTC),
        datetime(2026, 11, 2, 12, tzinfo=UTC),
        {},
    )
    assert runs == [
        datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
    ]


def test_when_the_clocks_go_forward_the_missing_time_runs_once() -> None:
    fires = fire_times("30 2 * * *", datetime(2026, 3, 7, 12, tzinfo=UTC), 3)
    local = [f.astimezone(ZoneInfo(NEW_YORK)).date() for f in fires]
    assert local == sorted(set(local))  # one run a day, 2026-03-08 included


def test_a_failed_run_does_not_stop_the_next() -> None:
    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise SourceError("Shopify is down")

    guarded = _guarded(job)
    guarded()  # logged, not raised
    guarded()
    assert len(calls) == 2


def test_a_report_left_undelivered_is_logged_as_such_and_the_schedule_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not "run failed": the run completed, its mail waits in the outbox; the log says so, as
    an error (someone must fix SMTP), and the next night still runs."""
    from recon.errors import ReportNotDeliveredError

    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        raise ReportNotDeliveredError("2 messages wait in reports/outbox: SMTP refused login")

    guarded = _guarded(job)
    with caplog.at_level("INFO", logger="recon.scheduler"):
        guarded()
        guarded()
    assert len(calls) == 2
    (first, _) = [r for r in caplog.records if r.name == "recon.scheduler"]
    assert first.levelname == "ERROR"
    assert "completed" in first.getMessage() and "failed" not in first.getMessage()
    assert "reports/outbox" in first.getMessage()


def test_a_run_whose_lock_could_not_be_given_up_is_logged_as_completed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The run completed, then the store failed as it gave its lock up (``LockReleaseError``):
    the log said "scheduled run failed: run X completed ...", which reads as a failed night
    to whoever greps the log for failures. It says the run completed and its lock could not be
    given up, as an error (the shop's runs are refused until the lease expires), and the next
    night still runs."""
    from recon.errors import LockReleaseError

    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        raise LockReleaseError(
            "run 42 completed (its findings, reports and mail are saved), but cannot release "
            "the run lock for shop acme: the store failed; its lease expires by itself"
        )

    guarded = _guarded(job)
    with caplog.at_level("INFO", logger="recon.scheduler"):
        guarded()
        guarded()
    assert len(calls) == 2
    (first, _) = [r for r in caplog.records if r.name == "recon.scheduler"]
    said = first.getMessage()
    assert first.levelname == "ERROR"
    assert said.startswith("scheduled run completed; its lock could not be given up: "), said
    assert "failed: run" not in said and "run 42" in said, said


@pytest.mark.parametrize(
    ("day_of_week", "days"),
    [
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("sun", ["Sun"]),
        ("5-7", ["Fri", "Sat", "Sun"]),
        ("1,3", ["Mon", "Wed"]),
        ("*/2", ["Sun", "Tue", "Thu", "Sat"]),
        ("mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
    ],
)
def test_days_of_the_week_count_as_in_crontab(day_of_week: str, days: list[str]) -> None:
    """Crontab counts 0 (and 7) as Sunday; APScheduler 3 counts 0 as Monday: "0 2 * * 1-5"
    (weeknights) ran Tuesday to Saturday, skipping Monday's night."""
    fires = fire_times(f"0 2 * * {day_of_week}", datetime(2026, 11, 29, 12, tzinfo=UTC), 7)
    local = [f.astimezone(ZoneInfo(NEW_YORK)) for f in fires]
    assert {f.strftime("%a") for f in local} == set(days)
    assert {(f.hour, f.minute) for f in local} == {(2, 0)}


@pytest.mark.parametrize("day_of_week", ["8", "mon-", "5-1", "*/0", "funday"])
def test_a_bad_day_of_the_week_is_a_config_error(day_of_week: str) -> None:
    with pytest.raises(ConfigError, match="invalid cron expression"):
        build_scheduler(f"0 2 * * {day_of_week}", lambda: None)


def test_a_day_of_the_month_and_of_the_week_together_fire_on_either() -> None:
    """Crontab runs "0 2 1 * 1" on the 1st and on Mondays (APScheduler alone: only on Mondays
    that are the 1st); in the shop's time zone, at 02:00 there."""
    fires = fire_times("0 2 1 * 1", datetime(2026, 11, 30, 12, tzinfo=UTC), 3)
    local = [f.astimezone(ZoneInfo(NEW_YORK)) for f in fires]
    assert [f"{f:%a %d %H:%M}" for f in local] == ["Tue 01 02:00", "Mon 07 02:00", "Mon 14 02:00"]


def test_now_runs_the_job_at_start_then_keeps_the_schedule() -> None:
    """``schedule --now``: after a deploy or a fix, the operator sees tonight's run at once, and
    the schedule goes on from there (New Year's 02:00 stays the next)."""
    import threading

    ran = threading.Event()
    start = datetime.now(UTC)
    scheduler: Any = build_scheduler("0 2 1 1 *", ran.set, timezone=NEW_YORK, first_run=start)
    scheduler.start()
    try:
        assert ran.wait(10), "the job did not run at start"
        job = scheduler.get_job("recon-nightly")
        following = job.next_run_time.astimezone(ZoneInfo(NEW_YORK))
        assert (following.month, following.day, following.hour) == (1, 1, 2)
    finally:
        scheduler.shutdown(wait=True)


def test_without_now_the_first_run_is_the_schedules() -> None:
    ran: list[bool] = []
    scheduler: Any = build_scheduler("0 2 1 1 *", lambda: ran.append(True), timezone=NEW_YORK)
    scheduler.start()
    try:
        first = scheduler.get_job("recon-nightly").next_run_time.astimezone(ZoneInfo(NEW_YORK))
        assert (first.month, first.day, first.hour) == (1, 1, 2) and not ran
    finally:
        scheduler.shutdown(wait=True)


def test_a_scheduler_restarted_between_the_two_passes_does_not_run_that_night_again() -> None:
    """The night's run started at the first 01:30 (PDT, 08:30 UTC), a little late; the schedule
    was restarted at 01:10 PST, between the two passes. The runs table says the night ran, so
    the second 01:30 (PST) is skipped: the next run is the next night's."""
    last_run = datetime(2026, 11, 1, 8, 31, tzinfo=UTC)
    scheduler: Any = build_scheduler(
        "30 1 * * *", lambda: None, timezone=LOS_ANGELES, last_run=last_run
    )
    trigger = scheduler._pending_jobs[0][0].trigger
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 1, 9, 10, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_a_restarted_scheduler_whose_last_run_was_an_earlier_night_runs_at_the_second_pass() -> (
    None
):
    """The last nightly run is the night before: nothing ran at the first 01:30, so the night's
    run is the second."""
    last_run = datetime(2026, 10, 31, 8, 30, tzinfo=UTC)
    scheduler: Any = build_scheduler(
        "30 1 * * *", lambda: None, timezone=LOS_ANGELES, last_run=last_run
    )
    trigger = scheduler._pending_jobs[0][0].trigger
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 1, 9, 10, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def test_a_restarted_schedule_counts_the_last_nightly_run_that_ran_to_its_end(
    tmp_path: Path,
) -> None:
    """A run that ended (ok or failed) counts as the night's; one stopped by a signal or killed
    (the restart itself, maybe) does not: the night must run again. Backfills are no night."""
    clock = VirtualClock(datetime(2026, 11, 1, 8, 30, tzinfo=UTC))
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    try:
        assert last_nightly_start(store) is None
        store.finish_run(store.start_run("nightly"), "ok", {})
        clock.advance(timedelta(minutes=5))
        failed_at = clock.now()
        store.finish_run(store.start_run("nightly"), "failed", {})
        clock.advance(timedelta(minutes=5))
        store.finish_run(store.start_run("backfill"), "ok", {})
        clock.advance(timedelta(minutes=5))
        store.finish_run(store.start_run("nightly"), "interrupted", {"error": "SIGTERM"})
        clock.advance(timedelta(minutes=5))
        store.start_run("nightly")  # killed: still "running", or "abandoned" once noticed
        assert last_nightly_start(store) == failed_at
        store.abandon_unfinished_runs()
        assert last_nightly_start(store) == failed_at
    finally:
        store.close()


def test_a_run_missed_while_the_host_slept_starts_on_wake_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scheduler waits for 02:00 on a timer that stops while the host is suspended (Linux's
    monotonic clock does not count the sleep). Woken hours after 02:00, it went on waiting for
    the rest of the timer: the night ran as late again as the host had slept, or not at all
    that day. The wall clock is read again at least every ``recheck_seconds``, so the missed
    run starts within that of the wake-up, once, and the next is the following night's."""
    import threading

    from apscheduler.schedulers import base

    slept = [timedelta(0)]

    class WallClock(datetime):
        """The wall clock as the scheduler reads it: jumps ahead when the host wakes up."""

        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + slept[0]

    monkeypatch.setattr(base, "datetime", WallClock)
    ran: list[datetime] = []
    started = threading.Event()

    def job() -> None:
        ran.append(WallClock.now(UTC))
        started.set()

    scheduler: Any = build_scheduler("0 2 * * *", job, timezone=NEW_YORK, recheck_seconds=0.2)
    scheduler.start()
    try:
        due = scheduler.get_job("recon-nightly").next_run_time.astimezone(UTC)
        assert not started.wait(0.5)  # 02:00 is hours away: the scheduler sleeps till then
        slept[0] = due - datetime.now(UTC) + timedelta(hours=7)  # woken at 09:00, 02:00 missed
        assert started.wait(5), "the missed run did not start on wake-up"
        following = scheduler.get_job("recon-nightly").next_run_time.astimezone(UTC)
    finally:
        scheduler.shutdown(wait=True)
    assert len(ran) == 1 and ran[0] >= due + timedelta(hours=7)
    night, following = due.astimezone(ZoneInfo(NEW_YORK)), following.astimezone(ZoneInfo(NEW_YORK))
    assert (following.date(), following.hour) == (night.date() + timedelta(days=1), 2)


def _last_2am(timezone: str, hour: int = 2) -> datetime:
    """The latest ``hour``:00 (02:00) in ``timezone`` at or before now, in UTC."""
    local = datetime.now(ZoneInfo(timezone))
    night = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if night > local:
        night = (night - timedelta(days=1)).replace(tzinfo=ZoneInfo(timezone))
    return night.astimezone(UTC)


def _first_run_of(last_run: datetime | None, hour: int = 2) -> tuple[bool, datetime]:
    """Start a "0 <hour> * * *" schedule in New York whose shop's last nightly run started at
    ``last_run``: whether the job ran within two seconds, and when the next run is due."""
    import threading

    ran = threading.Event()
    scheduler: Any = build_scheduler(
        f"0 {hour} * * *", ran.set, timezone=NEW_YORK, last_run=last_run
    )
    scheduler.start()
    try:
        started = ran.wait(2)
        following = scheduler.get_job("recon-nightly").next_run_time.astimezone(UTC)
    finally:
        scheduler.shutdown(wait=True)
    return started, following


def test_a_schedule_down_over_the_nights_time_runs_that_night_when_it_starts() -> None:
    """The host rebooted at 01:55 (or a deploy's SIGTERM stopped the 02:00 run, which ends
    ``interrupted`` and does not count) and ``schedule`` came back after 02:00: the runs table
    says the last nightly run started the night before. The night's run starts at once, then
    the schedule goes on (it waited for tomorrow's 02:00: a night without a run, no report).

    The schedule's hour is half a day from now: run on the wall clock, within the hour before
    02:00 the missed night is rightly given up to the next run (``CATCH_UP_HORIZON``), and this
    test failed every day between 01:00 and 02:00 in New York."""
    hour = (datetime.now(ZoneInfo(NEW_YORK)).hour + 12) % 24
    last = _last_2am(NEW_YORK, hour) - timedelta(days=1, seconds=-30)
    started, following = _first_run_of(last, hour)
    assert started, "the night missed while the schedule was down did not run"
    assert following.astimezone(ZoneInfo(NEW_YORK)).hour == hour
    assert following > datetime.now(UTC)


def test_a_schedule_restarted_after_the_nights_run_does_not_run_it_again() -> None:
    """The night's run started at 02:00 (and ended); restarted after it, the schedule waits for
    the next 02:00. A shop that never had a nightly run (a new install) waits as well."""
    for last_run in (_last_2am(NEW_YORK) + timedelta(seconds=3), None):
        started, following = _first_run_of(last_run)
        assert not started, last_run
        assert following - _last_2am(NEW_YORK) in (timedelta(hours=h) for h in (23, 24, 25))


def test_a_schedule_down_over_the_first_pass_of_the_repeated_hour_runs_at_the_second() -> None:
    """Down over 01:30 PDT (the first pass) and back at 01:10 PST: the night runs at the second
    01:30, as README says of a scheduler started in the repeated hour, not twice; back after
    the second pass too, it runs at once."""
    from recon.schedule_times import cron_trigger, missed_run

    last_run = datetime(2026, 10, 31, 8, 30, tzinfo=UTC)  # the night before
    trigger = cron_trigger("30 1 * * *", LOS_ANGELES, last_run=last_run)
    between = datetime(2026, 11, 1, 9, 10, tzinfo=UTC)
    assert missed_run(trigger, last_run, between) is None
    upcoming = trigger.get_next_fire_time(None, between)
    assert upcoming.astimezone(UTC) == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    after = datetime(2026, 11, 1, 9, 40, tzinfo=UTC)
    assert missed_run(trigger, last_run, after) == after


def _nightly_job(scheduler: Any) -> Any:
    return next(job for job, *_ in scheduler._pending_jobs if job.id == "recon-nightly")


@pytest.mark.parametrize("cron_ran", [True, False], ids=["cron-ran-the-night", "nothing-ran"])
def test_a_scheduler_started_while_the_first_pass_run_was_going_does_not_run_the_night_again(
    monkeypatch: pytest.MonkeyPatch, cron_ran: bool
) -> None:
    """Cron ran the night at the first 01:30 (PDT, 08:30 UTC); ``schedule`` started at 01:10 PST
    (09:10 UTC) while that run was still going, so the runs table's last nightly run that had
    ended was the night before, and the second 01:30 (PST, 09:30 UTC) was planned. By then the
    cron run had ended: the night ran twice, and finance had two reports. The job reads the
    runs table again before it runs: it runs nothing, and the next night runs as planned.
    With no run of that night in the runs table, the second pass runs it."""
    from recon import scheduler as scheduler_module

    runs_table = [datetime(2026, 10, 31, 8, 30, 2, tzinfo=UTC)]  # as `schedule` read it at start
    ran: list[datetime] = []
    wall = [datetime(2026, 11, 1, 9, 10, tzinfo=UTC)]
    monkeypatch.setattr(scheduler_module, "_wall_now", lambda: wall[0])
    scheduler: Any = build_scheduler(
        "30 1 * * *",
        lambda: ran.append(wall[0]),
        timezone=LOS_ANGELES,
        last_run=runs_table[0],
        read_last_run=lambda: runs_table[-1],
    )
    job = _nightly_job(scheduler)
    second_pass = job.trigger.get_next_fire_time(None, wall[0])
    assert second_pass.astimezone(UTC) == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    if cron_ran:
        runs_table.append(datetime(2026, 11, 1, 8, 30, 4, tzinfo=UTC))  # it ended (ok) at 09:20
    wall[0] = second_pass.astimezone(UTC) + timedelta(seconds=1)
    job.func()
    assert ran == ([] if cron_ran else [wall[0]])
    following = job.trigger.get_next_fire_time(second_pass, wall[0])
    wall[0] = following.astimezone(UTC) + timedelta(seconds=1)
    job.func()
    assert ran[-1] == datetime(2026, 11, 2, 9, 30, 1, tzinfo=UTC)  # the next night runs


@pytest.mark.parametrize("cron_ran", [True, False], ids=["cron-ran-the-night", "nothing-ran"])
def test_a_weekly_run_firing_days_late_reads_the_runs_table_for_its_night(
    monkeypatch: pytest.MonkeyPatch, cron_ran: bool
) -> None:
    """`0 2 * * 1`: the host slept from Sunday to Thursday, and the scheduler fires Monday's run
    on waking (misfire grace). Cron had run Monday's night meanwhile (another host, a manual
    run): the job looked back only two days for the time it fires for, found none, and ran the
    night again (a second report, writes planned twice). With no run of Monday's night in the
    runs table, it runs."""
    from recon import scheduler as scheduler_module

    monday = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    runs_table = [monday - timedelta(days=7)]
    ran: list[datetime] = []
    wall = [datetime(2026, 11, 5, 9, 0, tzinfo=UTC)]  # Thursday
    monkeypatch.setattr(scheduler_module, "_wall_now", lambda: wall[0])
    scheduler: Any = build_scheduler(
        "0 2 * * 1",
        lambda: ran.append(wall[0]),
        timezone="UTC",
        last_run=runs_table[0],
        read_last_run=lambda: runs_table[-1],
    )
    if cron_ran:
        runs_table.append(monday + timedelta(seconds=3))
    _nightly_job(scheduler).func()
    assert ran == ([] if cron_ran else [wall[0]])
