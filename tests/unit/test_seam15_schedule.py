"""Seam review (session 15): the retried scheduled run versus the hour the clocks repeat, and
versus ``schedule --now``.

A scheduled run the run lock refuses is tried again every 15 minutes "until the next scheduled
time is within the hour" (docs/commands.md, schedule). On the night the clocks go back, the
give-up asks the trigger for the next time with no previous fire (``_retried``:
``trigger.get_next_fire_time(None, now + 1 s)``), so it sees the second pass of the repeated
hour, which the nightly job never fires (``OncePerWallTime`` skips the repeat of a time it
fired at). The refused first pass is given up at once, for a "next scheduled run" that does not
come: that night has no run, no report and no fixes.

``schedule --now`` refused by the lock is retried, but each retry is judged as the cron's
last scheduled run (``_unless_ran``), so a night that ran at 02:00 drops the run asked for.

A retry has no misfire grace, and the give-up rule is read only when a retry is planned: one the
host slept through fires within the hour of the next scheduled run, and both run.

(Second review.) A ``schedule --now`` run given up kept "asked at start", so the next scheduled
run, or its retry, ran without reading the runs table: a night cron had run ran again.

Driven as ``test_schedule_refused_night`` drives the scheduler: its jobs called by hand on a
clock the test sets, a real run lock and runs table on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from recon.clock import VirtualClock
from recon.lock import RunLock
from recon.scheduler import CATCH_UP_RETRY, build_scheduler, last_nightly_start
from recon.service import RUN_LEASE, sessions
from recon.store.sql import SqlStore
from recon.store.tables import RunRow

SHOP = "acme"
ZONE = "America/Los_Angeles"
CRON = "30 1 * * *"  # 01:30 in Los Angeles: in the hour repeated on 1 November 2026
FIRST_PASS = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)  # 01:30 PDT
SECOND_PASS = FIRST_PASS + timedelta(hours=1)  # 01:30 PST, never fired: the time ran once
BACKFILL = "ops-host:boot-1:4026531836:4242:777"  # another host's process: never presumed gone
OTHER = "ops-host:boot-1:4026531836:4343:778"  # a second scheduler (or cron) for the shop


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    clock = VirtualClock(FIRST_PASS - timedelta(days=1))
    made = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    yesterday = made.start_run("nightly")  # last night's run, 01:30 PDT to 01:50
    clock.advance(timedelta(minutes=20))
    made.finish_run(yesterday, "ok", {})
    yield made
    made.close()


def test_a_night_refused_at_the_first_pass_of_the_repeated_hour_is_tried_again(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill holds the lock at 01:30 PDT and ends at 01:40. The refused night must be tried
    again at 01:45 PDT and run then: the next time the schedule fires is 01:30 the next night,
    not 01:30 PST an hour later (that repeat is skipped: the time ran at its first pass)."""
    from recon import scheduler as scheduler_module

    clock = cast(VirtualClock, store.clock)
    clock.set(FIRST_PASS - timedelta(hours=3))
    lock = RunLock(sessions(store), clock, holder_dead=lambda _: False)
    backfill = lock.acquire(SHOP, BACKFILL, RUN_LEASE)

    def job() -> None:  # ``run_nightly``'s first steps
        lease = lock.acquire(SHOP, "scheduler", RUN_LEASE)
        store.finish_run(store.start_run("nightly"), "ok", {})
        lock.release(lease)

    monkeypatch.setattr(scheduler_module, "_wall_now", clock.now)
    scheduler: Any = build_scheduler(
        CRON,
        job,
        timezone=ZONE,
        last_run=last_nightly_start(store),
        read_last_run=lambda: last_nightly_start(store),
    )
    nightly = next(j for j, *_ in scheduler._pending_jobs if j.id == "recon-nightly")
    # What APScheduler plans after firing the first pass: the repeat is skipped.
    after = nightly.trigger.get_next_fire_time(FIRST_PASS, FIRST_PASS + timedelta(seconds=1))
    assert after > SECOND_PASS
    clock.set(FIRST_PASS)
    nightly.func()  # refused by the backfill
    clock.set(FIRST_PASS + timedelta(minutes=10))
    lock.release(backfill)
    retries = [j for j, *_ in scheduler._pending_jobs if j.id != "recon-nightly"]
    assert len(retries) == 1, "the refused night was given up for a second pass that never fires"
    clock.set(retries[0].trigger.run_date)
    retries[0].func()
    assert _nightly_starts(store, since=FIRST_PASS) == [FIRST_PASS + CATCH_UP_RETRY]


