"""A snapshot is read as of one moment: a report built while a nightly run commits its sync
(a month-end workbook during the run) never sees half of that commit."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from recon.clock import VirtualClock
from recon.errors import StoreError
from recon.store.sql import SqlStore
from tests.fakes import EPOCH, make_order, make_refund, make_return


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """A fresh mirror: a SQLite file, or a private schema of RECON_TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'recon.db'}", None
        return
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    schema = f"recon_test_{uuid.uuid4().hex[:12]}"
    yield base, schema
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def _sync_commit(store: SqlStore, i: int, *, refunded: bool) -> None:
    """What a nightly sync commits at once: Loop return ``i`` open, or closed with its
    Shopify refund and the order naming it."""
    refund = make_refund(i, EPOCH, Decimal("10.00"))
    with store.session() as session:
        state = "closed" if refunded else "open"
        store.upsert_returns([make_return(i, EPOCH, state=state)], session=session)
        refund_ids = (refund.id,) if refunded else ()
        store.upsert_orders([make_order(i, EPOCH, refund_ids)], session=session)
        if refunded:
            store.upsert_refunds([refund], session=session)


@pytest.mark.parametrize("period", [False, True])
def test_a_run_committing_while_a_snapshot_loads_is_seen_whole_or_not_at_all(
    store_url: tuple[str, str | None], period: bool
) -> None:
    """The run closes a return and commits its refund after the snapshot's 1st statement, then
    its 2nd, ...: each time the snapshot is the mirror before that commit, or after it (the
    return read open with the refund of its closing, or a refund without its order)."""
    url, schema = store_url
    reader = SqlStore(url, clock=VirtualClock(EPOCH), schema=schema, shop="acme")
    run = SqlStore(url, clock=VirtualClock(EPOCH), schema=schema, shop="acme")
    window = (EPOCH - timedelta(days=1), EPOCH + timedelta(days=1)) if period else (None, None)
    statements: list[str] = []
    commit_after: list[int] = []

    def commit_between_reads(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)
        if commit_after and len(statements) == commit_after[0]:
            _sync_commit(run, commit_after[0], refunded=True)  # the run's sync, meanwhile

    try:
        _sync_commit(run, 50, refunded=True)
        event.listen(reader.engine, "after_cursor_execute", commit_between_reads)
        reader.load_snapshot(*window)
        selects = len(statements)
        assert selects > 2
        for k in range(1, selects):
            _sync_commit(run, k, refunded=False)
            before = reader.load_snapshot(*window)
            statements.clear()
            commit_after[:] = [k]
            snapshot = reader.load_snapshot(*window)
            commit_after.clear()
            after = reader.load_snapshot(*window)
            assert snapshot in (before, after), f"torn after statement {k}: {statements[k - 1]}"
    finally:
        reader.close()
        run.close()


def test_a_read_view_sees_one_moment_and_writes_nothing(
    store_url: tuple[str, str | None],
) -> None:
    """A view (``SqlStore.reading``: the month-end book's) reads the mirror as it was when it
    began, whatever a nightly run commits meanwhile; on PostgreSQL a write through it fails."""
    url, schema = store_url
    reader = SqlStore(url, clock=VirtualClock(EPOCH), schema=schema, shop="acme")
    run = SqlStore(url, clock=VirtualClock(EPOCH), schema=schema, shop="acme")
    try:
        _sync_commit(run, 1, refunded=True)
        with reader.reading() as view:
            first = view.load_snapshot()
            _sync_commit(run, 2, refunded=True)
            assert view.load_snapshot() == first
            if url.startswith("postgresql"):
                with pytest.raises(StoreError, match="read-only"):
                    view.upsert_returns([make_return(3, EPOCH)])
        assert len(reader.load_snapshot().returns) == 2
    finally:
        reader.close()
        run.close()
