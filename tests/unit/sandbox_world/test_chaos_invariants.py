"""The chaos campaign's invariants catch what they are for: a second refund for an RMA, a unit
restocked twice, a write no intent stands behind, an intent left in flight.

Dataset: a seeded 60-return world; one planted MISSING_REFUND (its RMA, its order) and one
planted MISSING_RESTOCK (its RMA, line and units to restock). Writes are planted straight into
the emulator's state, as Shopify would hold them, then checked against the baseline taken first.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from recon.remediation.ledger import ActionView
from recon.sandbox import invariants as inv
from recon.sandbox import landed
from recon.sandbox.generator import generate_world
from recon.sandbox.shopify.context import AdjustmentGroup, StockMovement
from recon.sandbox.state import SandboxState
from recon.sandbox.world import Refund, Transaction, TransactionKind

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def shop() -> tuple[SandboxState, Any]:
    world, truth = generate_world(seed=4, returns=60, now=NOW)
    state = SandboxState(world)
    state.inventory_adjustments = []  # type: ignore[attr-defined]  # as the emulator sets it
    return state, truth


def intent(key: str, kind: str, rma: str, state: str = "done") -> ActionView:
    return ActionView(
        id=len(key), key=key, kind=kind, category="MISSING_REFUND", rma=rma, order_id="",
        amount=None, currency=None, state=state, reason="", result_id=None, details={},
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def refund(state: SandboxState, rma: str, key: str, on: str | None = None) -> None:
    """A refund of Loop's amount for ``rma`` on its order (or order ``on``), recon's note, key
    ``key``."""
    ret = state.returns_by_id[rma]
    order = state.orders_by_id[on or ret.provider_order_id]
    made = Refund(id=state.mint_id(), note=f"Loop RMA #{rma}", created_at=NOW, idempotency_key=key)
    order.refunds.append(made)
    sale = order.transactions[0].id
    order.transactions.append(
        Transaction(
            id=state.mint_id(), kind=TransactionKind.REFUND, amount=ret.refund,
            processed_at=NOW, parent_id=sale, refund_id=made.id,
        )
    )  # fmt: skip


def restock(state: SandboxState, rma: str, line: str, units: int, key: str) -> None:
    order = state.orders_by_id[state.returns_by_id[rma].provider_order_id]
    item = next(li.inventory_item_id for li in order.line_items if li.id == line)
    assert item is not None
    state.inventory_adjustments.append(  # type: ignore[attr-defined]
        AdjustmentGroup(
            id=state.mint_id(), created_at=NOW, reason="restock",
            reference_document_uri=f"gid://recon/LoopReturn/{rma}",
            source="inventoryAdjustQuantities", idempotency_key=key,
            changes=[StockMovement(item, "1", units, units)],
        )
    )  # fmt: skip


def test_a_second_refund_for_an_rma_is_caught(shop):
    state, truth = shop
    base = inv.take_baseline(state)
    rma = next(p.rma for p in truth.findings if p.category == "MISSING_REFUND")
    refund(state, rma, "key-1")
    ledger = [intent("key-1", "refund", rma)]
    assert inv.check_money(state, base) == []
    assert inv.check_ledgered(state, base, ledger) == []

    refund(state, rma, "key-2")  # a resend under a new key: money moved twice

    (twice,) = inv.check_money(state, base)
    assert (twice.invariant, twice.rma) == ("refunded more than Loop", rma)
    (unledgered,) = inv.check_ledgered(state, base, ledger)
    assert (unledgered.invariant, unledgered.rma) == ("refund without an intent", rma)


def test_a_unit_restocked_twice_is_caught(shop):
    state, truth = shop
    base = inv.take_baseline(state)
    planted = next(p for p in truth.findings if p.category == "MISSING_RESTOCK")
    rma, line = planted.rma, planted.key.split("line=")[1]
    ret = state.returns_by_id[rma]
    order = state.orders_by_id[ret.provider_order_id]
    units = sum(1 for u in ret.line_items if u.provider_line_item_id == line) - sum(
        x.quantity for f in order.refunds for x in f.lines if x.line_item_id == line and x.restocked
    )
    restock(state, rma, line, units, "key-1")
    assert inv.check_stock(state, base) == []

    restock(state, rma, line, units, "key-2")

    (twice,) = inv.check_stock(state, base)
    assert twice.invariant == "restocked twice" and rma in (twice.rma or "")
    (unledgered,) = inv.check_ledgered(state, base, [intent("key-1", "restock", rma)])
    assert (unledgered.invariant, unledgered.rma) == ("restock without an intent", rma)


def test_an_intent_left_in_flight_is_not_settled():
    ledger = [intent("a", "refund", "1001"), intent("b", "restock", "1002", state="unknown")]
    (left,) = inv.check_settled(ledger)
    assert (left.invariant, left.rma) == ("intent not resolved", "1002")


def test_a_return_neither_mirrored_nor_quarantined_is_lost(shop):
    state, _ = shop
    returns = {r.id for r in state.visible_returns()}
    orders = {r.provider_order_id for r in state.visible_returns()}
    lost = min(returns)
    mirrored = {"return": returns - {lost}, "order": orders}
    (violation,) = inv.check_records(state, mirrored, {})
    assert (violation.invariant, violation.rma) == ("record lost", lost)
    assert inv.check_records(state, mirrored, {"return": {lost}}) == []


def test_findings_are_scored_against_the_truth_less_what_recon_fixed(shop):
    _, truth = shop
    expected = inv.expected_truth(truth)
    assert {p.category for p in expected.findings}.isdisjoint({"MISSING_REFUND", "MISSING_RESTOCK"})
    assert set(truth.at_limit) <= {p.key for p in expected.findings}


def test_an_order_shopify_shows_but_recon_marked_not_visible_is_caught(shop):
    """A malformed ``nodes`` answer once marked live orders as deleted: their writes were held
    and recon stopped asking for them. An order really deleted may be marked."""
    state, _ = shop
    ret = min(state.visible_returns(), key=lambda r: r.id)
    (violation,) = inv.check_visibility(state, {ret.provider_order_id})
    assert (violation.invariant, violation.rma) == ("visible order marked not visible", ret.id)
    state.orders_by_id[ret.provider_order_id].deleted_at = NOW
    assert inv.check_visibility(state, {ret.provider_order_id}) == []


def other_return(state: SandboxState, rma: str) -> Any:
    """A return on another order than ``rma``'s, with a unit whose item ``rma``'s order lacks."""
    mine = state.orders_by_id[state.returns_by_id[rma].provider_order_id]
    items = {li.inventory_item_id for li in mine.line_items}
    for ret in sorted(state.world.loop_returns, key=lambda r: r.id):
        order = state.orders_by_id.get(ret.provider_order_id)
        if order is None or order.id == mine.id:
            continue
        lines = {li.id: li.inventory_item_id for li in order.line_items}
        if any(lines.get(u.provider_line_item_id) not in items for u in ret.line_items):
            return ret
    raise AssertionError("the world has no such return")


def test_a_refund_on_the_wrong_order_with_the_right_note_is_caught(shop):
    """recon's refund for an RMA, its note and key right, written on another order: Loop's
    order never got the money, and counting refunds by note alone let it pass."""
    state, truth = shop
    base = inv.take_baseline(state)
    rma = next(p.rma for p in truth.findings if p.category == "MISSING_REFUND")
    assert rma is not None
    wrong, right = other_return(state, rma), state.returns_by_id[rma].provider_order_id
    refund(state, rma, "key-1", on=wrong.provider_order_id)  # note "Loop RMA #<rma>"
    ledger = [intent("key-1", "refund", rma)]
    assert inv.check_money(state, base) == [] and inv.check_ledgered(state, base, ledger) == []

    (misplaced,) = landed.check_landed(state, base, ledger)

    assert (misplaced.invariant, misplaced.rma) == ("write on the wrong order", rma)
    assert wrong.provider_order_id in misplaced.detail and right in misplaced.detail
    (unfixed,) = landed.check_fixed(state, truth.model_copy(update={"findings": [
        p for p in truth.findings if p.rma == rma and p.category == "MISSING_REFUND"
    ]}), ledger)  # fmt: skip
    assert (unfixed.invariant, unfixed.rma) == ("fix not applied", rma)


def test_a_restock_of_another_orders_unit_is_caught(shop):
    """recon's restock for one RMA (its key) moving a unit another RMA returned, its reference
    naming that other RMA: counted by the reference it looked like the other return's."""
    state, truth = shop
    base = inv.take_baseline(state)
    planted = next(p for p in truth.findings if p.category == "MISSING_RESTOCK")
    rma = planted.rma or ""
    wrong = other_return(state, rma)
    order = state.orders_by_id[wrong.provider_order_id]
    mine = state.orders_by_id[planted.shopify_order_id or ""]
    items = {li.inventory_item_id for li in mine.line_items}
    returned = {u.provider_line_item_id for u in wrong.line_items}
    line, item = next(
        (li.id, li.inventory_item_id)
        for li in order.line_items
        if li.id in returned and li.inventory_item_id not in items
    )
    restock(state, wrong.id, line, 1, "key-1")  # the other RMA's reference and unit
    ledger = [intent("key-1", "restock", rma)]
    assert inv.check_ledgered(state, base, ledger) == []

    found = landed.check_landed(state, base, ledger)

    assert {(v.invariant, v.rma) for v in found} == {("write on the wrong order", rma)}
    assert any(f"moves item(s) {item}" in v.detail for v in found)
    assert inv.check_stock(state, base, ledger) == []  # reported once, as a wrong order


