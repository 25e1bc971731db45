"""Remediation planning (pure): findings + policy + per-RMA data → proposed actions, stable keys.

``refund`` repairs MISSING_REFUND (and restocks, through ``restockType: RETURN``, the units a
MISSING_RESTOCK finding names, so refund and restock are one write), ``restock`` repairs
MISSING_RESTOCK for units no planned refund restocks, ``annotate`` tags STATUS_DRIFT orders.
DESIGN decisions 8 and 9; shopify-admin-api.md §9-§11. Nothing here does I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from recon.config import RemediationSettings
from recon.models import Category, Finding, LoopReturnRecord, OrderRecord, ReturnLine
from recon.money import format_amount, quantize

# The vocabulary lives in actions.py; re-exported here, where callers have always found it.
from recon.remediation.actions import KEY_NAMESPACE as KEY_NAMESPACE
from recon.remediation.actions import NEVER_SENT as NEVER_SENT
from recon.remediation.actions import TERMINAL_STATES as TERMINAL_STATES
from recon.remediation.actions import ActionKind as ActionKind
from recon.remediation.actions import ActionState as ActionState
from recon.remediation.actions import Disposition as Disposition
from recon.remediation.actions import LedgerFacts as LedgerFacts
from recon.remediation.actions import Plan as Plan
from recon.remediation.actions import PlannedAction as PlannedAction
from recon.remediation.actions import RmaContext as RmaContext
from recon.remediation.actions import idempotency_key as idempotency_key
from recon.remediation.actions import write_details

# Re-exported: callers know the limits as part of planning.
from recon.remediation.limits import check_breaker as check_breaker
from recon.remediation.limits import refund_cap_reason as refund_cap_reason
from recon.remediation.units import (
    finding_line,
    refund_lines,
    unit_order,
    unit_tag,
    warehouse_event_happened,
)


@dataclass
class _Draft:
    ledger: LedgerFacts
    # Units the engine found unrestocked: MISSING_RESTOCK's (rma, line item) → Loop line ids.
    unrestocked: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    # Orders with a paid refund linked to no return (UNMATCHED_REFUND, UNKNOWN_RMA): order id →
    # "<refund id> (<category>)".
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    actions: list[PlannedAction] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


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
    (DESIGN decision 9: never adjust inventory for the same unit twice). A refund on an order
    with an open UNMATCHED_REFUND goes to review: that refund may be this one. A refund
    restocks only the units a MISSING_RESTOCK finding of this run names: Shopify may have
    restocked the others already (a zero-money or declined refund did), the engine holds some
    back (AMBIGUOUS_RMA), and a muted or acknowledged MISSING_RESTOCK means recon does not.
    """
    ordered = sorted(findings, key=lambda f: (f.category != Category.MISSING_REFUND, f.key))
    draft = _Draft(ledger or LedgerFacts())
    for finding in ordered:
        line = finding_line(finding)
        if finding.category is Category.MISSING_RESTOCK and finding.rma and line:
            draft.unrestocked[(finding.rma, line)] = frozenset(finding.loop_line_item_ids)
        for order_id in _held_orders(finding, contexts):
            ids = draft.unmatched.setdefault(order_id, [])
            ids.extend(
                f"{refund} ({finding.category.value})" for refund in finding.shopify_refund_ids
            )
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


# Findings of a paid refund that links to no return: refunds on their order wait for a human.
_HOLDS_ORDER = frozenset({Category.UNMATCHED_REFUND, Category.UNKNOWN_RMA})


def _held_orders(finding: Finding, contexts: Mapping[str, RmaContext]) -> set[str]:
    """Orders whose refunds a finding of ``_HOLDS_ORDER`` holds back: the refund's own, and for
    an UNKNOWN_RMA naming a return of another order, that return's order (the refund may be
    its money, refunded on the wrong order)."""
    if finding.category not in _HOLDS_ORDER:
        return set()
    held = {finding.shopify_order_id} if finding.shopify_order_id else set()
    named = contexts.get(finding.rma or "") if finding.category is Category.UNKNOWN_RMA else None
    if named is not None:
        held.add(named.order.id if named.order else named.loop_return.provider_order_id or "")
    return held - {""}


def _policy(category: Category, settings: RemediationSettings) -> Disposition:
    return Disposition.AUTO if category.value in settings.auto_apply else Disposition.APPROVAL


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
    # A refund recon could not read (quarantined, or its details not fetched yet), or a paid
    # refund on the order that links to no return (refunded by hand without the RMA, or with a
    # mistyped one), may be the very refund this finding says is missing: never pay again on a
    # guess. A human decides (acknowledge the finding if it is not this return's).
    held = _held(ctx, draft, order.id)
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
        "refund_ids": sorted({_tail(r) for r in (*order.refund_ids, *ctx.refund_ids)}),
    }
    n = _refund_n(draft.ledger, shop, ret.id, (amount, ret.currency, details), disposition)
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


