"""A ``schedule --now`` run whose lease another run took over part-way is not run again once that
run has ended: finance gets one report of the night, not two.

The run asked for at start kept its "asked at start" status when it lost its lease (a
``LockError``, as a refusal is), so its retries every 15 minutes ran without reading the runs
table; once the run that took the shop over had ended, the retry ran the night again. Driven as
``test_schedule_refused_night`` drives the scheduler: its jobs called by hand on a clock the test
sets, a real run lock and runs table on SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from recon.clock import VirtualClock
from recon.errors import LockError
from recon.lock import RunLock
from recon.scheduler import CATCH_UP_RETRY
from recon.service import RUN_LEASE, sessions
from recon.store.sql import SqlStore
from tests.unit.now_schedule import (
    ASKED,
    OTHER,
    SHOP,
    US,
    nightly_starts,
    now_scheduler,
    opened_store,
    retries,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    yield from opened_store(tmp_path)


def test_a_now_run_taken_over_is_not_run_again_after_the_run_that_took_the_shop_ended(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """At 14:00 the ``--now`` run starts; at 14:05 its host stalls and another run (cron's, on
    another host, that found the lease lapsed) takes the shop over and runs the night until
    14:25. Ours finds its lease taken (``LockError``) and stops, recorded failed. Its retry at
    14:15 is refused (the other run still holds the lock); the one at 14:30 came after that run
    ended: it must read the runs table, leave the night (run since the ask) and say so at
    WARNING. Before, it ran it a third time: a second report to finance."""
    clock = store.clock
    assert isinstance(clock, VirtualClock)
    ours = RunLock(sessions(store), clock, holder_dead=lambda _: False)
    # The other host reads our lease as lapsed (our host stalled past it).
    theirs_lock = RunLock(sessions(store), clock, holder_dead=lambda holder: holder == US)
    theirs: list[str] = []
    their_lease: list[Any] = []

    def job() -> None:  # ``run_nightly``: the lock, a nightly run, lost part-way
        lease = ours.acquire(SHOP, US, RUN_LEASE)
        run_id = store.start_run("nightly")
        if their_lease:  # a run after the takeover runs to its end
            store.finish_run(run_id, "ok", {})
            ours.release(lease)
            return
        clock.advance(timedelta(minutes=5))  # 14:05: the other run takes the shop over
        their_lease.append(theirs_lock.acquire(SHOP, OTHER, RUN_LEASE))
        theirs.append(store.start_run("nightly"))
        lost = LockError(f"the run lock for shop {SHOP} was taken over by another run ({OTHER})")
        store.finish_run(run_id, "failed", {"error": str(lost), "exit_code": 4})
        ours.release(lease)  # left alone: the lease is theirs now
        raise lost

    scheduler, nightly = now_scheduler(store, job, monkeypatch)
    clock.set(ASKED)
    nightly.func()  # taken over at 14:05
    with caplog.at_level(logging.WARNING, logger="recon.scheduler"):
        (first,) = retries(scheduler)
        clock.set(first.trigger.run_date)  # 14:15: the other run still holds the shop
        first.func()
        clock.set(ASKED + timedelta(minutes=25))  # 14:25: the other run ends
        store.finish_run(theirs[0], "ok", {})
        theirs_lock.release(their_lease[0])
        for retry in retries(scheduler)[1:]:  # 14:30, if one was planned
            clock.set(retry.trigger.run_date)
            retry.func()
    ran = nightly_starts(store, since=ASKED)
    assert ran == [ASKED, ASKED + timedelta(minutes=5)], f"the night ran again: {ran}"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("not run" in said and "--now" in said for said in warned), warned


def test_a_now_run_the_lock_refuses_still_runs_once_a_run_started_before_the_ask_ends(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs table satisfies the run asked for only with a run started at or after the
    ask: a run that started before it (cron's, at 13:55, before the fix) holds the lock at
    14:00 and ends at 14:10; the retry at 14:15 runs the night, as asked."""
    clock = store.clock
    assert isinstance(clock, VirtualClock)
    lock = RunLock(sessions(store), clock, holder_dead=lambda _: False)
    clock.set(ASKED - timedelta(minutes=5))
    other = lock.acquire(SHOP, OTHER, RUN_LEASE)
    before = store.start_run("nightly")

    def job() -> None:
        lease = lock.acquire(SHOP, US, RUN_LEASE)
        store.finish_run(store.start_run("nightly"), "ok", {})
        lock.release(lease)

    scheduler, nightly = now_scheduler(store, job, monkeypatch)
    clock.set(ASKED)
    nightly.func()  # refused
    clock.set(ASKED + timedelta(minutes=10))
    store.finish_run(before, "ok", {})
    lock.release(other)
    (retry,) = retries(scheduler)
    clock.set(retry.trigger.run_date)
    retry.func()
    assert nightly_starts(store, since=ASKED) == [ASKED + CATCH_UP_RETRY]
