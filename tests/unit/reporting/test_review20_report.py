"""Review 20 (the nightly exception report finance reads): what a row, the mails and the
workbook show, read back as finance reads them.

Dataset: the report samples (report_samples.py), with findings added per test: a finding first
seen by last night's run, whose clock read a few seconds later than tonight's. The store-credit
sheet's test has its own records: two closed store-credit returns of 50.00 USD, 12000001 with a
5.00 card of its own, and one 50.00 card whose note names both (AMBIGUOUS_RMA).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from report_samples import AS_OF, finding, make_data, sheet_rows

from recon.config import EngineSettings
from recon.deliverables import store_credit_rows
from recon.engine import build_frames, reconcile
from recon.models import Category, FindingStatus, GiftCardRecord, LoopReturnRecord
from recon.reporting.data import to_row
from recon.reporting.exceptions_xlsx import write_exceptions_workbook
from recon.store.snapshot import Snapshot


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_a_finding_first_seen_by_last_nights_run_is_a_day_old(tmp_path: Path, zone: str) -> None:
    """Nightly runs start a few seconds apart, never at the same instant: last night's began at
    02:00:05, tonight's at 02:00:00. The row says the finding was first seen on the shop's
    previous day, so its age on tonight's report is one day, not 0 (finance reads age 0 as
    "new tonight", and a finding's age flickers between N and N-1 from night to night)."""
    last_night = AS_OF - timedelta(days=1) + timedelta(seconds=5)
    seen = finding(
        Category.MISSING_REFUND,
        "rma=12345800",
        "48.60",
        "USD",
        rma="12345800",
        first_seen=last_night,
        status=FindingStatus.OPEN,
    )
    data = make_data(findings=[seen], previous_findings=[seen], timezone=zone)
    (row,) = data.exception_rows()
    assert row.first_seen is not None
    assert (data.report_day - row.first_seen).days == 1  # the row's own day: last night's
    assert row.age_days == 1
    path = write_exceptions_workbook(data, tmp_path / "exceptions.xlsx")
    (cells,) = sheet_rows(path, "Exceptions")
    assert cells["age_days"] == 1


def _credit_return(rma: str) -> LoopReturnRecord:
    return LoopReturnRecord(
        id=rma,
        state="closed",
        outcome="credit",
        created_at=AS_OF,
        updated_at=AS_OF,
        provider_order_id="5001",
        order_name="#1001",
        currency="USD",
        total=Decimal("50.00"),
        refund=Decimal(0),
        gift_card=Decimal("50.00"),
    )


def _card(gid: str, note: str, value: str) -> GiftCardRecord:
    return GiftCardRecord(
        id=gid, created_at=AS_OF, note=note, initial_value=Decimal(value), currency="USD"
    )


def test_a_card_naming_two_returns_is_not_store_credit_issued_for_each() -> None:
    """docs/findings.md (MISSING_STORE_CREDIT): a card whose note names two or more Loop
    returns counts for none of them (a 50.00 card "RMA 12000001, 12000002" did not pay both):
    it is AMBIGUOUS_RMA. The month-end Store credit sheet (``store_credit_rows``: "so the sheet
    and the findings agree") must read it so: 12000001's own 5.00 card falls 45.00 short, which
    the findings raise, and the sheet must not show 105.00 issued from 55.00 of cards."""
    returns = (_credit_return("12000001"), _credit_return("12000002"))
    cards = (
        _card("g1", "Loop RMA 12000001", "5.00"),
        _card("g2", "Loop RMA 12000001, 12000002", "50.00"),
    )
    snapshot = Snapshot(returns=returns, gift_cards=cards)
    rows = {row["rma"]: row for row in store_credit_rows(snapshot, Decimal("0.01"))}
    frames = build_frames(snapshot.returns, (), (), (), (), snapshot.gift_cards)
    findings = reconcile(frames, EngineSettings(amount_tolerance=Decimal("0.01")), AS_OF).findings
    raised = {f.rma for f in findings if f.category is Category.MISSING_STORE_CREDIT}
    assert raised == {"12000001"}  # the engine: its own card falls short; 12000002 waits
    for rma, row in rows.items():
        assert (row["status"] in ("missing", "short")) == (rma in raised), rma
    assert rows["12000001"]["issued_amount"] == Decimal("5.00")
    assert sum(row["issued_amount"] for row in rows.values()) <= Decimal("55.00")
    assert (rows["12000002"]["status"], rows["12000002"]["gift_card_id"]) == ("ambiguous", "g2")


@pytest.mark.parametrize("zone", ["UTC", "Australia/Sydney"])
def test_a_month_end_books_last_day_finding_is_0_days_old_at_the_close(zone: str) -> None:
    """The month-end book is as of the next month's first moment (the shop's midnight): a
    finding first seen on the period's last day is 0 days old in it, one seen the day before 1."""
    local = ZoneInfo(zone)
    close = datetime(2026, 11, 1, tzinfo=local).astimezone(UTC)
    for first_seen, age in ((datetime(2026, 10, 31, 2, tzinfo=local), 0),
                            (datetime(2026, 10, 30, 23, tzinfo=local), 1)):  # fmt: skip
        seen = finding(
            Category.MISSING_REFUND, "rma=12345800", "48.60", "USD", rma="12345800",
            first_seen=first_seen.astimezone(UTC), status=FindingStatus.OPEN,
        )  # fmt: skip
        assert to_row(seen, "shop.example", close, False, zone).age_days == age
