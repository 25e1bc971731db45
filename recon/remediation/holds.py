"""Remediation planning (pure): which disposition a planned write gets, and why it is held.

A write is applied unattended (``auto_apply``), waits for approval, or is held for review: a
currency mismatch, the per-refund cap, an order or refund recon could not read, or a paid
refund on the order that links to no return (UNMATCHED_REFUND, UNKNOWN_RMA). A hold is not a
skip: an intent proposed or approved before is withdrawn as the planner's and planned again
once the hold lifts. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from recon.config import RemediationSettings
from recon.models import Category, Finding, LoopReturnRecord, OrderRecord
from recon.remediation.actions import Disposition, RmaContext
from recon.remediation.limits import refund_cap_reason

# Findings of a paid refund that links to no return: refunds on their order wait for a human.
HOLDS_ORDER = frozenset({Category.UNMATCHED_REFUND, Category.UNKNOWN_RMA})


def held_orders(finding: Finding, contexts: Mapping[str, RmaContext]) -> set[str]:
    """Orders whose refunds a finding of ``HOLDS_ORDER`` holds back: the refund's own, and for
    an UNKNOWN_RMA naming a return of another order, that return's order (the refund may be
    its money, refunded on the wrong order)."""
    if finding.category not in HOLDS_ORDER:
        return set()
    held = {finding.shopify_order_id} if finding.shopify_order_id else set()
    named = contexts.get(finding.rma or "") if finding.category is Category.UNKNOWN_RMA else None
    if named is not None:
        held.add(named.order.id if named.order else named.loop_return.provider_order_id or "")
    return held - {""}


def policy(category: Category, settings: RemediationSettings) -> Disposition:
    """Unattended for a category in ``auto_apply``, else waiting for approval."""
    return Disposition.AUTO if category.value in settings.auto_apply else Disposition.APPROVAL


def refund_policy(
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
    return policy(category, settings), ""


def test_flag_hold(ctx: RmaContext, order_id: str) -> str:
    """Why nothing at all is written to the order, or ``""``: Shopify answered null for it (its
    test flag can never be read, and a write would fail), or recon does not know yet whether
    it is a Shopify test order (a test order moved no money: a refund, restock or tag to it
    would be a real write)."""
    if ctx.order_not_visible:
        return (
            f"order {order_id} is not visible in Shopify (nodes(ids:) answered null: deleted, "
            "or older than 60 days without read_all_orders): nothing is written to it; recon "
            "asks for it again when its Loop return changes, or after [sync] "
            "not_visible_recheck_days (a backfill over its dates reads it too)"
        )
    if ctx.order_test_unknown:
        return (
            f"order {order_id} was mirrored before recon read Shopify's test flag (Order.test): "
            "nothing is written until the next sync has read it again"
        )
    return ""


def hold_reason(ctx: RmaContext, unmatched: Mapping[str, Sequence[str]], order_id: str) -> str:
    """Why recon's refund and restock on the order wait for a human, or ``""``: its test flag
    is unknown, the order, the return (its details) or refunds of the order could not be read,
    or a paid refund links to no return (``HOLDS_ORDER``; ``unmatched`` maps such orders to
    "<refund id> (<category>)").

    A hold, not a skip: an intent proposed or approved before it is withdrawn as the planner's,
    so it is planned again once the hold lifts (a skip left it in review for good).
    """
    flag = test_flag_hold(ctx, order_id)
    if flag:
        return flag
    if ctx.order_unreadable:
        # The mirror's older copy may lack refunds Shopify has: a write could pay or restock twice.
        return (
            f"order {order_id} could not be read (run_recon.py quarantine); nothing is written "
            "until it reads clean"
        )
    if ctx.return_unreadable:
        # Loop's list lacked the refund link and Get Return Details could not be read: a refund
        # Loop made is then linked to nothing, and the finding may call a paid return unpaid
        # (its restockType RETURN uncounted). Never pay or restock again on that guess.
        return (
            f"Loop return {ctx.loop_return.id} could not be read in full (run_recon.py "
            "quarantine): its Get Return Details are unread, so its refund link is unknown and "
            "a refund Loop made may be the one missing; nothing is written until a read links "
            "or clears it (recon asks again)"
        )
    listed = ctx.order.refund_ids if ctx.order is not None else ()
    unread = sorted({refund_tail(r) for r in listed} - {refund_tail(r) for r in ctx.refund_ids})
    if unread:
        return f"the order has refunds recon could not read: {', '.join(unread)}"
    if order_id in unmatched:
        return "the order has a paid refund linked to no return: " + ", ".join(
            sorted(unmatched[order_id])
        )
    return ""


def refund_tail(refund_id: str) -> str:
    """The numeric id of a refund (the mirror keeps numeric ids, a gid's tail is the same)."""
    return refund_id.rsplit("/", 1)[-1]
