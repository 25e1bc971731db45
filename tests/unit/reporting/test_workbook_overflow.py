"""A sheet longer than Excel's grid (1,048,576 rows) goes on in continuation sheets.

openpyxl wrote row 1,048,577 and on without a word, and Excel refuses such a file as corrupt:
a month with more matched RMAs than that lost the whole book. These tests shrink the grid
(``rows_per_sheet``; writing a million rows would take minutes) and check what finance reads:
every row is in exactly one part, each part is a table, and the Summary's figures are the
same as when everything fits on one sheet.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from formula_check import evaluate, table_columns
from openpyxl import load_workbook
from report_samples import make_data as sample_data
from report_samples import sample_findings
from test_workbook import summary_formulas

from recon.models import FindingStatus
from recon.reporting.data import ReportData
from recon.reporting.exceptions_xlsx import write_exceptions_workbook
from recon.reporting.monthend import write_monthend_workbook

# The header and one data row per sheet: every sheet of the sample with two rows overflows.
ONE_ROW = 2


def make_data() -> ReportData:
    """The sample, with two breaks carried forward (open, and acknowledged): every month-end
    sheet has at least two rows."""
    first = sample_findings()[0]
    carried = tuple(
        first.model_copy(update={"key": f"{first.key}|carried{i}", "status": status})
        for i, status in enumerate((FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED))
    )
    return replace(sample_data(), carried_forward=carried)


def _rows(book: Any, title: str) -> Counter[tuple[Any, ...]]:
    """Data rows of sheet ``title`` and of its continuation sheets ``title (2)``, ...."""
    parts = [ws for ws in book.worksheets if ws.title == title or ws.title.startswith(title + " (")]
    return Counter(row for ws in parts for row in ws.iter_rows(min_row=2, values_only=True))


def test_every_row_lands_in_exactly_one_part_each_part_a_table(tmp_path: Path) -> None:
    whole = load_workbook(write_monthend_workbook(make_data(), tmp_path / "whole.xlsx"))
    split = load_workbook(
        write_monthend_workbook(make_data(), tmp_path / "split.xlsx", rows_per_sheet=ONE_ROW)
    )

    assert split.sheetnames[:6] == [
        "Summary",
        "Exceptions",
        "Exceptions (2)",
        "Exceptions (3)",
        "Exceptions (4)",
        "Exceptions (5)",
    ]
    assert "Matched (2)" in split.sheetnames and "Actions (2)" in split.sheetnames
    assert "Carried forward (2)" in split.sheetnames
    for title in ("Exceptions", "Carried forward", "Matched", "Payouts", "Actions", "Store credit"):
        assert _rows(split, title) == _rows(whole, title), title
    for ws in split.worksheets[1:]:
        assert ws.max_row <= ONE_ROW, ws.title
        (table,) = ws.tables.values()  # header read back: table_columns checks it
        assert table.ref.endswith(str(ws.max_row))
    assert {"Exceptions5", "Matched2"} <= set(table_columns(split))


def test_the_summary_adds_up_every_part(tmp_path: Path) -> None:
    """Each Summary figure of the split book equals the one-sheet book's, formula by formula."""
    whole = load_workbook(write_monthend_workbook(make_data(), tmp_path / "whole.xlsx"))
    split = load_workbook(
        write_monthend_workbook(make_data(), tmp_path / "split.xlsx", rows_per_sheet=ONE_ROW)
    )
    expected = {
        key: evaluate(whole["Summary"], f, table_columns(whole))
        for key, f in summary_formulas(whole["Summary"]).items()
    }
    formulas = summary_formulas(split["Summary"])
    got = {key: evaluate(split["Summary"], f, table_columns(split)) for key, f in formulas.items()}

    assert got == expected
    assert expected[("Open findings", "Value")] == 5  # the sample is not all zeros
    assert expected[("USD", "Matched refunds")] == Decimal("20.00")
    assert "Exceptions5[amount_at_risk]" in formulas[("USD", "Money at risk")]
    carried = formulas[("USD", "Carried forward at risk")]
    assert "CarriedForward[amount_at_risk]" in carried
    assert "CarriedForward2[amount_at_risk]" in carried
    at_end = expected[("USD", "Money at risk at the period's end")]
    assert (
        at_end == expected[("USD", "Money at risk")] + expected[("USD", "Carried forward at risk")]
    )


SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed")
def test_a_spreadsheet_opens_the_split_book_and_recomputes_its_totals(tmp_path: Path) -> None:
    assert SOFFICE is not None
    path = write_monthend_workbook(make_data(), tmp_path / "split.xlsx", rows_per_sheet=ONE_ROW)
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [SOFFICE, "--headless", "--convert-to", "xlsx", "--outdir", str(tmp_path / "lo"), path],
        check=True,
        timeout=120,
        capture_output=True,
    )
    values = load_workbook(tmp_path / "lo" / path.name, data_only=True)["Summary"]
    labels = {row[0].value: row for row in values.iter_rows()}
    usd = dict(zip((c.value for c in labels["Currency"]), labels["USD"], strict=False))
    assert labels["Open findings"][1].value == 5
    assert Decimal(str(usd["Money at risk"].value)) == Decimal("198.60")
    assert Decimal(str(usd["Matched refunds"].value)) == Decimal("20.00")
    carried = sample_findings()[0].amount_at_risk  # the open one of the two carried forward
    assert sample_findings()[0].currency == "USD"
    assert Decimal(str(usd["Carried forward at risk"].value)) == carried
    assert (
        Decimal(str(usd["Money at risk at the period's end"].value)) == Decimal("198.60") + carried
    )


def test_the_nightly_workbook_keeps_every_finding(tmp_path: Path) -> None:
    data = make_data()
    whole = load_workbook(write_exceptions_workbook(data, tmp_path / "whole.xlsx"))
    split = load_workbook(
        write_exceptions_workbook(data, tmp_path / "split.xlsx", rows_per_sheet=ONE_ROW)
    )

    assert _rows(split, "Exceptions") == _rows(whole, "Exceptions")
    assert sum(_rows(split, "Exceptions").values()) == 5
    assert "Exceptions (5)" in split.sheetnames
