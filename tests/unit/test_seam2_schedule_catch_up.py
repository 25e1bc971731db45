"""Seams of ``schedule``'s catch-up (``recon.schedule_times.missed_run``) with the run lock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from recon.clock import SystemClock
from recon.lock import RunLock, holder_name, holder_process_is_gone
from recon.scheduler import build_scheduler
from recon.service import RUN_LEASE, sessions
from recon.store.sql import SqlStore

SHOP = "acme"


def test_a_catch_up_refused_by_the_lease_of_the_run_a_reboot_killed_still_runs_the_night(
    tmp_path: Path,
) -> None:
    """The host rebooted (an unattended kernel update) while the night's run was going: that
    run's row stays ``running`` (it does not count) and its lease, held by a process of the
    previous boot, is never presumed dead (``holder_process_is_gone``): it lasts ``RUN_LEASE``
    (4 h). ``schedule`` comes back after the reboot and its catch-up fires at once, as the
    CHANGELOG promises for "a reboot ... a crash": the lease refuses it (LockError, logged as
    a failed run) and nothing is tried again before tomorrow's time: the night has no run,
    report or fixes, the very case the catch-up was made for."""
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    lock = RunLock(sessions(store), SystemClock())
    host, _boot, namespace, pid, start = holder_name().split(":")
    before_reboot = f"{host}:a-previous-boot:{namespace}:{pid}:{start}"
    assert not holder_process_is_gone(before_reboot)  # by design: only its expiry frees it
    dead_run = lock.acquire(SHOP, before_reboot, RUN_LEASE)

    now = datetime.now(UTC)
    nightly = now - timedelta(hours=1)  # the schedule's time: an hour ago, daily (UTC)
    cron = f"{nightly.minute} {nightly.hour} * * *"
    last_run = nightly - timedelta(days=1) + timedelta(seconds=5)  # yesterday's run ended
    tried: list[str] = []
    fired = threading.Event()

    def job() -> None:  # run_nightly's first step: take the shop's run lock
        try:
            lease = lock.acquire(SHOP, holder_name(), RUN_LEASE)
        except Exception as exc:
            tried.append(type(exc).__name__)
            raise
        finally:
            fired.set()
        tried.append("ran")
        lock.release(lease)

    scheduler: Any = build_scheduler(cron, job, timezone="UTC", last_run=last_run)
    scheduler.start()
    try:
        assert fired.wait(5), "the catch-up did not fire"
        time.sleep(0.5)  # the refused catch-up plans its retry
        planned = min(job.next_run_time for job in scheduler.get_jobs()).astimezone(UTC)
    finally:
        scheduler.shutdown(wait=True)
        store.close()
    assert tried == ["LockError"]  # refused by the dead run's lease
    tomorrow = nightly + timedelta(days=1)
    # The night runs once the dead run's lease lapses (or the catch-up is tried again): some
    # run is planned before tomorrow's scheduled time.
    assert dead_run.expires_at < tomorrow
    assert planned < tomorrow - timedelta(minutes=1), f"next try {planned}: the night is lost"


def test_a_sandbox_night_that_just_ran_is_not_caught_up_again(tmp_path: Path) -> None:
    """With ``[sandbox] enabled`` (the embedded default) a run's store uses the world's
    virtual clock (``build_app``: ``VirtualClock(world.now)``, 2026-11-01 06:00 for a
    generated world), so the runs table says the last nightly run started then, whatever the
    wall clock. ``schedule`` reads that and compares it with the wall clock: a nightly run
    that ended a minute ago reads as weeks old, and every ``schedule`` start runs the night
    again at once (without ``--now``), though "a night that already ran is not run again"."""
    from recon.clock import VirtualClock
    from recon.sandbox.builder_shopify import DEFAULT_NOW
    from recon.scheduler import last_nightly_start

    if datetime.now(UTC) < DEFAULT_NOW + timedelta(days=2):
        pytest.skip("the wall clock is before the generated world's now")
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    run_store = SqlStore(url, clock=VirtualClock(DEFAULT_NOW))  # as build_app opens it
    run_id = run_store.start_run("nightly")  # `recon run` on the sandbox, just now
    run_store.finish_run(run_id, "ok", {})
    run_store.close()
    wall = datetime.now(UTC)
    nightly = wall + timedelta(hours=1)  # the schedule's time is still to come today (UTC)
    cron = f"{nightly.minute} {nightly.hour} * * *"
    store = SqlStore(url)  # as `schedule` opens it
    try:
        last_run = last_nightly_start(store, sandbox=True)  # as `schedule` reads it
    finally:
        store.close()
    fired = threading.Event()
    scheduler: Any = build_scheduler(cron, fired.set, timezone="UTC", last_run=last_run)
    scheduler.start()
    try:
        ran_at_start = fired.wait(2)
    finally:
        scheduler.shutdown(wait=True)
    assert not ran_at_start, f"caught up a night that ran a moment ago (recorded {last_run})"


def test_a_refused_catch_up_is_tried_again_and_not_after_a_run_ran_the_night(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lock refuses the missed night (a run elsewhere holds it); it is tried again after
    ``CATCH_UP_RETRY``. With the night run meanwhile (the runs table says a nightly run started
    after the missed time), the retry runs nothing: the night is not run twice."""
    from recon import scheduler as scheduler_module
    from recon.errors import LockError

    monkeypatch.setattr(scheduler_module, "CATCH_UP_RETRY", timedelta(seconds=0.5))
    now = datetime.now(UTC)
    nightly = now - timedelta(hours=1)
    cron = f"{nightly.minute} {nightly.hour} * * *"
    last_run = nightly - timedelta(days=1) + timedelta(seconds=5)
    calls: list[datetime] = []
    reads: list[datetime | None] = []
    ran_elsewhere: list[datetime] = []

    def job() -> None:
        calls.append(datetime.now(UTC))
        ran_elsewhere.append(datetime.now(UTC))  # the lock holder's run, which ran the night
        raise LockError("run lock for shop acme is held by another run")

    def read_last_run() -> datetime | None:
        last = ran_elsewhere[-1] if ran_elsewhere else last_run
        reads.append(last)
        return last

    scheduler: Any = build_scheduler(
        cron, job, timezone="UTC", last_run=last_run, read_last_run=read_last_run
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while not reads and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        scheduler.shutdown(wait=True)
    assert len(calls) == 1, "the night was tried again after a run had run it"
    assert reads, "the retry did not read the runs table"


@pytest.mark.parametrize(("due_in", "caught_up"), [(30, False), (120, True)])
def test_a_catch_up_is_left_to_the_scheduled_run_when_that_is_near(
    caplog: pytest.LogCaptureFixture, due_in: int, caught_up: bool
) -> None:
    """``schedule`` comes back 30 minutes before tonight's time, yesterday's run missed: the
    catch-up ran at once and tonight's run 30 minutes later (two reports minutes apart, the
    second reading almost nothing). Within ``CATCH_UP_HORIZON`` (60 minutes) of the next
    scheduled run the catch-up is skipped, and the log says so and when the scheduled run
    comes; two hours before it, the missed night still runs at once."""
    from recon.scheduler import CATCH_UP_HORIZON, CATCH_UP_JOB

    assert timedelta(minutes=60) == CATCH_UP_HORIZON  # as README says
    now = datetime.now(UTC)
    nightly = now + timedelta(minutes=due_in)
    cron = f"{nightly.minute} {nightly.hour} * * *"
    last_run = nightly - timedelta(days=2) + timedelta(seconds=5)  # yesterday's time missed
    with caplog.at_level("INFO", logger="recon.scheduler"):
        scheduler: Any = build_scheduler(cron, lambda: None, timezone="UTC", last_run=last_run)
    planned = [job.id for job, *_ in scheduler._pending_jobs]
    assert (CATCH_UP_JOB in planned) is caught_up, planned
    said = " ".join(r.getMessage() for r in caplog.records)
    if not caught_up:
        assert "the next scheduled run" in said and f"{nightly:%H:%M}" in said, said


def test_a_night_left_to_the_next_scheduled_run_loses_no_record(tmp_path: Path) -> None:
    """The sync reads from each stream's watermark (less the look-back), not from the
    schedule: a return updated in the night the catch-up skipped is read by the next run."""
    from recon.clock import VirtualClock
    from recon.config import SyncSettings
    from recon.sync import run_sync
    from tests.fakes import EPOCH, FakeLoop, FakeShopify, make_return

    clock = VirtualClock(EPOCH)
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    loop, shopify = FakeLoop(), FakeShopify()
    settings = SyncSettings(lookback_hours=1, initial_days=60)
    try:
        run_sync(store, loop, shopify, clock, settings)  # night 1
        skipped = make_return(1, EPOCH + timedelta(hours=20))  # during the skipped night
        loop.put(skipped)
        clock.advance(timedelta(days=2))  # night 2 skipped: night 3 runs
        run_sync(store, loop, shopify, clock, settings)
        assert store.return_versions([skipped.id]) == {skipped.id: skipped.updated_at}
    finally:
        store.close()
