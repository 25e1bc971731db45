"""Executor behaviour: one write per intent across crashes, dropped responses and re-runs."""

from __future__ import annotations

import json
import signal
from datetime import timedelta
from decimal import Decimal

import pytest
from fakes import FakeGateway
from remediation_world import SHOP, make_order, make_return, settings, standard_findings
from run_helpers import (
    SimulatedCrashError,
    assert_done_exactly_once,
    crash_once_at,
    intents,
    run,
)

from recon.config import RemediationMode
from recon.errors import LockError
from recon.interrupt import Interrupt
from recon.remediation.crash import CRASH_POINTS
from recon.remediation.ledger import approve, events, list_actions, reject
from recon.remediation.planner import ActionState, RmaContext
from recon.remediation.writes import OrderRefunds


def test_apply_fixes_everything_once_and_rerun_writes_nothing(sessions, gateway, clock):
    run(sessions, gateway, clock)
    assert_done_exactly_once(sessions, gateway)
    writes = len(gateway.calls)
    run(sessions, gateway, clock, run_id="run-2")
    assert_done_exactly_once(sessions, gateway)
    assert len(gateway.calls) == writes  # nothing left to do, nothing sent


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_at_every_point_then_rerun_applies_exactly_once(sessions, gateway, clock, point):
    with pytest.raises(SimulatedCrashError):
        run(sessions, gateway, clock, crash=crash_once_at(point))
    clock.advance(timedelta(minutes=11))  # the crashed run's lease expires
    run(sessions, gateway, clock, holder="run-b", run_id="run-2")
    assert_done_exactly_once(sessions, gateway)


def test_a_run_whose_intent_another_run_finished_stops_as_on_a_lost_lease(sessions, gateway, clock):
    """Run A marks the refund sending and stalls past its lease; run B takes over and finishes
    it; A's request then goes out (same key: one refund) and A stops with LockError instead of
    failing on the finished intent."""

    def stall(point: str) -> None:
        if point == "after_mark_sending" and not stalled:
            stalled.append(point)
            clock.advance(timedelta(minutes=11))  # A's lease expires
            run(sessions, gateway, clock, holder="run-b", run_id="run-b")

    stalled: list[str] = []
    with pytest.raises(LockError, match="taken over"):
        run(sessions, gateway, clock, crash=stall)
    run(sessions, gateway, clock, holder="run-c", run_id="run-c")
    assert_done_exactly_once(sessions, gateway)


def test_dropped_responses_end_unknown_then_resolve_without_second_write(sessions, gateway, clock):
    gateway.drop = {"refund", "adjust", "tags"}
    report = run(sessions, gateway, clock)
    assert [o.state for o in report.applied] == ["unknown", "unknown", "unknown"]
    report = run(sessions, gateway, clock, run_id="run-2")
    assert [o.state for o in report.recovered] == ["done", "done", "done"]
    assert "already carries" in report.recovered[0].reason  # found by the RMA note, not resent
    assert_done_exactly_once(sessions, gateway)


def test_lost_request_is_resent_with_same_key_and_variables(sessions, gateway, clock):
    gateway.lose = {"refund", "adjust"}
    run(sessions, gateway, clock)
    run(sessions, gateway, clock, run_id="run-2")
    assert_done_exactly_once(sessions, gateway)
    for kind in ("refund", "adjust"):
        sent = [(key, variables) for k, key, variables in gateway.calls if k == kind]
        assert len(sent) == 2 and sent[0] == sent[1]


def test_stored_variables_keep_money_as_strings(sessions, gateway, clock):
    run(sessions, gateway, clock)
    refund = intents(sessions)[0]
    transactions = refund.variables["input"]["transactions"]
    assert transactions == [
        {
            "orderId": "gid://shopify/Order/1001",
            "kind": "REFUND",
            "gateway": "shopify_payments",
            "amount": "48.60",
            "parentId": "gid://shopify/OrderTransaction/9001",
        }
    ]
    assert refund.variables["input"]["note"] == "Loop RMA #12345701"
    assert refund.amount == "48.60"
    assert "float" not in json.dumps(refund.variables, default=lambda v: type(v).__name__)
    restock = intents(sessions)[1].variables["input"]
    assert restock["changes"][0]["changeFromQuantity"] == 7
    assert restock["referenceDocumentUri"] == "gid://recon/LoopReturn/12345702"


def _only_refund(sessions, gateway, clock, **kwargs):
    findings = standard_findings()[:1]
    return run(sessions, gateway, clock, findings=findings, **kwargs).applied[0]


def test_refunded_manually_meanwhile_goes_to_review(sessions, gateway, clock):
    gateway.add_manual_refund("60.00", note="customer service goodwill")
    outcome = _only_refund(sessions, gateway, clock)
    assert outcome.state == "needs_review"
    assert "refunded manually meanwhile" in outcome.reason
    assert gateway.refunds_with("Loop RMA") == []


