"""Benchmark: the streamed month-end workbook against XlsxWriter's constant_memory mode.

Usage: ``python bench/bench_report.py [--rows 100000]``. Writes Exceptions + Matched sheets of
``--rows`` rows each, prints seconds, the ratio to XlsxWriter (goal <= 1.2x) and tracemalloc peak
memory of the writer at 10,000 rows and at ``--rows`` rows (goal: flat).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recon.models import Category, Finding, Owner, Severity
from recon.reporting.data import ReportData
from recon.reporting.exceptions_xlsx import EXCEPTION_COLUMNS, exception_values
from recon.reporting.figures import build_report_data
from recon.reporting.monthend import MATCHED_COLUMNS, frame_rows, write_monthend_workbook

AS_OF = datetime(2026, 11, 1, 2, tzinfo=UTC)
CATEGORIES = list(Category)


def make_data(rows: int) -> ReportData:
    """``rows`` findings and ``rows`` matched RMAs, deterministic."""
    findings = [
        Finding(
            key=f"MISSING_REFUND|rma={10_000_000 + i}",
            category=CATEGORIES[i % len(CATEGORIES)],
            severity=list(Severity)[i % 4],
            owner=list(Owner)[i % 3],
            rma=str(10_000_000 + i),
            shopify_order_id=str(5_444_175_000_000 + i),
            shopify_order_name=f"#{7_400_000 + i}",
            shopify_refund_ids=(str(9_000_000 + i),),
            sku=f"SKU-{i % 997}",
            amount_at_risk=Decimal(i % 10_000) / 100,
            currency=("USD", "EUR", "CAD")[i % 3],
            detail=f"Loop refunded {i % 500}.00 but Shopify shows nothing for RMA {10_000_000 + i}",
            next_step="Create the refund in Shopify",
            first_seen=AS_OF - timedelta(days=i % 45),
        )
        for i in range(rows)
    ]
    matches = pd.DataFrame(
        {
            "rma": [str(10_000_000 + i) for i in range(rows)],
            "shopify_order_id": [str(5_444_175_000_000 + i) for i in range(rows)],
            "shopify_order_name": [f"#{7_400_000 + i}" for i in range(rows)],
            "state": "closed",
            "outcome": "refund",
            "currency": [("USD", "EUR", "CAD")[i % 3] for i in range(rows)],
            "loop_refund": [Decimal(i % 10_000) / 100 for i in range(rows)],
            "loop_gift_card": [Decimal("0.00")] * rows,
            "refund_ids": [str(9_000_000 + i) for i in range(rows)],
            "refunded_total": [Decimal(i % 10_000) / 100 for i in range(rows)],
            "match_method": "note",
            "match_confidence": 1.0,
            "transaction_ids": [str(8_000_000 + i) for i in range(rows)],
            "payout_ids": [str(700 + i % 30) for i in range(rows)],
            "payout_statuses": "PAID",
        }
    )
    return build_report_data(
        findings=findings,
        matches=matches,
        payout_tieout=pd.DataFrame(),
        actions=[],
        store_credit=[],
        previous_findings=None,
        shop="bench",
        shop_domain="bench.myshopify.com",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        run_id="bench",
        as_of=AS_OF,
    )


def write_xlsxwriter(data: ReportData, path: Path) -> None:
    """The anchor: the same two sheets with XlsxWriter in constant_memory mode."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    money = book.add_format({"num_format": "#,##0.00"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})

    def sheet(name: str, headers: list[str], rows: object) -> None:
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, headers)
        for r, row in enumerate(rows, start=1):  # type: ignore[call-overload]
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, Decimal):
                    ws.write_number(r, c, float(value), money)
                elif isinstance(value, date):
                    ws.write_datetime(r, c, value, day)
                elif isinstance(value, int | float):
                    ws.write_number(r, c, value)
                elif hasattr(value, "text"):
                    ws.write_formula(r, c, value.text)
                else:
                    ws.write_string(r, c, str(value))

    sheet(
        "Exceptions",
        [c.name for c in EXCEPTION_COLUMNS],
        (exception_values(row) for row in data.exception_rows()),
    )
    sheet(
        "Matched",
        [c.name for c in MATCHED_COLUMNS],
        frame_rows(data, data.matches, MATCHED_COLUMNS),
    )
    book.close()


def timed(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_mib(fn: Callable[[], None]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        data = make_data(args.rows)
        ours = timed(lambda: write_monthend_workbook(data, out / "recon.xlsx"))
        anchor = timed(lambda: write_xlsxwriter(data, out / "xlsxwriter.xlsx"))
        print(f"rows per sheet:            {args.rows:,} (Exceptions + Matched)")
        print(f"recon (openpyxl write-only): {ours:8.2f} s")
        print(f"XlsxWriter constant_memory:  {anchor:8.2f} s")
        print(f"ratio:                       {ours / anchor:8.2f}x (goal <= 1.2x)")
        small = make_data(10_000)
        peak_small = peak_mib(lambda: write_monthend_workbook(small, out / "small.xlsx"))
        peak_big = peak_mib(lambda: write_monthend_workbook(data, out / "big.xlsx"))
        print(f"writer peak memory @ 10,000 rows: {peak_small:7.1f} MiB")
        print(f"writer peak memory @ {args.rows:,} rows: {peak_big:7.1f} MiB (goal: flat)")


if __name__ == "__main__":
    main()
