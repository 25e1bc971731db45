"""A refund intent that ended without writing is proposed again when tonight calls for another
write, or when the planner's hold on it is lifted; a proposed intent no longer owed is superseded.
"""

from __future__ import annotations

import dataclasses

from remediation_world import SHOP, T0, finding, settings, standard_contexts
from run_helpers import intents, run

from recon.config import RemediationMode
from recon.models import Category
from recon.remediation.actions import RmaContext
from recon.remediation.ledger import approve, reject

APPROVAL, APPLY = RemediationMode.APPROVAL, RemediationMode.APPLY
REFUND = finding(Category.MISSING_REFUND, "12345701")
UNMATCHED = finding(Category.UNMATCHED_REFUND, "12345701").model_copy(
    update={"key": "UNMATCHED_REFUND|refund=9001", "rma": None, "shopify_refund_ids": ("9001",)}
)


def states(sessions) -> list[tuple[str, str | None]]:
    return [(r.state, r.amount) for r in intents(sessions) if r.kind == "refund"]


def test_acknowledging_the_unmatched_refund_releases_the_held_refund(sessions, gateway, clock):
    """Night 1 holds the refund (a paid refund on the order is linked to no return). Finance
    checks it and acknowledges the UNMATCHED_REFUND (remediation then leaves it out): the next
    night plans the refund afresh, and apply mode pays it, once."""
    policy = settings(auto_apply=["MISSING_REFUND"])
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND, UNMATCHED], policy=policy)
    assert states(sessions) == [("needs_review", "48.60")]
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=policy, run_id="run-2")
    assert states(sessions) == [("needs_review", "48.60"), ("done", "48.60")]
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=policy, run_id="run-3")
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1  # no third intent, no 2nd pay


def test_after_a_stale_approval_the_corrected_amount_is_proposed(sessions, gateway, clock):
    """48.60 was approved, then Loop lowered the refund to 30.00: the approved intent goes to
    review unsent, and the 30.00 refund is proposed for finance to approve."""
    first = run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    with sessions() as session, session.begin():
        approve(session, SHOP, list(first.recorded), actor="finance", now=T0)
    lowered = standard_contexts(refund="30.00")
    for night in ("run-2", "run-3"):
        run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=lowered,
            run_id=night)  # fmt: skip
    assert states(sessions) == [("needs_review", "48.60"), ("proposed", "30.00")]
    assert gateway.refunds_with("Loop RMA #12345701") == []


def test_a_proposed_refund_no_longer_owed_is_superseded(sessions, gateway, clock):
    """Proposed 48.60; Loop then says 30.00: finance is no longer asked to approve 48.60, and
    is asked to approve 30.00 the same night (not the night after)."""
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    lowered = standard_contexts(refund="30.00")
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=lowered, run_id="2")
    stale, current = [r for r in intents(sessions) if r.kind == "refund"]
    assert stale.reason.startswith("superseded:") and current.key != stale.key
    assert states(sessions) == [("needs_review", "48.60"), ("proposed", "30.00")]  # same night
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=lowered, run_id="3")
    assert states(sessions) == [("needs_review", "48.60"), ("proposed", "30.00")]
    run(sessions, gateway, clock, mode=APPROVAL, findings=[], run_id="4")  # refunded by hand
    assert states(sessions) == [("needs_review", "48.60"), ("needs_review", "30.00")]


def test_a_rejected_refund_stays_the_answer(sessions, gateway, clock):
    first = run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    with sessions() as session, session.begin():
        reject(session, SHOP, list(first.recorded), actor="finance", now=T0)
    for night in ("run-2", "run-3"):
        run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id=night)
    assert states(sessions) == [("rejected", "48.60")]


def test_a_refund_sent_to_review_at_send_time_is_not_proposed_again_each_night(
    sessions, gateway, clock
):
    """The order gained a refund since planning: review, once; the same write is not
    re-proposed every night (only a different write or a lifted hold makes a new intent)."""
    policy = settings(auto_apply=["MISSING_REFUND"])
    gateway.add_manual_refund("10.00", note="a refund by hand")
    for night in ("run-1", "run-2", "run-3"):
        run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=policy, run_id=night)
    assert states(sessions) == [("needs_review", "48.60")]


