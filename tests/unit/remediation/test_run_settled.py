"""What a run tells the report and console about its own writes (``ApplyReport.settled``)."""

from __future__ import annotations

from remediation_world import standard_findings
from run_helpers import intents, run


def test_a_refund_shopify_refused_is_this_runs_failure_and_not_the_next_runs(
    sessions, gateway, clock
):
    """Finance hears of a refused refund from the run that sent it (never retried); the next
    run sends nothing and reports no failure of its own."""
    gateway.user_errors["refund"] = {"field": ["orderId"], "message": "Order is archived"}
    first = run(sessions, gateway, clock, findings=standard_findings()[:1])
    (refund,) = intents(sessions)
    assert first.failed == frozenset({refund.id})
    assert first.settled == {refund.id: "failed"}
    second = run(sessions, gateway, clock, run_id="run-2", findings=standard_findings()[:1])
    assert second.failed == frozenset() and second.settled == {}


def test_writes_applied_are_counted_per_run(sessions, gateway, clock):
    first = run(sessions, gateway, clock)
    assert sorted(first.settled.values()) == ["done", "done", "done"]
    assert run(sessions, gateway, clock, run_id="run-2").settled == {}