def _refund_n(
    ledger: LedgerFacts,
    shop: str,
    rma: str,
    write: tuple[Decimal, str, Mapping[str, Any]],
    disposition: Disposition,
) -> int:
    """Which refund intent of the RMA tonight's refund is: an existing one, or a new one.

    The latest intent while it is live, done or rejected (a rejection stays the answer). When
    it ended without writing (needs review, failed), an ended intent with tonight's very write
    is the answer (no new intent every night, even if Loop's amount goes back and forth),
    except one the plan held (recorded into review, or withdrawn unsent because a plan held it
    or called for another write) when tonight holds it no more (the UNMATCHED_REFUND was
    acknowledged; Loop's amount went back to it). Else a new intent
    (n + 1, a new idempotency key); sending it still passes every guard, and a refund carrying
    the RMA's marker on the order sends it to review.
    """
    latest = 1
    while idempotency_key(shop, rma, ActionKind.REFUND, latest + 1) in ledger.states:
        latest += 1
    amount, currency, details = write
    tonight = (amount, currency, write_details(details))
    latest_key = idempotency_key(shop, rma, ActionKind.REFUND, latest)
    proposed = ledger.proposed.get(latest_key)
    # A proposal of another write is withdrawn tonight (``Executor.record``): like an ended
    # intent, it is not the answer, so the current write is proposed at once.
    replaced = proposed is not None and _write(proposed) != tonight
    if latest_key not in ledger.ended_refunds and not replaced:
        return latest
    for n in range(latest, 0, -1):
        key = idempotency_key(shop, rma, ActionKind.REFUND, n)
        ended = ledger.ended_refunds.get(key)
        if ended is None or _write(ended) != tonight:
            continue
        released = key in ledger.held_by_plan and disposition is not Disposition.REVIEW
        if not released:
            return n
    return latest + 1


def _write(
    write: tuple[Decimal | None, str | None, Mapping[str, Any]],
) -> tuple[Decimal | None, str | None, dict[str, Any]]:
    """A recorded write without its plan-time context, to compare with tonight's."""
    return write[0], write[1], write_details(write[2])


def _held(ctx: RmaContext, draft: _Draft, order_id: str) -> str:
    """Why recon's refund and restock on the order wait for a human, or ``""``: the order or
    refunds of it could not be read, or a paid refund links to no return (``_HOLDS_ORDER``).

    A hold, not a skip: an intent proposed or approved before it is withdrawn as the planner's,
    so it is planned again once the hold lifts (a skip left it in review for good).
    """
    if ctx.order_test_unknown:
        # A test order moved no money: refunding or restocking it would be a real write.
        return (
            f"order {order_id} was mirrored before recon read Shopify's test flag (Order.test): "
            "nothing is written until the next sync has read it again"
        )
    if ctx.order_unreadable:
        # The mirror's older copy may lack refunds Shopify has: a write could pay or restock twice.
        return (
            f"order {order_id} could not be read (run_recon.py quarantine); nothing is written "
            "until it reads clean"
        )
    listed = ctx.order.refund_ids if ctx.order is not None else ()
    unread = sorted({_tail(r) for r in listed} - {_tail(r) for r in ctx.refund_ids})
    if unread:
        return f"the order has refunds recon could not read: {', '.join(unread)}"
    if order_id in draft.unmatched:
        return "the order has a paid refund linked to no return: " + ", ".join(
            sorted(draft.unmatched[order_id])
        )
    return ""


def _tail(refund_id: str) -> str:
    """The numeric id of a refund (the mirror keeps numeric ids, a gid's tail is the same)."""
    return refund_id.rsplit("/", 1)[-1]


def _restocked_by_refund(draft: _Draft, rma: str, line_item_id: str) -> list[str]:
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


def _plan_restock(
    finding: Finding,
    settings: RemediationSettings,
    contexts: Mapping[str, RmaContext],
    shop: str,
    draft: _Draft,
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
        draft.skipped.append(f"{finding.key}: return, order or line not in the mirror")
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
    held = _held(ctx, draft, order.id)
    for location, ids in sorted(by_location.items(), key=lambda kv: str(kv[0])):
        subject = f"{line_id}@{location}" + ("" if whole else f"/{unit_tag(ids)}")
        action = _restock_action(
            finding, settings, shop, (ret.id, order.id, subject), item, location, ids
        )
        if held:
            action = replace(action, disposition=Disposition.REVIEW, reason=held)
        draft.actions.append(_past_held(action, draft.ledger, shop))


def _past_held(action: PlannedAction, ledger: LedgerFacts, shop: str) -> PlannedAction:
    """The restock under the first key the plan did not hold, unless tonight holds it too.

    A restock the plan sent to review (a refund on the order recon could not read, a missing
    location), when recording it or before sending it, was never sent, and its key stays in
    review for good. When tonight's plan holds it no more, the same units get the next key
    (n + 1), as a refund does (``_refund_n``). So does a key that ended unsent with other
    units: the line's key once named fewer units. Units of a restock that was sent are covered
    before this (``restocked``, ``in_flight``). A restock held tonight takes the line's latest
    key, never a new one: held again, the held key stays the answer (no new intent every
    night), and a key a lifted hold released (proposed, approved) is withdrawn as held, to be
    released again once this hold lifts too (it went to review for good).
    """
    held = action.disposition is Disposition.REVIEW
    n = action.n
    while _passed_over(_key(action, n, shop), action, ledger):
        if held and _key(action, n + 1, shop) not in ledger.states:
            break
        n += 1
    return action if n == action.n else replace(action, n=n, key=_key(action, n, shop))


def _key(action: PlannedAction, n: int, shop: str) -> str:
    return idempotency_key(shop, action.rma, action.kind, n, action.subject)


def _passed_over(key: str, action: PlannedAction, ledger: LedgerFacts) -> bool:
    """Whether a restock key ended unsent in a way tonight's restock does not repeat: the plan
    held it, or it named other units (the line's key once fewer units were past the event),
    or it is still proposed with other units (withdrawn tonight, ``Executor.record``)."""
    unsent = ledger.unsent_restocks.get(key)
    proposed = ledger.proposed.get(key)
    return (
        key in ledger.held_by_plan
        or (unsent is not None and unsent != action.details)
        or (proposed is not None and proposed[2] != action.details)
    )


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
