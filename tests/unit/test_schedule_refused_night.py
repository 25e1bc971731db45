"""A scheduled nightly run the run lock refuses (a backfill still reading at 02:00, another
scheduler's run of the night) is tried again that night, never run twice, and given up with a
warning naming the shop and the lock's holder once the night's window runs out.

Each test drives the scheduler's jobs by hand on a clock it sets (``_wall_now``), with a real
run lock and runs table on SQLite: the job is what ``run_nightly`` does first (take the lock,
record a nightly run)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from recon.clock import VirtualClock
from recon.errors import LockError
from recon.lock import RunLock
from recon.scheduler import CATCH_UP_HORIZON, CATCH_UP_RETRY, build_scheduler, last_nightly_start
from recon.service import RUN_LEASE, sessions
from recon.store.sql import SqlStore
from recon.store.tables import RunRow

SHOP = "acme"
CRON = "0 2 * * *"  # 02:00 UTC every night
NIGHT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
BACKFILL = "ops-host:boot-1:4026531836:4242:777"  # another host's process: never presumed gone


class Shop:
    """One shop's run lock and runs table, read by a clock the test moves (the wall clock)."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = VirtualClock(NIGHT - timedelta(days=1))
        self.store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=self.clock)
        self.lock = RunLock(sessions(self.store), self.clock, holder_dead=lambda _: False)
        yesterday = self.store.start_run("nightly")  # last night's run, 02:00 to 02:20
        self.clock.advance(timedelta(minutes=20))
        self.store.finish_run(yesterday, "ok", {})
        self.clock.set(NIGHT - timedelta(hours=3))  # 23:00: a backfill may start

    def read_last_run(self) -> datetime | None:
        """What ``schedule`` reads from the runs table (``cli.schedule``)."""
        return last_nightly_start(self.store)

    def nightly_runs(self) -> list[datetime]:
        """When each nightly run recorded after last night's started."""
        with self.store.session() as session:
            started = session.scalars(select(RunRow.started_at).where(RunRow.kind == "nightly"))
            return sorted(s for s in started if s >= NIGHT - timedelta(hours=3))


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    made = Shop(tmp_path)
    yield made
    made.store.close()


def nightly_job(shop: Shop, holder: str) -> Any:
    """``run_nightly``'s first steps as ``holder``: take the shop's run lock (LockError while
    another holds it), record a nightly run, end it, give the lock up."""

    def job() -> None:
        lease = shop.lock.acquire(SHOP, holder, RUN_LEASE)
        run_id = shop.store.start_run("nightly")
        shop.store.finish_run(run_id, "ok", {})
        shop.lock.release(lease)

    return job


def scheduler_for(shop: Shop, job: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A scheduler (not started) on ``CRON`` whose wall clock is the shop's clock."""
    from recon import scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "_wall_now", shop.clock.now)
    scheduler: Any = build_scheduler(
        CRON,
        job,
        timezone="UTC",
        last_run=shop.read_last_run(),
        read_last_run=shop.read_last_run,
    )
    return scheduler


def planned(scheduler: Any) -> list[Any]:
    """The jobs planned besides the nightly one (retries), in the order they were added."""
    return [job for job, *_ in scheduler._pending_jobs if job.id != "recon-nightly"]


def fire_at(shop: Shop, moment: datetime, func: Any) -> None:
    """Move the clock to ``moment`` and run a job's function there, as APScheduler would."""
    shop.clock.set(moment)
    func()


def nightly(scheduler: Any) -> Any:
    return next(job for job, *_ in scheduler._pending_jobs if job.id == "recon-nightly")


