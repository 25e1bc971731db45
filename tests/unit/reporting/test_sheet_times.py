"""Every time in the workbooks says its zone: the sheets write times in UTC (as findings.json
keeps them; Excel cells have no zone), so every column of times names UTC in its header.

Dataset: the sample report (report_samples.py): two intents created and updated at 02:00 UTC
on 1 November, a payout issued on 20 October; the shop's zone is Sydney, eleven hours ahead,
where those intents were made at 13:00: a reader who took the sheet's 02:00 for shop time
would be eleven hours out.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from report_samples import AS_OF, make_data

from recon.reporting.exceptions_xlsx import write_run_reports
from recon.reporting.monthend import write_monthend_workbook


def _time_columns(path: Path) -> dict[tuple[str, str], list[datetime]]:
    """(sheet, header) → the times (cells with an hour in their format) of each column."""
    found: dict[tuple[str, str], list[datetime]] = {}
    book = load_workbook(path)
    for sheet in book.worksheets:
        if sheet.title == "Summary":
            continue  # label/value rows, not columns: checked apart
        header = [str(c.value) for c in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for title, cell in zip(header, row, strict=False):
                if isinstance(cell.value, datetime) and "h" in cell.number_format:
                    found.setdefault((sheet.title, title), []).append(cell.value)
    return found


@pytest.mark.parametrize("book", ["exceptions.xlsx", "month-end"])
def test_every_column_of_times_names_utc(tmp_path: Path, book: str) -> None:
    data = make_data(timezone="Australia/Sydney")
    if book == "exceptions.xlsx":
        path = write_run_reports(data, tmp_path / "run").exceptions_xlsx
    else:
        path = write_monthend_workbook(data, tmp_path / "2026-10.xlsx")
    columns = _time_columns(path)
    assert ("Actions", "created_at (UTC)") in columns  # the nightly's Actions sheet too
    untold = [(sheet, header) for sheet, header in columns if not header.endswith("(UTC)")]
    assert untold == []
    # and the times are UTC: 02:00, not Sydney's 13:00
    assert columns[("Actions", "created_at (UTC)")][0] == AS_OF.replace(tzinfo=None)


def test_the_month_end_payouts_issued_at_names_utc(tmp_path: Path) -> None:
    path = write_monthend_workbook(make_data(), tmp_path / "2026-10.xlsx")
    assert ("Payouts", "issued_at (UTC)") in _time_columns(path)


def _dated_columns(path: Path) -> dict[tuple[str, str], list[datetime]]:
    """(sheet, header) → the values of each column of dates or times (any date format)."""
    found: dict[tuple[str, str], list[datetime]] = {}
    book = load_workbook(path)
    for sheet in book.worksheets:
        if sheet.title == "Summary":
            continue
        header = [str(c.value) for c in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for title, cell in zip(header, row, strict=False):
                if isinstance(cell.value, datetime):
                    found.setdefault((sheet.title, title), []).append(cell.value)
    return found


def _late_in_utc() -> Any:
    """A break first seen at 15:00 UTC on 29 October: 02:00 on the 30th in Sydney."""
    from report_samples import finding

    from recon.models import Category

    return finding(
        Category.MISSING_REFUND, "rma=9", "10.00", "USD",
        first_seen=datetime(2026, 10, 29, 15, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.parametrize("book", ["exceptions.xlsx", "month-end"])
def test_every_column_of_dates_names_its_zone_and_holds_its_days(tmp_path: Path, book: str) -> None:
    """``first_seen`` holds the shop's day (as the period and the report folder are), but its
    header named no zone: a reader in London took Sydney's 30 October for a UTC date. Every
    column of dates or times names its zone: UTC for times, the shop's for its days, and the
    day shown is that zone's."""
    data = make_data(findings=[_late_in_utc()], timezone="Australia/Sydney")
    if book == "exceptions.xlsx":
        path = write_run_reports(data, tmp_path / "run").exceptions_xlsx
    else:
        path = write_monthend_workbook(data, tmp_path / "2026-10.xlsx")
    columns = _dated_columns(path)
    untold = [h for _, h in columns if not h.endswith(("(UTC)", "(Australia/Sydney)"))]
    assert untold == []
    (seen,) = columns[("Exceptions", "first_seen (Australia/Sydney)")]
    assert seen.date() == date(2026, 10, 30)  # Sydney's day, as the header says


def test_the_month_end_first_seen_table_names_the_shops_zone(tmp_path: Path) -> None:
    """The Summary's value-at-risk-by-first-seen table is in the shop's days: its header says
    whose, and its formulas still find the Exceptions' first_seen column."""
    data = make_data(findings=[_late_in_utc()], timezone="Australia/Sydney")
    book = load_workbook(write_monthend_workbook(data, tmp_path / "2026-10.xlsx"))
    summary = list(book["Summary"].iter_rows(values_only=True))
    at = next(i for i, row in enumerate(summary) if str(row[0]).startswith("First seen"))
    assert summary[at][0] == "First seen (Australia/Sydney)"
    day, amount = summary[at + 1][:2]
    assert day.date() == date(2026, 10, 30)
    assert "first_seen (Australia/Sydney)" in str(amount)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_a_spreadsheet_recomputes_the_first_seen_table_over_the_zoned_header(
    tmp_path: Path,
) -> None:
    """The first-seen table's formulas name the column ``first_seen (Australia/Sydney)``: a
    real spreadsheet engine must read the reference, and sum the day's 10.00 USD."""
    soffice = shutil.which("soffice")
    assert soffice is not None
    data = make_data(findings=[_late_in_utc()], timezone="Australia/Sydney")
    path = write_monthend_workbook(data, tmp_path / "2026-10.xlsx")
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            soffice,
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path / "lo"),
            str(path),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    summary = load_workbook(tmp_path / "lo" / path.name, data_only=True)["Summary"]
    rows = [tuple(c.value for c in row) for row in summary.iter_rows()]
    at = next(i for i, row in enumerate(rows) if row[0] == "First seen (Australia/Sydney)")
    usd = rows[at].index("USD")
    assert Decimal(str(rows[at + 1][usd])) == Decimal("10.00")
