"""Review 21D: a payout's refund whose Loop return names no Shopify order reads unmatched.

The month-end Payouts sheet ties each refund of the period's payouts to its RMA over context
read by ``load_payout_context``: the Loop returns *on the payouts' orders*
(``ret.provider_order_id``). The engine links a refund to the return its note names even when
the return carries no order id (``link._on_other_orders`` compares orders "only where both are
known"), and September's Matched sheet does so. October's Payouts sheet does not load that
return, so the same refund is counted in ``refunds_unmatched_sum``: money finance is told no RMA
explains and accrues, though September's book tied it to RMA 1002.

Dataset (USD, shop days UTC): return 1002 (no ``provider_order_id``) of 12.02, refunded Sep 30
by refund 7002 whose note names it; paid out in P1, issued Oct 2. The books are built on Nov 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from recon.clock import VirtualClock
from recon.config import Settings
from recon.models import PayoutRecord
from recon.month_end import build_monthend
from recon.store.sql import SqlStore
from tests.fakes import balance_for, make_order, make_refund, make_return

BUILT = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture
def books(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """September's and October's books over the dataset above."""
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=VirtualClock(BUILT))
    try:
        ret = make_return(2, datetime(2026, 9, 28, tzinfo=UTC))
        ret = ret.model_copy(update={"provider_order_id": None})
        refund = make_refund(2, datetime(2026, 9, 30, 10, tzinfo=UTC), ret.refund)
        store.upsert_returns([ret])
        store.upsert_orders([make_order(2, refund.processed_at + timedelta(hours=1), (refund.id,))])
        store.upsert_refunds([refund])
        store.upsert_balance_transactions([balance_for(2, refund, "P1")])
        store.upsert_payouts(
            [
                PayoutRecord(
                    id="P1",
                    issued_at=datetime(2026, 10, 2, 6, tzinfo=UTC),
                    status="PAID",
                    currency="USD",
                    net=-refund.total,
                    refunds_gross=-refund.total,
                )
            ]
        )
        yield {
            "september": build_monthend(
                settings, store, BUILT, date(2026, 9, 1), date(2026, 10, 1)
            ),
            "october": build_monthend(settings, store, BUILT, date(2026, 10, 1), date(2026, 11, 1)),
        }
    finally:
        store.close()


def _rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    rows = list(load_workbook(path)[sheet].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_a_refund_matched_in_its_month_is_matched_in_its_payout(books: dict[str, Path]) -> None:
    (matched,) = [r for r in _rows(books["september"], "Matched") if r["rma"] == "1002"]
    assert matched["refund_ids"] == "7002"  # September ties refund 7002 to RMA 1002
    (p1,) = [r for r in _rows(books["october"], "Payouts") if r["payout_id"] == "P1"]
    assert p1["refunds_count"] == 1
    assert (p1["refunds_matched"], p1["refunds_unmatched"], p1["refunds_unmatched_sum"]) == (
        1,
        0,
        0,
    )
