"""An order that changed while a list was paged is counted once and kept for review once.

A list sorted by ``updatedAt`` names an order changed mid-read again on a later page, with
its new time (``shopify_paging.unseen`` passes the new copy on). The sync's ``listed``
figure (the orders the updated-orders list named, in the runs table and the benchmark's
model of the fewest calls) counted such an order twice, and an order whose two copies were
both unreadable got two open quarantine entries, one per copy, for one problem.

Dataset (fakes): the updated-orders list names 5001, 5002, then 5001 again (changed between
pages). The refunded-orders sweep serves order 5003 twice, before and after a change, both
copies with an unreadable ``currencyCode``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.models import OrderRecord, OrderStamp, Quarantined
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify

T = datetime(2026, 3, 1, 12, tzinfo=EPOCH.tzinfo)
BEFORE, AFTER = T - timedelta(hours=3), T - timedelta(hours=1)
SETTINGS = SyncSettings(lookback_hours=72, initial_days=60)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T)


def _unreadable(at: datetime) -> Quarantined:
    return Quarantined(
        source="shopify",
        kind="order",
        record_id="5003",
        field="currencyCode",
        reason="currencyCode: not an ISO 4217 code",
        raw={"id": "gid://shopify/Order/5003", "updatedAt": at.isoformat(), "currencyCode": "?"},
    )


class ChangedMidList(FakeShopify):
    """Lists that name an order again after it changed while they were paged."""

    def iter_updated_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderStamp | Quarantined]:
        yield OrderStamp(id="5001", updated_at=BEFORE)
        yield OrderStamp(id="5002", updated_at=BEFORE)
        yield OrderStamp(id="5001", updated_at=AFTER)

    def iter_refunded_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderRecord | Quarantined]:
        yield _unreadable(BEFORE)
        yield _unreadable(AFTER)


def test_an_order_listed_twice_counts_once(store: SqlStore, clock: VirtualClock) -> None:
    stats = run_sync(store, FakeLoop([]), ChangedMidList(), clock, SETTINGS)
    assert stats.listed == 2


def test_an_order_unreadable_in_both_copies_has_one_entry_the_later(
    store: SqlStore, clock: VirtualClock
) -> None:
    stats = run_sync(store, FakeLoop([]), ChangedMidList(), clock, SETTINGS)
    entries = [e for e in store.quarantine_entries() if e.entry.record_id == "5003"]
    assert len(entries) == 1
    assert entries[0].entry.raw["updatedAt"] == AFTER.isoformat()
    assert stats.quarantined == 1
