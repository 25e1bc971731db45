"""Review 17: a write the reports call "not run" must be one Shopify ran nothing of.

A restock's first send landed but its answer was lost (unknown: it may have gone through);
the next run's resend, same key, was answered THROTTLED until the run gave up. The ledger
knows the first send may have landed (``facts.never_run`` is False, and the restock resend
compares from the first figure); the reports read only the intent's latest reason and list it
as "not run by Shopify (throttled, nothing written)", though the unit is back on the shelf.

Dataset: remediation_world's RMA 12345702, one unit of line item 2002 owed back to location
4001 (7 available); the first send lands (8) with its answer dropped.
"""

from __future__ import annotations

from datetime import timedelta

from remediation_world import SHOP, T0, finding
from run_helpers import run

from recon.errors import RetryExhaustedError
from recon.models import Category
from recon.remediation.runner import action_rows, action_rows_as_of
from recon.reporting.monthend import write_monthend_workbook
from tests.unit.reporting.report_samples import make_data, sheet_rows

RESTOCK_702 = [finding(Category.MISSING_RESTOCK, "12345702", line="2002")]


def test_a_resend_throttled_after_a_lost_answer_is_not_reported_as_not_run(
    sessions, gateway, clock
):
    gateway.drop.add("adjust")  # the first send lands, its answer is lost
    (first,) = run(sessions, gateway, clock, findings=RESTOCK_702).applied
    assert first.state == "unknown" and gateway.available("3002") == 8
    gateway.raise_next["adjust"] = RetryExhaustedError(
        "shopify POST /graphql.json: gave up after 5 attempts; last failure: THROTTLED"
    )
    clock.advance(timedelta(hours=1))
    run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2")
    assert gateway.available("3002") == 8  # the unit is back: the first send ran
    data = make_data(actions=action_rows(sessions, SHOP), as_of=T0 + timedelta(hours=1))
    (row,) = [a for a in data.write_failures if a.get("rma") == "12345702"]
    # The warehouse must check Shopify before redoing it: it may have gone through.
    assert row in data.unknown_outcome_writes
    assert not data.not_run_writes


def test_the_month_end_book_does_not_say_not_run_after_a_lost_answer(
    sessions, gateway, clock, tmp_path
):
    gateway.drop.add("adjust")  # the first send lands, its answer is lost
    run(sessions, gateway, clock, findings=RESTOCK_702)
    gateway.raise_next["adjust"] = RetryExhaustedError(
        "shopify POST /graphql.json: gave up after 5 attempts; last failure: THROTTLED"
    )
    clock.advance(timedelta(hours=1))
    run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2")
    rows, _ = action_rows_as_of(sessions, SHOP, T0 + timedelta(days=1))
    book = write_monthend_workbook(make_data(actions=rows), tmp_path / "2026-10.xlsx")
    (row,) = [r for r in sheet_rows(book, "Actions") if r["rma"] == "12345702"]
    assert row["status_at_period_end"] != "not run"  # the unit is back on the shelf
