"""Seam review (session 15, b): ``schedule --now`` given up versus the next scheduled run.

``_unless_ran`` keeps "asked at start" until the ``--now`` run has run (a ``LockError``
keeps it), so that its retry is still the run asked for. But ``_retried`` may give that run up
(the next scheduled time is within the hour), and then "asked at start" is never cleared: the
next call, the cron's scheduled run, or its retry, is run unconditionally, without reading the
runs table. docs/commands.md (schedule): "Each try reads the runs table again first. A nightly
run that started at or after the scheduled time and ended ran the night, so the night is not
run twice."

Driven as ``test_seam15_schedule`` drives the scheduler: its jobs called by hand on a clock the
test sets, a real run lock and runs table on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from recon.clock import VirtualClock
from recon.lock import RunLock
from recon.scheduler import build_scheduler, last_nightly_start
from recon.service import RUN_LEASE, sessions
from recon.store.sql import SqlStore
from recon.store.tables import RunRow

SHOP = "acme"
NIGHT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 02:00 UTC: "0 2 * * *" in UTC
BACKFILL = "ops-host:boot-1:4026531836:4242:777"  # another host's process: never presumed gone
OTHER = "ops-host:boot-1:4026531836:4343:778"  # a second scheduler (or cron) for the shop


def test_a_now_run_given_up_does_not_exempt_the_next_scheduled_run_from_the_runs_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 01:20 the operator starts ``schedule --now`` while a backfill holds the lock: the
    02:00 run is within the hour, so the run asked for is given up (docs). At 02:00 cron (or a
    second scheduler) starts the night first; this scheduler's 02:00 run is refused by it and
    tried again at 02:15, after that run ended at 02:10. That try must read the runs table and
    leave the night, which ran: finance gets one report, not two."""
    from recon import scheduler as scheduler_module

    clock = VirtualClock(NIGHT - timedelta(days=1))
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    try:
        yesterday = store.start_run("nightly")
        clock.advance(timedelta(minutes=20))
        store.finish_run(yesterday, "ok", {})
        lock = RunLock(sessions(store), clock, holder_dead=lambda _: False)
        clock.set(NIGHT - timedelta(hours=1))
        backfill = lock.acquire(SHOP, BACKFILL, RUN_LEASE)

        def job() -> None:  # ``run_nightly``'s first steps
            lease = lock.acquire(SHOP, "scheduler", RUN_LEASE)
            store.finish_run(store.start_run("nightly"), "ok", {})
            lock.release(lease)

        asked = NIGHT - timedelta(minutes=40)  # 01:20
        monkeypatch.setattr(scheduler_module, "_wall_now", clock.now)
        scheduler: Any = build_scheduler(
            "0 2 * * *",
            job,
            timezone="UTC",
            first_run=asked,
            last_run=last_nightly_start(store),
            read_last_run=lambda: last_nightly_start(store),
        )
        nightly = next(j for j, *_ in scheduler._pending_jobs if j.id == "recon-nightly")
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
        with store.session() as session:
            started = session.scalars(select(RunRow.started_at).where(RunRow.kind == "nightly"))
            tonight = [s for s in started if s >= NIGHT]
        assert tonight == [NIGHT], f"the night ran twice: {tonight}"
    finally:
        store.close()
