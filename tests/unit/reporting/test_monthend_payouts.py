"""The month-end workbook's payouts at the month's edges: refunds paid out in another month.

The mirror holds, in USD:

- return 1001, closed Sep 27; refunded Sep 28 5.00 short of what Loop refunded (September's
  AMOUNT_MISMATCH), paid out in payout P1 (issued Oct 4);
- return 1002, closed Oct 2; refunded Oct 2, paid out in P1;
- return 1003, closed Oct 29; refunded Oct 30, paid out in payout P2 (issued Nov 2);
- return 1004, closed Oct 14; refunded Oct 15, paid out in P2 too (17 days later).

Each refund's note names its RMA; each Loop return is on its own order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from report_samples import sheet_rows

from recon.clock import VirtualClock
from recon.config import Settings
from recon.models import PayoutRecord, RefundRecord
from recon.month_end import build_monthend
from recon.store.sql import SqlStore
from tests.fakes import balance_for, make_order, make_refund, make_return

NOW = datetime(2026, 12, 5, tzinfo=UTC)  # the mirror has November's payouts
OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))


def _payout(payout_id: str, issued_at: datetime, refunds: list[RefundRecord]) -> PayoutRecord:
    gross = sum((r.total for r in refunds), Decimal(0))
    return PayoutRecord(
        id=payout_id,
        issued_at=issued_at,
        status="PAID",
        currency="USD",
        net=-gross,
        refunds_gross=-gross,
    )


@pytest.fixture
def mirror(tmp_path: Path) -> Any:
    """The mirror the module docstring describes, and settings writing into ``tmp_path``."""
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    # Everything read on Nov 1 (each payout's ``synced_at``: the book says when it was read).
    store = SqlStore(
        f"sqlite:///{tmp_path / 'recon.db'}", clock=VirtualClock(datetime(2026, 11, 1, tzinfo=UTC))
    )
    closed = {
        1: datetime(2026, 9, 27, tzinfo=UTC),
        2: datetime(2026, 10, 2, tzinfo=UTC),
        3: datetime(2026, 10, 29, tzinfo=UTC),
        4: datetime(2026, 10, 14, tzinfo=UTC),
    }
    returns = {i: make_return(i, at) for i, at in closed.items()}
    refunds = {
        1: make_refund(1, closed[1] + timedelta(days=1), returns[1].refund - Decimal("5.00")),
        2: make_refund(2, closed[2] + timedelta(hours=10), returns[2].refund),
        3: make_refund(3, closed[3] + timedelta(days=1), returns[3].refund),
        4: make_refund(4, closed[4] + timedelta(days=1), returns[4].refund),
    }
    paid_in = {1: "P1", 2: "P1", 3: "P2", 4: "P2"}
    store.upsert_returns(list(returns.values()))
    store.upsert_orders(
        [make_order(i, r.processed_at + timedelta(hours=1), (r.id,)) for i, r in refunds.items()]
    )
    store.upsert_refunds(list(refunds.values()))
    store.upsert_balance_transactions([balance_for(i, r, paid_in[i]) for i, r in refunds.items()])
    store.upsert_payouts(
        [
            _payout("P1", datetime(2026, 10, 4, 6, tzinfo=UTC), [refunds[1], refunds[2]]),
            _payout("P2", datetime(2026, 11, 2, 6, tzinfo=UTC), [refunds[3], refunds[4]]),
        ]
    )
    yield settings, store
    store.close()


def _book(mirror: Any, period: tuple[date, date]) -> Path:
    settings, store = mirror
    return build_monthend(settings, store, NOW, *period)


def _tieout(path: Path) -> dict[str, tuple[int, int, int]]:
    return {
        str(r["payout_id"]): (r["refunds_count"], r["refunds_matched"], r["refunds_unmatched"])
        for r in sheet_rows(path, "Payouts")
    }


def test_a_payout_of_the_month_ties_the_refunds_of_the_month_before_to_their_rmas(
    mirror: Any,
) -> None:
    """P1 (Oct 4) carries 1001's September refund and 1002's: October ties both to their RMAs,
    as the full history does (it said 1 matched, 1 unmatched: a refund nobody can explain)."""
    assert _tieout(_book(mirror, OCTOBER))["P1"] == (2, 2, 0)


def test_returns_read_to_tie_a_payout_out_raise_no_findings_in_the_month(mirror: Any) -> None:
    """Return 1001 is September's: its AMOUNT_MISMATCH is in September's book, and October's
    names 1001 in no sheet but the payout's count (the Matched sheet is the month's returns)."""
    september = sheet_rows(_book(mirror, (date(2026, 9, 1), date(2026, 10, 1))), "Exceptions")
    october = _book(mirror, OCTOBER)
    assert ("AMOUNT_MISMATCH", "1001") in {(r["category"], r["rma"]) for r in september}
    assert [r for r in sheet_rows(october, "Exceptions") if r["rma"] == "1001"] == []
    assert sorted(r["rma"] for r in sheet_rows(october, "Matched")) == ["1002", "1003", "1004"]


def test_a_refund_paid_out_in_the_next_months_payout_is_not_yet_paid_out_in_the_month(
    mirror: Any,
) -> None:
    """1003's Oct 30 refund went out in P2 on Nov 2. At the close of October it was in no payout:
    October's Matched sheet names none (it said P2, PAID, a payout in no sheet of the book), and
    no break (a refund 2 days old waits for its payout)."""
    october = _book(mirror, OCTOBER)
    (row,) = [r for r in sheet_rows(october, "Matched") if r["rma"] == "1003"]
    assert (row["refund_ids"], row["payout_ids"], row["payout_statuses"]) == ("7003", None, None)
    assert "P2" not in _tieout(october)
    assert [r for r in sheet_rows(october, "Exceptions") if r["rma"] == "1003"] == []


def test_the_next_months_payout_ties_the_refund_to_its_rma(mirror: Any) -> None:
    """November's book ties P2's refunds to RMAs 1003 and 1004, returns of October's."""
    assert _tieout(_book(mirror, NOVEMBER))["P2"] == (2, 2, 0)


