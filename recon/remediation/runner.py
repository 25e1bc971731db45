"""Remediation inside a run: plan from findings, record intents, apply under the run lease."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import RemediationMode, RemediationSettings
from recon.interrupt import Interrupt
from recon.lock import Lease
from recon.models import CLOSED_STATUSES, Finding, FindingStatus, OrderRecord
from recon.remediation.actions import NEVER_SENT
from recon.remediation.daily import answer_lost
from recon.remediation.executor import ApplyReport, Executor
from recon.remediation.facts import (
    ledger_facts,
    never_run,
    planned_again,
    restocked_units,
    stale_refusals,
)
from recon.remediation.history import actions_as_of
from recon.remediation.ledger import ActionView, list_actions
from recon.remediation.planner import RmaContext, plan_actions
from recon.remediation.preview import limits_preview
from recon.remediation.trail import PLANNED_AGAIN_STATUS, not_run
from recon.remediation.views import report_row
from recon.remediation.writes import GraphQLGateway
from recon.store.snapshot import Snapshot

# Resolved (or left out) findings need nothing; acknowledged ones a human has taken over.
_NOT_REMEDIATED = CLOSED_STATUSES | {FindingStatus.ACKNOWLEDGED}


def gateway_for(shopify: Any) -> GraphQLGateway:
    """The Shopify write port over ``ShopifyClient.execute`` (keyword ``write``)."""

    def execute(document: str, variables: dict[str, Any], write: bool) -> dict[str, Any]:
        result: dict[str, Any] = shopify.execute(document, variables, write=write)
        return result

    return GraphQLGateway(execute)


def contexts_for(snapshot: Snapshot, *, include_test_orders: bool = False) -> dict[str, RmaContext]:
    """Each RMA with its Loop return, its Shopify order and the refunds recon can read for it.

    A refund with an open quarantine entry is left out though the mirror holds an older copy:
    Shopify's refund could not be read since (a bad transaction, say), so the planner holds
    recon's writes on the order as for a refund never read, until a clean read resolves it.
    So does an order with an open entry (its refunds past what ``Order.refunds`` lists, say):
    its mirrored copy may lack refunds Shopify has. So does an order mirrored before recon read
    ``Order.test`` (``test`` None), unless test orders are reconciled (``include_test_orders``),
    and one Shopify answered null for by id (``Snapshot.not_visible``: deleted, or out of sight).
    So does a Loop return with an open entry (its Get Return Details unread, so its refund link
    unknown: a refund Loop made may be linked to nothing), for that return's writes.
    """
    orders = {o.id: o for o in snapshot.orders}
    refunds: dict[str, list[str]] = {}
    for refund in snapshot.refunds:
        if ("refund", refund.id) not in snapshot.unreadable:
            refunds.setdefault(refund.order_id, []).append(refund.id)
    return {
        r.id: RmaContext(
            loop_return=r,
            order=orders.get(r.provider_order_id or ""),
            refund_ids=tuple(refunds.get(r.provider_order_id or "", ())),
            order_unreadable=("order", r.provider_order_id or "") in snapshot.unreadable,
            order_test_unknown=_test_unknown(orders.get(r.provider_order_id or ""))
            and not include_test_orders,
            order_not_visible=(r.provider_order_id or "") in snapshot.not_visible,
            return_unreadable=("return", r.id) in snapshot.unreadable,
        )
        for r in snapshot.returns
    }


def _test_unknown(order: OrderRecord | None) -> bool:
    return order is not None and order.test is None


def remediate(
    sessions: Callable[[], Session],
    shopify: Any,
    settings: RemediationSettings,
    clock: Clock,
    *,
    shop: str,
    findings: Iterable[Finding],
    snapshot: Snapshot,
    lease: Lease | None,
    run_id: str,
    renew: Callable[[Lease], Lease] | None = None,
    include_test_orders: bool = False,
    timezone: str = "UTC",
    interrupt: Interrupt | None = None,
) -> ApplyReport:
    """Plan actions for the open findings and record/apply them per ``settings.mode``.

    Acknowledged findings are left alone like resolved ones. ``renew`` extends the run lease
    before each write (see ``Executor``). ``include_test_orders`` (``[engine]``) lets recon
    write to Shopify test orders; otherwise an order whose flag is unknown is held and one
    Shopify says is a test order gets nothing. ``timezone`` (``[shop]``) is whose day the daily
    limits count. In plan mode nothing is sent and nothing halted: the report's ``preview``
    says whether the per-run and daily limits would hold an apply run now, with the figures.
    When ``interrupt`` is requested (a signal), the write in flight is finished and no other
    is started (the report's ``left``).

    Raises:
        LockError: the run's lease was taken over, or could not be renewed, before a write.
        AuthError: Shopify refused our credentials during a write.
        RetryBudgetExhaustedError: the run's retry budget for Shopify was spent (a read or a
            write that did not run); the intents left wait for the next run.
    """
    open_findings = [f for f in findings if f.status not in _NOT_REMEDIATED]
    with sessions() as session:
        ledger = ledger_facts(session, shop)
    contexts = contexts_for(snapshot, include_test_orders=include_test_orders)
    plan = plan_actions(open_findings, settings, contexts, shop=shop, ledger=ledger)
    executor = Executor(
        sessions,
        gateway_for(shopify),
        settings,
        clock,
        shop=shop,
        renew=renew,
        include_test_orders=include_test_orders,
        timezone=timezone,
        interrupt=interrupt,
    )
    report = executor.run(plan, settings.mode, lease, run_id)
    if settings.mode is not RemediationMode.PLAN:
        return report
    # Nothing is sent, so nothing is halted: say instead what the limits would do in apply mode.
    with sessions() as session:
        found = limits_preview(
            session, plan, ledger, settings, shop=shop, now=clock.now(), timezone=timezone
        )
    return replace(report, halted=None, preview=found.lines, held=found.held)


def action_rows(sessions: Callable[[], Session], shop: str) -> list[dict[str, Any]]:
    """Every intent of the shop as plain rows for the reports (the audit trail has no cap)."""
    with sessions() as session:
        return _report_rows(session, list_actions(session, shop))


def action_rows_as_of(
    sessions: Callable[[], Session], shop: str, as_of: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The intents created before ``as_of``, each in its state then, and those created since,
    as report rows (see ``history.actions_as_of``)."""
    with sessions() as session:
        views, later = actions_as_of(session, shop, as_of)
        return _report_rows(session, views, as_of), _report_rows(session, later)


