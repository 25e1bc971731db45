"""The run lock when the store itself fails: a database that cannot be reached when the lock is
taken, and a connection that drops when a run gives its lock up.

What the operator sees is recon's one-line error and exit code (a ``ReconError``), naming the
store without its password, never a SQLAlchemy traceback; and a run's own outcome is not hidden
by a lock that could not be given up (its lease expires by itself). Each store test runs on
SQLite, then on PostgreSQL when RECON_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import sessionmaker

from recon.bootstrap import App
from recon.clock import SystemClock, VirtualClock
from recon.config import Settings
from recon.errors import AuthError, LockReleaseError, StoreError, exit_code_of
from recon.lock import RunLock, RunLockRow
from recon.service import RUN_LEASE, run_backfill, run_nightly
from recon.store.bookkeeping import RunStatus
from recon.store.sql import SqlStore
from recon.store.tables import RunRow
from tests.fakes import FakeLoop, FakeShopify, make_order, make_return

SHOP = "drop-shop"
PASSWORD = "s3cret-Pa55"


def test_a_postgresql_store_that_cannot_be_reached_is_a_store_error_naming_it_masked() -> None:
    """PostgreSQL is down (nothing listens on the port) when a run takes its lock: the
    operator gets recon's store error (one line, exit 1) naming the store's URL with its
    password masked, not SQLAlchemy's OperationalError and its traceback."""
    url = f"postgresql+psycopg://recon:{PASSWORD}@127.0.0.1:1/recon?connect_timeout=2"
    engine = create_engine(url)
    try:
        with pytest.raises(StoreError) as raised:
            RunLock(sessionmaker(engine), VirtualClock()).acquire(SHOP, "run-a", RUN_LEASE)
    finally:
        engine.dispose()
    said = str(raised.value)
    assert PASSWORD not in said, said
    assert "127.0.0.1:1/recon" in said and SHOP in said, said
    assert "\n" not in said, said  # the CLI prints one line
    assert exit_code_of(raised.value) == 1


def test_a_sqlite_store_that_cannot_be_opened_is_a_store_error_naming_its_file(
    tmp_path: Path,
) -> None:
    """The SQLite file's folder is gone (a volume not mounted): a store error naming the file,
    not a traceback. "unable to open" is no busy writer, so it is no "another run" (exit 4)."""
    path = tmp_path / "gone" / "recon.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreError) as raised:
            RunLock(sessionmaker(engine), VirtualClock()).acquire(SHOP, "run-a", RUN_LEASE)
    finally:
        engine.dispose()
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


class _DroppingStore(SqlStore):
    """A store whose database connection drops once the run of kind ``drop_after`` has recorded
    how it ended (a nightly run's sync's own run row aside): every statement after that fails
    as the driver fails it, the lock's release included."""

    def __init__(self, url: str) -> None:
        super().__init__(url, clock=SystemClock(), shop=SHOP)
        self.dropped = False
        self.drop_after = "nightly"
        dbapi = self.engine.dialect.loaded_dbapi

        @event.listens_for(self.engine, "before_cursor_execute")
        def _drop(*_: Any) -> None:
            if self.dropped:
                raise dbapi.OperationalError("server closed the connection unexpectedly")

    def finish_run(self, run_id: str, status: RunStatus, stats: Any) -> None:
        kind = (self.get_run(run_id) or {}).get("kind")
        super().finish_run(run_id, status, stats)
        self.dropped = kind == self.drop_after

    def reconnect(self) -> None:
        self.dropped = False


class _RefusedLoop(FakeLoop):
    """Loop refusing our API key (401)."""

    def iter_returns(self, start: datetime, end: datetime, state: str) -> Iterator[Any]:
        raise AuthError("Loop: 401 Unauthorized: check the API key")
        yield  # pragma: no cover - a generator


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_DroppingStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'recon.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    made = _DroppingStore(url)
    yield made
    made.close()


def _app(store: SqlStore, tmp_path: Path, loop: FakeLoop | None = None) -> App:
    settings = Settings.model_validate({"shop": {"slug": SHOP}})
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    now = datetime.now(UTC)
    loop = loop or FakeLoop([make_return(1, now - timedelta(days=3))])
    shopify = FakeShopify(orders=[make_order(1, now - timedelta(days=3))])
    return App(settings=settings, clock=SystemClock(), store=store, loop=loop, shopify=shopify)  # type: ignore[arg-type]


def _lock_row(store: _DroppingStore) -> RunLockRow:
    store.reconnect()
    with store.session() as session:
        row = session.scalars(select(RunLockRow).where(RunLockRow.shop == SHOP)).one()
        session.expunge(row)
        return row


def test_a_completed_run_whose_lock_cannot_be_given_up_ends_with_recons_error(
    store: _DroppingStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The run completed (findings saved, report written, recorded ``ok``), then the database
    connection dropped as it gave its lock up. Before, SQLAlchemy's OperationalError escaped
    (a traceback, exit 1 as for a crash). Now: recon's error (a store error, exit 1) saying
    the run completed and its lease expires by itself, with a warning logged; the runs table
    keeps the run ``ok``, and the lease is still held until its expiry (not released)."""
    app = _app(store, tmp_path)
    with (
        caplog.at_level(logging.WARNING, logger="recon.service"),
        pytest.raises(LockReleaseError) as raised,
    ):
        run_nightly(app)
    said = str(raised.value)
    assert isinstance(raised.value, StoreError) and exit_code_of(raised.value) == 1
    assert "completed" in said and SHOP in said and "expires" in said, said
    assert "\n" not in said, said
    assert any("could not be released" in r.getMessage() for r in caplog.records), caplog.text
    row = _lock_row(store)
    assert row.expires_at > datetime.now(UTC), "the lease was given up after all?"
    with store.session() as session:
        (status,) = session.scalars(select(RunRow.status).where(RunRow.kind == "nightly"))
    assert status == RunStatus.OK


def test_a_failed_runs_own_error_is_not_hidden_by_a_lock_that_cannot_be_given_up(
    store: _DroppingStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Loop refused our key (exit 3: the operator must fix the key), and the connection dropped
    as the failed run gave its lock up. Before, the release's OperationalError replaced the
    run's error: a traceback and exit 1, the refused key never named. The run's own error wins;
    the failed release is logged."""
    app = _app(store, tmp_path, loop=_RefusedLoop())
    with (
        caplog.at_level(logging.WARNING, logger="recon.service"),
        pytest.raises(AuthError) as raised,
    ):
        run_nightly(app)
    assert exit_code_of(raised.value) == 3
    assert any("could not be released" in r.getMessage() for r in caplog.records), caplog.text


def test_a_completed_backfill_whose_lock_cannot_be_given_up_says_its_windows_are_kept(
    store: _DroppingStore, tmp_path: Path
) -> None:
    """A backfill read its range and committed it, then the connection dropped as it gave its
    lock up: recon's error saying the backfill completed, not a traceback."""
    store.drop_after = "backfill"
    now = datetime.now(UTC)
    with pytest.raises(LockReleaseError) as raised:
        run_backfill(_app(store, tmp_path), start=now - timedelta(days=5), end=now, progress=False)
    said = str(raised.value)
    assert "backfill completed" in said and "expires" in said and "\n" not in said, said
