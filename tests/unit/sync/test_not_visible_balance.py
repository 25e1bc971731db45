"""Unsettled balance transactions Shopify answers null for by id: asked again on the
``[sync] not_visible_recheck_days`` back-off (or when their order changes), not every night,
and what they owe is still reported from the mirrored row."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from recon.clock import VirtualClock
from recon.config import Settings, SyncSettings
from recon.models import BalanceTransactionRecord, Category, OrderRecord, RefundRecord
from recon.service import reconcile_snapshot
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, balance_for, make_order, make_refund

SETTINGS = SyncSettings(lookback_hours=72, initial_days=60, not_visible_recheck_days=7)
BY_ID = "iter_balance_transactions_by_id"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=30))


def asked(shopify: FakeShopify) -> list[str]:
    return [i for c in shopify.calls if c[0] == BY_ID for i in c[1]]  # type: ignore[attr-defined]


def night(store: SqlStore, shopify: FakeShopify, clock: VirtualClock) -> None:
    clock.advance(timedelta(days=1))
    shopify.calls.clear()
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)


def gone_pending(
    store: SqlStore, clock: VirtualClock
) -> tuple[FakeShopify, OrderRecord, RefundRecord, BalanceTransactionRecord]:
    """Refund 7001 (order 5001, 20.00, ten days old) sits in balance transaction 8001, not in a
    payout yet; mirrored, then gone from Shopify: its by-id read answers null."""
    refund = make_refund(1, clock.now() - timedelta(days=10), Decimal("20.00"))
    order = make_order(1, clock.now() - timedelta(days=10), (refund.id,))
    pending = balance_for(1, refund, payout_id=None, status="PENDING")
    store.upsert_orders([order])
    store.upsert_refunds([refund])
    store.upsert_balance_transactions([pending])
    shopify = FakeShopify(orders=[order], refunds=[refund])
    return shopify, order, refund, pending


def open_not_visible(store: SqlStore) -> list[str | None]:
    return [
        e.entry.record_id
        for e in store.quarantine_entries()
        if e.entry.kind == "balance_transaction"
    ]


def test_a_balance_transaction_answered_null_is_asked_again_after_the_recheck_days(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Asked on night 1 (null), then not on nights 2-7, then again on night 8; the quarantine
    list holds it once, not once a night."""
    shopify, _, _, pending = gone_pending(store, clock)
    night(store, shopify, clock)
    assert asked(shopify) == [pending.id]
    assert open_not_visible(store) == [pending.id]
    for _ in range(6):
        night(store, shopify, clock)
        assert asked(shopify) == []
    night(store, shopify, clock)
    assert asked(shopify) == [pending.id]
    (entry,) = store.quarantine_entries()  # the recheck's null updated it: no second entry
    assert (entry.entry.record_id, entry.times, entry.last_seen_at) == (pending.id, 2, clock.now())
    (mirrored,) = store.load_snapshot().balance_transactions
    assert (mirrored.id, mirrored.payout_status) == (pending.id, "PENDING")

    shopify.put(pending.model_copy(update={"payout_id": "6001", "payout_status": "PAID"}))
    clock.advance(timedelta(days=6))
    night(store, shopify, clock)
    assert asked(shopify) == [pending.id]
    assert open_not_visible(store) == []
    assert store.unsettled_balance_transaction_ids() == []


def test_a_balance_transaction_answered_null_is_asked_again_when_its_order_changes(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Order 5001 changes in Shopify (read by the refunded-orders sweep) after its balance
    transaction answered null: the balance transaction is asked again the next night, not
    only after the recheck days; then it backs off again."""
    shopify, order, _, pending = gone_pending(store, clock)
    night(store, shopify, clock)
    night(store, shopify, clock)
    assert asked(shopify) == []
    shopify.put(order.model_copy(update={"updated_at": clock.now() + timedelta(hours=1)}))
    night(store, shopify, clock)  # the sweep mirrors the changed order
    night(store, shopify, clock)
    assert asked(shopify) == [pending.id]
    night(store, shopify, clock)
    assert asked(shopify) == []


def test_a_balance_transaction_backed_off_still_raises_its_unsettled_refund(
    store: SqlStore, clock: VirtualClock
) -> None:
    """While its balance transaction is not asked for, refund 7001 (ten days and more old, in
    no payout) is still an UNSETTLED_REFUND of 20.00."""
    shopify, _, refund, _ = gone_pending(store, clock)
    for _ in range(3):
        night(store, shopify, clock)
    assert asked(shopify) == []
    findings = reconcile_snapshot(Settings(), store, store.load_snapshot(), clock.now()).findings
    unsettled = [f for f in findings if f.category == Category.UNSETTLED_REFUND]
    assert [f.shopify_refund_ids for f in unsettled] == [(refund.id,)]
    assert unsettled[0].amount_at_risk == Decimal("20.00")
