"""Review 17: the month-end Summary's "Payout statuses" says when recon last read them.

The Summary says the payouts' statuses are "as recon last read them from Shopify (<when>)",
and docs/commands.md says the Summary "says when". ``<when>`` is the payouts watermark: the end
of the last nightly's payouts read. That read re-reads only payouts issued in the last
``[sync] payout_recheck_days`` (14), plus open ones: a PAID payout issued earlier is not read
again, so its status is as of the night it was last read, often weeks before. A controller
closing October in late November reads P1's PAID as read on Nov 20; recon last read it on
Oct 10, and the bank may have returned it since.

Dataset (USD): return 1002 closed Oct 2, refunded Oct 2, paid out in payout P1 (issued Oct 4,
PAID), all read by recon on Oct 10; the nightly of Nov 20 read payouts up to Nov 20 02:00
(issued since Nov 6: P1 is not among them). The book for October is built on Nov 20.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook

from recon.clock import VirtualClock
from recon.config import Settings
from recon.models import PayoutRecord
from recon.month_end import build_monthend
from recon.store.sql import SqlStore
from recon.sync_plan import PAYOUTS
from tests.fakes import balance_for, make_order, make_refund, make_return

READ_P1 = datetime(2026, 10, 10, 2, tzinfo=UTC)
LAST_NIGHTLY = datetime(2026, 11, 20, 2, tzinfo=UTC)


def test_the_summary_says_when_a_payout_not_read_again_was_last_read(tmp_path: Path) -> None:
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    clock = VirtualClock(READ_P1)
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    try:
        ret = make_return(2, datetime(2026, 10, 2, tzinfo=UTC))
        refund = make_refund(2, datetime(2026, 10, 2, 10, tzinfo=UTC), ret.refund)
        store.upsert_returns([ret])
        store.upsert_orders([make_order(2, refund.processed_at + timedelta(hours=1), (ret.id,))])
        store.upsert_refunds([refund])
        store.upsert_balance_transactions([balance_for(2, refund, "P1")])
        store.upsert_payouts(
            [
                PayoutRecord(
                    id="P1",
                    issued_at=datetime(2026, 10, 4, 6, tzinfo=UTC),
                    status="PAID",
                    currency="USD",
                    net=-refund.total,
                    refunds_gross=-refund.total,
                )
            ]
        )
        clock.set(LAST_NIGHTLY)
        store.set_watermark(PAYOUTS, LAST_NIGHTLY)  # P1 was not in that read
        path = build_monthend(settings, store, LAST_NIGHTLY, date(2026, 10, 1), date(2026, 11, 1))
    finally:
        store.close()
    summary = load_workbook(path)["Summary"]
    labels = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row and row[0]}
    note = str(labels["Payout statuses"])
    # P1's PAID is as read on Oct 10: the note must not date it Nov 20 alone.
    assert "2026-10-10" in note, note
