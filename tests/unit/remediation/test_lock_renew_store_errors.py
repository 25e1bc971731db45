"""The run lock when the store fails while a run holds it: renewing the lease (before remediation
writes), extending it inside a write transaction (the sync's commit), and the heartbeat's
renewals (``recon.lease_keeper``).

What the operator sees is recon's one-line store error (exit 1) naming the store with its
password masked, never SQLAlchemy's error and its traceback; the heartbeat tries a failed
renewal again, and once it has not renewed the lease for a whole lease it stops the run at its
next safe point, as when the lease is taken over. Each store test runs on SQLite, then on
PostgreSQL when RECON_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from recon import service
from recon.bootstrap import App
from recon.clock import SystemClock, VirtualClock
from recon.config import Settings
from recon.errors import LockError, StoreError, exit_code_of
from recon.lease_keeper import LeaseKeeper
from recon.lock import Lease, RunLock
from recon.store.sql import SqlStore
from recon.store.tables import Base, RunRow
from tests.fakes import FakeLoop, FakeShopify, make_order, make_return

SHOP = "renew-shop"
PASSWORD = "s3cret-Pa55"


class _Drop:
    """Fails every statement on the ``run_lock`` table, as the driver fails it, while ``on``:
    the connection dropped (the rest of the store still answers in the run tests)."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        dbapi = engine.dialect.loaded_dbapi

        @event.listens_for(engine, "before_cursor_execute")
        def _drop(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if self.on and "run_lock" in statement:
                raise dbapi.OperationalError("server closed the connection unexpectedly")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'recon.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = create_engine(url)
    Base.metadata.create_all(made)
    yield made
    made.dispose()


def _one_line_store_error(raised: BaseException, url: str) -> str:
    said = str(raised)
    assert isinstance(raised, StoreError) and not isinstance(raised, SQLAlchemyError), said
    assert exit_code_of(raised) == 1
    assert SHOP in said and "\n" not in said, said
    password = make_url(url).password
    assert not password or f":{password}@" not in said, said  # masked
    assert make_url(url).database and str(make_url(url).database) in said, said
    return said


def test_a_renewal_whose_connection_drops_is_a_one_line_store_error(
    engine: Engine, url: str
) -> None:
    """The connection dropped as a run renewed its lease before remediation: before,
    SQLAlchemy's OperationalError escaped (a traceback on the command line)."""
    drop = _Drop(engine)
    lock = RunLock(sessionmaker(engine), VirtualClock())
    lease = lock.acquire(SHOP, "run-a", timedelta(hours=1))
    drop.on = True
    with pytest.raises(Exception) as raised:
        lock.renew(lease, timedelta(hours=1))
    said = _one_line_store_error(raised.value, url)
    assert "renew" in said and "server closed the connection" in said, said


def test_an_extension_inside_a_write_whose_connection_drops_is_a_one_line_store_error(
    engine: Engine, url: str
) -> None:
    """The sync's commit extends the lease inside its transaction (``extend_in``): a dropped
    connection there is recon's store error too."""
    drop = _Drop(engine)
    lock = RunLock(sessionmaker(engine), VirtualClock())
    lease = lock.acquire(SHOP, "run-a", timedelta(hours=1))
    drop.on = True
    with pytest.raises(Exception) as raised, sessionmaker(engine)() as session, session.begin():
        lock.extend_in(session, lease, timedelta(hours=1))
    _one_line_store_error(raised.value, url)


def test_a_heartbeat_renewal_whose_connection_drops_is_recons_error(
    engine: Engine, url: str
) -> None:
    """``keep`` (the heartbeat's renewal) says what failed in one line, as the others do."""
    drop = _Drop(engine)
    lock = RunLock(sessionmaker(engine), VirtualClock())
    lease = lock.acquire(SHOP, "run-a", timedelta(hours=1))
    drop.on = True
    with pytest.raises(Exception) as raised:
        lock.keep(lease, timedelta(hours=1))
    _one_line_store_error(raised.value, url)


def test_a_run_whose_renewal_fails_ends_with_recons_store_error_recorded_failed(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run synced, then the connection dropped as it renewed its lease before
    remediation: the run ends with recon's one-line store error (exit 1), recorded failed
    with that error, and nothing is sent to Shopify."""
    store = SqlStore(url, clock=SystemClock(), shop=SHOP)
    drop = _Drop(store.engine)
    settings = Settings.model_validate({"shop": {"slug": SHOP}})
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    now = datetime.now(UTC)
    shopify = FakeShopify(orders=[make_order(1, now - timedelta(days=3))])
    loop = FakeLoop([make_return(1, now - timedelta(days=3))])
    app = App(settings=settings, clock=SystemClock(), store=store, loop=loop, shopify=shopify)  # type: ignore[arg-type]
    from recon import sync

    real = sync.run_sync

    def synced_then_dropped(*args: Any, **kwargs: Any) -> Any:
        done = real(*args, **kwargs)
        drop.on = True
        return done

    monkeypatch.setattr(sync, "run_sync", synced_then_dropped)
    try:
        with pytest.raises(Exception) as raised:
            service.run_nightly(app)
        said = _one_line_store_error(raised.value, url)
        drop.on = False
        with store.session() as session:
            (row,) = session.scalars(select(RunRow).where(RunRow.kind == "nightly"))
        assert row.status == "failed" and said in str(row.stats), row.stats
        assert not [c for c in shopify.calls if c[0] in ("create_refund", "adjust_inventory")]
    finally:
        store.close()


class _FailingLock:
    """A run lock whose heartbeat renewals fail as a store that cannot be reached fails them,
    from the ``fail_from``-th on (``keep``)."""

    def __init__(self, fail_from: int = 0) -> None:
        self.kept = 0
        self.fail_from = fail_from

    def keep(self, lease: Lease, ttl: timedelta) -> Lease:
        self.kept += 1
        if self.kept > self.fail_from:
            raise StoreError(f"cannot renew the run lock for shop {SHOP}: the store failed")
        return lease


def test_a_heartbeat_that_cannot_renew_for_a_whole_lease_stops_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Renewals failing for a beat or two are tried again (the lease has beats left); once the
    lease went a whole lease unrenewed it may have lapsed and been taken over: before, the
    heartbeat went on trying and the run went on reading and writing as if it held the shop.
    Now the run is told to stop at its next safe point (``check``: ``LockError``, exit 4),
    naming the store's error."""
    lease = Lease(SHOP, "host-1", 1, datetime.now(UTC) + timedelta(seconds=0.5))
    lock = _FailingLock(fail_from=1)
    keeper = LeaseKeeper(
        lock,  # type: ignore[arg-type]
        lease,
        timedelta(seconds=0.5),
        every=timedelta(seconds=0.05),
    )
    with keeper:
        time.sleep(0.25)
        assert keeper.lost() is None, "stopped while the lease still had beats left"
        assert lock.kept >= 3, "a failed renewal was not tried again"
        time.sleep(0.6)
    lost = keeper.lost()
    assert isinstance(lost, LockError) and exit_code_of(lost) == 4
    assert SHOP in str(lost) and "the store failed" in str(lost), lost
    with pytest.raises(LockError):
        keeper.check()
    assert "could not renew" in caplog.text
