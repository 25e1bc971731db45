"""Intents as the reports and the CLI show them, read from a real ledger."""

from __future__ import annotations

from remediation_world import SHOP
from run_helpers import run

from recon.config import RemediationMode
from recon.remediation.ledger import approve, list_actions
from recon.remediation.runner import action_rows
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
