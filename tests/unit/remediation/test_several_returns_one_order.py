"""Several returns on one order: recon's refund of one RMA is not another RMA's "manual" refund.

The world is remediation_world's order 1001 (USD, 100.00 by card): RMA 12345701 returned line
2001 and is owed 40.00, RMA 12345703 returned line 2002 and is owed 30.00; neither is paid.
"""

from __future__ import annotations

from remediation_world import SHOP, T0, FakeGateway, finding, make_order, make_return
from run_helpers import intents, run

from recon.config import RemediationMode
from recon.models import Category
from recon.remediation.ledger import approve
from recon.remediation.planner import RmaContext
from recon.remediation.writes import GraphQLGateway

ORDER = "gid://shopify/Order/1001"


def _two_returns() -> tuple[dict[str, RmaContext], list]:
    order = make_order()
    contexts = {
        "12345701": RmaContext(make_return("12345701", "2001", refund="40.00"), order),
        "12345703": RmaContext(make_return("12345703", "2002", refund="30.00"), order),
    }
    findings = [
        finding(Category.MISSING_REFUND, "12345701"),
        finding(Category.MISSING_REFUND, "12345703"),
    ]
    return contexts, findings


def test_a_lost_answer_on_one_returns_refund_does_not_hold_the_others(sessions, gateway, clock):
    """701's refund lands but its answer is lost (a 502): the refund on the order carries 701's
    marker and 701's intent is in flight, so it is recon's own write, not a manual refund of
    703's money. 703 is paid in the same run; the next run finds 701's refund by its marker."""
    contexts, findings = _two_returns()
    gateway.drop.add("refund")
    run(sessions, gateway, clock, contexts=contexts, findings=findings)
    by_rma = {row.rma: row for row in intents(sessions)}
    assert by_rma["12345701"].state == "unknown"
    assert by_rma["12345703"].state == "done", by_rma["12345703"].reason
    run(sessions, gateway, clock, contexts=contexts, findings=findings, run_id="run-2")
    assert [row.state for row in intents(sessions)] == ["done", "done"]
    refunds = gateway.state["orders"][ORDER]["refunds"]
    assert sorted((r["note"], r["amount"]) for r in refunds) == [
        ("Loop RMA #12345701", "40.00"),
        ("Loop RMA #12345703", "30.00"),
    ]


def test_a_refund_carrying_another_rmas_marker_not_in_flight_still_holds(sessions, gateway, clock):
    """A refund carrying 701's marker that recon did not send (701 has no intent in flight:
    someone wrote it by hand) still sends 703's refund to review: it may be 703's money."""
    contexts, findings = _two_returns()
    gateway.add_manual_refund("30.00", note="Loop RMA #12345701")
    run(sessions, gateway, clock, contexts=contexts, findings=findings[1:])
    (row,) = intents(sessions)
    assert row.state == "needs_review" and "appeared since the plan" in row.reason


class _NoSuggestionFor703(FakeGateway):
    """Shopify answers ``suggestedRefund: null`` (the field is nullable) for 703's lines only,
    parsed by the real GraphQLGateway."""

    def suggested_refund(self, order_gid, lines):
        if lines[0]["lineItemId"].endswith("/2002"):
            answer = {
                "order": {
                    "id": order_gid,
                    "currencyCode": "USD",
                    "presentmentCurrencyCode": "USD",
                    "suggestedRefund": None,
                }
            }
            return GraphQLGateway(lambda *_: answer).suggested_refund(order_gid, lines)
        return super().suggested_refund(order_gid, lines)


def test_an_unreadable_suggestion_for_one_refund_does_not_stop_the_run(sessions, clock):
    """A null or malformed ``suggestedRefund`` crashed the run (no report, every night): that
    refund now goes to review naming the order, and the other return's refund is sent."""
    gateway = _NoSuggestionFor703()
    contexts, findings = _two_returns()
    run(sessions, gateway, clock, contexts=contexts, findings=findings)
    by_rma = {row.rma: row for row in intents(sessions)}
    assert by_rma["12345701"].state == "done"
    assert by_rma["12345703"].state == "needs_review"
    assert "order gid://shopify/Order/1001" in by_rma["12345703"].reason
    assert "suggestedRefund" in by_rma["12345703"].reason
    assert len(gateway.refunds_with("Loop RMA #12345703")) == 0


