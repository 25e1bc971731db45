"""Intents as the reports and the CLI show them, read from a real ledger."""

from __future__ import annotations

from dataclasses import replace

from remediation_world import SHOP, T0, make_order, make_return, standard_findings
from run_helpers import run

from recon.config import RemediationMode
from recon.remediation.ledger import ActionView, approve, list_actions
from recon.remediation.planner import RmaContext
from recon.remediation.runner import action_rows
from recon.remediation.views import describe, report_row
from recon.reporting.rows import ACTION_COLUMNS


def test_report_rows_carry_every_actions_column(sessions, gateway, clock):
    run(sessions, gateway, clock, mode=RemediationMode.APPROVAL)
    with sessions() as session, session.begin():
        refund = list_actions(session, SHOP)[0]
        approve(session, SHOP, [refund.id], actor="alice@finance", now=clock.now())
    rows = {row["kind"]: row for row in action_rows(sessions, SHOP)}
    for row in rows.values():
        assert {c.name for c in ACTION_COLUMNS} <= set(row), "a sheet column the rows lack"
        assert row["status"] and row["created_at"] and row["updated_at"]
    assert rows["refund"]["status"] == "approved"
    assert rows["refund"]["approved_by"] == "alice@finance"
    assert rows["refund"]["what"] == "refund 48.60 USD, restocking 1 unit(s)"
    assert rows["restock"]["approved_by"] is None
    assert rows["restock"]["what"] == (
        "restock 1 unit(s) of line item 2002 at location 4001 (Loop line items L2002)"
    )
    assert rows["annotate"]["what"] == "tag the order: recon:loop-closed"


def _only_refund_row(sessions) -> dict:
    (row,) = [r for r in action_rows(sessions, SHOP) if r["kind"] == "refund"]
    return row


def test_a_proposal_in_shop_currency_says_the_refund_goes_out_in_the_orders_currency(
    sessions, gateway, clock
):
    """Loop reports 48.60 in USD, the shop's currency; the customer paid in EUR, and Shopify
    refunds in the order's presentment currency (EUR, its own suggestion for the lines). The
    proposal read "refund 48.60 USD": finance approved a figure that is not what is sent."""
    order = make_order(currency="USD", presentment="EUR")
    contexts = {"12345701": RmaContext(make_return("12345701", "2001"), order)}
    run(
        sessions, gateway, clock, mode=RemediationMode.APPROVAL, contexts=contexts,
        findings=standard_findings()[:1],
    )  # fmt: skip
    what = _only_refund_row(sessions)["what"]
    assert what.startswith("refund in EUR"), what
    assert "Loop: 48.60 USD" in what


def test_a_refund_sent_shows_the_amount_and_currency_sent_beside_loops() -> None:
    view = ActionView(
        id=1, key="k", kind="refund", category="MISSING_REFUND", rma="12345701",
        order_id="1001", amount="48.60", currency="USD", state="done", reason="applied",
        result_id="gid://shopify/Refund/9",
        details={"lines": [{"line_item_id": "2001", "quantity": 1, "restock_type": "RETURN"}],
                 "presentment_currency": "EUR"},
        created_at=T0, updated_at=T0,
        variables={"input": {"currency": "EUR", "transactions": [
            {"amount": "30.00", "kind": "REFUND"}, {"amount": "14.90", "kind": "REFUND"}]}},
    )  # fmt: skip
    assert describe(view) == "refund 44.90 EUR (Loop: 48.60 USD), restocking 1 unit(s)"
    assert "variables" not in report_row(view)  # the write's payload is not a sheet column


def test_a_large_refund_reads_with_thousands_separators_as_the_report_prints_money() -> None:
    """``actions list`` and the Actions sheets said "refund 12345.60 USD" where the report's
    money reads 12,345.60 USD: a finance reader approving it compares the two."""
    view = ActionView(
        id=1, key="k", kind="refund", category="MISSING_REFUND", rma="12345701",
        order_id="1001", amount="12345.60", currency="USD", state="proposed", reason="",
        result_id=None,
        details={"lines": [{"line_item_id": "2001", "quantity": 1, "restock_type": "NO_RESTOCK"}]},
        created_at=T0, updated_at=T0,
    )  # fmt: skip
    assert describe(view) == "refund 12,345.60 USD, no restock"
    paid = [{"amount": "11000.00", "kind": "REFUND"}, {"amount": "40.5", "kind": "REFUND"}]
    sent = replace(
        view, state="done", variables={"input": {"currency": "EUR", "transactions": paid}}
    )
    assert describe(sent) == "refund 11,040.50 EUR (Loop: 12,345.60 USD), no restock"