def test_over_refund_goes_to_review(sessions, gateway, clock):
    gateway.state["orders"]["gid://shopify/Order/1001"]["sales"][0]["amount"] = "40.00"
    outcome = _only_refund(sessions, gateway, clock)
    assert outcome.state == "needs_review" and "over-refund" in outcome.reason
    assert "40.00" in outcome.reason


def test_refund_someone_else_marked_goes_to_review_without_writing(sessions, gateway, clock):
    """Recon has not sent this refund, so a refund carrying its marker is someone else's: it may
    have moved no money (findings still say 48.60 is owed). A human decides."""
    gateway.add_manual_refund("48.60", note="Loop RMA #12345701")
    outcome = _only_refund(sessions, gateway, clock)
    assert outcome.state == "needs_review" and "someone else wrote it" in outcome.reason
    assert not [c for c in gateway.calls if c[0] == "refund"]


def test_marker_of_a_longer_rma_does_not_count(sessions, gateway, clock):
    gateway.add_manual_refund("10.00", note="Loop RMA #123457019")
    # The other RMA's refund was there when the plan was made (the mirror knows it).
    known = gateway.state["orders"]["gid://shopify/Order/1001"]["refunds"][0]["id"]
    contexts = {
        "12345701": RmaContext(make_return("12345701", "2001"), make_order(), refund_ids=(known,))
    }
    outcome = _only_refund(sessions, gateway, clock, contexts=contexts)
    assert outcome.state == "done"
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 2  # the other RMA's and ours


def test_live_currency_mismatch_goes_to_review(sessions, gateway, clock):
    order = gateway.state["orders"]["gid://shopify/Order/1001"]
    order["currency"] = order["presentment"] = "EUR"
    outcome = _only_refund(sessions, gateway, clock)
    assert outcome.state == "needs_review" and "currency mismatch" in outcome.reason


def test_refund_is_issued_in_presentment_currency(sessions, gateway, clock):
    order = gateway.state["orders"]["gid://shopify/Order/1001"]
    order["presentment"] = "CAD"
    contexts = {
        "12345701": RmaContext(
            make_return("12345701", "2001", currency="CAD"), make_order("USD", "CAD")
        )
    }
    cad = {"max_refund_amount": {"CAD": Decimal("500")}, "max_run_total": {"CAD": Decimal("500")}}
    _only_refund(sessions, gateway, clock, contexts=contexts, policy=settings(**cad))
    variables = intents(sessions)[0].variables["input"]
    assert variables["currency"] == "CAD"
    assert variables["transactions"][0]["amount"] == "48.60"


def test_user_errors_fail_with_shopify_message_and_are_not_retried(sessions, gateway, clock):
    gateway.user_errors["refund"] = {"field": ["orderId"], "message": "Order is archived"}
    outcome = _only_refund(sessions, gateway, clock)
    assert outcome.state == "failed" and "Order is archived" in outcome.reason
    _only_refund_rerun = run(
        sessions, gateway, clock, run_id="run-2", findings=standard_findings()[:1]
    )
    assert _only_refund_rerun.applied == () and _only_refund_rerun.recovered == ()
    assert len([c for c in gateway.calls if c[0] == "refund"]) == 1


def test_stale_change_from_quantity_goes_to_review_without_blind_retry(sessions, gateway, clock):
    """Not resent in the run Shopify refused it in: the next run plans it again
    (test_stale_restock_replanned.py)."""
    gateway.move_stock_after_read = -1  # a sale lands between our read and our write
    report = run(sessions, gateway, clock)
    restock = report.applied[1]
    assert restock.state == "needs_review" and "refused as stale" in restock.reason
    assert gateway.available("3002") == 6  # only the other sale moved stock
    assert len([c for c in gateway.calls if c[0] == "adjust"]) == 1


def test_circuit_breaker_applies_nothing_and_says_why(sessions, gateway, clock):
    report = run(sessions, gateway, clock, policy=settings(max_run_count=2))
    assert report.halted is not None and "max_run_count 2" in report.halted
    assert gateway.calls == []
    rows = intents(sessions)
    assert {r.state for r in rows} == {"planned"}
    with sessions() as session:
        assert "circuit breaker" in events(session, rows[0].id)[-1].reason


def test_plan_mode_records_proposals_and_sends_nothing(sessions, gateway, clock):
    report = run(sessions, gateway, clock, mode=RemediationMode.PLAN)
    assert len(report.recorded) == 3 and report.applied == ()
    assert gateway.calls == []
    assert {r.state for r in intents(sessions)} == {"proposed"}


def test_approval_flow_applies_only_approved(sessions, gateway, clock):
    run(sessions, gateway, clock, mode=RemediationMode.APPROVAL)
    with sessions() as session, session.begin():
        listed = list_actions(session, SHOP, [ActionState.PROPOSED])
        assert [a.kind for a in listed] == ["refund", "restock", "annotate"]
        approve(
            session,
            SHOP,
            [listed[0].id],
            actor="alice@finance",
            now=clock.now(),
            reason="checked with the customer",
        )
        reject(session, SHOP, [listed[2].id], actor="bob@cx", now=clock.now(), reason="not needed")
    report = run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, run_id="run-2")
    assert [(o.kind, o.state) for o in report.applied] == [("refund", "done")]
    assert [r.state for r in intents(sessions)] == ["done", "proposed", "rejected"]
    with sessions() as session:
        trail = [(e.from_state, e.to_state, e.actor) for e in events(session, listed[0].id)]
    assert trail == [
        (None, "proposed", "planner"),
        ("proposed", "approved", "alice@finance"),
        ("approved", "sending", "recon"),
        ("sending", "done", "recon"),
    ]


