"""Review 20c: ``schedule --now`` reads the runs table before its run; a read that fails there
leaves the run "asked at start" for good, and the next night's scheduled run is then judged
as that ask: a run since the ask (a manual run the afternoon before) drops the night.

Driven as ``test_schedule_now_taken_over`` drives the scheduler: its jobs called by hand on a
clock the test sets, a real run lock and runs table on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from recon.clock import VirtualClock
from recon.errors import StoreError
from recon.lock import RunLock
from recon.run_steps import sessions
from recon.scheduler import last_nightly_start
from recon.service import RUN_LEASE
from recon.store.bookkeeping import RunStatus
from recon.store.sql import SqlStore
from tests.unit.now_schedule import (
    ASKED,
    NIGHT,
    OTHER,
    SHOP,
    US,
    nightly_starts,
    now_scheduler,
    opened_store,
)

NEXT_NIGHT = NIGHT + timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    yield from opened_store(tmp_path)


def test_a_failed_read_of_the_runs_table_does_not_leave_the_now_ask_to_drop_a_later_night(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """14:00: ``--now`` is refused (a backfill holds the shop); its retry at 14:15 cannot read
    the runs table (PostgreSQL restarting: logged, the retry ends). 15:00: the operator runs
    the night by hand. 02:00 next night: the scheduled run must run (a new night). It was
    judged as the 14:00 ask, found the 15:00 run "since the ask" and was not run: no report,
    no fixes that night."""
    clock = store.clock
    assert isinstance(clock, VirtualClock)
    lock = RunLock(sessions(store), clock, holder_dead=lambda _: False)
    clock.set(ASKED - timedelta(hours=1))
    backfill = lock.acquire(SHOP, OTHER, RUN_LEASE)
    down: list[bool] = []

    def read_last_run() -> datetime | None:
        if down:
            down.clear()
            raise StoreError("cannot open the store at postgresql://recon:***@db/recon: refused")
        return last_nightly_start(store)

    def job() -> None:  # ``run_nightly``: the lock, then a nightly run to its end
        lease = lock.acquire(SHOP, US, RUN_LEASE)
        store.finish_run(store.start_run("nightly"), RunStatus.OK, {})
        lock.release(lease)

    scheduler, nightly = now_scheduler(store, job, monkeypatch, read_last_run)
    clock.set(ASKED)
    nightly.func()  # refused: the backfill holds the shop
    (retry,) = [j for j, *_ in scheduler._pending_jobs if j.id != "recon-nightly"]
    clock.set(retry.trigger.run_date)
    down.append(True)
    retry.func()  # the store cannot be read: logged, the retry ends
    lock.release(backfill)
    clock.set(ASKED + timedelta(hours=1))  # 15:00: the night run by hand, to its end
    store.finish_run(store.start_run("nightly"), RunStatus.OK, {})
    clock.set(NEXT_NIGHT)
    nightly.func()
    assert nightly_starts(store, since=NEXT_NIGHT) == [NEXT_NIGHT], "the night had no run"
