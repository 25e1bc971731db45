"""Review 20c: ``schedule --now`` reads the runs table before its run; a read that fails there
leaves the run "asked at start" for good, and the next night's scheduled run is then judged
as that ask: a run since the ask (a manual run the afternoon before) drops the night.

Driven as ``test_schedule_now_taken_over`` drives the scheduler: its jobs called by hand on a
clock the test sets, a real run lock and runs table on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from recon.clock import VirtualClock
from recon.errors import StoreError
from recon.lock import RunLock
from recon.run_steps import sessions
from recon.scheduler import build_scheduler, last_nightly_start
from recon.service import RUN_LEASE
from recon.store.bookkeeping import RunStatus
from recon.store.sql import SqlStore
from recon.store.tables import RunRow

SHOP = "acme"
NIGHT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 02:00 UTC: "0 2 * * *" in UTC
ASKED = NIGHT + timedelta(hours=12)  # 14:00: the operator starts `schedule --now`
NEXT_NIGHT = NIGHT + timedelta(days=1)
US = "app-host:boot-1:4026531836:4242:777"
OTHER = "ops-host:boot-2:4026531836:4343:778"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """A store on a clock the test sets, whose 02:00 run ran (to 02:20)."""
    clock = VirtualClock(NIGHT)
    made = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    made.finish_run(made.start_run("nightly"), RunStatus.OK, {})
    yield made
    made.close()


def _nightly_starts(store: SqlStore, *, since: datetime) -> list[datetime]:
    with store.session() as session:
        started = session.scalars(select(RunRow.started_at).where(RunRow.kind == "nightly"))
        return sorted(s for s in started if s >= since)


def test_a_failed_read_of_the_runs_table_does_not_leave_the_now_ask_to_drop_a_later_night(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """14:00: ``--now`` is refused (a backfill holds the shop); its retry at 14:15 cannot read
    the runs table (PostgreSQL restarting: logged, the retry ends). 15:00: the operator runs
    the night by hand. 02:00 next night: the scheduled run must run (a new night). It was
    judged as the 14:00 ask, found the 15:00 run "since the ask" and was not run: no report,
    no fixes that night."""
    from recon import scheduler as scheduler_module

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

    monkeypatch.setattr(scheduler_module, "_wall_now", clock.now)
    scheduler: Any = build_scheduler(
        "0 2 * * *",
        job,
        timezone="UTC",
        first_run=ASKED,
        last_run=last_nightly_start(store),
        read_last_run=read_last_run,
    )
    nightly = next(j for j, *_ in scheduler._pending_jobs if j.id == "recon-nightly")
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
    assert _nightly_starts(store, since=NEXT_NIGHT) == [NEXT_NIGHT], "the night had no run"
