"""Review 21D: an RMA refunded in two parts, one paid out by the close and one not.

The Matched sheet ties each RMA to the payouts its refunds settled in (``payout_ids``,
``payout_statuses``): a controller reads "P1 / PAID" beside ``refunded_total`` as "this RMA's
refund is in the bank, in P1". Only transactions already in a payout are joined
(``engine._matches``: ``paid_at`` is -1 for a transaction with no payout), so a second refund
still waiting for its payout at the close leaves no trace in the row: the RMA reads as paid out
in P1 whole, though P1 carries 7.00 of its 12.02.

Dataset (USD, shop days UTC): return 1002 closed Oct 2 for 12.02; refund 7002 of 7.00 on Oct 2,
paid out in P1 (issued Oct 4, PAID); refund 7102 of 5.02 on Oct 30, naming the same RMA, paid
out in P2 issued Nov 2 (after October's close: PENDING, in no payout, at the close). The book
for October is built on Nov 20.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook

from recon.clock import VirtualClock
from recon.config import Settings
from recon.models import PayoutRecord
from recon.month_end import build_monthend
from recon.store.sql import SqlStore
from tests.fakes import balance_for, make_order, make_refund, make_return

BUILT = datetime(2026, 11, 20, tzinfo=UTC)


def _october_book(tmp_path: Path) -> Path:
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=VirtualClock(BUILT))
    try:
        ret = make_return(2, datetime(2026, 10, 2, tzinfo=UTC))  # 12.02 to refund
        first = make_refund(2, datetime(2026, 10, 2, 10, tzinfo=UTC), Decimal("7.00"))
        second = make_refund(
            102, datetime(2026, 10, 30, 10, tzinfo=UTC), Decimal("5.02"), note="Loop RMA #1002"
        )
        second = second.model_copy(  # on the same order as the first
            update={
                "order_id": first.order_id,
                "transactions": (
                    second.transactions[0].model_copy(update={"order_id": first.order_id}),
                ),
            }
        )
        store.upsert_returns([ret])
        store.upsert_orders(
            [make_order(2, second.processed_at + timedelta(hours=1), (first.id, second.id))]
        )
        store.upsert_refunds([first, second])
        store.upsert_balance_transactions(
            [
                balance_for(2, first, "P1"),
                balance_for(102, second, "P2").model_copy(update={"order_id": first.order_id}),
            ]
        )
        store.upsert_payouts(
            [
                PayoutRecord(
                    id="P1",
                    issued_at=datetime(2026, 10, 4, 6, tzinfo=UTC),
                    status="PAID",
                    currency="USD",
                    net=Decimal("-7.00"),
                    refunds_gross=Decimal("-7.00"),
                ),
                PayoutRecord(
                    id="P2",
                    issued_at=datetime(2026, 11, 2, 6, tzinfo=UTC),  # after the close
                    status="PAID",
                    currency="USD",
                    net=Decimal("-5.02"),
                    refunds_gross=Decimal("-5.02"),
                ),
            ]
        )
        return build_monthend(settings, store, BUILT, date(2026, 10, 1), date(2026, 11, 1))
    finally:
        store.close()


def test_a_refund_not_yet_paid_out_shows_on_the_matched_row(tmp_path: Path) -> None:
    sheet = load_workbook(_october_book(tmp_path))["Matched"]
    rows = list(sheet.iter_rows(values_only=True))
    header, data = rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert "payout_statuses" in header
    (row,) = [r for r in data if r["rma"] == "1002"]
    # The setup is what the docstring says: both refunds tied to the RMA, 12.02 in all.
    assert row["refund_ids"] == "7002,7102"
    assert Decimal(str(row["refunded_total"])) == Decimal("12.02")
    # At the close 5.02 of it was in no payout: the row must say so, not "PAID" alone.
    # Side by side: P1 paid, and a part in no payout yet.
    assert (row["payout_ids"], row["payout_statuses"]) == ("(none),P1", "PENDING,PAID")
