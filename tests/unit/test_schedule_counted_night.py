"""What the schedule counts as the night's run: a run in at least the schedule's remediation mode
that ran to its end; not a ``run --mode plan`` preview, nor a run its lease keeper stopped.

Before, a finance user's preview after the scheduled time (while the apply-mode run was refused
by the run lock, or missed while the host was down) made the retry or catch-up skip the night,
and a run stopped because its lease could not be renewed was recorded ``failed``, which counts:
either way the missing refunds and restocks waited a day. Driven as
``test_schedule_refused_night`` drives the scheduler: its jobs called by hand on a clock the
test sets, a real run lock and runs table on SQLite; the schedule runs in apply mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from recon.clock import VirtualClock
from recon.config_modes import RemediationMode
from recon.errors import LockError, exit_code_of
from recon.lock import RunLock
from recon.scheduler import CATCH_UP_JOB, CATCH_UP_RETRY, build_scheduler, last_nightly_start
from recon.service import RUN_LEASE, sessions
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
    retries,
)

CRON = "0 2 * * *"
SCHEDULE_MODE = RemediationMode.APPLY  # the shop's [remediation] mode
NEXT_NIGHT = NIGHT + timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """The ``now_schedule`` shop: its 02:00 run ran, recorded with no mode (as before)."""
    yield from opened_store(tmp_path)


def _clock(store: SqlStore) -> VirtualClock:
    clock = store.clock
    assert isinstance(clock, VirtualClock)
    return clock


def _lock(store: SqlStore) -> RunLock:
    return RunLock(sessions(store), _clock(store), holder_dead=lambda _: False)


def read_last_run(store: SqlStore) -> Callable[[], datetime | None]:
    """What ``schedule`` reads from the runs table (``cli.schedule``), in the schedule's mode."""
    return lambda: last_nightly_start(store, mode=SCHEDULE_MODE)


def ran(store: SqlStore, holder: str, mode: RemediationMode) -> Callable[[], None]:
    """``run_nightly`` as ``holder`` in ``mode``: the lock, a nightly run to its end."""

    def job() -> None:
        lock = _lock(store)
        lease = lock.acquire(SHOP, holder, RUN_LEASE)
        run_id = store.start_run("nightly")
        _clock(store).advance(timedelta(minutes=2))
        store.finish_run(run_id, RunStatus.OK, {"findings": 0, "mode": mode.value})
        lock.release(lease)

    return job


def scheduled(store: SqlStore, job: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> Any:
    """``schedule --cron "0 2 * * *"`` started now on the store's clock (its wall clock)."""
    from recon import scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "_wall_now", _clock(store).now)
    reads = read_last_run(store)
    return build_scheduler(CRON, job, timezone="UTC", last_run=reads(), read_last_run=reads)


def pending(scheduler: Any, job_id: str) -> Any:
    return next(job for job, *_ in scheduler._pending_jobs if job.id == job_id)


def test_an_upgraded_shops_run_recorded_without_a_mode_still_counts(store: SqlStore) -> None:
    """The 02:00 run was recorded by the version before (no mode): in the apply-mode schedule
    it still ran the night, so a schedule restarted at 09:00 does not run the night again."""
    assert last_nightly_start(store, mode=SCHEDULE_MODE) == NIGHT


@pytest.mark.parametrize(
    ("preview", "runs_again"),
    [
        (RemediationMode.PLAN, True),
        (RemediationMode.APPROVAL, True),
        (RemediationMode.APPLY, False),
    ],
)
def test_a_catch_up_is_not_left_to_a_run_in_a_weaker_mode_than_the_schedules(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, preview: RemediationMode, runs_again: bool
) -> None:
    """The host was down over the next night's 02:00. At 09:00 finance runs the night by hand
    in ``preview`` mode; at 09:01 the host's ``schedule`` comes back and its catch-up is refused
    (finance's run holds the lock). The retry at 09:16 reads the runs table: a run in apply
    mode ran the night; a plan or approval one made none of the refunds and restocks the
    schedule would, and the catch-up runs it."""
    clock = _clock(store)
    clock.set(NEXT_NIGHT + timedelta(hours=7))  # 09:00
    lock = _lock(store)
    theirs = lock.acquire(SHOP, OTHER, RUN_LEASE)
    by_hand = store.start_run("nightly")
    clock.set(NEXT_NIGHT + timedelta(hours=7, minutes=1))
    scheduler = scheduled(store, ran(store, US, SCHEDULE_MODE), monkeypatch)
    pending(scheduler, CATCH_UP_JOB).func()  # refused: finance's run holds the shop
    assert nightly_starts(store, since=NEXT_NIGHT) == [NEXT_NIGHT + timedelta(hours=7)]
    clock.set(NEXT_NIGHT + timedelta(hours=7, minutes=5))
    store.finish_run(by_hand, RunStatus.OK, {"findings": 0, "mode": preview.value})
    lock.release(theirs)
    (retry,) = retries(scheduler)[1:]  # after the catch-up itself
    clock.set(retry.trigger.run_date)
    retry.func()
    caught_up = NEXT_NIGHT + timedelta(hours=7, minutes=1) + CATCH_UP_RETRY
    expected = [NEXT_NIGHT + timedelta(hours=7)] + ([caught_up] if runs_again else [])
    assert nightly_starts(store, since=NEXT_NIGHT) == expected


