"""Money-safety review fixes: stale intents, double restocks, per-currency limits, lost writes.

The world is remediation_world's: order 1001 (USD, 100.00 by card), RMA 12345701 owed 48.60 for
one received unit of line 2001, RMA 12345702 owing a restock of line 2002.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from remediation_world import (
    SHOP,
    T0,
    finding,
    make_order,
    make_return,
    settings,
    standard_contexts,
    standard_findings,
)
from run_helpers import TTL, intents, run

from recon.config import RemediationMode
from recon.errors import (
    AuthError,
    FatalHTTPError,
    LockError,
    RetryBudgetExhaustedError,
    RetryExhaustedError,
)
from recon.models import Category, FindingStatus
from recon.remediation.facts import restocked_units
from recon.remediation.ledger import approve, reject
from recon.remediation.limits import check_breaker
from recon.remediation.planner import ActionKind, ActionState, LedgerFacts, RmaContext
from recon.remediation.planner import plan_actions as plan
from recon.remediation.runner import remediate
from recon.remediation.write_inputs import allocate_transactions
from recon.remediation.writes import SuggestedRefund, SuggestedTransaction
from recon.store.snapshot import Snapshot

ORDER = "gid://shopify/Order/1001"
REFUND_701 = [finding(Category.MISSING_REFUND, "12345701")]
RESTOCK_701 = [finding(Category.MISSING_RESTOCK, "12345701", line="2001")]


def _refunds(gateway):
    return gateway.state["orders"][ORDER]["refunds"]


def _approve_all(sessions, ids):
    with sessions() as session, session.begin():
        approve(session, SHOP, list(ids), actor="finance", now=T0)


def _proposed_then_approved(sessions, gateway, clock):
    """Night 1 in approval mode proposes the 48.60 refund; finance approves it the next day."""
    night1 = run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, findings=REFUND_701)
    _approve_all(sessions, night1.recorded)


# --- 1. stale intents -----------------------------------------------------------------------


def test_approved_refund_whose_finding_resolved_is_not_sent(sessions, gateway, clock):
    _proposed_then_approved(sessions, gateway, clock)
    gateway.add_manual_refund("48.60", note="Refund via Loop return")  # the finding resolves
    night2 = run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, findings=[])
    assert [(o.state, o.reason) for o in night2.applied] == [
        ("needs_review", "not sent: finding MISSING_REFUND|rma=12345701 is no longer open")
    ]
    assert len(_refunds(gateway)) == 1  # only the manual one


def test_approved_refund_whose_amount_changed_is_not_sent(sessions, gateway, clock):
    _proposed_then_approved(sessions, gateway, clock)
    contexts = standard_contexts(refund="30.00")  # Loop now owes 30.00, not 48.60
    night2 = run(
        sessions,
        gateway,
        clock,
        mode=RemediationMode.APPROVAL,
        findings=REFUND_701,
        contexts=contexts,
    )
    outcome = night2.applied[0]
    assert outcome.state == "needs_review" and "48.60 USD → 30.00 USD" in outcome.reason
    assert _refunds(gateway) == []


def test_refund_appearing_after_the_plan_stops_the_send(sessions, gateway, clock):
    _proposed_then_approved(sessions, gateway, clock)
    gateway.add_manual_refund("5.00", note="goodwill")  # small: no over-refund to catch it
    night2 = run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, findings=REFUND_701)
    outcome = night2.applied[0]
    assert outcome.state == "needs_review" and "appeared since the plan" in outcome.reason
    assert gateway.refunds_with("Loop RMA") == []


def test_in_flight_refund_is_not_resent_when_a_refund_appeared(sessions, gateway, clock):
    gateway.lose = {"refund"}  # the request never arrived: the intent is unknown
    assert run(sessions, gateway, clock, findings=REFUND_701).applied[0].state == "unknown"
    gateway.add_manual_refund("48.60", note="CX refunded by hand")
    night2 = run(sessions, gateway, clock, findings=REFUND_701, run_id="run-2")
    assert night2.recovered[0].state == "needs_review"
    assert "appeared since the plan" in night2.recovered[0].reason
    assert len([c for c in gateway.calls if c[0] == "refund"]) == 1  # never resent


def test_in_flight_resend_rechecks_the_maximum_refundable(sessions, gateway, clock):
    gateway.lose = {"refund"}
    run(sessions, gateway, clock, findings=REFUND_701)
    gateway.state["orders"][ORDER]["sales"][0]["amount"] = "40.00"  # e.g. a chargeback meanwhile
    night2 = run(sessions, gateway, clock, findings=REFUND_701, run_id="run-2")
    outcome = night2.recovered[0]
    assert outcome.state == "needs_review" and "over-refund on resend" in outcome.reason
    assert len([c for c in gateway.calls if c[0] == "refund"]) == 1


def test_lowered_cap_is_rechecked_when_an_approved_refund_is_sent(sessions, gateway, clock):
    _proposed_then_approved(sessions, gateway, clock)
    policy = settings(auto_apply=[], max_refund_amount={"USD": Decimal("10.00")})
    night2 = run(
        sessions,
        gateway,
        clock,
        mode=RemediationMode.APPROVAL,
        findings=REFUND_701,
        policy=policy,
    )
    assert night2.applied[0].state == "needs_review"
    assert "max_refund_amount 10.00 USD" in night2.applied[0].reason
    assert _refunds(gateway) == []


# --- 2 and 6. restocks ------------------------------------------------------------------------


def _restock_then_refund(sessions, gateway, clock, *, ledger):
    """Night 1: return open, label delivered → restock. Night 2: closed → refund owed, and a
    stale MISSING_RESTOCK still naming the unit (as an engine that missed the ledger would):
    the planner's ledger check, then the executor's, must keep it from a second restock."""
    opened = {"12345701": RmaContext(make_return("12345701", "2001", state="open"), make_order())}
    run(sessions, gateway, clock, findings=RESTOCK_701, contexts=opened)
    stale = REFUND_701 + RESTOCK_701
    return run(sessions, gateway, clock, findings=stale, run_id="run-2", ledger=ledger)


def test_unit_restocked_earlier_is_refunded_without_restock(sessions, gateway, clock):
    night2 = _restock_then_refund(sessions, gateway, clock, ledger=True)
    assert night2.applied[0].state == "done"
    lines = _refunds(gateway)[0]["lines"]
    assert [(x["lineItemId"], x["restockType"]) for x in lines] == [
        ("gid://shopify/LineItem/2001", "NO_RESTOCK")
    ]
    assert gateway.available("3001") == 6  # 5 + the one returned unit, once


def test_executor_refuses_a_refund_that_would_restock_twice(sessions, gateway, clock):
    night2 = _restock_then_refund(sessions, gateway, clock, ledger=False)  # a planner bug
    assert night2.applied[0].state == "needs_review"
    assert "restocked twice" in night2.applied[0].reason
    assert _refunds(gateway) == [] and gateway.available("3001") == 6


def test_refund_found_by_marker_does_not_count_as_restocked(sessions, gateway, clock):
    # Recon's request is lost on the way; CX then refunds by hand with the marker (NO_RESTOCK).
    gateway.lose = {"refund"}
    run(sessions, gateway, clock, findings=REFUND_701 + RESTOCK_701)
    gateway.lose = set()
    gateway.add_manual_refund("48.60", note="Loop RMA #12345701")
    night2 = run(sessions, gateway, clock, findings=REFUND_701 + RESTOCK_701, run_id="run-2")
    assert [o.state for o in night2.recovered] == ["done"]  # the marker: not sent a second time
    assert "already carries" in night2.recovered[0].reason
    with sessions() as session:
        assert restocked_units(session, SHOP) == {}


def test_a_marked_refund_the_plan_already_knew_goes_to_review(sessions, gateway, clock):
    """The order held a refund carrying 701's marker when the refund was planned (declined, or
    its note disputed by Loop's record): it is not recon's write, and the money is owed."""
    gateway.add_manual_refund("0.00", note="Loop RMA #12345701")
    contexts = {
        "12345701": RmaContext(
            make_return("12345701", "2001"), make_order(), refund_ids=(_refunds(gateway)[0]["id"],)
        )
    }
    outcome = run(sessions, gateway, clock, findings=REFUND_701, contexts=contexts).applied[0]
    assert outcome.state == "needs_review" and "someone else wrote it" in outcome.reason
    assert len(_refunds(gateway)) == 1  # nothing sent


def test_a_refund_restocks_only_units_the_engine_found_unrestocked(sessions, gateway, clock):
    """No MISSING_RESTOCK for 701 (Shopify restocked its unit with an earlier zero-money or
    declined refund, or an AMBIGUOUS_RMA holds it back): the refund pays without restocking."""
    assert run(sessions, gateway, clock, findings=REFUND_701).applied[0].state == "done"
    lines = _refunds(gateway)[0]["lines"]
    assert [(x["lineItemId"], x["restockType"]) for x in lines] == [
        ("gid://shopify/LineItem/2001", "NO_RESTOCK")
    ]
    assert gateway.available("3001") == 5  # untouched


def test_a_paid_refund_linked_to_no_return_sends_the_refund_to_review(sessions, gateway, clock):
    """CX refunded 20.00 by hand with no RMA and the heuristic could not tie it: the engine
    raises UNMATCHED_REFUND beside 701's MISSING_REFUND. That refund may be 701's."""
    gateway.add_manual_refund("20.00", note="by hand")
    unmatched = finding(Category.UNMATCHED_REFUND, "12345701").model_copy(
        update={"key": "UNMATCHED_REFUND|refund=500", "rma": None, "shopify_refund_ids": ("500",)}
    )
    run(sessions, gateway, clock, findings=[*REFUND_701, unmatched])
    refund = intents(sessions)[0]
    assert refund.state == "needs_review" and "500 (UNMATCHED_REFUND)" in refund.reason
    assert len(_refunds(gateway)) == 1  # only CX's


def test_a_paid_refund_with_a_mistyped_rma_sends_the_refund_to_review(sessions, gateway, clock):
    """CX refunded 20.00 with the RMA mistyped ("Loop RMA #12354701"): the engine raises
    UNKNOWN_RMA for that refund beside 701's MISSING_REFUND. That refund may be 701's."""
    gateway.add_manual_refund("20.00", note="Loop RMA #12354701")
    unknown = finding(Category.UNKNOWN_RMA, "12345701").model_copy(
        update={"key": "UNKNOWN_RMA|refund=500", "rma": None, "shopify_refund_ids": ("500",)}
    )
    run(sessions, gateway, clock, findings=[*REFUND_701, unknown])
    refund = intents(sessions)[0]
    assert refund.state == "needs_review" and "500 (UNKNOWN_RMA)" in refund.reason
    assert len(_refunds(gateway)) == 1  # only CX's


def test_a_refund_done_by_its_marker_still_covers_its_units_until_the_mirror_has_it():
    """Recon's refund (RETURN) went through but its answer was lost; the next run found it by
    its marker (done), and the ledger cannot say what it restocked. While the mirror lags, the
    engine still raises MISSING_RESTOCK: no second restock may be planned."""
    first = plan(REFUND_701 + RESTOCK_701, settings(), standard_contexts(), shop=SHOP)
    ledger = LedgerFacts(states={first.actions[0].key: ActionState.DONE})
    actions = plan(
        REFUND_701 + RESTOCK_701, settings(), standard_contexts(), shop=SHOP, ledger=ledger
    )
    assert ActionKind.RESTOCK not in [a.kind for a in actions.actions]
    assert any("restocked by the planned refund" in s for s in actions.skipped)


def test_refund_created_by_our_write_counts_as_restocked(sessions, gateway, clock):
    run(sessions, gateway, clock, findings=REFUND_701 + RESTOCK_701)
    with sessions() as session:
        assert restocked_units(session, SHOP) == {("12345701", "2001"): ("L2001",)}
        created = next(r["id"] for r in _refunds(gateway) if "12345701" in (r.get("note") or ""))
        # Once the mirror holds that refund, the engine reads its lines: the ledger must not
        # count the same unit a second time.
        mirrored = {created.rsplit("/", 1)[-1]}
        assert restocked_units(session, SHOP, mirrored_refunds=mirrored) == {}


# --- 7. restock not skipped for a refund that will never be sent ------------------------------


@pytest.mark.parametrize(
    "state", [ActionState.REJECTED, ActionState.NEEDS_REVIEW, ActionState.FAILED]
)
def test_restock_is_planned_when_the_refund_intent_ended_unsent(state):
    refund_key = plan(REFUND_701, settings(), standard_contexts(), shop=SHOP).actions[0].key
    ledger = LedgerFacts(states={refund_key: state})
    actions = plan(
        REFUND_701 + RESTOCK_701, settings(), standard_contexts(), shop=SHOP, ledger=ledger
    )
    assert [a.kind for a in actions.actions] == [ActionKind.REFUND, ActionKind.RESTOCK]


def test_restock_is_planned_when_the_refund_goes_to_review():
    policy = settings(max_refund_amount={"USD": Decimal("10.00")})
    actions = plan(REFUND_701 + RESTOCK_701, policy, standard_contexts(), shop=SHOP).actions
    assert [(a.kind, a.disposition.value) for a in actions] == [
        (ActionKind.REFUND, "review"),
        (ActionKind.RESTOCK, "auto"),
    ]


# --- 3. limits per currency -------------------------------------------------------------------


def test_refund_in_a_currency_without_a_cap_goes_to_review():
    contexts = {
        "12345701": RmaContext(
            make_return("12345701", "2001", currency="KWD"), make_order("KWD", "KWD")
        )
    }
    action = plan(REFUND_701, settings(), contexts, shop=SHOP).actions[0]
    assert (action.disposition.value, action.reason) == ("review", "no max_refund_amount for KWD")


@pytest.mark.parametrize(
    ("amounts", "tripped"),
    [
        ([("4000", "USD"), ("4000", "EUR")], None),  # each under its own limit: never summed
        ([("4000", "USD"), ("4600", "EUR")], "max_run_total 4500.00 EUR"),
        ([("10", "KWD")], "no max_run_total for KWD"),
    ],
)
def test_run_total_is_per_currency(amounts, tripped):
    policy = settings(max_run_total={"USD": Decimal("5000"), "EUR": Decimal("4500")})
    verdict = check_breaker([(Decimal(a), c) for a, c in amounts], policy)
    assert verdict is None if tripped is None else tripped in (verdict or "")


@pytest.mark.parametrize(
    ("amounts", "limits", "fix"),
    [
        ([("5000.01", "USD")], {}, "[remediation] max_run_total is raised"),
        ([("1.00", "USD")] * 3, {"max_run_count": 2}, "[remediation] max_run_count is raised"),
        ([("1.00", "JPY")], {}, "[remediation] max_run_total names JPY"),
    ],
)
def test_the_breaker_says_it_is_all_or_nothing_and_what_to_do(amounts, limits, fix):
    """A night over the breaker is held on every run (no later run sends part of it) until
    someone rejects some of its writes or changes the setting: the reason says both."""
    policy = settings(max_run_total={"USD": Decimal("5000")}, **limits)
    verdict = check_breaker([(Decimal(a), c) for a, c in amounts], policy)
    assert verdict is not None and verdict.endswith(
        "; all or nothing, none of them was sent: every run holds them until some are "
        "rejected (run_recon.py actions list, then run_recon.py actions reject ID... "
        "--reason TEXT) or " + fix
    )


# --- 4. acknowledged findings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "recorded"), [(FindingStatus.OPEN, 1), (FindingStatus.ACKNOWLEDGED, 0)]
)
def test_acknowledged_findings_are_not_remediated(sessions, clock, status, recorded):
    found = REFUND_701[0].model_copy(update={"status": status})
    ctx = standard_contexts()["12345701"]
    report = remediate(
        sessions,
        None,
        settings(),
        clock,
        shop=SHOP,
        findings=[found],
        snapshot=Snapshot(returns=(ctx.loop_return,), orders=(ctx.order,)),
        lease=None,
        run_id="r1",
    )
    assert len(report.recorded) == recorded


def _acknowledge_when(point: str, sessions, finding, status=FindingStatus.ACKNOWLEDGED):
    """A crash hook that does not crash: at ``point`` a human acknowledges ``finding`` (or a
    later run resolves it), as ``findings ack`` would in another process mid-run."""
    from recon.store.tables import FindingRow

    def hook(name: str) -> None:
        if name == point:
            done = finding.model_copy(update={"status": status, "acknowledged_by": "cli:ann"})
            with sessions() as session, session.begin():
                session.merge(
                    FindingRow(
                        key=finding.key,
                        category=finding.category.value,
                        status=status.value,
                        acknowledged=status is FindingStatus.ACKNOWLEDGED,
                        payload=done.model_dump(mode="json"),
                    )
                )

    return hook


@pytest.mark.parametrize(
    "status", [FindingStatus.ACKNOWLEDGED, FindingStatus.RESOLVED, FindingStatus.LEFT_OUT]
)
def test_a_refund_acknowledged_after_it_was_planned_is_not_sent(sessions, gateway, clock, status):
    """Finance refunded by hand and acknowledged the MISSING_REFUND while tonight's run, which
    had planned it from the findings as they were, was applying: the run paid it again. The
    finding is read again where the intent is marked sending."""
    refund = standard_findings()[0]
    hook = _acknowledge_when("after_intent_commit", sessions, refund, status)
    run(sessions, gateway, clock, crash=hook)
    assert gateway.refunds_with("Loop RMA #12345701") == []
    (row,) = [r for r in intents(sessions) if r.finding_key == refund.key]
    assert row.state == ActionState.NEEDS_REVIEW
    assert status.value in (row.reason or "")
    # The other findings' writes went out as planned.
    assert gateway.state["orders"]["gid://shopify/Order/1001"]["tags"] == ["recon:loop-closed"]


# --- 5. tender allocation ---------------------------------------------------------------------


def _suggested(*splits):
    transactions = tuple(
        SuggestedTransaction(gw, f"gid://shopify/OrderTransaction/{i}", Decimal(a), Decimal(m))
        for i, (gw, a, m) in enumerate(splits)
    )
    top = sum((t.maximum_refundable for t in transactions), Decimal(0))
    return SuggestedRefund("USD", "USD", Decimal(0), Decimal(0), top, transactions)


@pytest.mark.parametrize(
    ("loop_amount", "expected"),
    [
        ("50.00", [("gift_card", "15.00"), ("shopify_payments", "35.00")]),  # Shopify's split
        ("60.00", [("gift_card", "25.00"), ("shopify_payments", "35.00")]),  # top up in order
        ("40.00", [("gift_card", "15.00"), ("shopify_payments", "25.00")]),  # never above Loop
    ],
)
def test_allocation_follows_shopify_suggested_split(loop_amount, expected):
    suggested = _suggested(("gift_card", "15.00", "30.00"), ("shopify_payments", "35.00", "70.00"))
    sent = allocate_transactions(ORDER, Decimal(loop_amount), suggested)
    assert [(t["gateway"], t["amount"]) for t in sent] == expected


# --- 9. cancelling held intents ---------------------------------------------------------------


def test_intent_held_by_the_breaker_can_be_rejected(sessions, gateway, clock):
    held = run(sessions, gateway, clock, findings=REFUND_701, policy=settings(max_run_count=0))
    assert held.halted is not None
    with sessions() as session, session.begin():
        reject(session, SHOP, list(held.recorded), actor="finance", now=T0, reason="paid by hand")
    run(sessions, gateway, clock, findings=REFUND_701, run_id="run-2")
    assert [r.state for r in intents(sessions)] == ["rejected"] and gateway.calls == []


# --- 10 and 11. unknown outcomes ---------------------------------------------------------------


def test_refund_idempotency_user_error_is_unknown_then_resolved(sessions, gateway, clock):
    message = "A request with this idempotency key is currently in progress"
    gateway.user_errors["refund"] = {"field": None, "message": message}
    assert run(sessions, gateway, clock, findings=REFUND_701).applied[0].state == "unknown"
    night2 = run(sessions, gateway, clock, findings=REFUND_701, run_id="run-2")
    assert night2.recovered[0].state == "done"
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1


@pytest.mark.parametrize("error", [FatalHTTPError("400 bad"), RetryExhaustedError("503 x5")])
def test_transport_errors_on_a_write_are_unknown_and_the_run_goes_on(
    sessions, gateway, clock, error
):
    gateway.raise_next["refund"] = error
    report = run(sessions, gateway, clock)
    assert [o.state for o in report.applied] == ["unknown", "done", "done"]
    assert str(error) in report.applied[0].reason


@pytest.mark.parametrize(
    "error",
    [
        AuthError("401 token revoked"),
        # The run's retry budget for Shopify is spent: the run stops rather than try every
        # remaining intent once more against a failing API (the next run resumes them).
        RetryBudgetExhaustedError("shopify: this run's retry budget is spent"),
    ],
)
def test_auth_error_on_a_write_is_recorded_and_stops_the_run(sessions, gateway, clock, error):
    gateway.raise_next["refund"] = error
    with pytest.raises(type(error)):
        run(sessions, gateway, clock)
    assert [r.state for r in intents(sessions)] == ["unknown", "planned", "planned"]
    assert [c[0] for c in gateway.calls] == ["refund"]


def test_a_spent_retry_budget_on_a_read_before_a_write_stops_the_run(sessions, gateway, clock):
    def spent(order_gid: str) -> object:
        raise RetryBudgetExhaustedError("shopify: this run's retry budget is spent")

    gateway.order_refunds = spent
    with pytest.raises(RetryBudgetExhaustedError):
        run(sessions, gateway, clock)
    assert [r.state for r in intents(sessions)] == ["planned", "planned", "planned"]
    assert [c[0] for c in gateway.calls] == []


# --- 12. lease renewal ------------------------------------------------------------------------


def test_long_run_renews_its_lease_before_each_write(sessions, gateway, clock):
    gateway.on_write = lambda: clock.advance(TTL * 0.6)  # each write is slow
    run(sessions, gateway, clock, renew=True)
    assert [r.state for r in intents(sessions)] == ["done", "done", "done"]


def test_without_renewal_a_long_run_stops_writing(sessions, gateway, clock):
    gateway.on_write = lambda: clock.advance(TTL * 0.6)
    with pytest.raises(LockError, match="expired"):
        run(sessions, gateway, clock, renew=False)
    assert len(gateway.calls) == 2


def test_failed_renewal_stops_writing(sessions, gateway, clock):
    from recon.lock import RunLock

    def takeover():
        clock.advance(TTL + timedelta(seconds=1))
        RunLock(sessions, clock).acquire(SHOP, "run-b", TTL)

    gateway.on_write = takeover
    with pytest.raises(LockError):
        run(sessions, gateway, clock, renew=True)
    assert len(gateway.calls) == 1
    assert [r.state for r in intents(sessions)][1:] == ["planned", "planned"]


def test_a_refund_recon_could_not_read_sends_the_refund_to_review() -> None:
    """The order lists a refund the mirror lacks (quarantined): that may be the 'missing' one."""
    from dataclasses import replace

    from remediation_world import SHOP, settings, standard_contexts, standard_findings

    from recon.remediation.planner import Disposition, plan_actions

    contexts = standard_contexts()
    rma, ctx = next((k, c) for k, c in contexts.items() if c.order is not None)
    order = ctx.order.model_copy(update={"refund_ids": (*ctx.order.refund_ids, "999000111")})
    contexts = {**contexts, rma: replace(ctx, order=order)}
    policy = settings(auto_apply=["MISSING_REFUND"])
    plan = plan_actions(standard_findings(), policy, contexts, shop=SHOP)
    refund = next(a for a in plan.actions if a.kind == "refund" and a.rma == rma)
    assert refund.disposition == Disposition.REVIEW
    assert "could not read: 999000111" in refund.reason


def test_a_refund_recon_could_not_read_sends_the_restock_to_review() -> None:
    """A quarantined refund with restockType RETURN may have put the unit back already:
    restocking it again would show stock the shelf does not have."""
    from dataclasses import replace

    from remediation_world import SHOP, settings, standard_contexts, standard_findings

    from recon.remediation.planner import Disposition, plan_actions

    contexts = standard_contexts()
    ctx = contexts["12345702"]
    assert ctx.order is not None
    order = ctx.order.model_copy(update={"refund_ids": (*ctx.order.refund_ids, "999000111")})
    contexts = {**contexts, "12345702": replace(ctx, order=order)}
    plan = plan_actions(standard_findings(), settings(), contexts, shop=SHOP)
    restock = next(a for a in plan.actions if a.kind == "restock" and a.rma == "12345702")
    assert restock.disposition == Disposition.REVIEW
    assert "could not read: 999000111" in restock.reason


def test_a_held_restock_is_proposed_again_once_the_hold_lifts() -> None:
    """The restock was recorded straight into review (a refund on the order could not be
    read). Once that refund is read and did not restock the unit, the restock is proposed
    under the next key; while the hold stands, the held intent stays the only one."""
    from dataclasses import replace

    from remediation_world import SHOP, settings, standard_contexts, standard_findings

    from recon.remediation.actions import ActionState, LedgerFacts
    from recon.remediation.planner import Disposition, plan_actions

    contexts = standard_contexts()
    ctx = contexts["12345702"]
    assert ctx.order is not None
    order = ctx.order.model_copy(update={"refund_ids": (*ctx.order.refund_ids, "999000111")})
    held_contexts = {**contexts, "12345702": replace(ctx, order=order)}
    first = plan_actions(standard_findings(), settings(), held_contexts, shop=SHOP)
    held = next(a for a in first.actions if a.kind == "restock" and a.rma == "12345702")
    ledger = LedgerFacts(
        states={held.key: ActionState.NEEDS_REVIEW}, held_by_plan=frozenset({held.key})
    )

    still = plan_actions(standard_findings(), settings(), held_contexts, shop=SHOP, ledger=ledger)
    again = next(a for a in still.actions if a.kind == "restock" and a.rma == "12345702")
    assert (again.key, again.disposition) == (held.key, Disposition.REVIEW)

    lifted = plan_actions(standard_findings(), settings(), contexts, shop=SHOP, ledger=ledger)
    restock = next(a for a in lifted.actions if a.kind == "restock" and a.rma == "12345702")
    assert restock.disposition != Disposition.REVIEW
    assert (restock.n, restock.subject, restock.details["units"]) == (
        2,
        held.subject,
        held.details["units"],
    )
    assert restock.key != held.key


def test_a_paid_refund_naming_this_return_on_another_order_sends_the_refund_to_review():
    """CX refunded 48.60 on order #1009 with the note "Loop RMA #12345701", a return of order
    #1001 (refunded on the wrong order): the engine leaves 701 owed (MISSING_REFUND) and raises
    UNKNOWN_RMA on #1009 naming 12345701. That money may be 701's: paying 701 again on #1001
    would refund the customer twice."""
    from recon.remediation.planner import Disposition

    elsewhere = finding(Category.UNKNOWN_RMA, "12345701").model_copy(
        update={
            "key": "UNKNOWN_RMA|refund=500",
            "shopify_order_id": "1009",
            "shopify_refund_ids": ("500",),
        }
    )
    actions = plan([*REFUND_701, elsewhere], settings(), standard_contexts(), shop=SHOP).actions
    (refund,) = [a for a in actions if a.kind is ActionKind.REFUND]
    assert refund.disposition is Disposition.REVIEW
    assert "500 (UNKNOWN_RMA)" in refund.reason


@pytest.mark.parametrize("category", [Category.UNKNOWN_RMA, Category.UNMATCHED_REFUND])
def test_a_paid_refund_linked_to_no_return_sends_the_restock_to_review(category):
    """CX refunded 701 by hand (note "Loop RMA #12354701", RMA mistyped, or no RMA) and put its
    unit back (restockType RETURN). The engine cannot link that refund, so it counts no restock
    and raises MISSING_RESTOCK for 701's unit beside the hold: restocking it would count the
    unit twice."""
    from recon.remediation.planner import Disposition

    unlinked = finding(category, "12345701").model_copy(
        update={"key": f"{category.value}|refund=500", "rma": None, "shopify_refund_ids": ("500",)}
    )
    findings = [*REFUND_701, *RESTOCK_701, unlinked]
    actions = plan(findings, settings(), standard_contexts(), shop=SHOP).actions
    (restock,) = [a for a in actions if a.kind is ActionKind.RESTOCK]
    assert restock.disposition is Disposition.REVIEW
    assert f"500 ({category.value})" in restock.reason
