"""Remediation planning (pure): the refund, restock or annotation each finding calls for.

``refund`` repairs MISSING_REFUND (and restocks, through ``restockType: RETURN``, the units a
MISSING_RESTOCK finding names, so refund and restock are one write), ``restock`` repairs
MISSING_RESTOCK for units no planned refund restocks, ``annotate`` tags STATUS_DRIFT orders.
DESIGN decisions 8 and 9; shopify-admin-api.md §9-§11. Nothing here does I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from recon.config import RemediationSettings
from recon.models import Finding, ReturnLine
from recon.money import format_amount, quantize
from recon.remediation.actions import (
    NEVER_SENT,
    ActionKind,
    Disposition,
    LedgerFacts,
    PlannedAction,
    RmaContext,
    idempotency_key,
)
from recon.remediation.holds import (
    hold_reason,
    policy,
    refund_policy,
    refund_tail,
    test_flag_hold,
)
from recon.remediation.succession import past_held, refund_n
from recon.remediation.units import (
    finding_line,
    refund_lines,
    unit_order,
    unit_tag,
    warehouse_event_happened,
)


@dataclass
class Draft:
    """Tonight's plan while it is built: what the findings say, and the actions so far."""

    ledger: LedgerFacts
    # Units the engine found unrestocked: MISSING_RESTOCK's (rma, line item) → Loop line ids.
    unrestocked: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # Orders with a paid refund linked to no return (UNMATCHED_REFUND, UNKNOWN_RMA): order id →
    # "<refund id> (<category>)".
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    actions: list[PlannedAction] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def not_mirrored(ctx: RmaContext | None, what: str) -> str:
    """Why nothing is planned for a finding whose return or order the mirror lacks: the order
    Shopify answers null for (never mirrored, so its return's break is still raised), or
    ``what`` is not in the mirror."""
    if ctx is not None and ctx.order is None and ctx.order_not_visible:
        return test_flag_hold(ctx, ctx.loop_return.provider_order_id or "")
    return f"{what} not in the mirror"


def plan_refund(
    finding: Finding,
    settings: RemediationSettings,
    contexts: Mapping[str, RmaContext],
    shop: str,
    draft: Draft,
) -> None:
    """The refund a MISSING_REFUND calls for: Loop's amount, restocking the unrestocked units."""
    ctx = contexts.get(finding.rma or "")
    if ctx is None or ctx.order is None:
        draft.skipped.append(f"{finding.key}: {not_mirrored(ctx, 'return or order')}")
        return
    ret, order = ctx.loop_return, ctx.order
    amount = quantize(ret.refund, ret.currency)
    if amount <= 0:
        draft.skipped.append(f"{finding.key}: Loop refund is {amount}, nothing to refund")
        return
    disposition, reason = refund_policy(finding.category, amount, ret, order, settings)
    # A refund recon could not read (quarantined, or its details not fetched yet), or a paid
    # refund on the order that links to no return (refunded by hand without the RMA, or with a
    # mistyped one), may be the very refund this finding says is missing: never pay again on a
    # guess. A human decides (acknowledge the finding if it is not this return's).
    held = hold_reason(ctx, draft.unmatched, order.id)
    if held:
        disposition, reason = Disposition.REVIEW, held
    details = {
        "lines": refund_lines(
            ret, settings.restock_after, _restocked_or_maybe(draft.ledger), draft.unrestocked
        ),
        "note": settings.note_template.format(rma=ret.id),
        "amount": format_amount(amount, ret.currency),
        "currency": ret.currency,
        # The refunds the order had when this was planned: any other one appearing before the
        # send means someone refunded meanwhile (executor re-reads the order, §10).
        "refund_ids": sorted({refund_tail(r) for r in (*order.refund_ids, *ctx.refund_ids)}),
        # Refunds go out in it (§4): a Loop amount in shop currency is sent as Shopify's own
        # suggestion in this currency (``writes.presentment_amount``); the proposal says so.
        "presentment_currency": order.presentment_currency,
    }
    n = refund_n(draft.ledger, shop, ret.id, (amount, ret.currency, details), disposition)
    draft.actions.append(
        PlannedAction(
            key=idempotency_key(shop, ret.id, ActionKind.REFUND, n),
            kind=ActionKind.REFUND,
            category=finding.category,
            finding_key=finding.key,
            shop=shop,
            rma=ret.id,
            n=n,
            subject="",
            order_id=order.id,
            amount=amount,
            currency=ret.currency,
            details=details,
            disposition=disposition,
            reason=reason,
        )
    )


def _restocked_or_maybe(ledger: LedgerFacts) -> dict[tuple[str, str], tuple[str, ...]]:
    """Units recon restocked, and units a restock of recon's may have (sent, no sure answer):
    a refund's RETURN line must not put either back again."""
    out = {key: tuple(units) for key, units in ledger.restocked.items()}
    for key, units in ledger.in_flight.items():
        out[key] = (*out.get(key, ()), *units)
    return out


def _restocked_by_refund(draft: Draft, rma: str, line_item_id: str) -> list[str]:
    """Units of the line a refund in this plan will restock: one that may still be sent.

    A refund going to review, or whose intent was rejected, failed or sent to review, never
    restocks anything, so the restock must not wait for it. One already done still counts: if
    it was found by its marker after a lost answer, the ledger cannot say what it restocked,
    and the mirror may not hold it yet.
    """
    units: list[str] = []
    for action in draft.actions:
        state = draft.ledger.states.get(action.key)
        if action.disposition is Disposition.REVIEW or state in NEVER_SENT:
            continue
        if action.kind is ActionKind.REFUND and action.rma == rma:
            for x in action.details["lines"]:
                if x["line_item_id"] == line_item_id and x["restock_type"] == "RETURN":
                    units.extend(x["units"])
    return units


