"""Who approved an intent, as the reports and ``actions list`` show it, is the person who did.

An approved intent the circuit breaker (or a daily limit) held gets a note on its trail each
run, with the run as its actor and the state left ``approved``: the reports' ``approved_by`` read
any event into ``approved``, so after one held run the Actions sheet said the run had approved
it (found by review). Only a change into ``approved`` (or ``rejected``) is a decision.

Dataset: remediation_world's MISSING_REFUND of RMA 12345701 (48.60 USD), proposed in approval
mode, approved by alice@finance, then held by a run (a ``note``, as ``Executor._hold`` writes).
"""

from __future__ import annotations

from datetime import timedelta

from remediation_world import SHOP, T0, finding
from run_helpers import run

from recon.config import RemediationMode
from recon.models import Category
from recon.remediation.history import actions_as_of
from recon.remediation.ledger import ActionRow, approve, list_actions, note

REFUND = finding(Category.MISSING_REFUND, "12345701")


def test_a_held_approved_intent_is_still_approved_by_its_approver(sessions, gateway, clock):
    first = run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, findings=[REFUND])
    (action_id,) = first.recorded
    with sessions() as session, session.begin():
        approve(session, SHOP, [action_id], actor="alice@finance", now=T0,
                reason="checked in Loop")  # fmt: skip
    held_at = T0 + timedelta(hours=1)
    with sessions() as session, session.begin():
        row = session.get_one(ActionRow, action_id)
        note(session, row, actor="recon", now=held_at, reason="circuit breaker: over the limit")
    with sessions() as session:
        (view,) = list_actions(session, SHOP)
        (then,), _ = actions_as_of(session, SHOP, held_at + timedelta(minutes=1))
    assert (view.state, view.approved_by) == ("approved", "alice@finance")
    assert then.approved_by == "alice@finance"
    assert view.decision_reason == then.decision_reason == "checked in Loop"
