"""Where recon's writes landed, read from the emulators' own state: each on the order Loop names
for its RMA, and every planted fix in place (the chaos campaign's write checks).

A refund's note and a movement's reference are recon's own words; the order a refund sits on,
its lines and the inventory items a movement moved are Shopify's. So each write is traced from
its key to the intent behind it, and from the intent's RMA to the order Loop names for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from recon.remediation.ledger import ActionView
from recon.remediation.write_inputs import note_names_rma
from recon.sandbox.invariants import (
    Baseline,
    Violation,
    adjustments,
    movement_rma,
    restocked_per_item,
    returned_per_item,
)
from recon.sandbox.shopify.render import shop_amount
from recon.sandbox.state import SandboxState
from recon.sandbox.truth import GroundTruth, PlantedFinding
from recon.sandbox.world import Order, Refund, TransactionStatus
from recon.sandbox.world_loop import LoopReturn

WRONG_ORDER = "write on the wrong order"
NOT_FIXED = "fix not applied"
_IN_REVIEW = "needs_review"
_NO_MONEY = frozenset({TransactionStatus.FAILURE, TransactionStatus.ERROR})
CENT = Decimal("0.01")  # a refund in another presentment currency converts back within this


def check_landed(
    state: SandboxState, base: Baseline, ledger: Iterable[ActionView]
) -> list[Violation]:
    """Every refund and stock movement recon made since the baseline landed where Loop says:
    a refund on the order Loop names for its intent's RMA, of lines that RMA returned; a
    movement of the items of units that RMA returned, its reference naming that RMA. Writes
    with no intent behind them are ``check_ledgered``'s."""
    intents = {a.key: a for a in ledger}
    found: list[Violation] = []
    for order in state.world.orders:
        for refund in order.refunds:
            intent = intents.get(refund.idempotency_key or "")
            if refund.id not in base.refund_ids and intent and intent.kind == "refund":
                found += _refund_landed(state, order, refund, intent.rma)
    for group in adjustments(state):
        intent = intents.get(group.idempotency_key or "")
        if group.id in base.adjustment_ids or group.source != "inventoryAdjustQuantities":
            continue
        if intent is not None and intent.kind == "restock":
            found += _restock_landed(state, group, intent.rma)
    return found


def _refund_landed(state: SandboxState, order: Order, refund: Refund, rma: str) -> list[Violation]:
    ret = state.returns_by_id.get(rma)
    if ret is None:
        return [Violation(WRONG_ORDER, rma, f"refund {refund.id}: Loop has no such RMA")]
    if order.id != ret.provider_order_id:
        named = state.orders_by_id.get(ret.provider_order_id)
        return [
            Violation(
                WRONG_ORDER,
                rma,
                f"refund {refund.id} is on order {order.name} ({order.id}); Loop names "
                f"order {named.name if named else '?'} ({ret.provider_order_id})",
            )
        ]
    returned = {u.provider_line_item_id for u in ret.line_items}
    stray = sorted({line.line_item_id for line in refund.lines} - returned)
    if stray:
        detail = f"refund {refund.id} refunds line(s) {', '.join(stray)} the RMA did not return"
        return [Violation(WRONG_ORDER, rma, detail)]
    return []


def _restock_landed(state: SandboxState, group: object, rma: str) -> list[Violation]:
    ret = state.returns_by_id.get(rma)
    gid = getattr(group, "id", "?")
    if ret is None:
        return [Violation(WRONG_ORDER, rma, f"stock movement {gid}: Loop has no such RMA")]
    order = state.orders_by_id.get(ret.provider_order_id)
    found = []
    named = movement_rma(group, {})
    if named != rma:
        detail = f"stock movement {gid}'s reference names RMA {named}, its intent RMA {rma}"
        found.append(Violation(WRONG_ORDER, rma, detail))
    items = _returned_items(order, ret)
    stray = sorted({c.inventory_item_id for c in getattr(group, "changes", ())} - items)
    if stray:
        where = f"order {order.name} ({order.id})" if order else f"order {ret.provider_order_id}"
        detail = (
            f"stock movement {gid} moves item(s) {', '.join(stray)}: no unit the RMA returned "
            f"on {where}"
        )
        found.append(Violation(WRONG_ORDER, rma, detail))
    return found


