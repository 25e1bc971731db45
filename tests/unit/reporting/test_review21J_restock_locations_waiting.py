"""review21J: one restock finding plans one intent per location (``owed.plan_restock``), all
under the same finding key; ``reporting.data.waiting`` keeps only the latest intent per
(rma, kind, finding key), so a restock in review at one location is taken as replaced by the
other location's intent and is never listed as waiting for a person.

Dataset: RMA 2001's finding ``MISSING_RESTOCK|rma=2001,line=7`` names two units, one returned to
location A and one to location B. Intent 1 restocks the unit at A and went to review (Shopify
refused it: the inventory item is not stocked at A); intent 2 restocks the unit at B and is done.
The unit at A is still off the shelf and only a person can put it back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from recon.remediation.ledger import ActionView
from recon.remediation.views import report_row
from recon.reporting.data import waiting

FINDING = "MISSING_RESTOCK|rma=2001,line=7"
AT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def _restock(i: int, location: str, unit: str, state: str, reason: str) -> dict[str, Any]:
    view = ActionView(
        id=i,
        key=f"key-{i}",
        kind="restock",
        category="MISSING_RESTOCK",
        rma="2001",
        order_id="5001",
        amount=None,
        currency=None,
        state=state,
        reason=reason,
        result_id=None,
        details={
            "line_item_id": "7",
            "inventory_item_id": "gid://shopify/InventoryItem/70",
            "location_id": location,
            "quantity": 1,
            "units": [unit],
        },
        created_at=AT,
        updated_at=AT,
        finding_key=FINDING,
    )
    return report_row(view)


ACTIONS = [
    _restock(1, "gid://shopify/Location/A", "u1", "needs_review", "refused: item not stocked"),
    _restock(2, "gid://shopify/Location/B", "u2", "done", "restocked"),
]


def test_restock_in_review_at_one_location_waits_beside_the_other_locations_done_one() -> None:
    listed = [a["id"] for a in waiting(ACTIONS, {FINDING})]

    assert listed == [1], f"waiting for a person: {listed}; the unit at location A is not back"