def test_a_planted_fix_that_never_landed_is_caught_and_a_landed_one_passes(shop):
    state, truth = shop
    fixable = [p for p in truth.findings if p.category in ("MISSING_REFUND", "MISSING_RESTOCK")]
    planted = truth.model_copy(update={"findings": fixable})
    assert {v.rma for v in landed.check_fixed(state, planted, [])} == {p.rma for p in fixable}
    ledger = []
    for n, p in enumerate(fixable):
        key = f"key-{n}"
        rma = p.rma or ""
        if p.category == "MISSING_REFUND":
            refund(state, rma, key)
            ledger.append(intent(key, "refund", rma))
        else:
            line = p.key.split("line=")[1]
            ret = state.returns_by_id[rma]
            order = state.orders_by_id[ret.provider_order_id]
            units = sum(1 for u in ret.line_items if u.provider_line_item_id == line) - sum(
                x.quantity
                for f in order.refunds
                for x in f.lines
                if x.line_item_id == line and x.restocked
            )
            restock(state, rma, line, units, key)
            ledger.append(intent(key, "restock", rma))

    assert landed.check_fixed(state, planted, ledger) == []


def test_a_fix_recon_left_to_a_person_is_expected_reported_not_landed(shop):
    """A restock whose answer was lost, resent against stock that moved since: Shopify refuses
    the stale compare quantity and recon sends it to review rather than blind. The campaign
    took the planted restock as fixed and recon's still-open finding as "not planted". Such a
    fix is not expected to land; its finding is expected, and missing it is a violation."""
    state, truth = shop
    planted = next(p for p in truth.findings if p.category == "MISSING_RESTOCK")
    line = planted.key.partition("line=")[2]
    rma = planted.rma or ""
    review = intent("key-1", "restock", rma, state="needs_review")
    review = dataclasses.replace(review, details={"line_item_id": line})
    other_line = dataclasses.replace(review, details={"line_item_id": "elsewhere"})

    assert landed.left_to_a_person(truth, [review]) == {planted.key}
    assert landed.left_to_a_person(truth, [other_line]) == set()
    done_later = dataclasses.replace(review, id=review.id + 1, state="done")
    assert landed.left_to_a_person(truth, [review, done_later]) == set()
    only_this = truth.model_copy(update={"findings": [planted]})
    assert [v.rma for v in landed.check_fixed(state, only_this, [])] == [rma]  # not landed
    assert landed.check_fixed(state, only_this, [review]) == []  # nor expected to
    unfixed = landed.left_to_a_person(truth, [review])
    expected = {p.key for p in inv.expected_truth(truth, unfixed=unfixed).findings}
    assert planted.key in expected
    assert planted.key not in {p.key for p in inv.expected_truth(truth).findings}
