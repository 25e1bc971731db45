"""The month-end Actions sheet as the ledger stood at the period's end.

The mirror holds return 1002 (USD), closed Oct 2 and never refunded: October's MISSING_REFUND.
The ledger holds, for RMA 1002:

- intent A, a refund proposed Oct 3, approved by alice@finance Oct 10, sent and done Nov 2;
- intent B, a restock proposed Nov 5 (after October's end).

The ledger's rows are written as the planner and the executor write them: a row, and one event
per transition (``record_plan``'s first event, then ``approve`` and ``transition``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from report_samples import sheet_rows
from sqlalchemy.orm import Session, sessionmaker

from recon.config import Settings
from recon.month_end import build_monthend
from recon.remediation.ledger import ActionEventRow, ActionRow, approve, reject, transition
from recon.remediation.planner import ActionState
from recon.store.sql import SqlStore
from tests.fakes import make_order, make_return

SHOP = Settings().shop.slug
NOW = datetime(2026, 12, 5, tzinfo=UTC)
OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
PROPOSED_AT = datetime(2026, 10, 3, 9, tzinfo=UTC)
APPROVED_AT = datetime(2026, 10, 10, 9, tzinfo=UTC)
SENT_AT = datetime(2026, 11, 2, 3, tzinfo=UTC)
LATER_AT = datetime(2026, 11, 5, 3, tzinfo=UTC)


def _intent(session: Session, key: str, kind: str, at: datetime) -> ActionRow:
    row = ActionRow(
        key=key, shop=SHOP, rma="1002", kind=kind, subject="s", n=1, category="MISSING_REFUND",
        finding_key="MISSING_REFUND|rma=1002", order_id="5002",
        amount="12.02" if kind == "refund" else None, currency="USD" if kind == "refund" else None,
        state="proposed", reason="return closed with no refund", run_id="r",
        details={"lines": []} if kind == "refund" else {"quantity": 1, "line_item_id": "50021"},
        created_at=at, updated_at=at,
    )  # fmt: skip
    session.add(row)
    session.flush()
    session.add(
        ActionEventRow(action_id=row.id, at=at, from_state=None, to_state="proposed",
                       actor="planner", reason=row.reason, run_id="r")
    )  # fmt: skip
    return row


@pytest.fixture
def mirror(tmp_path: Path) -> Any:
    """The mirror and ledger the module docstring describes."""
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    closed = datetime(2026, 10, 2, tzinfo=UTC)
    store.upsert_returns([make_return(2, closed)])
    store.upsert_orders([make_order(2, closed)])
    sessions = sessionmaker(store.engine, expire_on_commit=False)
    with sessions() as session, session.begin():
        refund = _intent(session, "k-a", "refund", PROPOSED_AT)
    with sessions() as session, session.begin():
        approve(session, SHOP, [refund.id], actor="alice@finance", now=APPROVED_AT, reason="ok")
    with sessions() as session, session.begin():
        row = session.get(ActionRow, refund.id)
        assert row is not None
        transition(session, row, ActionState.SENDING, actor="run", now=SENT_AT, reason="sending")
        row.result_id = "gid://shopify/Refund/1"
        transition(session, row, ActionState.DONE, actor="run", now=SENT_AT, reason="refunded")
        _intent(session, "k-b", "restock", LATER_AT)
    yield settings, store
    store.close()


def test_octobers_actions_are_the_intents_created_in_it_as_they_stood_at_its_end(
    mirror: Any,
) -> None:
    """October's book, built in December, shows intent A approved (as at Oct 31), not done on
    Nov 2 with November's Shopify result, and not intent B, proposed in November: the book
    re-built later reads as the one built at the close."""
    settings, store = mirror
    rows = sheet_rows(build_monthend(settings, store, NOW, *OCTOBER), "Actions")
    assert [(r["kind"], r["status_at_period_end"], r["approved_by"]) for r in rows] == [
        ("refund", "approved", "alice@finance")
    ]
    (refund,) = rows
    assert refund["shopify_result"] is None
    assert refund["updated_at (UTC)"] == APPROVED_AT.replace(tzinfo=None)
    assert refund["reason"] == "ok"


def test_the_summary_says_the_actions_are_as_at_the_periods_end(mirror: Any) -> None:
    """The Summary says what the Actions sheet lists, and how many intents came after."""
    settings, store = mirror
    summary = load_workbook(build_monthend(settings, store, NOW, *OCTOBER))["Summary"]
    labels = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row and row[0]}
    note = labels["Actions"]
    assert "created before the period's end" in note and "state at its end" in note
    assert "1 intent(s) created since are not listed" in note


def test_a_book_of_a_period_not_over_shows_the_intents_as_they_are(mirror: Any) -> None:
    """November's book built on Nov 3 (before its end): as of now, intent A is done with
    Shopify's result; intent B does not exist yet at that time either."""
    settings, store = mirror
    path = build_monthend(
        settings, store, datetime(2026, 11, 3, tzinfo=UTC), date(2026, 10, 1), date(2026, 12, 1)
    )
    rows = sheet_rows(path, "Actions")
    assert [(r["status_at_period_end"], r["shopify_result"]) for r in rows] == [
        ("done", "gid://shopify/Refund/1")
    ]


def test_a_rejected_intent_shows_who_rejected_it_and_why(mirror: Any) -> None:
    """An auditor reads why money was not paid back: intent C, a second refund proposed Oct 4
    and rejected by bob@finance on Oct 12, shows its rejecter and reason at the period's end;
    intent A, approved (and done in November), keeps its approver's reason beside Shopify's
    answer once done (found by review: only an approver was shown, and an intent's
    reason is its latest transition's): a book of October and November shows it done."""
    settings, store = mirror
    sessions = sessionmaker(store.engine, expire_on_commit=False)
    with sessions() as session, session.begin():
        rejected = _intent(session, "k-c", "refund", datetime(2026, 10, 4, 9, tzinfo=UTC))
    why = "customer kept the item: no refund owed"
    with sessions() as session, session.begin():
        at = datetime(2026, 10, 12, 9, tzinfo=UTC)
        reject(session, SHOP, [rejected.id], actor="bob@finance", now=at, reason=why)
    rows = sheet_rows(build_monthend(settings, store, NOW, *OCTOBER), "Actions")
    decided = {
        r["id"]: (r["status_at_period_end"], r["approved_by"], r["rejected_by"],
                  r["decision_reason"])
        for r in rows
    }  # fmt: skip
    assert decided == {
        1: ("approved", "alice@finance", None, "ok"),
        rejected.id: ("rejected", None, "bob@finance", why),
    }
    october_to_november = (date(2026, 10, 1), date(2026, 12, 1))
    rows = sheet_rows(build_monthend(settings, store, NOW, *october_to_november), "Actions")
    done = next(r for r in rows if r["id"] == 1)
    assert (done["status_at_period_end"], done["reason"]) == ("done", "refunded")
    assert (done["approved_by"], done["decision_reason"]) == ("alice@finance", "ok")
