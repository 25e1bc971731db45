"""The month-end Summary's payout figures, as finance reads them to say the payouts tie out.

Payouts fed in (the engine's tie-out rows), each with 20.00 of refunds: in USD, 701 (+7.00
difference), 702 (-7.00) and 703 (tied out, 0.00); in EUR, 704 (tied out); and with them, for
the failed ones, USD 705 (FAILED, 3.00 off) and 706 (CANCELED).
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from formula_check import evaluate, table_columns
from openpyxl import load_workbook
from report_samples import make_data, sheet_rows
from test_workbook import summary_formulas

from recon.reporting.monthend import write_monthend_workbook

NOT_TIED = "Payouts not tied out"
SIGNED = "Payout difference (signed net)"


def payout(payout_id: str, currency: str, difference: str, status: str = "PAID") -> dict[str, Any]:
    """A tie-out row: two refunds of 10.00 out, the summary saying ``difference`` less."""
    refunds = Decimal("-20.00")
    return {
        "payout_id": payout_id,
        "issued_at": datetime(2026, 10, 20, tzinfo=UTC),
        "status": status,
        "transaction_type": "DEPOSIT",
        "currency": currency,
        "refunds_count": 2,
        "refunds_matched": 2,
        "refunds_unmatched": 0,
        "refunds_unmatched_sum": Decimal("0.00"),
        "refunds_sum": refunds,
        "summary_refunds_gross": refunds - Decimal(difference),
        "difference": Decimal(difference),
        "refund_failures_count": 0,
        "refund_failures_sum": Decimal("0.00"),
    }


PAYOUTS = [
    payout("701", "USD", "7.00"),
    payout("702", "USD", "-7.00"),
    payout("703", "USD", "0.00"),
    payout("704", "EUR", "0.00"),
]
FAILED_TOO = [
    *PAYOUTS,
    payout("705", "USD", "3.00", status="FAILED"),
    payout("706", "USD", "0.00", status="CANCELED"),
]


def _book(
    tmp_path: Path, rows: list[dict[str, Any]]
) -> tuple[Path, dict[Any, str], dict[Any, Any]]:
    """The book over ``rows``; its Summary formulas and their values."""
    data = make_data(payout_tieout=pd.DataFrame(rows))
    path = write_monthend_workbook(data, tmp_path / "book.xlsx")
    book = load_workbook(path)
    summary, tables = book["Summary"], table_columns(book)
    formulas = summary_formulas(summary)
    return path, formulas, {k: evaluate(summary, f, tables) for k, f in formulas.items()}


def test_payouts_off_both_ways_are_counted_not_netted_to_tied_out(tmp_path: Path) -> None:
    """+7.00 and -7.00 netted to a "Payout difference" of 0.00 for USD: read as all tied out.
    The Summary counts the payouts whose difference is not zero, per currency, beside the
    signed sum (labelled as such)."""
    _, formulas, figures = _book(tmp_path, PAYOUTS)
    assert figures[("USD", SIGNED)] == 0
    assert figures[("USD", NOT_TIED)] == 2
    assert figures[("EUR", NOT_TIED)] == 0
    assert formulas[("USD", NOT_TIED)] == (
        '=COUNTIFS(Payouts[currency],"USD",Payouts[payout_id],"<>",Payouts[status],"<>FAILED",'
        'Payouts[status],"<>CANCELED",Payouts[difference],"<>0")'
    )


def test_an_empty_payouts_sheet_counts_no_payout_off(tmp_path: Path) -> None:
    """An empty table keeps a blank row, which "<>0" alone would count (Excel matches it)."""
    _, _, figures = _book(tmp_path, [])
    assert figures[("USD", NOT_TIED)] == 0


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_a_spreadsheet_recomputes_the_payout_figures(tmp_path: Path) -> None:
    path, _, _ = _book(tmp_path, FAILED_TOO)
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [str(shutil.which("soffice")), "--headless", "--convert-to", "xlsx", "--outdir",
         str(tmp_path / "lo"), str(path)],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    values = load_workbook(tmp_path / "lo" / path.name, data_only=True)["Summary"]
    rows = {row[0].value: row for row in values.iter_rows()}
    usd = dict(zip((c.value for c in rows["Currency"]), rows["USD"], strict=False))
    assert usd[NOT_TIED].value == 2
    assert Decimal(str(usd[SIGNED].value)) == 0
    assert Decimal(str(usd["Payout refunds"].value)) == Decimal("-60.00")
    assert usd["Failed or cancelled payouts"].value == 2
    assert Decimal(str(usd["Refunds in failed or cancelled payouts"].value)) == Decimal("-40.00")


def test_failed_and_cancelled_payouts_are_not_counted_as_paid(tmp_path: Path) -> None:
    """A payout the bank declined (FAILED) or Shopify cancelled reached no bank, yet its
    refunds counted in "Payout refunds" (-100.00 for USD instead of -60.00) and its
    difference in the tie-out. They stay on the Payouts sheet with their status; the Summary
    counts them and their refunds on columns of their own."""
    path, formulas, figures = _book(tmp_path, FAILED_TOO)
    statuses = {r["payout_id"]: r["status"] for r in sheet_rows(path, "Payouts")}
    assert (statuses["705"], statuses["706"]) == ("FAILED", "CANCELED")
    paid = [p for p in FAILED_TOO if p["currency"] == "USD" and p["status"] == "PAID"]
    assert figures[("USD", "Payout refunds")] == sum(p["refunds_sum"] for p in paid)
    assert figures[("USD", "Payout refunds")] == Decimal("-60.00")
    assert figures[("USD", NOT_TIED)] == 2  # 701 and 702; 705 reached no bank
    assert figures[("USD", SIGNED)] == 0
    assert figures[("USD", "Failed or cancelled payouts")] == 2
    assert figures[("USD", "Refunds in failed or cancelled payouts")] == Decimal("-40.00")
    assert figures[("EUR", "Failed or cancelled payouts")] == 0
    assert '"<>FAILED"' in formulas[("USD", "Payout refunds")]
    assert '"<>CANCELED"' in formulas[("USD", "Payout refunds")]