def test_a_nightly_run_refused_by_a_backfill_still_reading_runs_once_it_ends(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill started at 23:00 still holds the shop's run lock at 02:00. The scheduled run
    is refused: before, that night had no run and no report (only catch-ups were retried). It
    is tried again 15 minutes later, on wake-up however late (no misfire grace), and runs once
    the backfill has given the lock up."""
    backfill = shop.lock.acquire(SHOP, BACKFILL, RUN_LEASE)
    scheduler = scheduler_for(shop, nightly_job(shop, "scheduler"), monkeypatch)
    fire_at(shop, NIGHT, nightly(scheduler).func)
    assert shop.nightly_runs() == [], "the lock should have refused the 02:00 run"
    retries = planned(scheduler)
    assert len(retries) == 1, "the refused night was not tried again"
    retry = retries[0]
    assert retry.trigger.run_date == NIGHT + CATCH_UP_RETRY
    assert retry.misfire_grace_time is None  # a retry the host slept through runs on wake-up
    shop.clock.set(NIGHT + timedelta(minutes=10))
    shop.lock.release(backfill)  # the backfill ends at 02:10
    fire_at(shop, retry.trigger.run_date, retry.func)
    assert shop.nightly_runs() == [NIGHT + CATCH_UP_RETRY]
    assert len(planned(scheduler)) == 1, "a retry that ran planned another"


def test_a_second_schedulers_retry_does_not_run_a_night_the_first_ran(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two schedulers of one shop (a deploy overlapping the old one) fire at 02:00: the first
    takes the lock and runs until 02:40, the second is refused and tried again every 15
    minutes. Its retry after the first run ended reads the runs table (``_unless_ran``): the
    night ran, so it runs nothing, says so, and plans nothing more. Finance gets one report."""
    shop.clock.set(NIGHT)
    first_lease = shop.lock.acquire(SHOP, "scheduler-1", RUN_LEASE)
    first_run = shop.store.start_run("nightly")
    second = scheduler_for(shop, nightly_job(shop, "scheduler-2"), monkeypatch)
    with caplog.at_level("WARNING", logger="recon.scheduler"):
        fire_at(shop, NIGHT + timedelta(seconds=1), nightly(second).func)
        for _ in range(2):  # 02:15 and 02:30: the first run still holds the lock
            fire_at(shop, planned(second)[-1].trigger.run_date, planned(second)[-1].func)
        assert len(planned(second)) == 3
        shop.clock.set(NIGHT + timedelta(minutes=40))
        shop.store.finish_run(first_run, "ok", {})
        shop.lock.release(first_lease)
        retry = planned(second)[-1]
        assert retry.trigger.run_date == NIGHT + 3 * CATCH_UP_RETRY + timedelta(seconds=1)
        fire_at(shop, retry.trigger.run_date, retry.func)
    assert shop.nightly_runs() == [NIGHT], "the night ran twice"
    assert len(planned(second)) == 3, "a retry was planned after the night had run"
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "is not run" in said, said


def test_a_night_the_lock_refuses_all_night_is_given_up_with_a_warning_naming_the_holder(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A backfill holds the lock all night and all day: the night is tried every 15 minutes
    until the next scheduled run is within the hour, then given up with a WARNING that names
    the shop and the holder (the operator must see whose run kept the night from running),
    and nothing more is planned: the next night's scheduled run reads from where the last
    run stopped."""
    shop.lock.acquire(SHOP, BACKFILL, timedelta(days=3))
    scheduler = scheduler_for(shop, nightly_job(shop, "scheduler"), monkeypatch)
    with caplog.at_level("INFO", logger="recon.scheduler"):
        fire_at(shop, NIGHT, nightly(scheduler).func)
        tried = 1
        while len(planned(scheduler)) == tried:
            retry = planned(scheduler)[-1]
            fire_at(shop, retry.trigger.run_date, retry.func)
            tried += 1
            assert tried < 200, "the night was tried for ever"
    last_try = planned(scheduler)[-1].trigger.run_date
    tomorrow = NIGHT + timedelta(days=1)
    assert tomorrow - CATCH_UP_HORIZON - CATCH_UP_RETRY <= last_try < tomorrow - CATCH_UP_HORIZON
    assert shop.nightly_runs() == []
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 2, "each retry of a long night should not warn again"
    said = warned[-1].getMessage()
    assert warned[-1] is caplog.records[-1]
    assert SHOP in said and BACKFILL in said and "given up" in said, said


def test_a_sandbox_schedule_does_not_retry_a_refused_night(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox's runs are dated by the world's clock, so the runs table cannot say whether
    a night ran (``last_nightly_start``): with no runs table to read (``read_last_run`` None)
    a refused night is not retried, as a missed one is not caught up."""
    from recon import scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "_wall_now", shop.clock.now)

    def refused() -> None:
        raise LockError(f"another run (x) holds the run lock for shop {SHOP} until later")

    scheduler: Any = build_scheduler(CRON, refused, timezone="UTC")
    fire_at(shop, NIGHT, nightly(scheduler).func)
    assert planned(scheduler) == []
