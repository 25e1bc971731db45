"""The runs table says how each run ended, as the exit code did: an operator reading it (and the
scheduler deciding whether a night ran) told a night whose report was never mailed from one
that was, and knew nothing of a night the run lock refused (found by review).

Dataset: ``history_shop`` (two returns, one mismatch and one missing refund) on SQLite and on
PostgreSQL. Mailed: smtp mode to a port nothing listens on (the relay is down: the report
waits in the outbox, exit 5). Refused: another host's run holds the shop's lock and has its
own run row still ``running``.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from recon import service
from recon.config_modes import RemediationMode
from recon.errors import AuthError, LockError, exit_code_of
from recon.lock import RunLock
from recon.scheduler import last_nightly_start
from recon.service import RUN_LEASE, run_backfill, sessions
from recon.store import tables as tbl
from recon.store.bookkeeping import RunStatus
from tests.ports import HOST, free_port
from tests.unit.store.history_shop import HistoryShop, day

OTHER = "other-host:-:-:4242:-"  # another machine's run: never presumed dead


def _runs(shop: HistoryShop) -> list[tuple[str, str, dict[str, object]]]:
    with shop.store.session() as s:
        rows = s.scalars(select(tbl.RunRow).order_by(tbl.RunRow.started_at, tbl.RunRow.kind))
        return [(r.kind, r.status, dict(r.stats or {})) for r in rows]


def _lock_row(shop: HistoryShop) -> tuple[str, int, object]:
    from recon.lock import RunLockRow

    with shop.store.session() as s:
        row = s.get_one(RunLockRow, "hist")
        return row.holder, row.token, row.expires_at


def test_a_run_whose_report_was_not_mailed_is_recorded_undelivered(shop: HistoryShop) -> None:
    delivery = shop.settings.delivery
    delivery.recipients = {"finance": ["finance@acme.test"]}
    delivery.smtp.host, delivery.smtp.port = HOST, free_port()  # nothing listens: relay down
    delivery.smtp.security, delivery.smtp.timeout_seconds = "none", 2
    delivery.mode = "smtp"
    outcome = shop.night(day(10, 21, 2))
    assert outcome.undelivered  # the CLI's exit 5
    ((kind, status, stats),) = [run for run in _runs(shop) if run[0] == "nightly"]
    assert (kind, status) == ("nightly", "undelivered"), stats
    assert "not delivered" in str(stats["error"]), stats
    assert stats["findings"] == len(outcome.open_findings), stats
    # It ran the night (findings saved, reports written): the scheduler does not run it again.
    started = shop.store.get_run(outcome.run_id)["started_at"]  # type: ignore[index]
    assert last_nightly_start(shop.store) == started


def test_a_mailed_run_is_still_recorded_ok(shop: HistoryShop) -> None:
    outcome = shop.night(day(10, 21, 2))  # outbox mode: the outbox is the delivery
    assert shop.store.get_run(outcome.run_id)["status"] == "ok"  # type: ignore[index]


def test_a_run_the_lock_refused_is_recorded_refused_touching_nothing_else(
    shop: HistoryShop,
) -> None:
    shop.clock.set(day(10, 21, 2))
    lock = RunLock(sessions(shop.store), shop.clock)
    lock.acquire("hist", OTHER, RUN_LEASE)
    theirs = shop.store.start_run("backfill")  # the holder's own run, in progress
    held = _lock_row(shop)
    with pytest.raises(LockError, match="other-host"):
        shop.night(day(10, 21, 2))
    with pytest.raises(LockError, match="other-host"):
        run_backfill(shop.app, start=day(10, 1), end=day(10, 2), progress=False)
    runs = _runs(shop)
    assert [(kind, status) for kind, status, _ in runs] == [
        ("backfill", "running"),  # the live holder's run is not marked abandoned
        ("backfill", "refused"),
        ("nightly", "refused"),
    ]
    assert all("other-host" in str(stats["error"]) for _, status, stats in runs[1:])
    assert shop.store.get_run(theirs)["finished_at"] is None  # type: ignore[index]
    assert _lock_row(shop) == held  # the lease was not taken, renewed or released
    assert shop.store.count_rows("loop_returns") == 0  # nothing synced
    assert shop.store.load_findings() == []
    # A refused night is not a night that ran: the scheduler's catch-up still runs it.
    assert last_nightly_start(shop.store) is None
    shop.clock.set(day(10, 21, 2) + RUN_LEASE + timedelta(minutes=1))  # the lease lapsed
    outcome = shop.night(shop.clock.now())
    started = shop.store.get_run(outcome.run_id)["started_at"]  # type: ignore[index]
    assert last_nightly_start(shop.store) == started


def test_a_failed_run_records_the_exit_code_it_ended_with(shop: HistoryShop) -> None:
    """A failed run exits 1, 3 (credentials refused) or 4 (its lease taken over): the status
    alone cannot say which, so the row keeps the code ``runs`` shows."""

    def refused(*args: object, **kwargs: object) -> object:
        raise AuthError("Loop refused the API key (401)")

    shop.loop.iter_returns = refused  # type: ignore[method-assign]
    with pytest.raises(AuthError):
        shop.night(day(10, 21, 2))
    ((_, status, stats),) = [run for run in _runs(shop) if run[0] == "nightly"]
    assert (status, stats["exit_code"]) == ("failed", 3), stats
    assert "Loop refused the API key" in str(stats["error"]), stats


def test_a_run_records_its_mode_and_a_weaker_one_does_not_stand_for_the_schedules_night(
    shop: HistoryShop,
) -> None:
    """The 02:00 run ran in apply mode (the schedule's); at 09:00 finance previewed with
    ``run --mode plan``. Each row keeps the mode it ran in, and the schedule (apply) reads the
    02:00 run as the night's: the preview made no refunds or restocks. Before, the preview
    was the last nightly run, and a retry or catch-up of an apply-mode night skipped it."""
    shop.settings.remediation.mode = RemediationMode.APPLY
    scheduled = shop.night(day(10, 21, 2))
    shop.settings.remediation.mode = RemediationMode.PLAN  # `run --mode plan`
    preview = shop.night(day(10, 21, 9))
    modes = [(stats.get("mode")) for kind, _, stats in _runs(shop) if kind == "nightly"]
    assert modes == ["apply", "plan"]
    started = {
        run.run_id: shop.store.get_run(run.run_id)["started_at"]  # type: ignore[index]
        for run in (scheduled, preview)
    }
    assert last_nightly_start(shop.store, mode=RemediationMode.APPLY) == started[scheduled.run_id]
    assert (
        last_nightly_start(shop.store, mode=RemediationMode.APPROVAL) == (started[scheduled.run_id])
    )
    assert last_nightly_start(shop.store, mode=RemediationMode.PLAN) == started[preview.run_id]


def test_a_run_recorded_before_runs_kept_their_mode_counts_for_any_mode(
    shop: HistoryShop,
) -> None:
    """A shop upgraded in the middle of the night: its 02:00 run was recorded by the version
    before, with no mode in its figures. It counts as it did (the night is not run a second
    time, with a second report), whatever mode the schedule runs in."""
    shop.clock.set(day(10, 21, 2))
    old = shop.store.start_run("nightly")
    shop.store.finish_run(old, RunStatus.OK, {"sync": {}, "findings": 0})
    started = shop.store.get_run(old)["started_at"]  # type: ignore[index]
    for mode in RemediationMode:
        assert last_nightly_start(shop.store, mode=mode) == started, mode


def test_a_run_its_lease_keeper_stopped_is_recorded_lease_lost_and_runs_again(
    shop: HistoryShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store answered the run but not its heartbeat (the lease keeper's connection kept
    dropping) for a whole lease: the keeper stops the run at its next safe point (exit 4).
    It was recorded ``failed``, and ``failed`` counts as a night that ran: the schedule's
    retry left the night, though the run stopped before it reconciled or fixed anything. It
    is now ``lease_lost`` with its exit code and error, and the night is not counted as run."""
    monkeypatch.setattr(service, "RUN_LEASE", timedelta(seconds=0.4))
    engine = shop.store.engine
    dbapi = engine.dialect.loaded_dbapi

    def heartbeat_cut_off(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name.startswith("recon-lease-"):
            raise dbapi.OperationalError("server closed the connection unexpectedly")

    stalled: list[bool] = []

    def reconciling_past_the_lease(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + 30  # until the keeper gave up (its thread ends)
        while not stalled and _heartbeat_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        stalled.append(True)  # the retry's run reconciles at once
        return real_reconcile(*args, **kwargs)

    real_reconcile = service.reconcile_snapshot
    monkeypatch.setattr(service, "reconcile_snapshot", reconciling_past_the_lease)
    event.listen(engine, "before_cursor_execute", heartbeat_cut_off)
    try:
        with pytest.raises(LockError) as stopped:
            shop.night(day(10, 21, 2))
    finally:
        event.remove(engine, "before_cursor_execute", heartbeat_cut_off)
    assert exit_code_of(stopped.value) == 4 and "could not be renewed" in str(stopped.value)
    ((_, status, stats),) = [run for run in _runs(shop) if run[0] == "nightly"]
    assert (status, stats["exit_code"]) == ("lease_lost", 4), stats
    assert "could not be renewed" in str(stats["error"]), stats
    assert shop.store.load_findings() == []  # stopped before the findings were saved
    assert last_nightly_start(shop.store) is None  # the retry runs the night
    monkeypatch.setattr(service, "RUN_LEASE", RUN_LEASE)
    shop.clock.set(day(10, 21, 2) + timedelta(minutes=15))  # the retry, its lease released
    again = shop.night(shop.clock.now())
    started = shop.store.get_run(again.run_id)["started_at"]  # type: ignore[index]
    assert last_nightly_start(shop.store) == started


def _heartbeat_alive() -> bool:
    return any(t.name.startswith("recon-lease-") for t in threading.enumerate())