NIGHT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 02:00 UTC: "0 2 * * *" in UTC


@pytest.fixture
def last_night(tmp_path: Path) -> Iterator[tuple[SqlStore, VirtualClock, RunLock]]:
    """A store on a clock the test sets, whose last nightly run was the night before NIGHT
    (02:00 to 02:20 UTC), and the shop's run lock."""
    clock = VirtualClock(NIGHT - timedelta(days=1))
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    yesterday = store.start_run("nightly")
    clock.advance(timedelta(minutes=20))
    store.finish_run(yesterday, "ok", {})
    yield store, clock, RunLock(sessions(store), clock, holder_dead=lambda _: False)
    store.close()


def test_a_run_asked_for_with_now_that_the_lock_refuses_runs_once_the_lock_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 02:00 run ran. At 14:00, after a fix, the operator starts ``schedule --now``
    ("tonight's run at once", docs/commands.md) while a backfill holds the lock until 14:10.
    The refused run is tried again at 14:15 (``_retried``), but that try is judged as the
    02:00 scheduled run (``_unless_ran`` popped "asked at start" on the refused first call):
    the night ran at 02:00, so the asked-for run is dropped with a log blaming cron or another
    scheduler. The run asked for must run once the lock is free."""

    clock = VirtualClock(NIGHT)
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    try:
        tonight = store.start_run("nightly")  # the 02:00 run, to 02:20
        clock.advance(timedelta(minutes=20))
        store.finish_run(tonight, "ok", {})
        lock = RunLock(sessions(store), clock, holder_dead=lambda _: False)
        clock.set(NIGHT + timedelta(hours=11))
        backfill = lock.acquire(SHOP, BACKFILL, RUN_LEASE)

        asked = NIGHT + timedelta(hours=12)  # 14:00
        scheduler, nightly = _at_two(store, lock, monkeypatch, first_run=asked)
        clock.set(asked)
        nightly.func()  # refused by the backfill
        clock.set(asked + timedelta(minutes=10))
        lock.release(backfill)
        (retry,) = [j for j, *_ in scheduler._pending_jobs if j.id != "recon-nightly"]
        clock.set(retry.trigger.run_date)
        retry.func()
        after_fix = _nightly_starts(store, since=asked)
        assert after_fix == [asked + CATCH_UP_RETRY], "the run asked for with --now never ran"
    finally:
        store.close()


def test_a_retry_the_host_slept_through_is_given_up_within_the_hour_of_the_next_run(
    last_night: tuple[SqlStore, VirtualClock, RunLock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 02:00 run is refused (a backfill); its retry is planned for 02:15 and the host
    sleeps until 01:30 the next night. The retry has no misfire grace, so it fires on
    wake-up; the give-up rule ("once the next scheduled time is within the hour",
    docs/commands.md) is only read when a retry is planned, not when it fires. It runs the
    night at 01:30, and the 02:00 run (nothing ran at or after 02:00) runs it again: two
    reports half an hour apart, which the catch-up's own horizon exists to prevent. One run
    must cover the night (the retry given up within the hour of the next run, as planned)."""

    store, clock, lock = last_night
    clock.set(NIGHT - timedelta(hours=3))
    backfill = lock.acquire(SHOP, BACKFILL, RUN_LEASE)

    scheduler, nightly = _at_two(store, lock, monkeypatch)
    clock.set(NIGHT)
    nightly.func()  # refused by the backfill
    (retry,) = [j for j, *_ in scheduler._pending_jobs if j.id != "recon-nightly"]
    assert retry.misfire_grace_time is None  # fired on wake-up however late
    clock.set(NIGHT + timedelta(minutes=30))
    lock.release(backfill)
    woke = NIGHT + timedelta(hours=23, minutes=30)  # 01:30, the next 02:00 within the hour
    clock.set(woke)
    retry.func()
    clock.set(NIGHT + timedelta(days=1))  # the next scheduled run, 02:00
    nightly.func()
    ran = _nightly_starts(store, since=NIGHT)
    assert len(ran) == 1, f"two nightly runs half an hour apart: {ran}"


