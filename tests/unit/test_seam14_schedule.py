"""Seams of ``schedule``'s catch-up of a missed night (``recon.scheduler._catch_up``) with the
host's sleep: the scheduler promises that a run missed while the machine slept starts on
wake-up, however late (README, ``schedule``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recon.errors import LockError
from recon.scheduler import CATCH_UP_RETRY, build_scheduler


def test_a_catch_up_retry_the_host_slept_through_still_runs_on_wake_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``schedule`` started after a missed night (daily, an hour ago); the run lock refused the
    catch-up (the lease of the run a reboot killed), so it planned a retry 15 minutes later.
    The laptop or VM slept through that time and woke a few seconds after it. The nightly job
    itself runs however late on wake-up (``misfire_grace_time=None``), but the retry was
    dropped by APScheduler's default grace of one second ("Run time of job ... was missed"),
    and nothing else tries the night again: no run, report or fixes for it. On wake-up the
    retry should run the missed night.

    The sleep is simulated on the clock the catch-up plans by (``_wall_now``): when the
    refusal came it read 15 minutes and 5 seconds behind the clock APScheduler fires by, so
    the retry's time has passed by 5 s when the scheduler next looks, as after the sleep."""
    from recon import scheduler as scheduler_module

    real = datetime.now(UTC)
    nightly = real - timedelta(hours=1)  # the schedule's time: an hour ago, daily (UTC)
    cron = f"{nightly.minute} {nightly.hour} * * *"
    last_run = nightly - timedelta(days=1) + timedelta(seconds=5)  # yesterday's run ended
    wall = [real]
    monkeypatch.setattr(scheduler_module, "_wall_now", lambda: wall[0])
    tried: list[str] = []
    ran = threading.Event()

    def job() -> None:
        if not tried:
            tried.append("LockError")
            raise LockError("another run (a previous boot's) holds the run lock for shop acme")
        tried.append("ran")
        ran.set()

    scheduler: Any = build_scheduler(
        cron, job, timezone="UTC", last_run=last_run, read_last_run=lambda: last_run
    )
    # Read as the catch-up fires: the retry it plans is due 5 s before the scheduler looks.
    wall[0] = real - CATCH_UP_RETRY - timedelta(seconds=5)
    scheduler.start()
    try:
        woke_and_ran = ran.wait(4)
    finally:
        scheduler.shutdown(wait=True)
    assert tried[:1] == ["LockError"], "the catch-up did not fire at start"
    assert woke_and_ran, f"the missed night never ran after the host woke ({tried})"
