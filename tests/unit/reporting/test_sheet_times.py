"""Every time in the workbooks says its zone: the sheets write times in UTC (as findings.json
keeps them; Excel cells have no zone), so every column of times names UTC in its header.

Dataset: the sample report (report_samples.py): two intents created and updated at 02:00 UTC
on 1 November, a payout issued on 20 October; the shop's zone is Sydney, eleven hours ahead,
where those intents were made at 13:00: a reader who took the sheet's 02:00 for shop time
would be eleven hours out.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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
