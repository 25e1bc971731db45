"""A restock Shopify refused as stale is planned again by the next run, under a new key.

``inventoryAdjustQuantities`` compares from the ``available`` recon read right before the send
(``changeFromQuantity``, shopify-admin-api.md §11). When stock moved between that read and the
write, Shopify answers ``CHANGE_FROM_QUANTITY_STALE`` and writes nothing. The intent went to
review and its units counted as "may have landed" for good (``facts.restocks_in_flight``): the
MISSING_RESTOCK stayed open until someone restocked by hand, on exactly the busy shops recon
is for. Now the next run plans the units again (the next key, the stock read again), at most
``STALE_REPLANS`` refusals in all; a refusal after a send whose answer was lost still blocks.

The world is remediation_world's: RMA 12345702's unit of line item 2002 (inventory item 3002)
is owed back to location 4001, where 7 are available. ``move_stock_after_read`` is a sale
landing between recon's read and its write (once per setting).
"""

from __future__ import annotations

from typing import Any

from remediation_world import SHOP, finding
from run_helpers import intents, run
from sqlalchemy import select

from recon.models import Category
from recon.remediation.facts import ledger_facts, restocks_in_flight
from recon.remediation.ledger import ActionRow, events
from recon.remediation.trail import STALE_REPLANS

RESTOCK_702 = [finding(Category.MISSING_RESTOCK, "12345702", line="2002")]


def _adjusts(gateway: Any) -> list[tuple[str | None, int]]:
    """(key, changeFromQuantity) of every restock that reached Shopify, in order."""
    return [
        (key, sent["changes"][0]["changeFromQuantity"])
        for kind, key, sent in gateway.calls
        if kind == "adjust"
    ]


def _restocks(gateway: Any) -> list[int]:
    """The deltas recon's restocks put on the shelf (what landed)."""
    return [m["delta"] for m in gateway.state["adjustments"] if m["via"] == "adjust"]


def test_a_stale_refusal_is_planned_again_next_run_and_lands_once(sessions, gateway, clock):
    gateway.move_stock_after_read = -1
    (refused,) = run(sessions, gateway, clock, findings=RESTOCK_702).applied
    assert refused.state == "needs_review" and "refused as stale" in refused.reason
    assert gateway.available("3002") == 6 and _restocks(gateway) == []
    with sessions() as session:
        assert restocks_in_flight(session, SHOP) == {}  # known not to have landed

    (landed,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2").applied
    assert landed.state == "done"
    assert gateway.available("3002") == 7 and _restocks(gateway) == [1]
    (first_key, first_from), (second_key, second_from) = _adjusts(gateway)
    assert second_key != first_key  # not answered with the refusal kept under the old key
    assert (first_from, second_from) == (7, 6)  # compared from the stock read again
    first, second = intents(sessions)
    assert (first.state, second.state) == ("needs_review", "done")
    with sessions() as session:
        planned = events(session, second.id)[0]
    assert planned.reason.startswith("planned again:") and "stale" in planned.reason

    # The landed restock covers the unit: nothing is sent again, whatever the finding says.
    again = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-3")
    assert again.applied == () and len(_adjusts(gateway)) == 2
    assert gateway.available("3002") == 7 and len(intents(sessions)) == 2


def test_a_lost_answer_then_a_stale_refusal_still_blocks_the_unit(sessions, gateway, clock):
    """A send with no answer may have landed (recon cannot tell a request lost on the way
    from a response lost on the way back): the stale refusal of its resend says nothing about
    it, so the unit is not planned again; a human decides."""
    gateway.lose.add("adjust")  # no answer: a timeout, as far as recon knows
    (lost,) = run(sessions, gateway, clock, findings=RESTOCK_702).applied
    assert lost.state == "unknown"
    gateway.state["inventory"]["gid://shopify/InventoryItem/3002|gid://shopify/Location/4001"] -= 1
    (stale,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2").recovered
    assert stale.state == "needs_review" and "refused as stale" in stale.reason
    with sessions() as session:
        assert ledger_facts(session, SHOP).stale_refused == frozenset()
        assert restocks_in_flight(session, SHOP) == {("12345702", "2002"): ("L2002",)}

    run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-3")
    assert len(_adjusts(gateway)) == 2 and len(intents(sessions)) == 1
    assert gateway.available("3002") == 6 and _restocks(gateway) == []


def test_stock_that_keeps_moving_is_retried_a_bounded_number_of_times(sessions, gateway, clock):
    for night in range(STALE_REPLANS + 2):
        gateway.move_stock_after_read = -1
        run(sessions, gateway, clock, findings=RESTOCK_702, run_id=f"run-{night}")
    assert len(_adjusts(gateway)) == STALE_REPLANS
    assert len({key for key, _ in _adjusts(gateway)}) == STALE_REPLANS
    assert [row.state for row in intents(sessions)] == ["needs_review"] * STALE_REPLANS
    assert _restocks(gateway) == []

    # Stock still: the last refusal stays the answer, for a human; recon sends nothing more.
    run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-still")
    assert len(_adjusts(gateway)) == STALE_REPLANS and _restocks(gateway) == []
    # Left to a person, the unit counts as being restocked: a later refund's RETURN line must
    # not put it back too, if the person restocks it by hand (review21H).
    with sessions() as session:
        assert restocks_in_flight(session, SHOP) == {("12345702", "2002"): ("L2002",)}


def test_a_refusal_recorded_before_recon_planned_them_again_still_blocks(sessions, gateway, clock):
    """A stale refusal in a ledger from before this release went to review for a human, who
    may have restocked by hand since: only a refusal recorded as ``REFUSED_STALE`` is
    planned again."""
    gateway.move_stock_after_read = -1
    run(sessions, gateway, clock, findings=RESTOCK_702)
    with sessions() as session, session.begin():
        (row,) = session.scalars(select(ActionRow))
        row.reason = "stock moved since it was read (stale changeFromQuantity): moved"
    run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2")
    assert len(_adjusts(gateway)) == 1 and len(intents(sessions)) == 1
