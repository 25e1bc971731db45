"""Checks right before a write that an intent is still owed and safe to send (pure, no I/O).

An intent recorded on an earlier night may be stale by the time it is sent: its finding resolved
(someone refunded by hand), the amount or lines changed, a refund appeared on the order, or the
unit was restocked meanwhile. Each check returns why the intent must go to a human, or None.
DESIGN decision 8; shopify-admin-api.md §9-§11, §17.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from decimal import Decimal
from typing import Any

from recon.money import format_amount
from recon.remediation.actions import write_details
from recon.remediation.planner import ActionKind, Disposition, Plan, PlannedAction
from recon.remediation.verdicts import Intent
from recon.remediation.writes import OrderRefunds, SuggestedRefund, tail


def stale_reason(intent: Intent, plan: Plan) -> str | None:
    """Why an approved/planned intent is no longer what tonight's open findings call for.

    The intent must match an action of tonight's plan (made from the findings still open): same
    key, same amount, currency, order and write details, and not a case for review now.
    """
    closed = closed_reason(intent, plan)
    if closed is not None:
        return closed
    current = next((a for a in plan.actions if a.key == intent.key), None)
    if current is None:
        return f"not sent: tonight's plan for {intent.finding_key} has no such action any more"
    changes = _changes(intent, current)
    if changes:
        return "not sent: the action would now differ (" + "; ".join(changes) + ")"
    if current.disposition is Disposition.REVIEW:
        return f"not sent: tonight's plan sends it to review: {current.reason}"
    return None


def closed_reason(intent: Intent, plan: Plan) -> str | None:
    """Why an intent is not to be sent: its finding is no longer open tonight."""
    if intent.finding_key not in plan.finding_keys:
        return f"not sent: finding {intent.finding_key} is no longer open"
    return None


def _changes(intent: Intent, current: PlannedAction) -> list[str]:
    changes = []
    if intent.amount != current.amount or intent.currency != current.currency:
        changes.append(
            f"amount {intent.amount} {intent.currency} → {current.amount} {current.currency}"
        )
    if intent.order_id != current.order_id:
        changes.append(f"order {intent.order_id} → {current.order_id}")
    before, now = write_details(intent.details), write_details(current.details)
    for name in sorted(set(before) | set(now)):
        if before.get(name) != now.get(name):
            changes.append(f"{name} {before.get(name)!r} → {now.get(name)!r}")
    return changes


def test_order_reason(order_id: str, test: bool) -> str | None:
    """Why nothing may be written to the order: Shopify says it is a test order (a test
    gateway: no money moved), and test orders are left out (``[engine] include_test_orders``;
    a development store that reconciles them does not ask).

    The mirror may have read it as live (mirrored before recon read ``Order.test``, or marked
    test since): the re-read right before the write is what counts.
    """
    if not test:
        return None
    return (
        f"not sent: order {order_id} is a Shopify test order (Order.test: no money moved); "
        "recon writes nothing to test orders, no refund, restock or tag "
        "([engine] include_test_orders)"
    )


def new_refunds_reason(
    intent: Intent, order: OrderRefunds, own_refund_ids: AbstractSet[str]
) -> str | None:
    """Why a refund must not be sent: a refund appeared on the order since it was planned.

    Any new refund counts, with or without recon's marker (a CX agent or Loop itself may have
    paid the customer). Refunds recon's own intents created (other RMAs on the order) do not.
    """
    known = {tail(str(r)) for r in intent.details.get("refund_ids", ())} | set(own_refund_ids)
    appeared = sorted(r.id for r in order.refunds if tail(r.id) not in known)
    if not appeared:
        return None
    return f"refunded manually meanwhile: refund {', '.join(appeared)} appeared since the plan"


def with_refunds_known_tonight(intent: Intent, plan: Plan) -> Intent:
    """A refund intent about to be sent (or resent), knowing the order's refunds tonight's
    plan knows too.

    ``new_refunds_reason`` stops the send for a refund that appeared since the plan. For an
    intent planned on an earlier night (approved since, or held by the limits) that was its
    own plan, so a refund Loop made for another return on the order in between, linked to
    that return by tonight's findings, sent it to review for good, though tonight's findings
    still say it is owed and a plan made tonight would send it. Tonight's mirror has read and
    classified every refund it knows (one linked to this return closes its finding; one linked
    to none, or unreadable, holds it: ``stale_reason`` has withdrawn it already), so only a
    refund that appeared after tonight's sync still stops the send.
    """
    current = next((a for a in plan.actions if a.key == intent.key), None)
    if intent.kind is not ActionKind.REFUND or current is None:
        return intent
    known = {*intent.details.get("refund_ids", ()), *current.details.get("refund_ids", ())}
    return replace(intent, details={**intent.details, "refund_ids": sorted(known)})


def restock_conflict_reason(
    rma: str, lines: Iterable[dict[str, Any]], restocked: Mapping[tuple[str, str], Sequence[str]]
) -> str | None:
    """Why a refund must not be sent: a RETURN line may restock a unit recon restocked.

    ``lines`` are planned lines or ``RefundLineItemInput``s. A planned RETURN line records
    ``ledger_units``, the units of its line item recon had restocked when it was planned (the
    plan left those out); any more since then may be the very units this line restocks. A line
    without it (an input) conflicts with any restock recon made of its line item.
    """
    for line in lines:
        kind = line.get("restock_type", line.get("restockType"))
        item = tail(str(line.get("line_item_id", line.get("lineItemId"))))
        now, planned = len(restocked.get((rma, item), ())), int(line.get("ledger_units", 0))
        if kind == "RETURN" and now > planned:
            return (
                f"line {item} would be restocked twice: recon restocked {now} unit(s) of it, "
                f"{planned} when the refund was planned (§10)"
            )
    return None


def restock_twice_reason(
    rma: str, details: dict[str, Any], restocked: Mapping[tuple[str, str], Sequence[str]]
) -> str | None:
    """Why a restock must not be sent: recon already restocked one of its units.

    ``details`` are a restock intent's; ``restocked`` the ledger's done restocks. An intent
    planned before units were recorded names none and is checked by the planner's key alone.
    """
    done = Counter(restocked.get((rma, str(details["line_item_id"])), ()))
    again = sorted(u for u in set(details.get("units", ())) if done[u] > 0)
    if not again:
        return None
    return f"unit(s) {', '.join(again)} already restocked by recon under another intent"


def resend_overrefund_reason(variables: dict[str, Any], suggested: SuggestedRefund) -> str | None:
    """Why stored refund variables must not be resent: they exceed what the order can refund now."""
    transactions: Sequence[dict[str, Any]] = variables["input"].get("transactions", ())
    total = sum((Decimal(str(t["amount"])) for t in transactions), Decimal(0))
    if total <= suggested.maximum_refundable:
        return None
    currency = suggested.presentment_currency
    return (
        f"over-refund on resend: stored {format_amount(total, currency)} {currency} exceeds "
        f"maximum refundable {format_amount(suggested.maximum_refundable, currency)}"
    )


def superseded_reason(intent: Intent, plan: Plan) -> str | None:
    """Why a proposed intent (nothing sent, no one decided) gives way to tonight's plan.

    A refund must match tonight's action (``stale_reason``). A restock or tag must match the
    action under its key, if tonight has one; a restock without one is superseded only when
    another restock of tonight's plan names one of its units (they changed: more graded, a
    new location). One whose units nothing else names tonight (a planned refund restocks them,
    or a write of recon's is in flight) stays proposed: it is still the restock once that
    refund is rejected, and a run sending it first checks it again (``stale_reason``).
    """
    if intent.kind is ActionKind.REFUND or any(a.key == intent.key for a in plan.actions):
        return stale_reason(intent, plan)
    closed = closed_reason(intent, plan)
    if closed is not None or intent.kind is not ActionKind.RESTOCK:
        return closed
    units = set(intent.details.get("units", ()))
    for action in plan.actions:
        same_line = action.kind is ActionKind.RESTOCK and action.rma == intent.rma
        if same_line and units & set(action.details.get("units", ())):
            return f"not sent: replaced by the restock of {action.subject} (units or location)"
    return None


def no_longer_called_for(intent: Intent, plan: Plan) -> str | None:
    """Why tonight's plan no longer calls for an intent not sent yet (or to be resent): a
    refund must match tonight's action; a restock or tag only needs its finding still open
    (the planner leaves units with a write in flight out of the plan)."""
    if intent.kind is ActionKind.REFUND:
        return stale_reason(intent, plan)
    return closed_reason(intent, plan)
