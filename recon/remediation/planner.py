"""Remediation planning (pure): findings + policy + per-RMA data → proposed actions, stable keys.

``refund`` repairs MISSING_REFUND (and restocks, through ``restockType: RETURN``, the units whose
warehouse event has happened, so refund and restock are one write), ``restock`` repairs
MISSING_RESTOCK for units no planned refund restocks, ``annotate`` tags STATUS_DRIFT orders.
DESIGN decisions 8 and 9; shopify-admin-api.md §9-§11. Nothing here does I/O.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from recon.config import RemediationSettings, WarehouseEvent
from recon.models import Category, Finding, LoopReturnRecord, OrderRecord, ReturnLine
from recon.money import format_amount, quantize

# Re-exported: callers know the limits as part of planning.
from recon.remediation.limits import check_breaker as check_breaker
from recon.remediation.limits import refund_cap_reason as refund_cap_reason

# Fixed forever: changing it would give every intent a new key, i.e. a second refund (§10).
KEY_NAMESPACE = uuid.UUID("0b6f3c5e-7d2a-5f4e-9c1b-8a4d2e6f1c30")


class ActionKind(StrEnum):
    REFUND = "refund"
    RESTOCK = "restock"
    ANNOTATE = "annotate"


class ActionState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    PLANNED = "planned"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NEEDS_REVIEW = "needs_review"


TERMINAL_STATES = frozenset(
    {ActionState.DONE, ActionState.FAILED, ActionState.NEEDS_REVIEW, ActionState.REJECTED}
)
# Ended without writing: an intent in one of these states never restocks anything.
NEVER_SENT = frozenset({ActionState.FAILED, ActionState.NEEDS_REVIEW, ActionState.REJECTED})


class Disposition(StrEnum):
    """What policy allows for one action: apply it unattended, wait for approval, or a human."""

    AUTO = "auto"
    APPROVAL = "approval"
    REVIEW = "review"


def idempotency_key(shop: str, rma: str, kind: ActionKind, n: int, subject: str = "") -> str:
    """The deterministic ``@idempotent`` key of the n-th intent of one kind for one RMA.

    ``subject`` separates intents of one kind on one RMA that are genuinely different writes (the
    line and location of a restock). uuid5 of a fixed namespace: the same intent gets the same key
    in every process, so a resend can never become a second refund (shopify-admin-api.md §10, §17).
    """
    return str(uuid.uuid5(KEY_NAMESPACE, f"{shop}|{rma}|{kind.value}|{subject}|{n}"))


@dataclass(frozen=True)
class PlannedAction:
    """One proposed write; ``details`` is JSON-ready (amounts as strings), stored on the intent."""

    key: str
    kind: ActionKind
    category: Category
    finding_key: str
    shop: str
    rma: str
    n: int
    subject: str
    order_id: str
    amount: Decimal | None
    currency: str | None
    details: dict[str, Any]
    disposition: Disposition
    reason: str = ""


@dataclass(frozen=True)
class RmaContext:
    """What the planner needs to know about one RMA: the Loop return and its Shopify order.

    ``refund_ids`` are the order's refunds the mirror knows (beside ``order.refund_ids``): the
    executor sends the refund to review if any other refund appears on the order before it is sent.
    """

    loop_return: LoopReturnRecord
    order: OrderRecord | None
    refund_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class LedgerFacts:
    """What the ledger already knows: units recon restocked, and the state of each intent key."""

    restocked: AbstractSet[tuple[str, str]] = frozenset()
    states: Mapping[str, ActionState] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """The planner's answer: actions, findings it did not act on (and why), breaker verdict.

    ``finding_keys`` are the open findings the plan was made from: an intent recorded earlier
    whose finding is not among them is no longer owed and must not be sent.
    """

    actions: tuple[PlannedAction, ...]
    skipped: tuple[str, ...] = ()
    breaker: str | None = None
    finding_keys: frozenset[str] = frozenset()


@dataclass
class _Draft:
    ledger: LedgerFacts
    actions: list[PlannedAction] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def warehouse_event_happened(
    ret: LoopReturnRecord, line: ReturnLine, event: WarehouseEvent
) -> bool:
    """Whether a returned unit reached the configured restock event (docs/findings.md)."""
    processed = ret.state == "closed" and ret.was_processed
    if event is WarehouseEvent.PROCESSED:
        return processed
    if event is WarehouseEvent.INSPECTED:
        return line.inspected
    return ret.label_status == "delivered" or processed or line.inspected  # graded: received


def plan_actions(
    findings: Iterable[Finding],
    settings: RemediationSettings,
    contexts: Mapping[str, RmaContext],
    *,
    shop: str,
    ledger: LedgerFacts | None = None,
) -> Plan:
    """Turn findings into proposed actions under the remediation policy.

    Refunds are planned first so that restocks of units a refund already restocks are dropped,
    and a refund never restocks (``RETURN``) a unit the ledger says recon restocked already
    (DESIGN decision 9: never adjust inventory for the same unit twice).
    """
    ordered = sorted(findings, key=lambda f: (f.category != Category.MISSING_REFUND, f.key))
    draft = _Draft(ledger or LedgerFacts())
    for finding in ordered:
        if finding.category is Category.MISSING_REFUND:
            _plan_refund(finding, settings, contexts, shop, draft)
        elif finding.category is Category.MISSING_RESTOCK:
            _plan_restock(finding, settings, contexts, shop, draft)
        elif finding.category is Category.STATUS_DRIFT:
            _plan_annotate(finding, settings, contexts, shop, draft)
    auto = [(a.amount, a.currency) for a in draft.actions if a.disposition is Disposition.AUTO]
    breaker = check_breaker(auto, settings)
    keys = frozenset(f.key for f in ordered)
    return Plan(tuple(draft.actions), tuple(draft.skipped), breaker, keys)


def _policy(category: Category, settings: RemediationSettings) -> Disposition:
    return Disposition.AUTO if category.value in settings.auto_apply else Disposition.APPROVAL


def _refund_lines(
    ret: LoopReturnRecord, event: WarehouseEvent, restocked: AbstractSet[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Refund lines: RETURN (restock now) for units past the warehouse event, else NO_RESTOCK.

    A line recon already restocked (``inventoryAdjustQuantities``, per the ledger) is NO_RESTOCK:
    ``RETURN`` would put the same unit back a second time (shopify-admin-api.md §10).
    """
    units: Counter[tuple[str, str, str | None]] = Counter()
    for line in ret.lines:
        if line.provider_line_item_id is None:
            continue
        done = (ret.id, line.provider_line_item_id) in restocked
        restock = warehouse_event_happened(ret, line, event) and line.restock_location_id
        if restock and not done:
            units[(line.provider_line_item_id, "RETURN", line.restock_location_id)] += 1
        else:
            units[(line.provider_line_item_id, "NO_RESTOCK", None)] += 1
    return [
        {"line_item_id": item, "quantity": qty, "restock_type": kind, "location_id": location}
        for (item, kind, location), qty in sorted(units.items(), key=lambda kv: str(kv[0]))
    ]