# Before the reason of a throttled resend whose earlier send got no answer (``_ran_maybe``).
EARLIER_SEND_UNKNOWN = "outcome unknown: an earlier send got no answer and may have gone through"


def _report_rows(
    session: Session, views: list[ActionView], before: datetime | None = None
) -> list[dict[str, Any]]:
    """``report_row`` of each intent, as the trail stood ``before`` (None: now).

    An intent that ended (refused, sent to review) after a send whose answer was lost may have
    landed: Shopify may hold the refund or the restock, and the daily limits count it as moved
    (``daily.answer_lost``). Its row keeps what was sent (``sent_amount``) and says the outcome
    is unknown; it showed no amount, as if nothing had gone out, to a controller summing the
    column against Shopify.
    """
    ended = [view.id for view in views if view.state in NEVER_SENT]
    lost = answer_lost(session, ended, before)
    again = planned_again(views, stale_refusals(session, views))
    rows = [report_row(view, may_have_landed=view.id in lost) for view in views]
    for row in rows:
        if row["id"] in lost:
            row["reason"] = f"{EARLIER_SEND_UNKNOWN}; then {row['reason']}"
        if row["id"] in again:
            row["status"] = PLANNED_AGAIN_STATUS
    return _ran_maybe(session, rows, before)


def _ran_maybe(
    session: Session, rows: list[dict[str, Any]], before: datetime | None = None
) -> list[dict[str, Any]]:
    """The rows, a throttled resend's reason prefixed when an earlier send may have run.

    A row's latest reason says ``NOT_RUN`` when the last send was throttled until the run gave
    up; the reports then call the write "not run, nothing written" (``trail.not_run``). If an
    earlier send got no answer (a lost answer, a 5xx), it may have landed (a restock back on the
    shelf): the trail decides (``facts.never_run``), and such a row reads as outcome unknown.
    """
    for row in rows:
        if not_run(row["status"], row.get("reason")) and not never_run(session, row["id"], before):
            row["reason"] = f"{EARLIER_SEND_UNKNOWN}; then {row['reason']}"
    return rows


def ledger_restocks(
    sessions: Callable[[], Session],
    shop: str,
    mirrored_refunds: AbstractSet[str],
    before: datetime | None = None,
) -> dict[tuple[str, str], tuple[str, ...]]:
    """Units recon restocked per (rma, line item), for the engine's stock rules (refunds in
    the mirror left out: the engine reads their lines); only those done before ``before``."""
    with sessions() as session:
        return restocked_units(session, shop, mirrored_refunds=mirrored_refunds, before=before)