def test_a_refused_scheduled_night_is_not_left_to_a_plan_preview(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """02:00: the scheduled apply-mode run is refused (a backfill still reading). 02:05 the
    backfill ends and finance previews with ``run --mode plan`` (02:06 to 02:08). The retry at
    02:15 runs the night in apply mode: before, it read the preview as the night's run."""
    clock = _clock(store)
    lock = _lock(store)
    clock.set(NEXT_NIGHT - timedelta(hours=3))
    backfill = lock.acquire(SHOP, OTHER, RUN_LEASE)
    scheduler = scheduled(store, ran(store, US, SCHEDULE_MODE), monkeypatch)
    clock.set(NEXT_NIGHT)
    pending(scheduler, "recon-nightly").func()  # refused
    clock.set(NEXT_NIGHT + timedelta(minutes=5))
    lock.release(backfill)
    clock.set(NEXT_NIGHT + timedelta(minutes=6))
    ran(store, OTHER, RemediationMode.PLAN)()
    (retry,) = retries(scheduler)
    clock.set(retry.trigger.run_date)
    retry.func()
    assert nightly_starts(store, since=NEXT_NIGHT) == [
        NEXT_NIGHT + timedelta(minutes=6),
        NEXT_NIGHT + CATCH_UP_RETRY,
    ]


def stopped_by_its_lease_keeper(store: SqlStore) -> Callable[[], None]:
    """``run_nightly`` whose lease keeper could not renew the lease for a whole lease the first
    time (recorded as the run records it: ``RunStatus.stopped_by``, exit 4), and that runs to
    its end after."""
    tries: list[bool] = []

    def job() -> None:
        if tries:
            return ran(store, US, SCHEDULE_MODE)()
        tries.append(True)
        lock = _lock(store)
        lease = lock.acquire(SHOP, US, RUN_LEASE)
        run_id = store.start_run("nightly")
        _clock(store).advance(timedelta(minutes=5))
        stopped = LockError(
            f"the run lock for shop {SHOP} could not be renewed for 4:00:00 (the store "
            "failed): it may have lapsed and been taken over by another run; this run stopped "
            "and writes nothing more"
        )
        stats = {"error": str(stopped), "exit_code": exit_code_of(stopped), "mode": "apply"}
        store.finish_run(run_id, RunStatus.stopped_by(stopped), stats)
        lock.release(lease)
        raise stopped

    return job


def test_a_scheduled_run_its_lease_keeper_stopped_is_run_again(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """02:00: the scheduled run stops at 02:05, its lease unrenewed for a whole lease (exit 4).
    Recorded ``failed``, it counted as the night's run, and the retry at 02:15 left the night
    (while a run a signal stopped would have been run again). It is ``lease_lost`` now, and
    the retry runs the night."""
    clock = _clock(store)
    clock.set(NEXT_NIGHT - timedelta(hours=1))
    scheduler = scheduled(store, stopped_by_its_lease_keeper(store), monkeypatch)
    clock.set(NEXT_NIGHT)
    pending(scheduler, "recon-nightly").func()
    assert store.recent_runs(1)[0]["status"] == "lease_lost"
    (retry,) = retries(scheduler)
    clock.set(retry.trigger.run_date)
    retry.func()
    assert nightly_starts(store, since=NEXT_NIGHT) == [NEXT_NIGHT, NEXT_NIGHT + CATCH_UP_RETRY]


def test_a_now_run_its_lease_keeper_stopped_is_run_again(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``schedule --now`` at 14:00 (cron's path): its run stops at 14:05, its lease unrenewed
    for a whole lease. The retry at 14:15 read the ``failed`` row as a run since the ask and
    gave the ask up; it runs the night now, as the scheduled run's retry does."""
    scheduler, nightly = now_scheduler(
        store, stopped_by_its_lease_keeper(store), monkeypatch, read_last_run(store)
    )
    _clock(store).set(ASKED)
    nightly.func()
    (retry,) = retries(scheduler)
    _clock(store).set(retry.trigger.run_date)
    retry.func()
    assert nightly_starts(store, since=ASKED) == [ASKED, ASKED + CATCH_UP_RETRY]


def test_the_schedule_counts_by_the_mode_the_file_says_now(tmp_path: Path) -> None:
    """The catch-up and retry checks read the runs table before the next run reads its
    settings. With the mode of the run before, a shop that switched its file from plan to apply
    had a `run --mode plan` preview after the scheduled time count as its first apply night.
    ``schedule_mode`` reads the file as it stands; a file that no longer loads keeps the mode
    last read (the run itself then fails, naming the error)."""
    from recon.cli import schedule_mode

    config = tmp_path / "recon.toml"
    config.write_text('[remediation]\nmode = "plan"\n', encoding="utf-8")
    assert schedule_mode(config, RemediationMode.PLAN) is RemediationMode.PLAN
    config.write_text('[remediation]\nmode = "apply"\n', encoding="utf-8")  # switched
    assert schedule_mode(config, RemediationMode.PLAN) is RemediationMode.APPLY
    config.write_text('[remediation]\nmode = "sometimes"\n', encoding="utf-8")  # broken
    assert schedule_mode(config, RemediationMode.APPLY) is RemediationMode.APPLY
    assert schedule_mode(config, RemediationMode.APPROVAL) is RemediationMode.APPROVAL