def _refund_policy(
    category: Category,
    amount: Decimal,
    ret: LoopReturnRecord,
    order: OrderRecord,
    settings: RemediationSettings,
) -> tuple[Disposition, str]:
    """Currency sanity and the per-refund cap (per currency) first; then the auto_apply policy."""
    if ret.currency not in (order.currency, order.presentment_currency):
        return Disposition.REVIEW, (
            f"currency mismatch: Loop {ret.currency}, order shop {order.currency} / presentment "
            f"{order.presentment_currency}"
        )
    over = refund_cap_reason(amount, ret.currency, settings)
    if over is not None:
        return Disposition.REVIEW, over
    return _policy(category, settings), ""


def _plan_refund(
    finding: Finding,
    settings: RemediationSettings,
    contexts: Mapping[str, RmaContext],
    shop: str,
    draft: _Draft,
) -> None:
    ctx = contexts.get(finding.rma or "")
    if ctx is None or ctx.order is None:
        draft.skipped.append(f"{finding.key}: return or order not in the mirror")
        return
    ret, order = ctx.loop_return, ctx.order
    amount = quantize(ret.refund, ret.currency)
    if amount <= 0:
        draft.skipped.append(f"{finding.key}: Loop refund is {amount}, nothing to refund")
        return
    disposition, reason = _refund_policy(finding.category, amount, ret, order, settings)
    unread = sorted({_tail(r) for r in order.refund_ids} - {_tail(r) for r in ctx.refund_ids})
    if unread:
        # A refund recon could not read (quarantined, or its details not fetched yet) may be the
        # very refund this finding says is missing: never pay again on a guess.
        disposition = Disposition.REVIEW
        reason = f"the order has refunds recon could not read: {', '.join(unread)}"
    details = {
        "lines": _refund_lines(ret, settings.restock_after, draft.ledger.restocked),
        "note": settings.note_template.format(rma=ret.id),
        "amount": format_amount(amount, ret.currency),
        "currency": ret.currency,
        # The refunds the order had when this was planned: any other one appearing before the
        # send means someone refunded meanwhile (executor re-reads the order, §10).
        "refund_ids": sorted({_tail(r) for r in (*order.refund_ids, *ctx.refund_ids)}),
    }
    draft.actions.append(
        PlannedAction(
            key=idempotency_key(shop, ret.id, ActionKind.REFUND, 1),
            kind=ActionKind.REFUND,
            category=finding.category,
            finding_key=finding.key,
            shop=shop,
            rma=ret.id,
            n=1,
            subject="",
            order_id=order.id,
            amount=amount,
            currency=ret.currency,
            details=details,
            disposition=disposition,
            reason=reason,
        )
    )