def plan_restock(
    finding: Finding,
    settings: RemediationSettings,
    contexts: Mapping[str, RmaContext],
    shop: str,
    draft: Draft,
) -> None:
    """Restock the units the finding names (``loop_line_item_ids``), one intent per location.

    Units a planned refund restocks (``RETURN``) are left to it. The intent's key names its
    units, so the same units can never be restocked under two keys; a restock of every unit of
    the line past the event keeps the line's key (``<line>@<location>``, as before units were
    recorded).
    """
    ctx = contexts.get(finding.rma or "")
    line_id = finding_line(finding)
    if ctx is None or ctx.order is None or line_id is None:
        draft.skipped.append(f"{finding.key}: {not_mirrored(ctx, 'return, order or line')}")
        return
    ret, order = ctx.loop_return, ctx.order
    if not finding.loop_line_item_ids:
        draft.skipped.append(f"{finding.key}: the finding names no unit (loop_line_item_ids)")
        return
    past = [
        u
        for u in sorted(ret.lines, key=unit_order)
        if u.provider_line_item_id == line_id
        and warehouse_event_happened(ret, u, settings.restock_after)
    ]
    wanted = Counter(finding.loop_line_item_ids)  # a multiset: never more units than named
    for covered, why in (
        ((), "no named unit past the warehouse event any more"),
        (draft.ledger.restocked.get((ret.id, line_id), ()), "restocked by recon already"),
        (draft.ledger.in_flight.get((ret.id, line_id), ()), "being restocked by recon"),
        (_restocked_by_refund(draft, ret.id, line_id), "restocked by the planned refund"),
    ):
        wanted.subtract(covered)
        units = _pick(past, wanted)
        if not units:
            draft.skipped.append(f"{finding.key}: {why}")
            return
    by_location: dict[str | None, list[str]] = {}
    for u in units:
        by_location.setdefault(u.restock_location_id or finding.location_id, []).append(
            u.line_item_id
        )
    order_line = next((x for x in order.lines if x.id == line_id), None)
    item = order_line.inventory_item_id if order_line else None
    whole = len(units) == len(past)
    # A refund recon could not read (quarantined), or one it cannot link to a return
    # (UNMATCHED_REFUND, UNKNOWN_RMA: the engine counts no restock of it), may have restocked
    # these units already (restockType RETURN): restocking on a guess would count them twice.
    held = hold_reason(ctx, draft.unmatched, order.id)
    for location, ids in sorted(by_location.items(), key=lambda kv: str(kv[0])):
        subject = f"{line_id}@{location}" + ("" if whole else f"/{unit_tag(ids)}")
        action = _restock_action(
            finding, settings, shop, (ret.id, order.id, subject), item, location, ids
        )
        if held:
            action = replace(action, disposition=Disposition.REVIEW, reason=held)
        draft.actions.append(past_held(action, draft.ledger, shop))


def _pick(units: list[ReturnLine], wanted: Counter[str]) -> list[ReturnLine]:
    """The units still wanted (a multiset of ids), the last ones in unit order, as the engine
    names the units past a restocked count."""
    left = Counter(wanted)
    picked = []
    for unit in reversed(units):
        if left[unit.line_item_id] > 0:
            left[unit.line_item_id] -= 1
            picked.append(unit)
    return picked[::-1]


def _restock_action(
    finding: Finding,
    settings: RemediationSettings,
    shop: str,
    at: tuple[str, str, str],
    item: str | None,
    location: str | None,
    units: list[str],
) -> PlannedAction:
    rma, order_id, subject = at
    missing = [name for name, v in (("location", location), ("inventory item", item)) if not v]
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
            "line_item_id": subject.partition("@")[0],
            "inventory_item_id": item,
            "location_id": location,
            "quantity": len(units),
            "units": units,
        },
        disposition=Disposition.REVIEW if missing else policy(finding.category, settings),
        reason=f"unknown {' and '.join(missing)}" if missing else "",
    )


def plan_annotate(
    finding: Finding,
    settings: RemediationSettings,
    contexts: Mapping[str, RmaContext],
    shop: str,
    draft: Draft,
) -> None:
    """The tag a STATUS_DRIFT calls for on its order, unless the order carries it already."""
    ctx = contexts.get(finding.rma or "")
    order_id = finding.shopify_order_id or (ctx.order.id if ctx and ctx.order else None)
    if order_id is None:
        draft.skipped.append(f"{finding.key}: no order to annotate")
        return
    flag = test_flag_hold(ctx, order_id) if ctx else ""
    if flag:  # may be a test order: not even a tag (the write's re-read checks it too)
        draft.skipped.append(f"{finding.key}: {flag}")
        return
    state = ctx.loop_return.state if ctx else "closed"
    tag = settings.status_tag.format(state=state)
    if ctx and ctx.order and tag in ctx.order.tags:
        draft.skipped.append(f"{finding.key}: order already tagged {tag}")
        return
    rma = finding.rma or f"order-{order_id}"
    # A tag withdrawn unsent while a plan held it (the order out of sight, its flag unknown)
    # takes the next key once owed again, as a restock does: its key stays in review for good.
    tag_action = PlannedAction(
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
        disposition=policy(finding.category, settings),
    )
    draft.actions.append(past_held(tag_action, draft.ledger, shop))
