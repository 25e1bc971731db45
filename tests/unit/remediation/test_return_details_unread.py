"""A closed refund return whose Loop details could not be read: its refund link is unknown.

Loop's list item lacked the refund link and Get Return Details answered 404 (or 5xx until its
attempts ran out), so the mirror holds the return as the list gave it, with an open quarantine
entry (field ``refunds``). A refund Loop itself made is then linked to nothing, and the engine
may raise MISSING_REFUND (and MISSING_RESTOCK: Loop's ``restockType: RETURN`` is not counted) on
a return that was paid. recon must not pay or restock it again on that guess: the writes go to
review, saying why, until a later read of the details links or clears it.
"""

from __future__ import annotations

from remediation_world import make_order, make_return, settings, standard_findings

from recon.models import RETURN_DETAILS_UNREAD, Quarantined
from recon.remediation.planner import ActionKind, Disposition, plan_actions
from recon.remediation.runner import contexts_for
from recon.store.snapshot import Snapshot

UNREAD = Quarantined(
    source="loop",
    kind="return",
    record_id="12345701",
    field="refunds",
    reason=f"{RETURN_DETAILS_UNREAD}Get Return Details answered HTTP 404",
)


def _snapshot(unreadable: frozenset[tuple[str, str]]) -> Snapshot:
    return Snapshot(
        returns=(make_return("12345701", "2001"), make_return("12345702", "2002", refund="30.00")),
        orders=(make_order(),),
        unreadable=unreadable,
    )


def test_a_refund_and_restock_on_a_return_whose_details_were_unread_go_to_review() -> None:
    """Return 701's details could not be read (its open entry marks it unreadable): its
    MISSING_REFUND and MISSING_RESTOCK are planned to review, the reason naming the unread
    details, not auto-applied as the policy would. 702, on the same order, is not held by it
    (the unknown link is 701's own: Loop names the refunds of one return)."""
    snapshot = _snapshot(frozenset({(UNREAD.kind, UNREAD.record_id or "")}))
    plan = plan_actions(standard_findings(), settings(), contexts_for(snapshot), shop="sandbox")
    by_rma = {(a.kind, a.rma): a for a in plan.actions}
    refund = by_rma[(ActionKind.REFUND, "12345701")]
    assert refund.disposition is Disposition.REVIEW
    assert "12345701" in refund.reason
    assert "return details" in refund.reason.lower() and "refund link" in refund.reason
    # Loop's refund may have restocked 701's unit (restockType RETURN): not restocked on a guess.
    assert by_rma[(ActionKind.RESTOCK, "12345701")].disposition is Disposition.REVIEW
    restock_702 = by_rma[(ActionKind.RESTOCK, "12345702")]
    assert restock_702.disposition is Disposition.AUTO


def test_without_the_entry_the_same_return_is_refunded_per_policy() -> None:
    """The control: details read, nothing unreadable; the refund is auto-applied."""
    plan = plan_actions(
        standard_findings(), settings(), contexts_for(_snapshot(frozenset())), shop="sandbox"
    )
    refund = next(a for a in plan.actions if a.kind is ActionKind.REFUND)
    assert refund.disposition is Disposition.AUTO