def _tail(refund_id: str) -> str:
    """The numeric id of a refund (the mirror keeps numeric ids, a gid's tail is the same)."""
    return refund_id.rsplit("/", 1)[-1]


def _restocked_by_refund(draft: _Draft, rma: str, line_item_id: str) -> bool:
    """Whether a refund in this plan will restock the line: one that may still be sent.

    A refund going to review, or whose intent was rejected, failed or sent to review, never
    restocks anything, so the restock must not wait for it.
    """
    for action in draft.actions:
        state = draft.ledger.states.get(action.key)
        if action.disposition is Disposition.REVIEW or state in NEVER_SENT:
            continue
        if action.kind is ActionKind.REFUND and action.rma == rma:
            lines = action.details["lines"]
            if any(
                x["line_item_id"] == line_item_id and x["restock_type"] == "RETURN" for x in lines
            ):
                return True
    return False


def _finding_line(finding: Finding) -> str | None:
    """The line item id of a MISSING_RESTOCK finding: its scope is ``rma=<R>,line=<id>``."""
    for part in finding.key.partition("|")[2].split(","):
        name, _, value = part.partition("=")
        if name == "line" and value:
            return value
    return None


def _plan_restock(
    finding: Finding,
    settings: RemediationSettings,
    contexts: Mapping[str, RmaContext],
    shop: str,
    draft: _Draft,
) -> None:
    ctx = contexts.get(finding.rma or "")
    line_id = _finding_line(finding)
    if ctx is None or ctx.order is None or line_id is None:
        draft.skipped.append(f"{finding.key}: return, order or line not in the mirror")
        return
    if _restocked_by_refund(draft, ctx.loop_return.id, line_id):
        draft.skipped.append(f"{finding.key}: restocked by the planned refund (restockType RETURN)")
        return
    ret, order = ctx.loop_return, ctx.order
    units = [
        u
        for u in ret.lines
        if u.provider_line_item_id == line_id
        and warehouse_event_happened(ret, u, settings.restock_after)
    ]
    by_location = Counter(u.restock_location_id or finding.location_id for u in units)
    order_line = next((x for x in order.lines if x.id == line_id), None)
    item = order_line.inventory_item_id if order_line else None
    for location, quantity in sorted(by_location.items(), key=lambda kv: str(kv[0])):
        draft.actions.append(
            _restock_action(
                finding, settings, shop, ret.id, order.id, line_id, item, location, quantity
            )
        )
    if not units:
        draft.skipped.append(f"{finding.key}: no unit past the warehouse event any more")


def _restock_action(
    finding: Finding,
    settings: RemediationSettings,
    shop: str,
    rma: str,
    order_id: str,
    line_id: str,
    item: str | None,
    location: str | None,
    quantity: int,
) -> PlannedAction:
    missing = [n for n, v in (("location", location), ("inventory item", item)) if not v]
    subject = f"{line_id}@{location}"
    return PlannedAction(
        key=idempotency_key(shop, rma, ActionKind.RESTOCK, 1, subject),
        kind=ActionKind.RESTOCK,
        category=finding.category,
        finding_key=finding.key,
        shop=shop,
        rma=rma,
        n=1,
        subject=subject,
        order_id=order_id,
        amount=None,
        currency=None,
        details={
            "line_item_id": line_id,
            "inventory_item_id": item,
            "location_id": location,
            "quantity": quantity,
        },
        disposition=Disposition.REVIEW if missing else _policy(finding.category, settings),
        reason=f"unknown {' and '.join(missing)}" if missing else "",
    )


def _plan_annotate(
    finding: Finding,
    settings: RemediationSettings,
    contexts: Mapping[str, RmaContext],
    shop: str,
    draft: _Draft,
) -> None:
    ctx = contexts.get(finding.rma or "")
    order_id = finding.shopify_order_id or (ctx.order.id if ctx and ctx.order else None)
    if order_id is None:
        draft.skipped.append(f"{finding.key}: no order to annotate")
        return
    state = ctx.loop_return.state if ctx else "closed"
    tag = settings.status_tag.format(state=state)
    if ctx and ctx.order and tag in ctx.order.tags:
        draft.skipped.append(f"{finding.key}: order already tagged {tag}")
        return
    rma = finding.rma or f"order-{order_id}"
    draft.actions.append(
        PlannedAction(
            key=idempotency_key(shop, rma, ActionKind.ANNOTATE, 1, order_id),
            kind=ActionKind.ANNOTATE,
            category=finding.category,
            finding_key=finding.key,
            shop=shop,
            rma=rma,
            n=1,
            subject=order_id,
            order_id=order_id,
            amount=None,
            currency=None,
            details={"tags": [tag]},
            disposition=_policy(finding.category, settings),
        )
    )
