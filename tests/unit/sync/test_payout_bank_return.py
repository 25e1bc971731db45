"""A payout the bank returns after Shopify said PAID reaches the mirror, and its refunds read
unsettled again.

Shopify's schema describes ``PAID`` ("deposited into the bank") and ``FAILED`` ("declined by
the bank") but not whether one can follow the other; the reference says nothing either. So
recon re-reads the payouts of the last ``[sync] payout_recheck_days`` whatever their status.

Dataset: return 1001 closed and refunded on day 0 (its note names the RMA), settled in payout
P1 issued on day 2, PAID. On day 9 the bank returns P1: Shopify shows it FAILED, and its
balance transaction's payout too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from recon.clock import VirtualClock
from recon.config import Settings, SyncSettings
from recon.models import Category, PayoutRecord
from recon.run_steps import reconcile_snapshot
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import (
    EPOCH,
    FakeLoop,
    FakeShopify,
    balance_for,
    make_order,
    make_refund,
    make_return,
)

SETTINGS = SyncSettings(lookback_hours=72, initial_days=60)
DAY0 = EPOCH + timedelta(days=20)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(DAY0 + timedelta(days=3))


def _shop() -> tuple[FakeLoop, FakeShopify, PayoutRecord]:
    ret = make_return(1, DAY0)
    refund = make_refund(1, DAY0, ret.refund)
    paid = balance_for(1, refund, "P1")
    payout = PayoutRecord(
        id="P1",
        issued_at=DAY0 + timedelta(days=2),
        status="PAID",
        currency="USD",
        net=paid.net,
        refunds_gross=paid.amount,
    )
    shopify = FakeShopify(
        orders=[make_order(1, DAY0, (refund.id,))],
        refunds=[refund],
        payouts=[payout],
        balance_transactions=[paid],
    )
    return FakeLoop([ret]), shopify, payout


def _unsettled(store: SqlStore, clock: VirtualClock) -> list[str]:
    result = reconcile_snapshot(Settings(), store, store.load_snapshot(), clock.now())
    return [f.rma or "" for f in result.findings if f.category is Category.UNSETTLED_REFUND]


def test_a_paid_payout_the_bank_returns_a_week_later_reaches_the_mirror(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Nightly runs up to day 9 mirror P1 PAID and its refund settled; the night after the bank
    returned it, the mirror says FAILED and 1001's refund is UNSETTLED_REFUND again (the
    mirror kept PAID: finance read the money as in the bank)."""
    loop, shopify, payout = _shop()
    for _ in range(7):
        run_sync(store, loop, shopify, clock, SETTINGS)
        clock.advance(timedelta(days=1))
    assert [p.status for p in store.load_snapshot().payouts] == ["PAID"]
    assert _unsettled(store, clock) == []
    shopify.put(payout.model_copy(update={"status": "FAILED"}))
    (row,) = shopify.balance_transactions
    shopify.put(row.model_copy(update={"payout_status": "FAILED"}))
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert [p.status for p in store.load_snapshot().payouts] == ["FAILED"]
    assert _unsettled(store, clock) == ["1001"]


def test_payouts_older_than_the_recheck_are_not_read_again(
    store: SqlStore, clock: VirtualClock
) -> None:
    """The re-read is bounded: nightly runs read the payouts of the last
    ``payout_recheck_days`` (here 5, more than the 3-day look-back), not every payout."""
    settings = SETTINGS.model_copy(update={"payout_recheck_days": 5})
    loop, shopify, _ = _shop()
    for _ in range(10):
        run_sync(store, loop, shopify, clock, settings)
        clock.advance(timedelta(days=1))
    shopify.calls.clear()
    run_sync(store, loop, shopify, clock, settings)
    (window,) = [c[1:] for c in shopify.calls if c[0] == "iter_payouts"]
    assert window == (clock.now() - timedelta(days=5), clock.now())
