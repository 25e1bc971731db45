"""A run's lease is renewed while its sync reads, however long (``recon.lease_keeper``).

Dataset: one closed Loop return (day 3) and its order. Loop is slow: each of its five state
streams takes 0.6 s to read, so the sync reads for 3 s, longer than the lease (``RUN_LEASE`` set
to 2 s). Meanwhile another run (cron, a second scheduler, another host) tries to take the shop's
lock, as it would every night. Each test runs on SQLite, then on PostgreSQL when
RECON_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from recon import service
from recon.bootstrap import App
from recon.clock import SystemClock
from recon.config import Settings
from recon.errors import LockError
from recon.lease_keeper import LeaseKeeper
from recon.lock import Lease, RunLock, RunLockRow
from recon.ports import LOOP_STATES
from recon.remediation import runner
from recon.scheduler import last_nightly_start
from recon.service import run_backfill, run_nightly, sessions
from recon.store.sql import SqlStore
from tests.fakes import FakeLoop, FakeShopify, make_order, make_return

SHOP = "lease-shop"
LEASE = timedelta(seconds=2)
READ_EACH_STATE = 0.6  # seconds: five states, 3 s of reading


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()  # leases expire by the wall clock here: the heartbeat is a thread


class _SlowLoop(FakeLoop):
    """Loop throttling a big shop: every state stream takes ``READ_EACH_STATE`` to read;
    ``read`` is set once the last one has been read."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read = threading.Event()

    def iter_returns(self, start: datetime, end: datetime, state: str) -> Iterator[Any]:
        time.sleep(READ_EACH_STATE)
        yield from super().iter_returns(start, end, state)
        if state == LOOP_STATES[-1]:
            self.read.set()


def _app(store: SqlStore, tmp_path: Path) -> tuple[App, _SlowLoop]:
    settings = Settings.model_validate({"shop": {"slug": SHOP}})
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    now = datetime.now(UTC)
    loop = _SlowLoop([make_return(1, now - timedelta(days=3))])
    shopify = FakeShopify(orders=[make_order(1, now - timedelta(days=3))])
    app = App(settings=settings, clock=SystemClock(), store=store, loop=loop, shopify=shopify)  # type: ignore[arg-type]
    return app, loop


class _OtherRun:
    """Another run of the shop trying the lock every 0.1 s while our run reads (until
    ``until``: after it, a takeover fails our run's commit instead); ``clock``: its host's,
    one ahead of ours by more than the lease reads our lease as lapsed."""

    def __init__(self, store: SqlStore, clock: SystemClock, until: threading.Event) -> None:
        self.until = until
        self.sessions = sessions(store)
        self.lock = RunLock(self.sessions, clock)
        self.took: list[int] = []
        self.refused = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._try, daemon=True)

    def __enter__(self) -> _OtherRun:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _try(self) -> None:
        while not self._done.wait(0.05) and not self._run_holds_the_lock():
            pass  # our run takes the lock first (else it is the one refused)
        while not self._done.wait(0.1) and not self.took and not self.until.is_set():
            try:
                self.took.append(self.lock.acquire(SHOP, "cron-run", LEASE * 10).token)
            except LockError:
                self.refused += 1

    def _run_holds_the_lock(self) -> bool:
        with self.sessions() as session:
            return session.get(RunLockRow, SHOP) is not None