RESTOCK = finding(Category.MISSING_RESTOCK, "12345701", line="2001")


def test_a_released_refund_does_not_restock_a_unit_a_restock_may_have_put_back(
    sessions, gateway, clock
):
    """Night 1 holds the refund, so the unit's restock is planned on its own; Shopify applies it
    but the answer is lost. Night 2 lifts the hold while the restock's resend is lost too. The
    released refund must not restock the unit (RETURN) a second time."""
    policy = settings()
    gateway.drop.add("adjust")
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND, RESTOCK, UNMATCHED], policy=policy)
    gateway.lose.add("adjust")
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND, RESTOCK], policy=policy,
        run_id="run-2")  # fmt: skip
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=policy, run_id="run-3")
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1
    assert gateway.available("3001") == 6  # 5 before: one returned unit, put back once


def test_an_amount_going_back_and_forth_makes_no_new_intent_every_night(sessions, gateway, clock):
    policy = settings(auto_apply=["MISSING_REFUND"])
    for night in range(6):
        amount = "48.60" if night % 2 == 0 else "30.00"
        run(sessions, gateway, clock, mode=APPLY, findings=[REFUND, UNMATCHED], policy=policy,
            contexts=standard_contexts(refund=amount), run_id=f"run-{night}")  # fmt: skip
    assert states(sessions) == [("needs_review", "48.60"), ("needs_review", "30.00")]


def test_a_proposed_refund_held_meanwhile_is_proposed_again_once_the_hold_lifts(
    sessions, gateway, clock
):
    """Night 1 proposes the refund; night 2 a paid refund linked to no return appears on the
    order (UNMATCHED_REFUND), so the proposal is withdrawn; finance checks it and acknowledges
    it: night 3 proposes the refund again (it is still owed)."""
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND, UNMATCHED], run_id="run-2")
    assert [s for s, _ in states(sessions)] == ["needs_review"]
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id="run-3")
    assert [s for s, _ in states(sessions)] == ["needs_review", "proposed"]
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id="run-4")
    assert [s for s, _ in states(sessions)] == [
        "needs_review",
        "proposed",
    ]  # no new intent every night


def test_an_approved_refund_held_at_send_time_is_paid_once_the_hold_lifts(sessions, gateway, clock):
    """Approved, then held at send time (UNMATCHED_REFUND): review, unsent. Once the hold is
    acknowledged, apply mode (MISSING_REFUND auto-applied) pays it, once."""
    first = run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    with sessions() as session, session.begin():
        approve(session, SHOP, list(first.recorded), actor="finance", now=T0)
    policy = settings(auto_apply=["MISSING_REFUND"])
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND, UNMATCHED], policy=policy,
        run_id="run-2")  # fmt: skip
    assert [s for s, _ in states(sessions)] == ["needs_review"] and gateway.refunds_with(
        "Loop RMA #12345701"
    ) == []
    for night in ("run-3", "run-4"):
        run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=policy, run_id=night)
    assert [s for s, _ in states(sessions)] == ["needs_review", "done"]
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1


def test_a_restock_held_at_send_time_is_sent_once_the_hold_lifts(sessions, gateway, clock):
    """The same for a restock approved, then held (UNMATCHED_REFUND on its order)."""
    restock = finding(Category.MISSING_RESTOCK, "12345702", line="2002")
    first = run(sessions, gateway, clock, mode=APPROVAL, findings=[restock])
    with sessions() as session, session.begin():
        approve(session, SHOP, list(first.recorded), actor="finance", now=T0)
    run(sessions, gateway, clock, mode=APPLY, findings=[restock, UNMATCHED], run_id="run-2")
    assert gateway.available("3002") == 7
    for night in ("run-3", "run-4"):
        run(sessions, gateway, clock, mode=APPLY, findings=[restock], run_id=night)
    assert gateway.available("3002") == 8  # put back once


