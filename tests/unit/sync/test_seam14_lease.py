"""Seams of the lease heartbeat (``recon.lease_keeper``) with the end of a nightly run.

Dataset: one closed Loop return (day 3) and its order; the lease (``RUN_LEASE``) is set to 2 s,
so the heartbeat beats every 0.125 s. Each test runs on SQLite, then on PostgreSQL when
RECON_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from recon import service
from recon.bootstrap import App
from recon.clock import SystemClock
from recon.config import Settings
from recon.errors import LockError
from recon.lock import RunLock
from recon.service import run_nightly, sessions
from recon.store.sql import SqlStore
from tests.fakes import FakeLoop, FakeShopify, make_order, make_return

SHOP = "lease-shop"
LEASE = timedelta(seconds=2)


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()  # leases expire by the wall clock here: the heartbeat is a thread


def _app(store: SqlStore, tmp_path: Path) -> App:
    settings = Settings.model_validate({"shop": {"slug": SHOP}})
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    now = datetime.now(UTC)
    loop = FakeLoop([make_return(1, now - timedelta(days=3))])
    shopify = FakeShopify(orders=[make_order(1, now - timedelta(days=3))])
    return App(settings=settings, clock=SystemClock(), store=store, loop=loop, shopify=shopify)  # type: ignore[arg-type]


def test_a_run_whose_lease_is_taken_over_while_its_report_is_built_sends_no_report(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run (a host whose clock is an hour ahead) takes the shop over after this run's
    remediation, while its report data is built (a big shop's takes minutes). The heartbeat
    finds the lease taken over (``LeaseKeeper.lost``) several beats before the report is
    written, yet the run writes report.html, mails finance from the outbox and ends ok (exit 0),
    marking the findings reported: finance gets two reports of the night, one from a run that
    had lost the shop, and README's "one that finds its lease taken over ... exits 4" and
    "writes nothing more" do not hold. Expected: LockError (exit 4), no report, no mail."""
    monkeypatch.setattr(service, "RUN_LEASE", LEASE)
    app = _app(store, tmp_path)
    real_report_data = service.report_data

    def taken_over_while_built(*args: Any, **kwargs: Any) -> Any:
        RunLock(sessions(store), SystemClock(shift=timedelta(hours=1))).acquire(
            SHOP, "cron-run", LEASE * 10
        )
        time.sleep(LEASE.total_seconds() / 2)  # several beats of the heartbeat
        return real_report_data(*args, **kwargs)

    monkeypatch.setattr("recon.service.report_data", taken_over_while_built)
    with pytest.raises(LockError) as lost:
        run_nightly(app)
    assert lost.value.exit_code == 4 and "cron-run" in str(lost.value)
    assert not list((tmp_path / "reports").rglob("report.html"))
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").rglob("*.eml"))
