"""A running sandbox shop takes new returns with planted discrepancies, and pays out.

Dataset: a seeded 30-return world served by a ``SandboxState`` on a virtual clock; arrivals are
planted at the clock's now, a day after the world's. Each test reads what a client of the
emulators would read: the records, their ids and names, the findings the planter records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from recon.clock import VirtualClock
from recon.sandbox import invariants as inv
from recon.sandbox.arrivals import ARRIVALS, arrive, hold_until_whole, pay_out
from recon.sandbox.generator import generate_world
from recon.sandbox.state import SandboxState

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


@pytest.fixture
def state() -> SandboxState:
    world, _ = generate_world(seed=5, returns=30, now=NOW)
    return SandboxState(world, clock=VirtualClock(NOW + timedelta(days=1)))


def test_each_arrival_is_a_fresh_return_with_the_finding_it_plants(state):
    before_returns = {r.id for r in state.world.loop_returns}
    before_orders = {o.id for o in state.world.orders}

    planted = arrive(state, seed=1, plants=list(ARRIVALS))

    new = [r for r in state.world.loop_returns if r.id not in before_returns]
    assert len(new) == len(ARRIVALS)
    assert {p.category for p in planted} == set(ARRIVALS)
    assert {p.rma for p in planted} == {r.id for r in new}
    for ret in new:
        # Loop lists it by updated_at: it changed since yesterday's run, and is visible now
        assert NOW < ret.created_at <= ret.updated_at <= state.now()
        order = state.orders_by_id[ret.provider_order_id]
        assert order.id not in before_orders and ret.order_name == order.name
        assert state.returns_by_id[ret.id] is ret
    names = [o.name for o in state.world.orders]
    assert len(set(names)) == len(names), "order names stay unique"
    ids = [o.id for o in state.world.orders]
    assert len(set(ids)) == len(ids)
    assert int(state.mint_id()) > max(int(i) for i in ids)


def test_planted_findings_name_their_order_and_amount(state):
    (missing,) = arrive(state, seed=2, plants=["MISSING_REFUND"])
    ret = state.returns_by_id[missing.rma or ""]
    order = state.orders_by_id[ret.provider_order_id]
    assert missing.key == f"MISSING_REFUND|rma={ret.id}"
    assert (missing.shopify_order_id, missing.shopify_order_name) == (order.id, order.name)
    assert missing.amount_at_risk == ret.refund > 0
    assert ret.state == "closed" and order.refunds == []


def test_a_short_refund_is_short_by_the_amount_at_risk(state):
    (short,) = arrive(state, seed=3, plants=["AMOUNT_MISMATCH"])
    ret = state.returns_by_id[short.rma or ""]
    order = state.orders_by_id[ret.provider_order_id]
    paid = sum(
        (t.amount_shop or t.amount for t in order.transactions if t.refund_id is not None),
        Decimal(0),
    )
    assert abs(ret.refund - paid) == short.amount_at_risk > 0


def test_unknown_plants_are_refused_by_name(state):
    with pytest.raises(ValueError, match="STALE_RETURN"):
        arrive(state, seed=1, plants=["STALE_RETURN"])


def test_pending_balance_transactions_are_paid_out_once_old_enough(state):
    arrive(state, seed=4, plants=["MISSING_RESTOCK"])
    pay_out(state)  # what is old enough already (the arrival's order was placed days ago)
    waiting = [b for b in state.world.balance_transactions if b.payout_id is None]
    assert any(b.type == "REFUND" for b in waiting), "the arrival's refund waits for a payout"
    assert pay_out(state) == []  # too young tonight
    count = len(state.world.payouts)

    state.clock.advance(timedelta(days=7))  # type: ignore[attr-defined]
    paid = pay_out(state)

    assert len(state.world.payouts) == count + len(paid) >= count + 1
    for row in waiting:
        payout = state.payouts_by_id[row.payout_id or ""]
        assert row.payout_status == "PAID" and payout.issued_at == state.now()
    ids = {p.id for p in paid}
    rows = [b for b in state.world.balance_transactions if b.payout_id in ids]
    assert sum((p.net for p in paid), Decimal(0)) == sum((b.net for b in rows), Decimal(0))
    assert pay_out(state) == []  # nothing paid twice


def test_an_arrivals_own_refunds_are_the_worlds_not_recons_writes(state):
    base = inv.take_baseline(state)
    planted = arrive(state, seed=6, plants=["MISSING_RESTOCK", "AMOUNT_MISMATCH"])
    (unledgered, *_) = inv.check_ledgered(state, base, [])  # as if recon had written them
    assert unledgered.invariant == "refund without an intent"

    base = inv.extend_baseline(base, state, {p.shopify_order_id or "" for p in planted})

    assert inv.check_ledgered(state, base, []) == []
    assert inv.check_money(state, base) == [] and inv.check_stock(state, base) == []


def test_a_world_replayed_from_days_before_lists_each_return_once_its_story_is_whole():
    """A world generated as of its end holds each return's final state from its creation: a
    return refunded (and restocked) a day after its parcel showed delivered would be listed
    delivered and unrestocked in between. Loop lists by ``updated_at``: it moves to the last
    event of the return's order, so a client sees the return only once all of it happened."""
    world, _ = generate_world(seed=3, returns=120, now=NOW)
    early = [
        r
        for r in world.loop_returns
        for o in world.orders
        if o.id == r.provider_order_id and any(f.created_at > r.updated_at for f in o.refunds)
    ]
    assert early, "the world has returns refunded after their last update"

    hold_until_whole(world)

    orders = {o.id: o for o in world.orders}
    for ret in world.loop_returns:
        order = orders[ret.provider_order_id]
        assert all(f.created_at <= ret.updated_at for f in order.refunds)
        assert all(t.processed_at <= ret.updated_at for t in order.transactions)
        assert ret.updated_at <= NOW


def test_the_worlds_own_pending_rows_are_left_pending(state):
    """A planted UNSETTLED_REFUND is a balance transaction no payout ever takes: the payout
    schedule pays only what arrived or was written since (``leave``: the world's rows)."""
    world_rows = {b.id for b in state.world.balance_transactions}
    pending = [b for b in state.world.balance_transactions if b.payout_status == "PENDING"]
    assert pending, "the world has rows waiting for a payout"
    arrive(state, seed=7, plants=["MISSING_RESTOCK"])
    state.clock.advance(timedelta(days=30))  # type: ignore[attr-defined]

    paid = pay_out(state, leave=world_rows)

    assert paid and all(b.payout_status == "PENDING" and b.payout_id is None for b in pending)
    assert all(b.payout_id for b in state.world.balance_transactions if b.id not in world_rows)
