"""Frozen report data: KPIs per currency, what changed, ordering, team views, links."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest
from report_samples import AS_OF, finding, make_data, sample_findings

from recon.models import Category, FindingStatus, Owner
from recon.reporting.data import Amount, ReportData, loop_return_url, shopify_order_url
from recon.reporting.figures import for_team


def test_money_at_risk_is_per_currency_and_never_added_across(report_data: ReportData) -> None:
    assert report_data.headline.money_at_risk == (
        Amount("EUR", Decimal("37.35")),  # 15.25 + 22.10
        Amount(
            "USD", Decimal("198.60")
        ),  # 48.60 + 120.00 + 30.00; the resolved 10.00 is not at risk
    )
    assert report_data.headline.open_findings == 5
    assert report_data.headline.critical == 1


def test_new_and_resolved_combine_lifecycle_status_and_the_previous_run(
    report_data: ReportData,
) -> None:
    new = {row.key for row in report_data.new_findings}
    resolved = {row.key for row in report_data.resolved_findings}
    assert new == {
        "MISSING_REFUND|rma=12345701",
        "DUPLICATE_REFUND|rma=12345702",
        "MISSING_RESTOCK|rma=12345704,line=77",
    }
    assert resolved == {"STALE_RETURN|rma=12345699", "UNKNOWN_RMA|refund=800"}
    assert report_data.headline.new_since_last_report == 3
    assert report_data.headline.resolved_since_last_report == 2


def test_without_a_previous_run_the_lifecycle_status_decides() -> None:
    data = make_data(previous_findings=None)
    assert {r.key for r in data.resolved_findings} == {"STALE_RETURN|rma=12345699"}
    assert data.headline.new_since_last_report == 3  # AMOUNT_MISMATCH and REFUND_FAILED are "open"


def test_closures_of_a_run_whose_report_never_went_out_are_listed_by_the_next() -> None:
    """An earlier run resolved one finding and left out another (its order is a test order),
    then failed: this report lists them as resolved and left out. A third it closed is back
    tonight (new): its closure is not listed."""
    closed = dict(status=FindingStatus.RESOLVED, resolved_at=AS_OF - timedelta(days=1))
    fixed = finding(Category.MISSING_REFUND, "rma=1", "5.00", "USD", **closed)
    test_order = finding(
        Category.UNMATCHED_REFUND, "refund=2", "6.00", "USD",
        status=FindingStatus.LEFT_OUT, resolved_at=AS_OF - timedelta(days=1),
    )  # fmt: skip
    back = finding(Category.MISSING_REFUND, "rma=12345701", "48.60", "USD", **closed)
    data = make_data(closed_before=[fixed, test_order, back])
    resolved = {row.key for row in data.resolved_findings}
    assert resolved == {"STALE_RETURN|rma=12345699", "UNKNOWN_RMA|refund=800", fixed.key}
    assert data.headline.resolved_since_last_report == 3
    assert [row.key for row in data.left_out_findings] == [test_order.key]
    assert "MISSING_REFUND|rma=12345701" in {row.key for row in data.new_findings}


def test_top_exceptions_sorted_by_severity_then_amount_within_each_currency() -> None:
    data = make_data(top_n=2)
    assert [(g.currency, [r.key for r in g.rows], g.total) for g in data.top_groups] == [
        ("USD", ["DUPLICATE_REFUND|rma=12345702", "MISSING_REFUND|rma=12345701"], 3),
        ("EUR", ["REFUND_FAILED|refund=903", "AMOUNT_MISMATCH|rma=12345703"], 2),
    ]  # critical first, then high 48.60; EUR high 22.10, then high 15.25


def test_category_totals_keep_currencies_apart(report_data: ReportData) -> None:
    totals = {t.category: t for t in report_data.by_category}
    assert totals["MISSING_REFUND"].count == 1
    assert totals["MISSING_REFUND"].amounts == (Amount("USD", Decimal("48.60")),)
    assert "STALE_RETURN" not in totals  # resolved


def test_age_and_links(report_data: ReportData) -> None:
    row = next(r for r in report_data.exception_rows() if r.rma == "12345701")
    assert row.age_days == 3
    assert row.first_seen == (AS_OF - timedelta(days=3)).date()
    assert row.shopify_url == "https://admin.shopify.com/store/recon-sandbox/orders/5444175757553"
    assert row.loop_url == "https://admin.loopreturns.com/returns/12345701"


@pytest.mark.parametrize(
    "bad", ['1" onclick="x', "../1", "", None, "12 34", "١٢٣", "123\n", "１２３"]
)
def test_links_only_from_numeric_ids(bad: str | None) -> None:
    assert shopify_order_url("acme.myshopify.com", bad) is None
    assert loop_return_url(bad) is None


def test_an_unknown_rma_links_to_no_loop_return() -> None:
    """UNKNOWN_RMA: the refund's note names an RMA Loop does not have, so "Open in Loop" would
    open a page that is not there; the row keeps the RMA, as text, and its Shopify link."""
    unknown = finding(
        Category.UNKNOWN_RMA, "refund=801", "10.00", "USD", rma="12345799",
        shopify_order_id="5444175757553",
    )  # fmt: skip
    known = finding(Category.MISSING_REFUND, "rma=12345701", "10.00", "USD", rma="12345701")
    rows = {r.key: r for r in make_data(findings=[unknown, known]).exception_rows()}
    assert rows[unknown.key].rma == "12345799"
    assert rows[unknown.key].loop_url is None
    assert rows[unknown.key].shopify_url is not None
    assert rows[known.key].loop_url == "https://admin.loopreturns.com/returns/12345701"


def test_pii_scrubbed_unless_allowed() -> None:
    scrubbed = next(r for r in make_data().exception_rows() if r.rma == "12345705")
    kept = next(
        r for r in make_data(include_customer_pii=True).exception_rows() if r.rma == "12345705"
    )
    assert "jane.doe@example.com" not in scrubbed.detail and "555-123" not in scrubbed.detail
    assert "jane.doe@example.com" in kept.detail


def test_identifiers_that_look_like_phone_numbers_are_kept() -> None:
    """PII scrubbing is for free text: the warehouse needs SKU 100-200-300 to restock."""
    odd = finding(Category.MISSING_RESTOCK, "rma=12345710,line=1", "5.00", "USD", rma="12345710")
    odd = odd.model_copy(update={"sku": "100-200-300", "shopify_order_name": "#1001-2002-3003"})
    (row,) = [r for r in make_data(findings=[odd]).exception_rows() if r.rma == "12345710"]
    assert (row.sku, row.order_name) == ("100-200-300", "#1001-2002-3003")


def test_an_acknowledged_finding_shows_who_checked_it_instead_of_the_next_step() -> None:
    """The warehouse must not restock by hand a second time what someone already did."""
    acked = finding(
        Category.MISSING_RESTOCK, "rma=12345711,line=1", "5.00", "USD", rma="12345711"
    ).model_copy(
        update={
            "status": FindingStatus.ACKNOWLEDGED,
            "acknowledged_by": "cli:ana",
            "acknowledged_note": "restocked by hand",
            "next_step": "Restock the returned units.",
        }
    )
    (row,) = [r for r in make_data(findings=[acked]).exception_rows() if r.rma == "12345711"]
    assert row.status == "acknowledged"
    assert row.next_step == "Acknowledged by cli:ana: restocked by hand (quiet until it changes)."


def test_team_views_list_only_their_categories(report_data: ReportData) -> None:
    warehouse = for_team(report_data, Owner.WAREHOUSE)
    cx = for_team(report_data, Owner.CX)
    assert [r.category for r in warehouse.exception_rows()] == ["MISSING_RESTOCK"]
    assert [r.category for r in cx.exception_rows()] == ["REFUND_FAILED"]
    assert cx.headline.money_at_risk == (Amount("EUR", Decimal("22.10")),)
    assert [r.category for r in cx.resolved_findings] == ["STALE_RETURN"]
    assert for_team(report_data, Owner.FINANCE) is report_data


def test_report_data_is_frozen(report_data: ReportData) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        report_data.shop = "other"  # type: ignore[misc]


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        make_data(as_of=AS_OF.replace(tzinfo=None))


def test_findings_left_out_as_test_orders_are_neither_open_nor_resolved() -> None:
    """A break on an order that turned out to be a Shopify test order was not fixed: the report
    lists it apart, and the headline's "resolved" does not count it."""
    left = finding(
        Category.MISSING_REFUND,
        "rma=12345777",
        "25.00",
        "USD",
        status=FindingStatus.LEFT_OUT,
        resolved_at=AS_OF,
    )
    base = make_data()
    data = make_data(findings=[*sample_findings(), left])
    assert left.key not in {f.key for f in data.open_findings}
    assert left.key not in {r.key for r in data.resolved_findings}
    assert [r.key for r in data.left_out_findings] == [left.key]
    assert data.headline.resolved_since_last_report == base.headline.resolved_since_last_report
    assert data.headline.open_findings == base.headline.open_findings
