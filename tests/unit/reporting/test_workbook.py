"""The month-end workbook and exceptions.xlsx, read back the way finance would open them."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from formula_check import evaluate, table_columns
from openpyxl import load_workbook
from report_samples import INJECTION, make_data, sample_findings

from recon.models import FindingStatus
from recon.reporting.data import ReportData
from recon.reporting.exceptions_xlsx import EXCEPTION_COLUMNS, write_run_reports
from recon.reporting.monthend import write_monthend_workbook

SHEETS = [
    "Summary",
    "Exceptions",
    "Carried forward",
    "Matched",
    "Payouts",
    "Actions",
    "Store credit",
]


@pytest.fixture
def workbook_path(tmp_path: Path, report_data: ReportData) -> Path:
    return write_monthend_workbook(report_data, tmp_path / "monthend.xlsx")


def summary_formulas(ws: Any) -> dict[tuple[str, str], str]:
    """(row label, column header) → formula, for every formula cell on the Summary sheet."""
    found: dict[tuple[str, str], str] = {}
    header: list[Any] = []
    for row in ws.iter_rows():
        values = [c.value for c in row]
        if (
            values
            and isinstance(values[0], str)
            and values[0].startswith(("KPI", "Currency", "Category", "First seen"))
        ):
            header = values
            continue
        for cell, title in zip(row[1:], header[1:], strict=False):
            if isinstance(cell.value, str) and cell.value.startswith("="):
                found[(str(values[0]), str(title))] = cell.value
    return found


def test_sheets_tables_headers_and_layout(workbook_path: Path) -> None:
    book = load_workbook(workbook_path)
    assert book.sheetnames == SHEETS
    exceptions = book["Exceptions"]
    assert [c.value for c in exceptions[1]] == [c.header("UTC") for c in EXCEPTION_COLUMNS]
    assert "first_seen (UTC)" in [c.value for c in exceptions[1]]  # a UTC shop's days
    assert exceptions.freeze_panes == "A2"
    table = exceptions.tables["Exceptions"]
    assert table.ref == "A1:R6" and table.autoFilter.ref == "A1:R6"  # 5 open findings
    assert {t for ws in book.worksheets for t in ws.tables} == {
        "Exceptions",
        "CarriedForward",
        "Matched",
        "Payouts",
        "Actions",
        "StoreCredit",
    }
    assert exceptions.column_dimensions["N"].width == 50
    amount = exceptions["E2"]
    assert isinstance(amount.value, int | float) and amount.number_format == "#,##0.00"
    assert len(book["Summary"]._charts) == 2  # by category (bar) and over time (line)


def test_exceptions_rows_tie_to_the_findings_fed_in(workbook_path: Path) -> None:
    book = load_workbook(workbook_path)
    rows = list(book["Exceptions"].iter_rows(min_row=2, values_only=True))
    open_findings = [f for f in sample_findings() if f.status != FindingStatus.RESOLVED]
    assert sorted(r[17] for r in rows) == sorted(f.key for f in open_findings)
    for currency in ("USD", "EUR"):
        in_sheet = sum(Decimal(str(r[4])) for r in rows if r[5] == currency)
        fed = sum(f.amount_at_risk for f in open_findings if f.currency == currency)
        assert in_sheet == fed


def test_hyperlinks_are_recon_built_formulas(workbook_path: Path) -> None:
    ws = load_workbook(workbook_path)["Exceptions"]
    links = {row[0].value: (row[15].value, row[16].value) for row in ws.iter_rows(min_row=2)}
    assert links["MISSING_REFUND"] == (
        '=HYPERLINK("https://admin.shopify.com/store/recon-sandbox/orders/5444175757553",'
        '"Open in Shopify")',
        '=HYPERLINK("https://admin.loopreturns.com/returns/12345701","Open in Loop")',
    )
    assert links["REFUND_FAILED"][0] is None  # no order id: no link rather than a guessed one


def test_summary_formulas_compute_what_they_claim(workbook_path: Path) -> None:
    """Without LibreOffice: evaluate each formula from the table cells and compare with figures
    computed independently from the findings, matches and payouts fed in."""
    book = load_workbook(workbook_path)
    summary, tables = book["Summary"], table_columns(book)
    formulas = summary_formulas(summary)
    results = {key: evaluate(summary, f, tables) for key, f in formulas.items()}
    expected = {
        ("Open findings", "Value"): Decimal(5),
        ("Critical findings", "Value"): Decimal(1),
        ("USD", "Money at risk"): Decimal("198.60"),
        ("EUR", "Money at risk"): Decimal("37.35"),
        ("USD", "Open findings"): Decimal(3),
        ("USD", "Matched refunds"): Decimal("20.00"),
        ("EUR", "Matched refunds"): Decimal("7.50"),
        ("USD", "Payout difference (signed net)"): Decimal("-1.00"),
        ("USD", "Payouts not tied out"): Decimal(1),
        ("USD", "Unmatched payout refunds"): Decimal("-4.00"),
        ("EUR", "Unmatched payout refunds"): Decimal(0),
        ("USD", "Bounced refunds"): Decimal("12.50"),
        ("MISSING_REFUND", "USD"): Decimal("48.60"),
        ("MISSING_REFUND", "EUR"): Decimal(0),
        ("REFUND_FAILED", "Open findings"): Decimal(1),
    }
    for key, value in expected.items():
        assert results[key] == value, key
    assert formulas[("USD", "Money at risk")] == (
        '=SUMIFS(Exceptions[amount_at_risk],Exceptions[currency],"USD",'
        'Exceptions[key],"<>",Exceptions[status],"<>acknowledged")'
    )
    by_day = {(label[:10], cur): v for (label, cur), v in results.items() if label[:2] == "20"}
    assert by_day == {  # the line chart's data: value at risk by first_seen date
        ("2026-10-22", "EUR"): Decimal("15.25"),
        ("2026-10-22", "USD"): Decimal(0),
        ("2026-10-29", "EUR"): Decimal("22.10"),
        ("2026-10-29", "USD"): Decimal("198.60"),
    }


SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed")
def test_summary_formulas_recomputed_by_libreoffice(workbook_path: Path, tmp_path: Path) -> None:
    """With LibreOffice: let a real spreadsheet engine recompute the Summary formulas."""
    assert SOFFICE is not None
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            SOFFICE,
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path / "lo"),
            str(workbook_path),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    values = load_workbook(tmp_path / "lo" / workbook_path.name, data_only=True)["Summary"]
    labels = {row[0].value: row for row in values.iter_rows()}
    assert Decimal(str(labels["USD"][1].value)) == Decimal("198.60")
    assert labels["Open findings"][1].value == 5


def cell_xml(xlsx: Path) -> dict[str, str]:
    """Sheet file → raw XML."""
    with zipfile.ZipFile(xlsx) as archive:
        return {n: archive.read(n).decode() for n in archive.namelist() if "worksheets/sheet" in n}


def cells_with_formulas(xml: str) -> set[str]:
    return set(re.findall(r'<c r="([A-Z]+\d+)"[^>]*>(?:(?!</c>).)*?<f>', xml))


@pytest.mark.parametrize("payload", [INJECTION, "+1", "-1", "@SUM(1)", "\t=1+1", "#N/A"])
def test_untrusted_text_never_becomes_a_formula(tmp_path: Path, payload: str) -> None:
    findings = [
        f.model_copy(
            update={"detail": payload, "next_step": payload, "shopify_order_name": payload}
        )
        for f in sample_findings()
    ]
    path = write_monthend_workbook(make_data(findings=findings), tmp_path / "x.xlsx")
    sheets = cell_xml(path)
    exceptions = sheets["xl/worksheets/sheet2.xml"]
    formula_cells = cells_with_formulas(exceptions)
    assert formula_cells and all(re.match(r"[PQ]\d+$", c) for c in formula_cells)  # links only
    for ws_xml in (sheets["xl/worksheets/sheet3.xml"], sheets["xl/worksheets/sheet5.xml"]):
        assert "<f>" not in ws_xml  # Matched "=1+1" order name, Actions "=cmd|..." reason
    ws = load_workbook(path)["Exceptions"]
    detail = ws["N2"]
    assert detail.value == payload.replace("\t", "") or detail.value == payload
    assert detail.data_type == "s" and detail.quotePrefix


def test_control_characters_and_huge_text_survive(tmp_path: Path) -> None:
    findings = [
        f.model_copy(update={"detail": "bad\x00\x1b" + "y" * 40_000}) for f in sample_findings()
    ]
    path = write_monthend_workbook(make_data(findings=findings), tmp_path / "x.xlsx")
    value = load_workbook(path)["Exceptions"]["N2"].value
    assert value.startswith("bad" + "y") and len(value) == 32_767


def test_empty_month_still_opens_with_zero_totals(tmp_path: Path) -> None:
    data = make_data(findings=[], previous_findings=None, actions=[], store_credit=[])
    book = load_workbook(write_monthend_workbook(data, tmp_path / "empty.xlsx"))
    tables = table_columns(book)
    formulas = summary_formulas(book["Summary"])
    assert evaluate(book["Summary"], formulas[("Open findings", "Value")], tables) == 0
    assert evaluate(book["Summary"], formulas[("USD", "Matched refunds")], tables) == Decimal(
        "20.00"
    )


def test_run_reports_land_in_the_folder_given(tmp_path: Path, report_data: ReportData) -> None:
    reports = write_run_reports(report_data, tmp_path)
    assert reports.directory == tmp_path
    assert {p.name for p in tmp_path.iterdir()} == {"exceptions.xlsx", "report.html"}
    book = load_workbook(reports.exceptions_xlsx)
    assert book.sheetnames == ["Exceptions", "Actions", "Resolved"]
    actions = list(book["Actions"].iter_rows(values_only=True))
    header = [str(v) for v in actions[0]]
    waiting = [dict(zip(header, row, strict=True)) for row in actions[1:]]
    # Only intents waiting for a person; the done restock is in the month-end Actions sheet.
    assert [(a["id"], a["status"], a["what"]) for a in waiting] == [
        (1, "proposed", "refund 48.60 USD, restocking 1 unit(s)")
    ]
    assert "Returns reconciliation: sandbox" in reports.report_html.read_text(encoding="utf-8")


def test_the_run_workbook_lists_the_findings_closed_since_the_last_report(
    tmp_path: Path, report_data: ReportData
) -> None:
    """The mail counts the findings resolved since the last report; only report.html, which
    is not mailed, said which. The mailed workbook lists them too, each with its status, the
    same columns as Exceptions, and none of them among the open ones."""
    book = load_workbook(write_run_reports(report_data, tmp_path).exceptions_xlsx)
    rows = list(book["Resolved"].iter_rows(values_only=True))
    header = [str(v) for v in rows[0]]
    assert header == [str(c.value) for c in next(book["Exceptions"].iter_rows(max_row=1))]
    closed = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    expected = {r.key for r in (*report_data.resolved_findings, *report_data.left_out_findings)}
    assert expected and {r["key"] for r in closed} == expected
    status = {r.key: "resolved" for r in report_data.resolved_findings} | {
        r.key: "left_out" for r in report_data.left_out_findings
    }
    assert {r["key"]: r["status"] for r in closed} == status  # gone by absence: resolved too
    still_open = {
        row[header.index("key")]
        for row in book["Exceptions"].iter_rows(min_row=2, values_only=True)
    }
    assert not still_open & expected


def test_month_end_actions_sheet_fills_every_column_the_ledger_knows(workbook_path: Path) -> None:
    rows = list(load_workbook(workbook_path)["Actions"].iter_rows(values_only=True))
    header = [str(v) for v in rows[0]]
    restock = dict(zip(header, rows[2], strict=True))
    assert restock["status_at_period_end"] == "done" and restock["approved_by"] == "cli:finance"
    assert restock["shopify_result"] == "gid://shopify/InventoryAdjustmentGroup/9"
    assert restock["created_at (UTC)"] is not None and restock["updated_at (UTC)"] is not None
    assert restock["what"] == (
        "restock 1 unit(s) of line item 2002 at location 4001 (Loop line items L1)"
    )


def test_action_amounts_are_numbers_finance_can_sum(workbook_path: Path) -> None:
    """The ledger keeps amounts as text; the Actions sheet writes them as money cells."""
    ws = load_workbook(workbook_path)["Actions"]
    header = [c.value for c in ws[1]]
    amounts = [row[header.index("amount")] for row in ws.iter_rows(min_row=2)]
    assert amounts and all(isinstance(c.value, int | float) for c in amounts if c.value)
    assert {c.number_format for c in amounts if c.value} == {"#,##0.00"}


def test_the_month_end_summary_says_which_categories_were_muted(tmp_path: Path) -> None:
    """Muted findings are in no sheet: the Summary says so, as the HTML report and e-mails do,
    or a controller reads "no MISSING_RESTOCK" where four were not reported."""
    data = make_data(muted=(("MISSING_RESTOCK", 4),))
    summary = load_workbook(write_monthend_workbook(data, tmp_path / "m.xlsx"))["Summary"]
    texts = [str(v) for row in summary.iter_rows(values_only=True) for v in row if v is not None]
    assert any("MISSING_RESTOCK (4)" in text for text in texts)


def test_the_month_end_summary_says_what_test_orders_left_out(tmp_path: Path) -> None:
    """Returns on Shopify test orders are in no sheet: the Summary says how many were left out."""
    data = make_data(left_out=(("returns", 3), ("balance_transactions", 5)))
    summary = load_workbook(write_monthend_workbook(data, tmp_path / "m.xlsx"))["Summary"]
    texts = [str(v) for row in summary.iter_rows(values_only=True) for v in row if v is not None]
    assert "returns 3, balance transactions 5" in texts


def test_the_month_end_summary_counts_breaks_new_in_the_period_not_since_a_last_run(
    tmp_path: Path,
) -> None:
    """The month-end book has no previous run: "new since last run" counted every finding of a
    book built from the mirror. It counts the open breaks first seen in the month instead."""
    from datetime import UTC, datetime

    from report_samples import finding

    from recon.models import Category

    october = finding(
        Category.MISSING_REFUND,
        "rma=1",
        "10.00",
        "USD",
        first_seen=datetime(2026, 10, 29, tzinfo=UTC),
    )
    september = finding(
        Category.MISSING_REFUND,
        "rma=2",
        "20.00",
        "USD",
        first_seen=datetime(2026, 9, 20, tzinfo=UTC),
    )
    data = make_data(findings=[october, september], previous_findings=None)
    summary = load_workbook(write_monthend_workbook(data, tmp_path / "m.xlsx"))["Summary"]
    rows = {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row and row[0]}
    assert rows["New in the period (first seen in it)"] == 1
    assert rows["Carried over from before the period"] == 1
    assert not any("since last run" in str(label) for label in rows)


def _summary_rows(path: Path) -> dict[Any, Any]:
    summary = load_workbook(path)["Summary"]
    return {row[0]: row[1] for row in summary.iter_rows(values_only=True) if row and row[0]}


def test_the_month_end_summary_counts_new_breaks_in_the_shops_days(tmp_path: Path) -> None:
    """October for a Los Angeles shop ends at Nov 1 07:00 UTC. A break first seen at Oct 31
    20:00 in Los Angeles (Nov 1 03:00 UTC) is new in October; one first seen on Nov 5 (recon
    ran for the first time after the month, or found it later) was not carried over from
    before October. Both were counted "Carried over from before the period" (UTC days, and
    everything not in the period counted as before it)."""
    from datetime import UTC, datetime

    from report_samples import finding

    from recon.models import Category

    def seen(scope: str, when: datetime) -> Any:
        return finding(Category.MISSING_REFUND, scope, "10.00", "USD", first_seen=when)

    findings = [
        seen("rma=1", datetime(2026, 11, 1, 3, tzinfo=UTC)),  # Oct 31 20:00 in Los Angeles
        seen("rma=2", datetime(2026, 10, 1, 5, tzinfo=UTC)),  # Sep 30 22:00 in Los Angeles
        seen("rma=3", datetime(2026, 11, 5, 2, tzinfo=UTC)),  # after the period
    ]
    data = make_data(
        findings=findings,
        previous_findings=None,
        timezone="America/Los_Angeles",
        as_of=datetime(2026, 11, 1, 7, tzinfo=UTC),
    )
    rows = _summary_rows(write_monthend_workbook(data, tmp_path / "m.xlsx"))
    assert rows["New in the period (first seen in it)"] == 1
    assert rows["Carried over from before the period"] == 1
    assert rows["First seen after the period's end"] == 1


def test_the_month_end_summary_states_the_days_and_times_it_uses(tmp_path: Path) -> None:
    """A Los Angeles shop's October is cut at its own midnight, and its payout issued at Oct 1
    06:00 UTC is September's. The Summary showed the period and the sheets'
    times in UTC without saying whose days the period is."""
    data = make_data(timezone="America/Los_Angeles")
    rows = _summary_rows(write_monthend_workbook(data, tmp_path / "m.xlsx"))
    assert rows["Period"] == "2026-10-01 – 2026-10-31"
    assert rows["Days (period)"] == "America/Los_Angeles"
    assert rows["Times in the sheets"] == "UTC"


def test_first_seen_days_are_the_shops_days_as_the_period_is(tmp_path: Path) -> None:
    """A Los Angeles shop's break first seen at Oct 31 20:00 there (Nov 1 03:00 UTC) is new in
    October: its Exceptions row and the Summary's first-seen table say Oct 31. They said
    Nov 1 (UTC), a day after the period the same book counted it new in, and the first-seen
    table of October's book had a November row."""
    from datetime import UTC, date, datetime

    from report_samples import finding

    from recon.models import Category

    late = finding(
        Category.MISSING_REFUND, "rma=1", "10.00", "USD",
        first_seen=datetime(2026, 11, 1, 3, tzinfo=UTC),
    )  # fmt: skip
    data = make_data(
        findings=[late],
        previous_findings=None,
        timezone="America/Los_Angeles",
        as_of=datetime(2026, 11, 1, 7, tzinfo=UTC),
    )
    book = load_workbook(write_monthend_workbook(data, tmp_path / "m.xlsx"))
    header = [c.value for c in book["Exceptions"][1]]
    (row,) = book["Exceptions"].iter_rows(min_row=2, values_only=True)
    assert row[header.index("first_seen (America/Los_Angeles)")].date() == date(2026, 10, 31)
    summary = [r[0] for r in book["Summary"].iter_rows(values_only=True)]
    at = summary.index("First seen (America/Los_Angeles)")
    days = [d.date() for d in summary[at + 1 :] if d is not None]
    assert date(2026, 10, 31) in days and date(2026, 11, 1) not in days