def test_a_sync_longer_than_the_lease_keeps_the_shop_and_its_work(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease lapsed halfway through the read: the other run took the shop and read the
    same days at once, and at its commit this run lost its whole night (``LockError``). Now
    the lease is renewed while the sync reads: the other run is refused all along, and the
    night's run ends ok with the return mirrored."""
    monkeypatch.setattr(service, "RUN_LEASE", LEASE)
    app, loop = _app(store, tmp_path)
    with _OtherRun(store, SystemClock(), loop.read) as other:
        outcome = run_nightly(app)
    assert other.took == [], "another run took the shop while the sync was reading"
    assert other.refused >= 5
    assert store.count_rows("loop_returns") == 1
    assert store.get_run(outcome.run_id)["status"] == "ok"  # type: ignore[index]


def test_a_backfill_longer_than_the_lease_keeps_the_shop(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One backfill window read for twice the lease: no other run takes the shop meanwhile,
    and the window is committed."""
    monkeypatch.setattr(service, "RUN_LEASE", LEASE)
    app, loop = _app(store, tmp_path)
    end = datetime.now(UTC)
    start = end - timedelta(days=5)
    with _OtherRun(store, SystemClock(), loop.read) as other:
        stats = run_backfill(app, start=start, end=end, progress=False)
    assert other.took == []
    assert stats.windows == 1 and store.count_rows("loop_returns") == 1


def test_a_run_whose_lease_is_taken_over_mid_read_stops_and_writes_nothing(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host whose clock runs an hour ahead reads the lease as lapsed and takes the shop over
    while the sync reads. The next renewal finds it taken over: the readers stop before their
    next request, and the run ends with ``LockError`` (exit 4) naming the new holder, keeping
    nothing (no mirror rows, no watermark, no finding) and leaving the new holder's lease."""
    monkeypatch.setattr(service, "RUN_LEASE", LEASE)
    app, loop = _app(store, tmp_path)
    ahead = SystemClock(shift=timedelta(hours=1))
    started = time.monotonic()
    with _OtherRun(store, ahead, loop.read) as other, pytest.raises(LockError) as lost:
        run_nightly(app)
    took = time.monotonic() - started
    assert other.took == [2]
    assert lost.value.exit_code == 4
    assert "taken over" in str(lost.value) and "cron-run" in str(lost.value)
    read = [c for c in loop.calls if c[0] == "iter_returns"]
    assert len(read) < len(LOOP_STATES), "the readers went on after the lease was lost"
    assert took < READ_EACH_STATE * len(LOOP_STATES)
    assert store.count_rows("loop_returns") == 0
    assert store.get_watermark("loop.returns.closed") is None
    assert store.load_findings() == []
    with sessions(store)() as session:
        row = session.scalars(select(RunLockRow).where(RunLockRow.shop == SHOP)).one()
    assert (row.holder, row.token) == ("cron-run", 2)
    # Recorded as stopped short of the night (exit 4), not as a night that ran.
    assert store.last_run_started("nightly", ("lease_lost",)) is not None
    assert last_nightly_start(store) is None


@pytest.mark.parametrize(
    ("step", "real"),
    [("remediate", runner.remediate), ("report_data", service.report_data)],
    ids=["during-remediation", "while-the-report-is-built"],
)
def test_a_run_whose_lease_is_taken_over_late_reports_nothing(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, real: Any
) -> None:
    """Another run (a host whose clock is an hour ahead) takes the shop over after this run's
    sync: during its remediation, or while its report data is built (a big shop's takes
    minutes). The heartbeat finds the lease taken over several beats before the report is
    written, yet the run wrote report.html, mailed finance and ended ok (exit 0), marking the
    findings reported: finance got two reports of the night. It now ends with ``LockError``
    (exit 4), no report and no mail: the run that took the shop reports."""
    monkeypatch.setattr(service, "RUN_LEASE", LEASE)
    app, _ = _app(store, tmp_path)

    def taken_over_meanwhile(*args: Any, **kwargs: Any) -> Any:
        done = real(*args, **kwargs)
        RunLock(sessions(store), SystemClock(shift=timedelta(hours=1))).acquire(
            SHOP, "cron-run", LEASE * 10
        )
        time.sleep(LEASE.total_seconds() / 2)  # several beats of the heartbeat
        return done

    monkeypatch.setattr(f"recon.service.{step}", taken_over_meanwhile)
    with pytest.raises(LockError) as lost:
        run_nightly(app)
    assert lost.value.exit_code == 4 and "cron-run" in str(lost.value)
    assert not list((tmp_path / "reports").rglob("report.html"))
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").rglob("*.eml"))


class _CountingLock:
    """A run lock whose renewals only count (``LeaseKeeper`` calls ``keep``)."""

    def __init__(self) -> None:
        self.kept = 0

    def keep(self, lease: Any, ttl: timedelta) -> Any:
        self.kept += 1
        return lease


def test_a_hung_run_stops_being_renewed_after_the_longest_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The heartbeat renews while the process lives: a run hung in a lock wait would have held
    the shop for good, every later night refused with exit 4. Past ``max_kept`` it stops
    renewing (and says so), so the lease lapses as a crashed run's does."""
    lock = _CountingLock()
    lease = Lease(SHOP, "host-1", 1, datetime.now(UTC) + LEASE)
    keeper = LeaseKeeper(
        lock,  # type: ignore[arg-type]
        lease,
        LEASE,
        every=timedelta(seconds=0.05),
        max_kept=timedelta(seconds=0.3),
    )
    with keeper:
        time.sleep(0.6)
        kept_by_then = lock.kept
        time.sleep(0.4)
    assert 2 <= kept_by_then <= 7, "it renewed while the run was young"
    assert lock.kept == kept_by_then, "it went on renewing a run older than max_kept"
    assert keeper.lost() is None
    assert "is no longer renewed" in caplog.text and SHOP in caplog.text