def test_a_refund_the_order_can_no_longer_pay_does_not_claim_a_manual_refund(
    sessions, gateway, clock
):
    """Order 1001 took 100.00; recon refunds 701's 60.00, and 703's 50.00 is more than the
    40.00 left. 703's refund goes to review saying so and naming the refunds on the order,
    not "refunded manually meanwhile": no one refunded 703, and finance acknowledging its
    MISSING_REFUND on that word would leave the customer unpaid."""
    order = make_order()
    contexts = {
        "12345701": RmaContext(make_return("12345701", "2001", refund="60.00"), order),
        "12345703": RmaContext(make_return("12345703", "2002", refund="50.00"), order),
    }
    findings = [
        finding(Category.MISSING_REFUND, "12345701"),
        finding(Category.MISSING_REFUND, "12345703"),
    ]
    run(sessions, gateway, clock, contexts=contexts, findings=findings)
    by_rma = {row.rma: row for row in intents(sessions)}
    assert by_rma["12345701"].state == "done"
    ours = by_rma["12345701"].result_id
    held = by_rma["12345703"]
    assert held.state == "needs_review"
    assert "manually" not in held.reason
    assert "over-refund" in held.reason and "maximum refundable 40.00" in held.reason
    assert f"{ours} (recon's, RMA 12345701)" in held.reason


def test_an_approved_refund_is_sent_though_loop_paid_another_return_since(sessions, gateway, clock):
    """Night 1 proposes 703's refund (approval mode) and finance approves it. Before night 2,
    Loop pays 701 on the same order (its own refund, no recon marker, linked to 701 by Loop).
    Night 2's mirror knows that refund and its findings still say 703 is owed, as a plan made
    tonight would: the approved refund is sent, where it went to review for good as
    "refunded manually meanwhile" and 703's customer waited for a human."""
    contexts, findings = _two_returns()
    night1 = run(
        sessions, gateway, clock, mode=RemediationMode.APPROVAL, contexts=contexts,
        findings=findings[1:],
    )  # fmt: skip
    with sessions() as session, session.begin():
        approve(session, SHOP, list(night1.recorded), actor="finance", now=T0)
    gateway.add_manual_refund("40.00", note="Loop return 12345701")
    paid = gateway.state["orders"][ORDER]["refunds"][0]["id"]
    order = make_order()
    tonight = {
        rma: RmaContext(ctx.loop_return, order, refund_ids=(paid.rsplit("/", 1)[-1],))
        for rma, ctx in contexts.items()
    }
    run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, contexts=tonight,
        findings=findings[1:], run_id="run-2")  # fmt: skip
    (row,) = intents(sessions)
    assert row.state == "done", row.reason
    assert len(gateway.refunds_with("Loop RMA #12345703")) == 1


def test_a_refund_appearing_after_tonights_sync_still_stops_the_send(sessions, gateway, clock):
    """A refund on the order that tonight's mirror does not know (it appeared after the sync)
    still sends an approved refund to review: no one has looked at it yet."""
    contexts, findings = _two_returns()
    night1 = run(
        sessions, gateway, clock, mode=RemediationMode.APPROVAL, contexts=contexts,
        findings=findings[1:],
    )  # fmt: skip
    with sessions() as session, session.begin():
        approve(session, SHOP, list(night1.recorded), actor="finance", now=T0)
    gateway.add_manual_refund("30.00", note="goodwill")
    run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, contexts=contexts,
        findings=findings[1:], run_id="run-2")  # fmt: skip
    (row,) = intents(sessions)
    assert row.state == "needs_review" and "appeared since the plan" in row.reason


def test_a_lost_refund_is_resent_though_loop_paid_another_return_since(sessions, gateway, clock):
    """703's refund is lost on its way (it never arrived); before the next night Loop pays 701
    on the same order. The next run's re-read finds no refund of 703's and tonight's findings
    have read Loop's: 703's refund is resent with its key, not sent to review for good."""
    contexts, findings = _two_returns()
    gateway.lose.add("refund")
    run(sessions, gateway, clock, contexts=contexts, findings=findings[1:])
    assert [row.state for row in intents(sessions)] == ["unknown"]
    gateway.add_manual_refund("40.00", note="Loop return 12345701")
    paid = gateway.state["orders"][ORDER]["refunds"][0]["id"].rsplit("/", 1)[-1]
    tonight = {
        rma: RmaContext(ctx.loop_return, make_order(), refund_ids=(paid,))
        for rma, ctx in contexts.items()
    }
    run(sessions, gateway, clock, contexts=tonight, findings=findings[1:], run_id="run-2")
    (row,) = intents(sessions)
    assert row.state == "done", row.reason
    assert len(gateway.refunds_with("Loop RMA #12345703")) == 1
