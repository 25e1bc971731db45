"""A shop for the ``schedule --now`` tests: its store on a clock the test sets, whose 02:00 run
ran, and a scheduler asked at 14:00 to run the night now (``now_scheduler``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from recon.clock import VirtualClock
from recon.scheduler import build_scheduler, last_nightly_start
from recon.store.sql import SqlStore
from recon.store.tables import RunRow

SHOP = "acme"
NIGHT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 02:00 UTC: "0 2 * * *" in UTC
ASKED = NIGHT + timedelta(hours=12)  # 14:00: the operator starts `schedule --now` after a fix
US = "app-host:boot-1:4026531836:4242:777"  # this scheduler's runs
OTHER = "ops-host:boot-2:4026531836:4343:778"  # cron, or a second scheduler, on another host


def opened_store(tmp_path: Path) -> Iterator[SqlStore]:
    """A store on a clock the test sets, whose 02:00 run ran (to 02:20): each test module's
    ``store`` fixture yields from it."""
    clock = VirtualClock(NIGHT)
    made = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    tonight = made.start_run("nightly")
    clock.advance(timedelta(minutes=20))
    made.finish_run(tonight, "ok", {})
    yield made
    made.close()


def nightly_starts(store: SqlStore, *, since: datetime) -> list[datetime]:
    with store.session() as session:
        started = session.scalars(select(RunRow.started_at).where(RunRow.kind == "nightly"))
        return sorted(s for s in started if s >= since)


def retries(scheduler: Any) -> list[Any]:
    """The retries planned so far, in the order they were added."""
    return [j for j, *_ in scheduler._pending_jobs if j.id != "recon-nightly"]


def now_scheduler(
    store: SqlStore,
    job: Callable[[], object],
    monkeypatch: pytest.MonkeyPatch,
    read_last_run: Callable[[], datetime | None] | None = None,
) -> tuple[Any, Any]:
    """``schedule --cron "0 2 * * *" --now`` asked at ``ASKED`` on the store's clock (the
    scheduler's wall clock too): the scheduler and its nightly job, not started."""
    from recon import scheduler as scheduler_module

    clock = store.clock
    assert isinstance(clock, VirtualClock)
    monkeypatch.setattr(scheduler_module, "_wall_now", clock.now)
    scheduler: Any = build_scheduler(
        "0 2 * * *",
        job,
        timezone="UTC",
        first_run=ASKED,
        last_run=last_nightly_start(store),
        read_last_run=read_last_run or (lambda: last_nightly_start(store)),
    )
    nightly = next(j for j, *_ in scheduler._pending_jobs if j.id == "recon-nightly")
    return scheduler, nightly
