"""Review 19: a sweep copy older than the mirror does not stand in for the order's by-id read.

The refunded-orders sweep reads line items, so an order it listed is left out of the night's
``nodes(ids:)`` read (``fetch._read_shopify``: ``swept``). Since the store skips a copy older
than the mirrored one (``SqlStore._not_older``), a lagging sweep page (the case that rule is
for) now stores nothing for the order, and the by-id read the night had planned for it (the
updated-orders list says it changed) is not made either: the change Shopify holds does not
reach the mirror, for as long as the sweep lags.

Dataset (fakes): order 5001, named by Loop return 1001, is mirrored as of ``MIRRORED`` with
refund 7001. Shopify now holds it as of ``CHANGED`` with refunds 7001 and 7002 (the
updated-orders list names it so); the sweep serves it as it was at ``LAGGING``, before the
mirrored copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.models import OrderRecord, Quarantined
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, make_order, make_return

T = datetime(2026, 3, 1, 12, tzinfo=EPOCH.tzinfo)
LAGGING, MIRRORED, CHANGED = T - timedelta(days=5), T - timedelta(days=3), T - timedelta(hours=1)
SETTINGS = SyncSettings(lookback_hours=72, initial_days=60)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T)


class LaggingSweep(FakeShopify):
    """The refunded-orders sweep serves order 5001 as a lagging search index held it."""

    def iter_refunded_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderRecord | Quarantined]:
        self.record("iter_refunded_orders", start, end)
        yield make_order(1, LAGGING, refund_ids=("7001",))


def test_a_lagging_sweep_copy_does_not_keep_the_changed_order_out_of_the_mirror(
    store: SqlStore, clock: VirtualClock
) -> None:
    """The updated-orders list says 5001 changed since the mirror read it: it is read by id,
    whatever copy the sweep served. Its lagging copy, older than the mirror's, is not stored
    (rightly), but it took the by-id read's place: refund 7002 stayed out of the mirror, so
    the return's refund could read as missing in finance's report."""
    store.upsert_returns([make_return(1, T - timedelta(days=10))])
    store.upsert_orders([make_order(1, MIRRORED, refund_ids=("7001",))])
    shopify = LaggingSweep(orders=[make_order(1, CHANGED, refund_ids=("7001", "7002"))])
    run_sync(store, FakeLoop([]), shopify, clock, SETTINGS)
    (order,) = store.load_snapshot().orders
    assert order.updated_at == CHANGED
    assert store.refund_ids_of_orders(["5001"]) == ["7001", "7002"]