def _returned_items(order: Order | None, ret: LoopReturn) -> set[str]:
    if order is None:
        return set()
    lines = {u.provider_line_item_id for u in ret.line_items}
    return {li.inventory_item_id or "" for li in order.line_items if li.id in lines}


def check_fixed(
    state: SandboxState, truth: GroundTruth, ledger: Iterable[ActionView]
) -> list[Violation]:
    """Every planted ``MISSING_REFUND`` and ``MISSING_RESTOCK`` in ``truth`` was fixed in the
    emulators' state: Loop's refund paid (shop money) by refunds naming the RMA on Loop's order;
    as many units of each returned line's item put back on that order as were returned. A fix
    recon handed to a person instead (``left_to_a_person``) is not expected to have landed."""
    views = list(ledger)
    restocked, returned = restocked_per_item(state, views), returned_per_item(state)
    with_a_person = left_to_a_person(truth, views)
    found = []
    for planted in truth.findings:
        if planted.key in with_a_person:
            continue
        ret = state.returns_by_id.get(planted.rma or "")
        order = state.orders_by_id.get(ret.provider_order_id) if ret else None
        if ret is None or order is None:
            continue
        if planted.category == "MISSING_REFUND":
            paid = _paid_in_shop_money(order, ret)
            if paid < ret.refund - CENT:
                detail = f"Loop refunded {ret.refund}; refunds naming it on {order.name} pay {paid}"
                found.append(Violation(NOT_FIXED, ret.id, detail))
        elif planted.category == "MISSING_RESTOCK":
            line = planted.key.partition("line=")[2]
            item = next((li.inventory_item_id for li in order.line_items if li.id == line), None)
            back, due = (
                restocked.get((order.id, item or ""), 0),
                returned.get((order.id, item or ""), 0),
            )
            if back < due:
                detail = f"order {order.name} line {line}: {back} units put back, {due} returned"
                found.append(Violation(NOT_FIXED, ret.id, detail))
    return found


def left_to_a_person(truth: GroundTruth, ledger: Iterable[ActionView]) -> frozenset[str]:
    """Keys of the planted ``MISSING_REFUND`` and ``MISSING_RESTOCK`` whose latest intent recon
    sent to review rather than to Shopify: e.g. a restock whose answer was lost, resent against
    stock that had moved since (Shopify refuses the stale compare quantity, and recon cannot
    tell whether the first went through, so it does not send it blind). Nothing was fixed, so
    the finding must still be reported; it waits for a person, not for a later night."""
    views = list(ledger)
    waiting = set()
    for planted in truth.findings:
        mine = [a for a in views if _fixes(a, planted)]
        if mine and max(mine, key=lambda a: a.id).state == _IN_REVIEW:
            waiting.add(planted.key)
    return frozenset(waiting)


def _fixes(action: ActionView, planted: PlantedFinding) -> bool:
    """Whether ``action`` is recon's write for the planted finding (its RMA, and line)."""
    if action.rma != planted.rma:
        return False
    if planted.category == "MISSING_REFUND":
        return action.kind == "refund"
    line = planted.key.partition("line=")[2]
    return action.kind == "restock" and action.details.get("line_item_id") == line


def _paid_in_shop_money(order: Order, ret: LoopReturn) -> Decimal:
    marker = f"Loop RMA #{ret.id}"
    named = {r.id for r in order.refunds if note_names_rma(r.note, marker)}
    return sum(
        (
            shop_amount(order, t.amount, t.amount_shop)
            for t in order.transactions
            if t.refund_id in named and t.status not in _NO_MONEY
        ),
        Decimal(0),
    )
