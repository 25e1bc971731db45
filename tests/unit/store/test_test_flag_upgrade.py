"""Orders mirrored before recon read ``Order.test``: their flag is unknown until read again.

Dataset: a mirror at revision 0004 (before the flag had a column) holding order 5001 as the
version before ``Order.test`` stored it (its record has no ``test``: it may be a test order)
and order 5002 stored by the version that read it (``test: true``); then recon's upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, insert

from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.store import rows
from recon.store import tables as tbl
from recon.store.migrate import alembic_config
from recon.store.sql import SqlStore
from recon.sync import plan_nightly, run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, make_order

SETTINGS = SyncSettings(lookback_hours=72, initial_days=60)


def _old_mirror(url: str) -> None:
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004_quarantine_resolved")
        before = make_order(1, EPOCH)
        read = make_order(2, EPOCH).model_copy(update={"test": True})
        parents, _, _ = rows.order_rows([before, read], EPOCH)
        for parent in parents:
            parent.pop("test", None)  # no such column at 0004
            parent.pop("not_visible_at", None)  # nor these
            parent.pop("not_visible_checked_at", None)
        del parents[0]["record"]["test"]  # the version before Order.test never wrote it
        connection.execute(insert(tbl.OrderRow.__table__), parents)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    _old_mirror(url)
    store = SqlStore(url, clock=VirtualClock(EPOCH + timedelta(days=1)))
    yield store
    store.close()


def test_an_order_mirrored_before_the_flag_reads_as_unknown_not_live(upgraded: SqlStore) -> None:
    assert {o.id: o.test for o in upgraded.load_snapshot().orders} == {
        "5001": None,
        "5002": True,
    }
    assert upgraded.orders_with_unknown_test_flag() == ["5001"]


def test_the_next_nightly_sync_re_reads_it_by_id(upgraded: SqlStore) -> None:
    until = EPOCH + timedelta(days=1)
    assert "5001" in plan_nightly(upgraded, SETTINGS, until).order_ids
    assert "5002" not in plan_nightly(upgraded, SETTINGS, until).order_ids
    shopify = FakeShopify(orders=[make_order(1, EPOCH).model_copy(update={"test": True})])
    run_sync(upgraded, FakeLoop(), shopify, VirtualClock(until), SETTINGS)
    assert ("iter_orders_by_id", ["5001"]) in shopify.calls
    assert {o.id: o.test for o in upgraded.load_snapshot().orders} == {"5001": True, "5002": True}
    assert upgraded.orders_with_unknown_test_flag() == []


def test_storing_an_unknown_order_again_keeps_it_unknown(upgraded: SqlStore) -> None:
    """Only a read from Shopify settles the flag, not a copy of the mirror's own record."""
    (unknown,) = [o for o in upgraded.load_snapshot().orders if o.id == "5001"]
    upgraded.upsert_orders([unknown])
    assert upgraded.orders_with_unknown_test_flag() == ["5001"]


def _only_orders(obj: object, name: str, type_: str, reflected: bool, compare_to: object) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table == "orders"


def test_the_migration_matches_the_orders_table(upgraded: SqlStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData

    ours = MetaData()
    tbl.OrderRow.__table__.to_metadata(ours)
    with upgraded.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": _only_orders})
        assert compare_metadata(context, ours) == []


def test_an_order_deleted_in_shopify_is_recorded_gone_and_asked_for_no_more(
    upgraded: SqlStore,
) -> None:
    """Order 5001 was deleted in Shopify: ``nodes(ids:)`` answers null. Its flag can never be
    read, so it is recorded as not visible (not re-requested every night), and it stays so
    until a read returns it (a backfill over its dates, a change to its Loop return)."""
    until = EPOCH + timedelta(days=1)
    shopify = FakeShopify(deleted={"5001"})
    run_sync(upgraded, FakeLoop(), shopify, VirtualClock(until), SETTINGS)
    assert ("iter_orders_by_id", ["5001"]) in shopify.calls
    assert upgraded.orders_not_visible() == ["5001"]
    assert upgraded.orders_with_unknown_test_flag() == []
    snapshot = upgraded.load_snapshot()
    assert snapshot.not_visible == frozenset({"5001"})
    assert {o.id: o.test for o in snapshot.orders}["5001"] is None  # still not known
    later = until + timedelta(days=1)
    assert "5001" not in plan_nightly(upgraded, SETTINGS, later).order_ids
    again = FakeShopify(orders=[make_order(1, EPOCH)])
    run_sync(upgraded, FakeLoop(), again, VirtualClock(later), SETTINGS)
    assert not [c for c in again.calls if c[0] == "iter_orders_by_id"]
    upgraded.upsert_orders([make_order(1, EPOCH)])  # read again (a backfill): visible, live
    assert upgraded.orders_not_visible() == []
    assert upgraded.load_snapshot().not_visible == frozenset()
