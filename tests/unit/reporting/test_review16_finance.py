"""Review 16: what finance receives, read as a controller closing the month would.

Dataset ``split_payouts``, in USD: return 1005 (15.05 owed, closed Oct 5) refunded in two
parts, both naming its RMA: 10.00 on Oct 5 (refund 7005), paid out in payout P1 (issued Oct 8,
PAID), and the remaining 5.05 on Oct 15 (refund 7105), paid out in payout P2 (issued Oct 17,
still IN_TRANSIT at the close). Nothing is owed: no finding.

Dataset ``duplicate_in_september``: ``history_shop`` (return 1002, 12.02 USD owed, refunded
10.00 on Sep 19) refunded again in full, 12.02, on Sep 22 (refund 7202, no note change since):
a ``DUPLICATE_REFUND`` (critical, 10.00) first seen on the Sep 23 night and still open on the
Oct 21 night, the last of October, with return 1003's October breaks.

Dataset ``history_shop`` alone for the November book: return 1003 (13.03 USD owed, closed Oct
20) never refunded. The Oct 21 night raised its ``MISSING_REFUND`` and ``MISSING_RESTOCK`` and
proposed refund intent 1 (plan mode) and restock intent 2 (in review: unknown location); the
Nov 3 and Nov 29 nights saw nothing change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from formula_check import evaluate, table_columns
from openpyxl import load_workbook
from report_samples import sheet_rows
from test_workbook import summary_formulas

from recon.config import Settings
from recon.models import OPEN_STATUSES, PayoutRecord, Severity
from recon.month_end import build_monthend
from recon.store.sql import SqlStore
from tests.fakes import balance_for, make_order, make_refund, make_return
from tests.unit.store.history_shop import HistoryShop, day

OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
CLOSED = datetime(2026, 10, 5, tzinfo=UTC)


def _payout(payout_id: str, issued_at: datetime, status: str, gross: str) -> PayoutRecord:
    return PayoutRecord(
        id=payout_id,
        issued_at=issued_at,
        status=status,
        currency="USD",
        net=Decimal(gross),
        refunds_gross=Decimal(gross),
    )


@pytest.fixture
def split_payouts(tmp_path: Path) -> Iterator[tuple[Settings, SqlStore]]:
    """The mirror the module docstring describes."""
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    ret = make_return(5, CLOSED)  # 15.05 owed
    first = make_refund(5, CLOSED + timedelta(hours=1), Decimal("10.00"))
    rest = make_refund(5, CLOSED + timedelta(days=10), Decimal("5.05"))
    txn = rest.transactions[0].model_copy(update={"id": "9105", "refund_id": "7105"})
    rest = rest.model_copy(update={"id": "7105", "transactions": (txn,), "lines": ()})
    store.upsert_returns([ret])
    store.upsert_orders([make_order(5, rest.processed_at, (first.id, rest.id))])
    store.upsert_refunds([first, rest])
    store.upsert_balance_transactions(
        [balance_for(5, first, "P1"), balance_for(105, rest, "P2", status="IN_TRANSIT")]
    )
    store.upsert_payouts(
        [
            _payout("P1", CLOSED + timedelta(days=3), "PAID", "-10.00"),
            _payout("P2", CLOSED + timedelta(days=12), "IN_TRANSIT", "-5.05"),
        ]
    )
    yield settings, store
    store.close()


def test_matched_payout_statuses_line_up_with_their_payouts(split_payouts: Any) -> None:
    """A return refunded in two parts paid out in two payouts: the Matched row lists both
    payouts and their statuses. A controller reads them side by side (the first id with the
    first status): each status must be its own payout's, as the Payouts sheet shows it. Each
    column was sorted and de-duplicated on its own ("P1,P2" beside "IN_TRANSIT,PAID"), which
    reads as P1 (paid out on Oct 8) still in transit and P2 paid; two payouts both PAID read
    as one status for two ids."""
    settings, store = split_payouts
    path = build_monthend(settings, store, datetime(2026, 11, 4, tzinfo=UTC), *OCTOBER)
    statuses = {r["payout_id"]: r["status"] for r in sheet_rows(path, "Payouts")}
    assert statuses == {"P1": "PAID", "P2": "IN_TRANSIT"}
    (row,) = [r for r in sheet_rows(path, "Matched") if r["rma"] == "1005"]
    ids = row["payout_ids"].split(",")
    shown = row["payout_statuses"].split(",")
    assert sorted(ids) == ["P1", "P2"]
    assert dict(zip(ids, shown, strict=True)) == statuses


@pytest.fixture
def duplicate_in_september(tmp_path: Path) -> Iterator[HistoryShop]:
    """The shop the module docstring describes, run on the nights of Sep 23 and Oct 21."""
    shop = HistoryShop(f"sqlite:///{tmp_path / 'recon.db'}", tmp_path)
    first = next(r for r in shop.shopify.refunds if r.id == "7002")
    again = make_refund(2, day(9, 22, 1), Decimal("12.02"))
    txn = again.transactions[0].model_copy(update={"id": "9202", "refund_id": "7202"})
    again = again.model_copy(update={"id": "7202", "transactions": (txn,), "lines": ()})
    shop.shopify.put(again)
    shop.shopify.put(shop._order(2, day(9, 22, 1), first, again))
    shop.night(day(9, 23, 2))
    yield shop
    shop.close()


def test_the_books_critical_count_includes_the_critical_breaks_open_at_the_close(
    duplicate_in_september: HistoryShop,
) -> None:
    """October's last nightly mailed "critical: 1" (1002's duplicate refund, 10.00 paid out
    twice). Its records had no activity in October, so October's book lists it on the Carried
    forward sheet and sums its 10.00 into "Money at risk at the period's end", as that nightly
    did; but the Summary's only critical figure, "Critical findings", counts the Exceptions
    sheet alone: 0 critical findings at the close of a month that ended with money paid out
    twice. The critical figures of the book (whatever rows carry them) must add up to the
    critical findings open at its end."""
    shop = duplicate_in_september
    last_night = shop.night(day(10, 21, 2))
    critical = [
        f
        for f in last_night.findings
        if f.severity is Severity.CRITICAL and f.status in OPEN_STATUSES
    ]
    assert [f.key for f in critical] == ["DUPLICATE_REFUND|rma=1002"]
    path = build_monthend(shop.settings, shop.store, day(11, 4), *OCTOBER)
    carried = {r["key"]: r for r in sheet_rows(path, "Carried forward")}
    assert carried["DUPLICATE_REFUND|rma=1002"]["severity"] == "critical"
    book = load_workbook(path)
    summary, tables = book["Summary"], table_columns(book)
    figures = {
        label: evaluate(summary, formula, tables)
        for (label, column), formula in summary_formulas(summary).items()
        if column == "Value"
    }
    assert sum(value for label, value in figures.items() if "critical" in label.lower()) == 1


@pytest.fixture
def history(tmp_path: Path) -> Iterator[HistoryShop]:
    shop = HistoryShop(f"sqlite:///{tmp_path / 'recon.db'}", tmp_path)
    yield shop
    shop.close()


def test_the_books_actions_list_the_intents_of_breaks_carried_forward(history: HistoryShop) -> None:
    """November's book carries 1003's breaks forward (open at the close, no activity in
    November), each with its next step "Create the refund in Shopify." / "Restock the returned
    units.". recon's own refund for it waits for approval since Oct 21, and its restock waits in
    review: the nightly reports list both, but the book's Actions sheet ("the intents created
    before the period's end, each in its state at its end") listed neither, as it kept only the
    intents of the period's own returns. A controller closing November from the book would
    refund by hand what recon proposes to refund."""
    for night in (day(10, 21, 2), day(11, 3, 2), day(11, 29, 2)):
        outcome = history.night(night)
    waiting = {(a["rma"], a["kind"], a["state"]) for a in outcome.actions}
    assert waiting == {("1003", "refund", "proposed"), ("1003", "restock", "needs_review")}
    november = (date(2026, 11, 1), date(2026, 12, 1))
    path = build_monthend(history.settings, history.store, day(12, 2), *november)
    carried = {r["key"] for r in sheet_rows(path, "Carried forward")}
    assert {"MISSING_REFUND|rma=1003", "MISSING_RESTOCK|rma=1003,line=50031"} <= carried
    listed = {(r["rma"], r["kind"], r["status_at_period_end"]) for r in sheet_rows(path, "Actions")}
    assert waiting <= listed
