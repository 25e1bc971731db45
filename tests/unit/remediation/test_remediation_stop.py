"""A signal during remediation: nothing more changes after it, and the run's message says what
remediation did (writes done, held by the limits, not started, or plan mode's nothing sent)."""

from __future__ import annotations

import signal
from datetime import timedelta

import pytest
from fakes import FakeGateway
from remediation_world import settings, standard_findings
from run_helpers import SimulatedCrashError, assert_done_exactly_once, crash_once_at, intents, run

from recon.config import RemediationMode
from recon.interrupt import Interrupt
from recon.models import Category
from recon.remediation.ledger import events
from recon.remediation.writes import OrderRefunds
from recon.service import stopped_in_remediation


class _SignalDuringReread(FakeGateway):
    """SIGTERM arrives while recon re-reads the order of the refund a killed run left in
    flight (the first thing an apply run does)."""

    def __init__(self, interrupt: Interrupt) -> None:
        super().__init__()
        self.interrupt = interrupt

    def order_refunds(self, order_gid: str) -> OrderRefunds:
        self.interrupt.request(signal.SIGTERM)
        return super().order_refunds(order_gid)


def _without_restock_of_702() -> list:
    """Tonight's findings: 702's unit was restocked by hand, so its restock is stale."""
    return [
        f
        for f in standard_findings()
        if not (f.category == Category.MISSING_RESTOCK and f.rma == "12345702")
    ]


def test_a_stale_intent_is_not_withdrawn_after_a_stop(sessions, gateway, clock) -> None:
    """The last run died with the refund in flight. Tonight 702's restock is no longer called
    for, and SIGTERM arrives during the refund's re-read: the run changes nothing more, so the
    restock is not withdrawn tonight (the next run withdraws it)."""
    with pytest.raises(SimulatedCrashError):
        run(sessions, gateway, clock, crash=crash_once_at("after_mark_sending"))
    clock.advance(timedelta(minutes=11))
    restock = next(r for r in intents(sessions) if r.kind == "restock" and r.rma == "12345702")
    with sessions() as session:
        before = len(events(session, restock.id))
    interrupt = Interrupt()
    signalled = _SignalDuringReread(interrupt)
    signalled.state = gateway.state
    findings = _without_restock_of_702()
    report = run(sessions, signalled, clock, run_id="run-2", findings=findings, interrupt=interrupt)

    states = {(r.kind, r.rma): r.state for r in intents(sessions)}
    assert states[("restock", "12345702")] == "planned", states
    with sessions() as session:
        assert len(events(session, restock.id)) == before  # not even a note
    assert report.applied == () and (report.left, report.stale_left) == (2, 1)
    assert signalled.calls == []
    run(sessions, gateway, clock, run_id="run-3", findings=findings)
    states = {(r.kind, r.rma): r.state for r in intents(sessions)}
    assert states[("restock", "12345702")] == "needs_review"  # withdrawn by the next run


def test_a_run_held_by_the_limits_and_stopped_says_they_were_held(sessions, gateway, clock) -> None:
    """The circuit breaker held tonight's 3 writes; SIGTERM came as remediation ended. The
    message says the limits held them, not that 0 were not started."""
    report = run(sessions, gateway, clock, policy=settings(max_run_count=1))
    assert report.halted and gateway.calls == []
    message = stopped_in_remediation(report, RemediationMode.APPLY)
    assert "0 not started" not in message, message
    assert "the limits held 3 write(s)" in message, message
    assert "max_run_count 1" in message, message  # the limit's own reason
    assert "0 write(s) done" in message, message


def test_a_stop_after_every_write_was_sent_says_none_was_left(sessions, gateway, clock) -> None:
    report = run(sessions, gateway, clock)
    assert_done_exactly_once(sessions, gateway)
    message = stopped_in_remediation(report, RemediationMode.APPLY)
    assert "3 write(s) done and recorded" in message, message
    assert "not started" not in message and "none was left to start" in message, message


def test_a_stop_in_plan_mode_says_nothing_is_sent(sessions, gateway, clock) -> None:
    report = run(sessions, gateway, clock, mode=RemediationMode.PLAN)
    message = stopped_in_remediation(report, RemediationMode.PLAN)
    assert "not started" not in message and "write(s) done" not in message, message
    assert "plan mode" in message and "3 intent(s) recorded" in message, message


def test_a_stale_intent_is_not_counted_as_waiting_for_the_next_run(
    sessions, gateway, clock
) -> None:
    with pytest.raises(SimulatedCrashError):
        run(sessions, gateway, clock, crash=crash_once_at("after_mark_sending"))
    clock.advance(timedelta(minutes=11))
    interrupt = Interrupt()
    signalled = _SignalDuringReread(interrupt)
    signalled.state = gateway.state
    report = run(
        sessions, signalled, clock, run_id="run-2", findings=_without_restock_of_702(),
        interrupt=interrupt,
    )  # fmt: skip
    message = stopped_in_remediation(report, RemediationMode.APPLY)
    # In flight: 701's refund (resent next run); planned: 701's restock (sent next run) and
    # 702's restock (stale: withdrawn next run, never sent).
    assert "2 not started" in message, message
    assert "1 no longer called for (the next run withdraws them to review" in message, message


def _ledger(sessions) -> list[tuple[str, str, str, int]]:
    """Every intent as (kind, rma, state, how many events it has): what a stop must not move."""
    with sessions() as session:
        return [(r.kind, r.rma, r.state, len(events(session, r.id))) for r in intents(sessions)]


def test_a_stop_before_recording_leaves_the_proposals_as_they_were(
    sessions, gateway, clock
) -> None:
    """Last night (approval mode) proposed 701's refund, 702's restock and the tag. Tonight
    702's unit was restocked by hand, so its proposal is no longer called for; SIGTERM landed
    after the run's last check and before remediation recorded tonight's plan. Nothing is
    recorded and nothing superseded (the next run does it), and the message says so."""
    run(sessions, gateway, clock, mode=RemediationMode.APPROVAL)
    before = _ledger(sessions)
    assert {state for _, _, state, _ in before} == {"proposed"}
    interrupt = Interrupt()
    interrupt.request(signal.SIGTERM)
    report = run(
        sessions, gateway, clock, mode=RemediationMode.APPROVAL, run_id="run-2",
        findings=_without_restock_of_702(), interrupt=interrupt,
    )  # fmt: skip

    assert _ledger(sessions) == before
    message = stopped_in_remediation(report, RemediationMode.APPROVAL)
    assert "nothing was recorded" in message, message
    assert "write(s) done and recorded" not in message, message


def test_a_stop_before_recording_records_and_sends_nothing(sessions, gateway, clock) -> None:
    interrupt = Interrupt()
    interrupt.request(signal.SIGTERM)
    report = run(sessions, gateway, clock, interrupt=interrupt)
    assert intents(sessions) == [] and gateway.calls == []
    message = stopped_in_remediation(report, RemediationMode.APPLY)
    assert "nothing was recorded" in message, message
    assert "write(s) done and recorded" not in message, message


def test_a_stop_before_recording_in_plan_mode_records_no_intent(sessions, gateway, clock) -> None:
    interrupt = Interrupt()
    interrupt.request(signal.SIGTERM)
    report = run(sessions, gateway, clock, mode=RemediationMode.PLAN, interrupt=interrupt)
    assert intents(sessions) == []
    message = stopped_in_remediation(report, RemediationMode.PLAN)
    assert "nothing was recorded" in message and "intent(s) recorded" not in message, message
