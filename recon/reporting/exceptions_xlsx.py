"""The Exceptions and Actions sheets (shared with the month-end workbook) and the per-run
deliverables.

``write_run_reports`` writes ``exceptions.xlsx`` and ``report.html`` into the run's own folder
(``recon.report_folders.report_folder``: the shop's day, suffixed for a later run of the day); the
caller writes ``findings.json`` beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from typing import Any

from recon.models import FindingStatus
from recon.reporting.data import ExceptionRow, ReportData
from recon.reporting.html import write_report_html
from recon.reporting.rows import ACTION_COLUMNS, dict_rows
from recon.reporting.xlsx_writer import (
    EXCEL_ROWS,
    Column,
    Formula,
    StreamingBook,
    StreamingSheet,
)

EXCEPTIONS_TABLE = "Exceptions"
CARRIED_TABLE = "CarriedForward"
RESOLVED_TABLE = "Resolved"
EXCEPTION_COLUMNS = (
    Column("category", width=30),
    Column("severity", width=10),
    Column("owner", width=11),
    Column("status", width=10),
    Column("amount_at_risk", "money", 15, currency_column="currency"),
    Column("currency", width=10),
    Column("age_days", "int", 10),
    Column("first_seen", "date", 12),
    Column("rma", width=12),
    Column("order", width=12),
    Column("order_id", width=16),
    Column("refund_ids", width=18),
    Column("sku", width=14),
    Column("detail", width=50),
    Column("next_step", width=40),
    Column("shopify_link", "formula", 16),
    Column("loop_link", "formula", 14),
    Column("key", width=40),
)


@dataclass(frozen=True)
class RunReports:
    """Where one run's reports were written."""

    directory: Path
    exceptions_xlsx: Path
    report_html: Path


def hyperlink(url: str | None, label: str) -> Formula | None:
    """A HYPERLINK formula over a URL recon built from validated ids (see ``data``)."""
    if url is None:
        return None
    if '"' in url or '"' in label or not url.startswith("https://"):
        raise ValueError("hyperlinks are built by recon from validated ids only")
    return Formula(f'=HYPERLINK("{url}","{label}")')


def exception_values(row: ExceptionRow) -> list[object]:
    """One Exceptions row in ``EXCEPTION_COLUMNS`` order."""
    return [
        row.category,
        row.severity,
        row.owner,
        row.status,
        row.amount_at_risk,
        row.currency,
        row.age_days,
        row.first_seen,
        row.rma,
        row.order_name,
        row.order_id,
        row.refund_ids,
        row.sku,
        row.detail,
        row.next_step,
        hyperlink(row.shopify_url, "Open in Shopify"),
        hyperlink(row.loop_url, "Open in Loop"),
        row.key,
    ]


def write_exceptions_sheet(book: StreamingBook, data: ReportData) -> StreamingSheet:
    """Stream every open finding into an ``Exceptions`` sheet and table."""
    sheet = book.sheet("Exceptions", EXCEPTION_COLUMNS, table=EXCEPTIONS_TABLE)
    sheet.extend(exception_values(row) for row in data.exception_rows())
    return sheet


def write_carried_sheet(book: StreamingBook, data: ReportData) -> StreamingSheet:
    """The month-end book's ``Carried forward`` sheet: the breaks still open (or acknowledged)
    at the period's end whose records had no activity in it, in the Exceptions' columns."""
    sheet = book.sheet("Carried forward", EXCEPTION_COLUMNS, table=CARRIED_TABLE)
    sheet.extend(exception_values(row) for row in data.carried_rows())
    return sheet


def write_resolved_sheet(book: StreamingBook, data: ReportData) -> StreamingSheet:
    """The per-run ``Resolved`` sheet: the findings closed since the last report that reached
    finance, resolved (seen fixed) then left out (their order turned out to be a Shopify test
    order: nothing was fixed), each with its ``status``. Only ``report.html`` listed them, and
    it is not mailed: the mail gave their count, and finance could not tell which breaks had
    closed (a refund that landed, a restock done) without the report folder."""
    sheet = book.sheet("Resolved", EXCEPTION_COLUMNS, table=RESOLVED_TABLE)
    # A break gone from tonight's findings is resolved by its absence: its row still carries
    # the status the last run gave it (new, open), which the sheet must not show.
    resolved = (replace(row, status=FindingStatus.RESOLVED.value) for row in data.resolved_findings)
    sheet.extend(exception_values(row) for row in chain(resolved, data.left_out_findings))
    return sheet


def write_actions_sheet(
    book: StreamingBook,
    data: ReportData,
    actions: Sequence[Mapping[str, Any]],
    columns: Sequence[Column] = ACTION_COLUMNS,
) -> StreamingSheet:
    """The intents given, one row each, in an ``Actions`` sheet and table."""
    sheet = book.sheet("Actions", columns, table="Actions")
    sheet.extend(dict_rows(data, actions, columns))
    return sheet


def write_exceptions_workbook(
    data: ReportData, path: Path, *, rows_per_sheet: int = EXCEL_ROWS
) -> Path:
    """Write the per-run ``exceptions.xlsx``: the Exceptions sheet, an Actions sheet of the
    intents waiting for a person (to approve, or to review), the writes recon sent this run
    (``ReportData.sent_writes``), then those that did not go through, each kind together:
    refused this run, not run by Shopify (throttled; their status says ``not run``), then
    those whose outcome is unknown; and the Resolved sheet (``write_resolved_sheet``). A sheet
    longer than ``rows_per_sheet`` goes on in continuation sheets.

    Raises:
        OSError: if the file cannot be written.
    """
    book = StreamingBook(rows_per_sheet=rows_per_sheet, timezone=data.timezone)
    write_exceptions_sheet(book, data)
    failures = (
        *data.refused_writes,
        *data.not_run_writes,
        *data.planned_again_writes,
        *data.unknown_outcome_writes,
    )
    write_actions_sheet(book, data, (*data.waiting_actions, *data.sent_writes, *failures))
    write_resolved_sheet(book, data)
    book.save(path)
    return path


def write_run_reports(data: ReportData, directory: Path) -> RunReports:
    """Write ``exceptions.xlsx`` and ``report.html`` for one run into ``directory`` (the run's
    own folder: ``recon.report_folders.report_folder``).

    Raises:
        OSError: if the files cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    xlsx = write_exceptions_workbook(data, directory / "exceptions.xlsx")
    html = write_report_html(data, directory / "report.html")
    return RunReports(directory=directory, exceptions_xlsx=xlsx, report_html=html)
