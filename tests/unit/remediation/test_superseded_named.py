"""A superseded intent names the intent that replaced it, wherever someone meets it.

Finance approving the 48.60 refund they were mailed about, after Loop lowered it to 30.00, was
refused ("action 1 is needs_review; only proposed can be decided", exit 2) with no word of the
30.00 intent waiting for them, and ``actions list`` showed the 48.60 one as ``needs_review``, as
if it waited for someone (found by review). The refusal now names the replacement (its id, its
state, what changed) and the listing marks it superseded. Nothing of it is ever sent.

Dataset: ``remediation_world``'s return 12345701, 48.60 USD owed (MISSING_REFUND), approval
mode; night 2 Loop lowers the refund to 30.00.
"""

from __future__ import annotations

import pytest
from remediation_world import SHOP, T0, finding, standard_contexts
from run_helpers import intents, run

from recon.config import RemediationMode
from recon.errors import RemediationError
from recon.models import Category
from recon.remediation.ledger import approve, list_actions, reject
from recon.remediation.supersession import superseded_by

APPROVAL = RemediationMode.APPROVAL
REFUND = finding(Category.MISSING_REFUND, "12345701")


def _lowered(sessions, gateway, clock) -> tuple[int, int]:
    """Night 1 proposes 48.60; night 2 (Loop says 30.00) supersedes it: (stale id, current id)."""
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    lowered = standard_contexts(refund="30.00")
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=lowered, run_id="2")
    stale, current = [r for r in intents(sessions) if r.kind == "refund"]
    assert (stale.state, current.state) == ("needs_review", "proposed")
    return stale.id, current.id


@pytest.mark.parametrize("decide", [approve, reject])
def test_deciding_a_superseded_intent_names_its_replacement(sessions, gateway, clock, decide):
    stale, current = _lowered(sessions, gateway, clock)
    with sessions() as session, session.begin(), pytest.raises(RemediationError) as refused:
        decide(session, SHOP, [stale], actor="finance", now=T0, reason="checked")
    said = str(refused.value)
    assert f"action {stale} was superseded by action {current} (proposed)" in said, said
    assert "48.60 USD → 30.00 USD" in said, said  # what changed
    verb = "approve" if decide is approve else "reject"
    assert f"{verb} {current} instead" in said, said
    with sessions() as session:
        states = {view.id: view.state for view in list_actions(session, SHOP)}
    assert states == {stale: "needs_review", current: "proposed"}  # nothing was decided


def test_the_listing_marks_a_superseded_intent_and_names_its_replacement(sessions, gateway, clock):
    stale, current = _lowered(sessions, gateway, clock)
    with sessions() as session:
        found = superseded_by(session, SHOP)
    assert list(found) == [stale]
    assert (found[stale].by, found[stale].by_state) == (current, "proposed")
    assert found[stale].change == "amount 48.60 USD → 30.00 USD", found[stale]


def test_a_replacement_superseded_in_turn_is_followed_to_the_latest(sessions, gateway, clock):
    """48.60, then 30.00, then 25.00: the first names its replacement and the intent to act on."""
    first, second = _lowered(sessions, gateway, clock)
    again = standard_contexts(refund="25.00")
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=again, run_id="3")
    third = max(r.id for r in intents(sessions))
    with sessions() as session, session.begin(), pytest.raises(RemediationError) as refused:
        approve(session, SHOP, [first], actor="finance", now=T0)
    said = str(refused.value)
    assert f"superseded by action {second} (needs_review)" in said, said
    assert f"approve {third} instead" in said, said


def test_an_intent_sent_then_reviewed_is_never_called_superseded(sessions, gateway, clock):
    """Review after a send (the answer unclear) is not replaced, whatever came after: a
    later intent for the same break does not make it one no one needs to look at."""
    stale, _ = _lowered(sessions, gateway, clock)
    with sessions() as session, session.begin():
        from recon.remediation.ledger import ActionEventRow

        session.add(
            ActionEventRow(action_id=stale, at=T0, from_state="needs_review",
                           to_state="sending", actor="test", reason="")
        )  # fmt: skip
    with sessions() as session:
        assert superseded_by(session, SHOP) == {}


def test_what_changed_prints_amounts_as_the_report_does(sessions, gateway, clock):
    """``amount 1,048.60 USD → 30.00 USD`` (``actions list``, the refusal to decide it):
    thousands grouped, as the listing's amounts and the report's money read."""
    big = standard_contexts(refund="1048.60")
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=big)
    lowered = standard_contexts(refund="30.00")
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=lowered, run_id="2")
    stale, _ = [r for r in intents(sessions) if r.kind == "refund"]
    with sessions() as session:
        found = superseded_by(session, SHOP)
    assert found[stale.id].change == "amount 1,048.60 USD → 30.00 USD", found[stale.id]
