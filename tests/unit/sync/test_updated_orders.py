"""The updated-orders list: a change that moves no money reaches the mirror, and only there.

Dataset (fakes): order 5001 has one Loop return, cancelled by the customer; order 5002 has
none. Both are paid and have no refund on the first night. A day later the warehouse restocks
5001's unit in Shopify anyway (a refund of no money: one line back to stock, no transaction),
so 5001 stays ``paid`` and its Loop return does not change; 5002 changes too (a tag, say).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from recon.backfill import backfill
from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.errors import SourceError
from recon.fetch import changed_orders
from recon.models import OrderStamp, Quarantined, RefundRecord
from recon.store.sql import SqlStore
from recon.sync import UPDATED, run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, make_order, make_refund, make_return

SETTINGS = SyncSettings(lookback_hours=72, initial_days=60)
T = datetime(2026, 3, 1, 12, tzinfo=EPOCH.tzinfo)
CHANGED = T - timedelta(hours=2)
SAME = T - timedelta(days=3)


@pytest.mark.parametrize(
    ("stamp", "mirrored", "expected"),
    [
        (CHANGED, {"1": SAME}, True),  # a Loop return names it; changed since the mirror read it
        (SAME, {"1": SAME}, False),  # unchanged since: the look-back lists it again, no read
        (CHANGED, {"1": None}, True),  # a Loop return names it, the mirror never held it
        (CHANGED, {}, False),  # no Loop return names it: none of recon's
        (None, {"1": SAME}, True),  # its time could not be read: taken as changed
    ],
    ids=["changed", "unchanged", "never-mirrored", "no-loop-return", "time-unreadable"],
)
def test_which_listed_orders_are_read_in_full(
    stamp: datetime | None, mirrored: Mapping[str, datetime | None], expected: bool
) -> None:
    def versions(ids: Sequence[str]) -> Mapping[str, datetime | None]:
        return {i: mirrored[i] for i in ids if i in mirrored}

    assert changed_orders([OrderStamp(id="1", updated_at=stamp)], versions) == (
        {"1"} if expected else set()
    )


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T)


class FlakyShopify(FakeShopify):
    """``FakeShopify`` whose refund details fail while ``down`` (an API failing mid-sync)."""

    down: bool = False

    def iter_refunds_by_id(self, ids: Sequence[str]) -> Iterator[RefundRecord | Quarantined]:
        if self.down:
            raise SourceError("shopify POST /admin/api/graphql.json: HTTP 503")
        yield from super().iter_refunds_by_id(ids)


def _first_night(store: SqlStore, clock: VirtualClock) -> tuple[FakeLoop, FlakyShopify]:
    loop = FakeLoop([make_return(1, T - timedelta(days=5), state="cancelled", outcome="refund")])
    shopify = FlakyShopify(
        orders=[make_order(1, T - timedelta(days=5)), make_order(2, T - timedelta(days=5))]
    )
    run_sync(store, loop, shopify, clock, SETTINGS)
    return loop, shopify


def _restock(shopify: FakeShopify, at: datetime) -> RefundRecord:
    """5001's unit back to stock with no money (no transaction); 5002 changed as well."""
    refund = make_refund(1, at, Decimal("0")).model_copy(update={"transactions": ()})
    shopify.put(refund)
    shopify.put(make_order(1, at, (refund.id,)).model_copy(update={"financial_status": "paid"}))
    shopify.put(make_order(2, at))
    return refund


def _read_by_id(shopify: FakeShopify) -> set[str]:
    return {i for call in shopify.calls if call[0] == "iter_orders_by_id" for i in call[1]}


def test_a_restock_only_refund_reaches_the_mirror_and_an_order_without_a_return_is_not_read(
    store: SqlStore, clock: VirtualClock
) -> None:
    loop, shopify = _first_night(store, clock)
    assert "5002" not in {o.id for o in store.load_snapshot().orders}
    clock.advance(timedelta(days=1))
    refund = _restock(shopify, clock.now() - timedelta(hours=3))
    shopify.calls.clear()
    stats = run_sync(store, loop, shopify, clock, SETTINGS)
    snap = store.load_snapshot()
    assert refund.id in {r.id for r in snap.refunds}
    (order,) = [o for o in snap.orders if o.id == "5001"]
    assert order.refund_ids == (refund.id,) and order.financial_status == "paid"
    assert _read_by_id(shopify) == {"5001"}  # 5002 was listed, not read: no Loop return
    assert "5002" not in {o.id for o in snap.orders}
    assert stats.listed == 2

    # The next night's look-back lists 5001 again, unchanged since it was read: no read.
    clock.advance(timedelta(days=1))
    shopify.calls.clear()
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert _read_by_id(shopify) == set()


def test_a_night_that_fails_keeps_the_window_for_the_next(
    store: SqlStore, clock: VirtualClock
) -> None:
    """With a one-hour look-back, a failed night that moved the list's watermark would leave
    the restock (three hours before it) behind for good."""
    settings = SyncSettings(lookback_hours=1, initial_days=60)
    loop, shopify = _first_night(store, clock)
    mark = store.get_watermark(UPDATED)
    clock.advance(timedelta(days=1))
    refund = _restock(shopify, clock.now() - timedelta(hours=3))
    shopify.down = True
    with pytest.raises(SourceError):
        run_sync(store, loop, shopify, clock, settings)
    assert store.get_watermark(UPDATED) == mark
    shopify.down = False
    clock.advance(timedelta(days=1))
    run_sync(store, loop, shopify, clock, settings)
    assert refund.id in {r.id for r in store.load_snapshot().refunds}


def test_a_backfill_over_the_days_of_the_change_reads_it(
    store: SqlStore, clock: VirtualClock
) -> None:
    """No nightly ran after the restock (a paused schedule): a backfill over those days reads
    it, as the README tells an operator."""
    loop, shopify = _first_night(store, clock)
    clock.advance(timedelta(days=4))
    refund = _restock(shopify, T + timedelta(days=1))
    backfill(
        store, loop, shopify, clock, SETTINGS,
        start=T, end=T + timedelta(days=3), progress=False,
    )  # fmt: skip
    assert refund.id in {r.id for r in store.load_snapshot().refunds}
    assert _read_by_id(shopify) >= {"5001"}
    assert "5002" not in {o.id for o in store.load_snapshot().orders}