def test_over_cap_refund_is_recorded_for_review_not_sent(sessions, gateway, clock):
    report = run(
        sessions, gateway, clock, policy=settings(max_refund_amount={"USD": Decimal("10.00")})
    )
    refund = intents(sessions)[0]
    assert refund.state == "needs_review" and "max_refund_amount" in refund.reason
    # The refund waits for a human, so both units are restocked on their own.
    assert [o.kind for o in report.applied] == ["restock", "restock", "annotate"]
    assert not [c for c in gateway.calls if c[0] == "refund"]


def test_plan_then_apply_promotes_auto_apply_proposals(sessions, gateway, clock):
    run(sessions, gateway, clock, mode=RemediationMode.PLAN)
    run(sessions, gateway, clock, run_id="run-2")
    assert_done_exactly_once(sessions, gateway)


@pytest.mark.parametrize("change", ["turned into store credit", "refund lowered"])
def test_an_interrupted_refund_loop_no_longer_owes_is_not_resent(
    sessions, gateway, clock, change: str
) -> None:
    """The run died with the refund marked sending, before the request went out. By the next
    night Loop no longer owes 48.60: the re-read finds no refund, and the resend would be a new
    payment decision against tonight's plan, so the intent goes to review, nothing is sent."""
    with pytest.raises(SimulatedCrashError):
        run(sessions, gateway, clock, crash=crash_once_at("after_mark_sending"))
    clock.advance(timedelta(minutes=11))
    if change == "turned into store credit":
        findings = [f for f in standard_findings() if f.category != "MISSING_REFUND"]
        contexts = None
    else:
        findings = standard_findings()
        order = make_order()
        contexts = {
            "12345701": RmaContext(make_return("12345701", "2001", refund="24.30"), order),
            "12345702": RmaContext(make_return("12345702", "2002", refund="30.00"), order),
        }
    run(sessions, gateway, clock, run_id="run-2", findings=findings, contexts=contexts)
    assert gateway.refunds_with("Loop RMA #12345701") == []
    refund = intents(sessions)[0]
    assert (refund.kind, refund.state) == ("refund", "needs_review")
    assert refund.reason.startswith("not resent:")


class _SignalDuringReads(FakeGateway):
    """A gateway whose reads before a write take long enough for SIGTERM to arrive (a 5xx
    retried with back-off): the signal lands while the first refund is being prepared."""

    def __init__(self, interrupt: Interrupt) -> None:
        super().__init__()
        self.interrupt = interrupt

    def order_refunds(self, order_gid: str) -> OrderRefunds:
        self.interrupt.request(signal.SIGTERM)
        return super().order_refunds(order_gid)

    def order_test(self, order_gid: str) -> bool:
        self.interrupt.request(signal.SIGTERM)
        return super().order_test(order_gid)


def test_a_signal_during_the_reads_before_a_write_sends_nothing(sessions, clock) -> None:
    """SIGTERM arrives while recon re-reads the order before its first refund. That write had
    not started: nothing may be sent after the stop (systemd's SIGKILL follows), and every
    intent stays for the next run."""
    interrupt = Interrupt()
    gateway = _SignalDuringReads(interrupt)
    report = run(sessions, gateway, clock, interrupt=interrupt)

    assert gateway.calls == []  # the fake records every write it is sent
    assert report.applied == () and report.left == len(intents(sessions))
    assert {row.state for row in intents(sessions)} == {"planned"}
    after = FakeGateway(gateway.state)  # the next night, no signal: each write once
    run(sessions, after, clock, run_id="run-2")
    assert_done_exactly_once(sessions, after)


def test_a_signal_during_the_reread_of_a_write_left_in_flight_resends_nothing(
    sessions, gateway, clock
) -> None:
    """The last run died with the refund marked sending. Tonight SIGTERM arrives while recon
    re-reads the order for it: the refund is not resent; it stays in flight for the next run's
    recovery, which sends it once."""
    with pytest.raises(SimulatedCrashError):
        run(sessions, gateway, clock, crash=crash_once_at("after_mark_sending"))
    clock.advance(timedelta(minutes=11))
    interrupt = Interrupt()
    signalled = _SignalDuringReads(interrupt)
    signalled.state = gateway.state
    report = run(sessions, signalled, clock, run_id="run-2", interrupt=interrupt)

    assert signalled.calls == [] and report.recovered == ()
    assert intents(sessions)[0].state == "sending"
    run(sessions, gateway, clock, run_id="run-3")
    assert_done_exactly_once(sessions, gateway)
