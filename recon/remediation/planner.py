"""Remediation planning (pure): findings + policy + per-RMA data → proposed actions, stable keys.

The entry point: it reads what tonight's findings hold back, plans each finding's write
(``owed``: refund, restock, annotate; ``holds``: why one waits for a human; ``succession``:
which key it takes) and checks the unattended ones against the run's circuit breaker.
DESIGN decisions 8 and 9. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from recon.config import RemediationSettings
from recon.models import Category, Finding

# The vocabulary lives in actions.py; re-exported here, where callers have always found it.
from recon.remediation.actions import TERMINAL_STATES as TERMINAL_STATES
from recon.remediation.actions import ActionKind as ActionKind
from recon.remediation.actions import ActionState as ActionState
from recon.remediation.actions import Disposition as Disposition
from recon.remediation.actions import LedgerFacts as LedgerFacts
from recon.remediation.actions import Plan as Plan
from recon.remediation.actions import PlannedAction as PlannedAction
from recon.remediation.actions import RmaContext as RmaContext
from recon.remediation.actions import idempotency_key as idempotency_key
from recon.remediation.holds import held_orders

# Re-exported: callers know the limits as part of planning.
from recon.remediation.limits import check_breaker as check_breaker
from recon.remediation.limits import refund_cap_reason as refund_cap_reason
from recon.remediation.owed import Draft, plan_annotate, plan_refund, plan_restock
from recon.remediation.units import finding_line


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
    draft = Draft(ledger or LedgerFacts())
    for finding in ordered:
        line = finding_line(finding)
        if finding.category is Category.MISSING_RESTOCK and finding.rma and line:
            draft.unrestocked[(finding.rma, line)] = frozenset(finding.loop_line_item_ids)
        for order_id in held_orders(finding, contexts):
            ids = draft.unmatched.setdefault(order_id, [])
            ids.extend(
                f"{refund} ({finding.category.value})" for refund in finding.shopify_refund_ids
            )
    for finding in ordered:
        if finding.category is Category.MISSING_REFUND:
            plan_refund(finding, settings, contexts, shop, draft)
        elif finding.category is Category.MISSING_RESTOCK:
            plan_restock(finding, settings, contexts, shop, draft)
        elif finding.category is Category.STATUS_DRIFT:
            plan_annotate(finding, settings, contexts, shop, draft)
    auto = [(a.amount, a.currency) for a in draft.actions if a.disposition is Disposition.AUTO]
    breaker = check_breaker(auto, settings)
    keys = frozenset(f.key for f in ordered)
    return Plan(tuple(draft.actions), tuple(draft.skipped), breaker, keys)
