"""Boundary cases: every world from 60 returns holds a clean case and a plant on either side of
each threshold of docs/findings.md (default settings), so an off-by-one in the engine shows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from world_checker import derive

from recon.sandbox.generator import generate_world
from recon.sandbox.truth import GroundTruth
from recon.sandbox.world import World

SECOND = timedelta(seconds=1)
LIMIT_CLEAN_KINDS = {
    "refund_off_by_tolerance",
    "refund_heuristic_off_by_tolerance",
    "split_refund_over_by_tolerance",
    "retry_short_by_tolerance",
    "store_credit_short_by_tolerance",
    "refund_pending_at_limit",
    "refund_unsettled_at_limit",
    "open_return_at_stale_limit",
    "restocked_on_delivery",
}


def _world(seed: int = 1, returns: int = 300) -> tuple[World, GroundTruth]:
    return generate_world(seed=seed, returns=returns)


def _keys(truth: GroundTruth, category: str) -> set[str]:
    return {f.key for f in truth.findings if f.category == category}


def test_every_limit_has_its_clean_case() -> None:
    _, truth = _world()
    assert {k for k in LIMIT_CLEAN_KINDS if truth.clean_cases.get(k, 0) == 1} == LIMIT_CLEAN_KINDS


@pytest.mark.parametrize(
    "category", ["AMOUNT_MISMATCH", "DUPLICATE_REFUND", "MISSING_STORE_CREDIT"]
)
def test_amount_limits_are_planted_one_cent_past_the_tolerance(category: str) -> None:
    _, truth = _world()
    amounts = {f.amount_at_risk for f in truth.findings if f.category == category}
    assert Decimal("0.02") in amounts


def test_a_retry_one_cent_short_of_the_tolerance_leaves_its_declined_refund_failed() -> None:
    _, truth = _world()
    failed = {f.rma for f in truth.findings if f.category == "REFUND_FAILED"}
    paired = {
        f.rma
        for f in truth.findings
        if f.category == "AMOUNT_MISMATCH" and f.amount_at_risk == Decimal("0.02")
    }
    assert paired & failed


def test_pending_refunds_sit_on_either_side_of_three_days() -> None:
    world, truth = _world()
    limit = world.now - timedelta(days=3)
    flagged = _keys(truth, "REFUND_PENDING")
    pending = {
        (t.processed_at, f"REFUND_PENDING|refund={t.refund_id}")
        for o in world.orders
        for t in o.transactions
        if t.status == "PENDING"
    }
    assert any(at == limit and key not in flagged for at, key in pending)
    assert any(at == limit - SECOND and key in flagged for at, key in pending)


def test_unsettled_refunds_sit_on_either_side_of_ten_days() -> None:
    world, truth = _world()
    limit = world.now - timedelta(days=10)
    flagged = _keys(truth, "UNSETTLED_REFUND")
    paid = {b.source_order_transaction_id for b in world.balance_transactions if b.payout_id}
    unpaid = {
        (t.processed_at, f"UNSETTLED_REFUND|transaction={t.id}")
        for o in world.orders
        for t in o.transactions
        if t.kind == "REFUND" and t.status == "SUCCESS" and t.id not in paid
    }
    assert any(at == limit and key not in flagged for at, key in unpaid)
    assert any(at == limit - SECOND and key in flagged for at, key in unpaid)


def test_open_returns_sit_on_either_side_of_thirty_days() -> None:
    world, truth = _world()
    limit = world.now - timedelta(days=30)
    flagged = _keys(truth, "STALE_RETURN")
    live = {
        (r.created_at, f"STALE_RETURN|rma={r.id}")
        for r in world.loop_returns
        if r.state in ("open", "review")
    }
    assert any(at == limit and key not in flagged for at, key in live)
    assert any(at == limit - SECOND and key in flagged for at, key in live)


def test_a_graded_unit_in_transit_counts_as_received() -> None:
    world, truth = _world()
    graded = {
        r.id
        for r in world.loop_returns
        if r.state == "open"
        and r.label_status != "delivered"
        and all(x.condition for x in r.line_items)
    }
    assert graded & {f.rma for f in truth.findings if f.category == "MISSING_RESTOCK"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_at_limit_lists_exactly_what_opens_one_second_after_now(seed: int) -> None:
    """The clean cases exactly at a time limit raise their finding the moment the clock moves."""
    world, truth = _world(seed)
    later = derive(world.model_copy(update={"now": world.now + SECOND}))
    assert len(truth.at_limit) == 3
    assert set(later) - {f.key for f in truth.findings} == set(truth.at_limit)


def test_small_worlds_keep_their_mix() -> None:
    """Below 60 returns the limits are left out: small worlds keep their plants and clean cases."""
    _, truth = _world(returns=30)
    assert not LIMIT_CLEAN_KINDS & set(truth.clean_cases)
    assert truth.at_limit == []
