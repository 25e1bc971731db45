"""An older copy of a record written after a newer one leaves the mirror as it was.

Across batches and across runs: a lagging listing page (Shopify's search results lag), a page
read later in the night, a backfill window read again after the nightly. The store wrote
whatever copy came last, so the mirror went back to the order before its last refund, or the
return before it closed, and the engine reconciled against it (a refund made looked missing,
a restock done looked undone). Now a copy whose ``updated_at`` is before the mirrored one's is
not written, nor are its children (order lines and refund ids, return lines); an equal
``updated_at`` is written (the same version read again). On SQLite and PostgreSQL.

Dataset: order 5001 mirrored at ``LATER`` with refunds 7001 and 7002 and two units of its
line; its older copy at ``EPOCH`` lists refund 7001 only and one unit. Return 1001 mirrored
closed at ``LATER``; its older copy is open, with a line the return no longer has.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from recon.clock import VirtualClock
from recon.models import OrderLine, ReturnLine
from recon.store import tables as tbl
from recon.store.bulk import upsert_rows
from recon.store.rows import order_rows
from recon.store.sql import SqlStore
from tests.fakes import EPOCH, make_order, make_return

LATER = EPOCH + timedelta(hours=5)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH)


def _order_lines(store: SqlStore, order_id: str) -> list[tuple[str, int]]:
    with store.session() as s:
        rows = s.execute(
            select(tbl.OrderLineRow.id, tbl.OrderLineRow.quantity).where(
                tbl.OrderLineRow.order_id == order_id
            )
        )
        return sorted((str(i), int(q)) for i, q in rows)


def _return_skus(store: SqlStore, return_id: str) -> list[str | None]:
    with store.session() as s:
        rows = s.scalars(
            select(tbl.LoopReturnLineRow.sku).where(tbl.LoopReturnLineRow.return_id == return_id)
        )
        return sorted(rows, key=str)


def test_an_older_order_copy_written_later_keeps_the_newer_order_and_its_children(
    store: SqlStore,
) -> None:
    newer = make_order(1, LATER, refund_ids=("7001", "7002"))
    older = make_order(1, EPOCH, refund_ids=("7001",))
    older = older.model_copy(update={"lines": (OrderLine(id="50011", sku="SKU-1", quantity=1),)})
    store.upsert_orders([newer])
    written = store.upsert_orders([older])  # a later batch: a lagging page, a backfill
    (kept,) = store.load_snapshot().orders
    assert (kept.updated_at, kept.refund_ids) == (LATER, ("7001", "7002"))
    assert store.refund_ids_of_orders(["5001"]) == ["7001", "7002"]
    assert _order_lines(store, "5001") == [("50011", 2)]
    assert written == 0  # nothing written: the sync's figures do not count it


def test_an_older_return_copy_written_later_keeps_the_newer_return_and_its_lines(
    store: SqlStore,
) -> None:
    newer = make_return(1, LATER, state="closed")
    older = make_return(1, EPOCH, state="open")
    older = older.model_copy(
        update={"lines": (*older.lines, ReturnLine(line_item_id="L9", provider_line_item_id=None))}
    )
    store.upsert_returns([newer])
    assert store.upsert_returns([older]) == 0
    (kept,) = store.load_snapshot().returns
    assert (kept.state, kept.updated_at, len(kept.lines)) == ("closed", LATER, 1)
    assert _return_skus(store, "1001") == ["SKU-1"]
    assert store.return_versions(["1001"]) == {"1001": LATER}


def test_a_batch_writes_its_newer_copies_and_skips_its_older_ones(store: SqlStore) -> None:
    store.upsert_orders([make_order(1, LATER, ("7001",)), make_order(2, EPOCH)])
    written = store.upsert_orders(
        [make_order(1, EPOCH), make_order(2, LATER, ("7003",)), make_order(3, EPOCH)]
    )
    assert written == 2
    kept = {o.id: (o.updated_at, o.refund_ids) for o in store.load_snapshot().orders}
    assert kept == {
        "5001": (LATER, ("7001",)),
        "5002": (LATER, ("7003",)),
        "5003": (EPOCH, ()),
    }
    assert store.refund_ids_of_orders(["5001", "5002"]) == ["7001", "7003"]


def test_a_copy_with_the_same_time_written_later_is_written(store: SqlStore) -> None:
    """The same version read again may carry a field an older parser dropped: it wins."""
    first = make_order(1, LATER, ("7001",))
    store.upsert_orders([first])
    again = first.model_copy(update={"tags": ("returned",), "refund_ids": ("7001", "7002")})
    assert store.upsert_orders([again]) == 1
    (kept,) = store.load_snapshot().orders
    assert (kept.tags, kept.refund_ids) == (("returned",), ("7001", "7002"))
    store.upsert_returns([make_return(1, LATER, state="open")])
    store.upsert_returns([make_return(1, LATER, state="closed")])
    assert store.load_snapshot().returns[0].state == "closed"


def test_a_newer_copy_written_later_is_written(store: SqlStore) -> None:
    store.upsert_orders([make_order(1, EPOCH, ("7001",))])
    store.upsert_orders([make_order(1, LATER, ("7001", "7002"))])
    assert store.refund_ids_of_orders(["5001"]) == ["7001", "7002"]
    store.upsert_returns([make_return(1, EPOCH, state="open")])
    store.upsert_returns([make_return(1, LATER, state="closed")])
    assert store.load_snapshot().returns[0].state == "closed"


def test_an_older_copy_of_an_order_marked_not_visible_still_clears_the_mark(
    store: SqlStore,
) -> None:
    """Shopify listed the order: it is visible, whichever copy the list held."""
    store.upsert_orders([make_order(1, LATER)])
    store.mark_orders_not_visible(["5001"])
    assert store.orders_not_visible() == ["5001"]
    store.upsert_orders([make_order(1, EPOCH)])
    assert store.orders_not_visible() == []
    assert store.load_snapshot().orders[0].updated_at == LATER


def test_the_upsert_itself_keeps_a_newer_stored_row(store: SqlStore) -> None:
    """``ON CONFLICT ... DO UPDATE ... WHERE``: the statement alone keeps the newer row, so a
    copy the store's check let through (a commit in between) cannot go back either."""
    newer, older = make_order(1, LATER, ("7001",)), make_order(1, EPOCH)
    with store.session() as s:
        upsert_rows(s, tbl.OrderRow, order_rows([newer], LATER)[0], newer_by="updated_at")
        upsert_rows(s, tbl.OrderRow, order_rows([older], LATER)[0], newer_by="updated_at")
    assert store.load_snapshot().orders[0].refund_ids == ("7001",)
    same = newer.model_copy(update={"name": "#renamed"})
    with store.session() as s:
        upsert_rows(s, tbl.OrderRow, order_rows([same], LATER)[0], newer_by="updated_at")
    assert store.load_snapshot().orders[0].name == "#renamed"
