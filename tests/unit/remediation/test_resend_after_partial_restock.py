"""A refund whose answer was lost is resent though recon restocked another unit of its line.

The world: remediation_world's order 1001 and test_restock_units' return 12345702 of two
received units of line item 2002 (Loop lines L2002 and M2002), owed 60.00. Night 1 the
warehouse's MISSING_RESTOCK names M2002 only: recon restocks it. Night 2 Loop refunds the
return: the refund restocks L2002 (RETURN) and leaves M2002 (NO_RESTOCK).
"""

from __future__ import annotations

from remediation_world import finding
from run_helpers import intents, run
from sqlalchemy import select
from test_restock_units import RMA, restock_finding, two_unit_context

from recon.models import Category
from recon.remediation.ledger import ActionRow

ITEM = "gid://shopify/InventoryItem/3002"


def test_a_refund_whose_answer_was_lost_is_resent_not_held_as_a_double_restock(
    sessions, gateway, clock
):
    """The refund's answer is lost and the refund did not land (the request never arrived):
    the next run's re-read finds no refund carrying the RMA and resends it with the same key.
    Its RETURN line restocks L2002 only, the unit the plan left for it; recon's earlier
    restock of M2002 is no reason to hold it (it was planned knowing that restock), where
    it went to review for good as "would be restocked twice" and the customer waited."""
    contexts = two_unit_context()
    run(sessions, gateway, clock, findings=[restock_finding("M2002")], contexts=contexts)
    night2 = [finding(Category.MISSING_REFUND, RMA), restock_finding("L2002")]
    gateway.lose.add("refund")
    run(sessions, gateway, clock, findings=night2, contexts=contexts, run_id="run-2")
    assert [row.state for row in intents(sessions)] == ["done", "unknown"]
    run(sessions, gateway, clock, findings=night2, contexts=contexts, run_id="run-3")
    refund = intents(sessions)[1]
    assert refund.state == "done", refund.reason
    (paid,) = gateway.refunds_with(f"Loop RMA #{RMA}")
    assert paid["amount"] == "60.00"
    assert [(x["quantity"], x["restockType"]) for x in paid["lines"]] == [
        (1, "NO_RESTOCK"),
        (1, "RETURN"),
    ]
    moves = [(m["via"], m["delta"]) for m in gateway.state["adjustments"] if m["item"] == ITEM]
    assert moves == [("adjust", 1), ("refund", 1)]  # M2002, then L2002: each unit once
    assert gateway.available("3002") == 9


def test_a_resend_still_refuses_a_unit_recon_restocked_since_the_plan(sessions, gateway, clock):
    """The guard still holds for the unit the refund restocks: a restock of L2002 recorded
    done under another intent after the refund was planned (a planner bug) sends the resend
    to review, unsent."""
    contexts = two_unit_context()
    run(sessions, gateway, clock, findings=[restock_finding("M2002")], contexts=contexts)
    night2 = [finding(Category.MISSING_REFUND, RMA), restock_finding("L2002")]
    gateway.lose.add("refund")
    run(sessions, gateway, clock, findings=night2, contexts=contexts, run_id="run-2")
    with sessions() as session, session.begin():
        done = session.scalars(select(ActionRow).where(ActionRow.kind == "restock")).one()
        columns = {c.name: getattr(done, c.name) for c in ActionRow.__table__.columns}
        twin = columns | {
            "id": None,
            "key": "another-key",
            "details": done.details | {"units": ["L2002"]},
        }
        session.add(ActionRow(**twin))
    run(sessions, gateway, clock, findings=night2, contexts=contexts, run_id="run-3")
    refund = next(row for row in intents(sessions) if row.kind == "refund")
    assert refund.state == "needs_review" and "restocked twice" in refund.reason
    assert gateway.refunds_with(f"Loop RMA #{RMA}") == []
