"""Shopify test orders (``Order.test``) are left out of reconciliation by default.

A test order moved no money, so nothing on it is owed or at risk. Truth table over
``without_test_orders``: what goes with a test order, what stays, and what is counted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from recon.config import Settings
from recon.service import left_out_notes, live_only
from recon.store.snapshot import Snapshot, without_test_orders
from tests.fakes import balance_for, make_order, make_refund, make_return, sample_dataset

AT = datetime(2026, 10, 5, tzinfo=UTC)


def _snapshot(*, test: set[int], mirrored: set[int] | None = None) -> Snapshot:
    """Orders 1-3, each with a return, a refund and its balance transaction; ``test`` marks
    test orders; only ``mirrored`` orders are in the mirror (all by default)."""
    numbers = (1, 2, 3)
    mirrored = set(numbers) if mirrored is None else mirrored
    refunds = tuple(make_refund(i, AT, make_return(i, AT).refund) for i in numbers)
    return Snapshot(
        returns=tuple(make_return(i, AT) for i in numbers),
        orders=tuple(
            make_order(i, AT, (refunds[i - 1].id,)).model_copy(update={"test": i in test})
            for i in numbers
            if i in mirrored
        ),
        refunds=refunds,
        payouts=sample_dataset(returns=6).payouts[:1],
        balance_transactions=tuple(balance_for(i, refunds[i - 1], "6000") for i in numbers),
    )


def test_a_test_order_takes_its_return_refund_and_balance_transaction_with_it() -> None:
    kept, left_out = without_test_orders(_snapshot(test={2}))
    assert [r.provider_order_id for r in kept.returns] == ["5001", "5003"]
    assert [o.id for o in kept.orders] == ["5001", "5003"]
    assert [r.order_id for r in kept.refunds] == ["5001", "5003"]
    assert [b.order_id for b in kept.balance_transactions] == ["5001", "5003"]
    assert len(kept.payouts) == 1  # payouts stay: a test order is never in one
    assert left_out == {"returns": 1, "orders": 1, "refunds": 1, "balance_transactions": 1}


def test_live_orders_lose_nothing() -> None:
    snapshot = _snapshot(test=set())
    assert without_test_orders(snapshot) == (snapshot, {})


def test_a_test_mode_balance_transaction_of_a_live_order_is_left_out() -> None:
    snapshot = _snapshot(test=set())
    odd = snapshot.balance_transactions[0].model_copy(update={"test": True})
    kept, left_out = without_test_orders(
        Snapshot(**{**vars(snapshot), "balance_transactions": (odd,)})
    )
    assert kept.balance_transactions == () and left_out == {"balance_transactions": 1}
    assert len(kept.returns) == 3


def test_a_return_whose_order_is_not_mirrored_is_kept() -> None:
    """recon cannot tell whether an order it has not read is a test order: it reconciles it."""
    kept, _ = without_test_orders(_snapshot(test={1}, mirrored={1}))
    assert [r.provider_order_id for r in kept.returns] == ["5002", "5003"]


def test_the_setting_keeps_test_orders_and_the_summary_says_what_was_left_out() -> None:
    snapshot = _snapshot(test={3})
    settings = Settings()
    kept, left_out = live_only(settings, snapshot)
    assert len(kept.returns) == 2
    assert left_out_notes(left_out) == [
        "Shopify test orders left out: returns 1, orders 1, refunds 1, balance transactions 1 "
        "(engine.include_test_orders = false)"
    ]
    settings.engine.include_test_orders = True
    assert live_only(settings, snapshot) == (snapshot, ())
    assert left_out_notes(()) == []