def test_a_restock_released_once_and_held_again_is_sent_once_the_hold_lifts_again(
    sessions, gateway, clock
):
    """Night 1 holds the restock (UNMATCHED_REFUND on its order); finance acknowledges it, so
    night 2 proposes it afresh under the next key, and finance approves that. Night 3 another
    unexplained refund holds it again, unsent. Once that is acknowledged too, the restock is
    sent, once: the released intent must not stay in review for good."""
    restock = finding(Category.MISSING_RESTOCK, "12345702", line="2002")
    run(sessions, gateway, clock, mode=APPROVAL, findings=[restock, UNMATCHED])
    second = run(sessions, gateway, clock, mode=APPROVAL, findings=[restock], run_id="run-2")
    with sessions() as session, session.begin():
        approve(session, SHOP, list(second.recorded), actor="finance", now=T0)
    for night in ("run-3", "run-3b"):  # held two nights: no new intent the second
        run(sessions, gateway, clock, mode=APPLY, findings=[restock, UNMATCHED], run_id=night)
    assert gateway.available("3002") == 7
    assert [r.state for r in intents(sessions)] == ["needs_review", "needs_review"]
    for night in ("run-4", "run-5"):
        run(sessions, gateway, clock, mode=APPLY, findings=[restock], run_id=night)
    assert gateway.available("3002") == 8  # put back once
    assert [r.state for r in intents(sessions)] == ["needs_review", "needs_review", "done"]


def _order_unreadable() -> dict[str, RmaContext]:
    """Tonight the order could not be read (quarantined): the mirror's copy may be out of date."""
    return {
        rma: dataclasses.replace(ctx, order_unreadable=True)
        for rma, ctx in standard_contexts().items()
    }


def test_a_proposed_refund_whose_order_was_unreadable_is_proposed_again_once_it_reads_clean(
    sessions, gateway, clock
):
    """Night 1 proposes the refund; night 2 its order cannot be read, so it is withdrawn unsent;
    night 3 the order reads clean and the refund is still owed: finance is asked again."""
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=_order_unreadable(),
        run_id="run-2")  # fmt: skip
    assert [s for s, _ in states(sessions)] == ["needs_review"]
    for night in ("run-3", "run-4"):
        run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id=night)
    assert [s for s, _ in states(sessions)] == ["needs_review", "proposed"]


def test_an_approved_restock_whose_order_was_unreadable_is_sent_once_it_reads_clean(
    sessions, gateway, clock
):
    """Approved, then its order could not be read at send time: review, unsent. Once the order
    reads clean the restock is sent, once."""
    restock = finding(Category.MISSING_RESTOCK, "12345702", line="2002")
    first = run(sessions, gateway, clock, mode=APPROVAL, findings=[restock])
    with sessions() as session, session.begin():
        approve(session, SHOP, list(first.recorded), actor="finance", now=T0)
    run(sessions, gateway, clock, mode=APPLY, findings=[restock], contexts=_order_unreadable(),
        run_id="run-2")  # fmt: skip
    assert gateway.available("3002") == 7
    for night in ("run-3", "run-4"):
        run(sessions, gateway, clock, mode=APPLY, findings=[restock], run_id=night)
    assert gateway.available("3002") == 8  # put back once


def test_a_superseded_refund_owed_again_is_proposed_again(sessions, gateway, clock):
    """Proposed 48.60; Loop then says 30.00 (48.60 superseded, 30.00 proposed); then Loop says
    48.60 again: finance is asked to approve 48.60 again, not left with every intent in review
    and nothing to approve (the superseded 48.60 was never sent nor decided)."""
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    lowered = standard_contexts(refund="30.00")
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=lowered, run_id="2")
    for night in ("3", "4"):
        run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id=night)
    assert states(sessions) == [
        ("needs_review", "48.60"),
        ("needs_review", "30.00"),
        ("proposed", "48.60"),
    ]


def test_a_stale_approved_refund_owed_again_is_proposed_again(sessions, gateway, clock):
    """48.60 approved, then Loop said 30.00 (the approval went to review unsent, 30.00 was
    proposed), then 48.60 again: 48.60 is proposed again, and paid once approved."""
    first = run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND])
    with sessions() as session, session.begin():
        approve(session, SHOP, list(first.recorded), actor="finance", now=T0)
    lowered = standard_contexts(refund="30.00")
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], contexts=lowered, run_id="2")
    again = run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id="3")
    assert [s for s, _ in states(sessions)][-1:] == ["proposed"]
    with sessions() as session, session.begin():
        approve(session, SHOP, list(again.recorded)[-1:], actor="finance", now=T0)
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id="4")
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1
    assert states(sessions)[-1] == ("done", "48.60")