def test_a_refund_in_no_payout_past_the_limit_at_the_months_end_is_unsettled_in_the_month(
    mirror: Any,
) -> None:
    """1004's Oct 15 refund was in no payout at the close of October, 16 days later (past
    ``unsettled_after_days``, 10): October lists its UNSETTLED_REFUND, as a nightly run on
    Oct 31 did; November's does not (P2 paid it out on Nov 2)."""
    october = sheet_rows(_book(mirror, OCTOBER), "Exceptions")
    november = sheet_rows(_book(mirror, NOVEMBER), "Exceptions")
    assert [r["category"] for r in october if r["rma"] == "1004"] == ["UNSETTLED_REFUND"]
    assert [r for r in november if r["rma"] == "1004"] == []


def test_a_payout_of_the_month_before_is_in_that_months_book_only(mirror: Any) -> None:
    """Return 1005 closed Sep 3 and was refunded Sep 4, paid out in P0 (issued Sep 8). On Oct 5
    CX refunds 3.00 of goodwill on its order: the order has activity in October and comes in
    whole, with the Sep 4 refund and its settlement. P0 is September's payout: October's
    Payouts sheet (and its Summary's payout refunds) must not count it a second time."""
    _, store = mirror
    ret = make_return(5, datetime(2026, 9, 3, tzinfo=UTC))
    paid = make_refund(5, datetime(2026, 9, 4, tzinfo=UTC), ret.refund)
    goodwill = make_refund(6, datetime(2026, 10, 5, tzinfo=UTC), Decimal("3.00"), note="goodwill")
    goodwill = goodwill.model_copy(update={"order_id": paid.order_id})
    store.upsert_returns([ret])
    store.upsert_orders([make_order(5, goodwill.processed_at, (paid.id, goodwill.id))])
    store.upsert_refunds([paid, goodwill])
    store.upsert_balance_transactions([balance_for(5, paid, "P0")])
    store.upsert_payouts([_payout("P0", datetime(2026, 9, 8, 6, tzinfo=UTC), [paid])])
    assert "P0" in _tieout(_book(mirror, (date(2026, 9, 1), date(2026, 10, 1))))
    assert sorted(_tieout(_book(mirror, OCTOBER))) == ["P1"]


