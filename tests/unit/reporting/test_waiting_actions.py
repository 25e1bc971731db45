"""Which intents the reports list as waiting for a person (``reporting.data.waiting``).

Review (``needs_review``) is a state no intent leaves: one waits for someone only while the break
it was planned for is open and no later intent for that break replaced it. Dataset: RMA 1001's
refund proposed as 48.60 (intent 1), superseded when Loop's amount changed (to review), then
proposed again as 40.00 (intent 2); RMA 1002's restock of line 7 in review for an unknown
location (intent 3) and its refund in review for a note naming two RMAs (intent 4), whose
finding finance has since fixed by hand; intent 5 in review from before recon recorded findings
on intents (no finding key).
"""

from __future__ import annotations

from typing import Any

import pytest
from report_samples import finding, make_data

from recon.models import Category
from recon.reporting.data import waiting

REFUND_1001 = "MISSING_REFUND|rma=1001"
RESTOCK_1002 = "MISSING_RESTOCK|rma=1002,line=7"
REFUND_1002 = "MISSING_REFUND|rma=1002"


def _action(i: int, rma: str, kind: str, status: str, key: str) -> dict[str, Any]:
    return {"id": i, "rma": rma, "kind": kind, "status": status, "state": status,
            "finding_key": key}  # fmt: skip


ACTIONS = [
    _action(1, "1001", "refund", "needs_review", REFUND_1001),
    _action(2, "1001", "refund", "proposed", REFUND_1001),
    _action(3, "1002", "restock", "needs_review", RESTOCK_1002),
    _action(4, "1002", "refund", "needs_review", REFUND_1002),
    _action(5, "1003", "refund", "needs_review", ""),
    _action(6, "1004", "refund", "done", "MISSING_REFUND|rma=1004"),
]


@pytest.mark.parametrize(
    ("open_keys", "ids"),
    [
        ({REFUND_1001, RESTOCK_1002, REFUND_1002}, [2, 3, 4, 5]),
        ({REFUND_1001, RESTOCK_1002}, [2, 3, 5]),  # 1002's refund fixed by hand: 4 waits no more
        (set(), [2, 5]),  # a proposal waits for approval whatever its finding does
    ],
)
def test_an_intent_in_review_waits_while_its_break_is_open_and_not_replaced(
    open_keys: set[str], ids: list[int]
) -> None:
    assert [a["id"] for a in waiting(ACTIONS, open_keys)] == ids


def test_the_report_lists_a_superseded_refund_once_not_beside_its_replacement() -> None:
    """The report's "Actions waiting for a decision" listed intent 1 (superseded, in review
    for ever) beside intent 2: two refunds for one RMA, night after night."""
    findings = [finding(Category.MISSING_REFUND, "rma=1001", "40.00", "USD", rma="1001")]
    data = make_data(findings=findings, actions=ACTIONS[:2])
    assert [a["id"] for a in data.waiting_actions] == [2]