def test_a_now_run_given_up_does_not_exempt_the_next_scheduled_run_from_the_runs_table(
    last_night: tuple[SqlStore, VirtualClock, RunLock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 01:20 the operator starts ``schedule --now`` while a backfill holds the lock: the
    02:00 run is within the hour, so the run asked for is given up (docs). At 02:00 cron (or a
    second scheduler) starts the night first; this scheduler's 02:00 run is refused by it and
    tried again at 02:15, after that run ended at 02:10. That try must read the runs table and
    leave the night, which ran: finance gets one report, not two."""
    store, clock, lock = last_night
    clock.set(NIGHT - timedelta(hours=1))
    backfill = lock.acquire(SHOP, BACKFILL, RUN_LEASE)

    asked = NIGHT - timedelta(minutes=40)  # 01:20
    scheduler, nightly = _at_two(store, lock, monkeypatch, first_run=asked)
    clock.set(asked)
    nightly.func()  # refused by the backfill, and given up: 02:00 is within the hour
    assert [j.id for j, *_ in scheduler._pending_jobs] == ["recon-nightly"]
    clock.set(NIGHT - timedelta(minutes=10))
    lock.release(backfill)
    clock.set(NIGHT)  # cron's run of the night starts first
    other = lock.acquire(SHOP, OTHER, RUN_LEASE)
    theirs = store.start_run("nightly")
    nightly.func()  # this scheduler's 02:00 run: refused by cron's
    (retry,) = [j for j, *_ in scheduler._pending_jobs if j.id != "recon-nightly"]
    clock.set(NIGHT + timedelta(minutes=10))
    store.finish_run(theirs, "ok", {})
    lock.release(other)
    clock.set(retry.trigger.run_date)
    retry.func()
    tonight = _nightly_starts(store, since=NIGHT)
    assert tonight == [NIGHT], f"the night ran twice: {tonight}"


def _at_two(
    store: SqlStore, lock: RunLock, monkeypatch: pytest.MonkeyPatch, *, first_run: Any = None
) -> tuple[Any, Any]:
    """A scheduler of "0 2 * * *" in UTC on the store's clock, reading its runs table, whose
    job is ``run_nightly``'s first steps (the run lock, then a nightly run recorded); and its
    nightly job, for the test to fire by hand."""
    from recon import scheduler as scheduler_module

    def job() -> None:
        lease = lock.acquire(SHOP, "scheduler", RUN_LEASE)
        store.finish_run(store.start_run("nightly"), "ok", {})
        lock.release(lease)

    monkeypatch.setattr(scheduler_module, "_wall_now", store.clock.now)
    scheduler: Any = build_scheduler(
        "0 2 * * *",
        job,
        timezone="UTC",
        first_run=first_run,
        last_run=last_nightly_start(store),
        read_last_run=lambda: last_nightly_start(store),
    )
    return scheduler, next(j for j, *_ in scheduler._pending_jobs if j.id == "recon-nightly")


def _nightly_starts(store: SqlStore, *, since: datetime) -> list[datetime]:
    """When the nightly runs recorded at or after ``since`` started."""
    with store.session() as session:
        started = session.scalars(select(RunRow.started_at).where(RunRow.kind == "nightly"))
        return [s for s in started if s >= since]