def test_a_payouts_unmatched_refunds_are_summed_for_finance_to_accrue(mirror: Any) -> None:
    """On Oct 3 CX refunds 3.00 of goodwill, no RMA in its note, on return 1002's order; P1
    (Oct 4) pays it out with 1001's and 1002's refunds. October's Payouts sheet says how much
    of P1 no RMA explains (-3.00, money out like refunds_sum), not only that one refund is."""
    _, store = mirror
    goodwill = make_refund(7, datetime(2026, 10, 3, tzinfo=UTC), Decimal("3.00"), note="goodwill")
    goodwill = goodwill.model_copy(update={"order_id": "5002"})
    store.upsert_orders([make_order(2, goodwill.processed_at, ("7002", goodwill.id))])
    store.upsert_refunds([goodwill])
    store.upsert_balance_transactions([balance_for(7, goodwill, "P1")])
    rows = {str(r["payout_id"]): r for r in sheet_rows(_book(mirror, OCTOBER), "Payouts")}
    p1 = rows["P1"]
    assert (p1["refunds_count"], p1["refunds_unmatched"]) == (3, 1)
    assert Decimal(str(p1["refunds_unmatched_sum"])) == Decimal("-3.00")
    assert Decimal(str(rows["P1"]["refunds_sum"])) < Decimal(str(p1["refunds_unmatched_sum"]))


def test_rebuilding_a_months_book_keeps_the_one_built_before(mirror: Any) -> None:
    """The book finance closed the month with is its record: building the month again (a
    later ``report --month``) writes a new book and keeps the earlier one beside it."""
    october = (date(2026, 10, 1), date(2026, 11, 1))
    first = _book(mirror, october)
    closed_with = first.read_bytes()
    _, store = mirror
    store.upsert_payouts([_payout("P3", datetime(2026, 10, 20, 6, tzinfo=UTC), [])])

    again = _book(mirror, october)

    assert again == first  # the month's name is the newest book
    assert "P3" in _tieout(again)
    kept = sorted(p for p in first.parent.iterdir() if p != first)
    assert [p.read_bytes() for p in kept] == [closed_with]
    assert kept[0].name.startswith("2026-10.") and kept[0].suffix == ".xlsx"
    assert "P3" not in _tieout(kept[0])


def test_a_payout_returned_after_the_close_shows_its_status_as_read_and_the_summary_says_so(
    mirror: Any,
) -> None:
    """The bank returned P1 (issued Oct 4) on Nov 3; the nightly of Nov 4 read it FAILED. The
    mirror keeps no payout status history, so October's book, built Dec 5, shows P1 FAILED,
    as recon last read it, and the Summary says whose status that is and when it was read
    (finance would otherwise take it for P1's status at October's close)."""
    _, store = mirror
    (p1,) = [p for p in store.load_snapshot().payouts if p.id == "P1"]
    store.clock.set(datetime(2026, 11, 4, 2, tzinfo=UTC))  # the nightly of Nov 4 re-reads P1
    store.upsert_payouts([p1.model_copy(update={"status": "FAILED"})])
    store.set_watermark("shopify.payouts", datetime(2026, 11, 4, 2, tzinfo=UTC))
    path = _book(mirror, OCTOBER)
    assert {r["payout_id"]: r["status"] for r in sheet_rows(path, "Payouts")}["P1"] == "FAILED"
    summary = load_workbook(path)["Summary"]
    labels = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row and row[0]}
    note = labels["Payout statuses"]
    # P1's own last read (Nov 4), not the Nov 1 read of everything else.
    assert "(2026-11-04 02:00 UTC)" in note and "not at the period's end" in note, note


def test_the_payout_status_note_spans_the_earliest_and_latest_read() -> None:
    """Payouts last read on different nights: the note gives both ends, so finance sees how old
    the oldest status is; none in the period: no time at all."""
    from recon.reporting.monthend import _payout_status_note

    read = (datetime(2026, 10, 10, 2, tzinfo=UTC), datetime(2026, 11, 20, 2, tzinfo=UTC))
    assert _payout_status_note(read) == (
        "as recon last read them from Shopify (between 2026-10-10 02:00 and 2026-11-20 02:00 "
        "UTC), not at the period's end"
    )
    assert _payout_status_note(None) == (
        "as recon last read them from Shopify, not at the period's end"
    )
