"""Acknowledged findings are quiet: out of every headline and alarm, counted and listed apart.

Dataset: the report samples (five open findings: 198.60 USD and 37.35 EUR at risk, one resolved)
plus two acknowledged ones someone checked: a MISSING_REFUND of 40.00 USD refunded by hand and a
MISSING_RESTOCK of 5.00 EUR restocked by hand (warehouse).
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from formula_check import evaluate, table_columns
from openpyxl import load_workbook
from report_samples import AS_OF, finding, make_data, sample_findings
from rich.console import Console
from test_workbook import SOFFICE, summary_formulas

from recon.config import DeliverySettings
from recon.delivery import build_messages
from recon.engine.findings_json import read_findings_json, report_order, write_findings_json
from recon.models import Category, Finding, FindingStatus, Owner, Severity
from recon.reporting.data import ReportData
from recon.reporting.exceptions_xlsx import write_run_reports
from recon.reporting.figures import for_team
from recon.reporting.html import render_email, render_report
from recon.reporting.monthend import write_monthend_workbook
from recon.service import RunOutcome
from recon.summary import print_outcome


def acknowledged(finding_: Finding, by: str, note: str) -> Finding:
    update = {"status": FindingStatus.ACKNOWLEDGED, "acknowledged_by": by}
    return finding_.model_copy(update={**update, "acknowledged_note": note})


def acknowledged_findings() -> list[Finding]:
    return [
        acknowledged(
            finding(Category.MISSING_REFUND, "rma=12345790", "40.00", "USD", rma="12345790",
                    severity=Severity.CRITICAL),
            "cli:ana", "refunded by hand",
        ),
        acknowledged(
            finding(Category.MISSING_RESTOCK, "rma=12345791,line=9", "5.00", "EUR",
                    rma="12345791", owner=Owner.WAREHOUSE, severity=Severity.MEDIUM),
            "cli:bo", "restocked by hand",
        ),
    ]  # fmt: skip


def all_findings() -> list[Finding]:
    return sample_findings() + acknowledged_findings()


def data_with_acknowledged() -> ReportData:
    return make_data(findings=all_findings())


def test_headline_open_count_and_money_at_risk_leave_acknowledged_out() -> None:
    data = data_with_acknowledged()
    assert data.headline.open_findings == 5
    assert data.headline.critical == 1  # the acknowledged critical one is quiet
    at_risk = {a.currency: a.amount for a in data.headline.money_at_risk}
    assert at_risk == {"USD": Decimal("198.60"), "EUR": Decimal("37.35")}
    assert data.headline.acknowledged == 2
    amounts = {a.currency: a.amount for a in data.headline.acknowledged_amounts}
    assert amounts == {"USD": Decimal("40.00"), "EUR": Decimal("5.00")}
    categories = {t.category: t.count for t in data.by_category}
    assert categories["MISSING_REFUND"] == 1 and categories["MISSING_RESTOCK"] == 1
    assert "12345790" not in {r.rma for r in data.top_exceptions}
    assert sum(p.amount for p in data.trend if p.currency == "USD") == Decimal("198.60")


def test_acknowledged_findings_are_still_listed_with_who_and_why() -> None:
    data = data_with_acknowledged()
    rows = {r.rma: r for r in data.exception_rows()}
    assert rows["12345790"].status == "acknowledged"
    assert "cli:ana: refunded by hand" in rows["12345790"].next_step
    assert len(rows) == 7  # five open and two acknowledged
    html = render_report(data)
    listed = html[html.index('id="acknowledged-findings"') :]
    assert "12345790" in listed and "cli:ana: refunded by hand" in listed


def test_the_exceptions_sheet_lists_acknowledged_findings_after_every_open_one(
    tmp_path: Path,
) -> None:
    """docs/findings.md: open findings in the findings.json order, then the acknowledged ones
    in that order, though the acknowledged MISSING_REFUND is critical (findings.json lists it
    before the open high ones): it is quiet, so it does not sit among the work still to do."""
    data = data_with_acknowledged()
    path = write_run_reports(data, tmp_path / "report").exceptions_xlsx
    sheet = load_workbook(path)["Exceptions"]
    header = [c.value for c in sheet[1]]
    keys = [r[header.index("key")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    statuses = [r[header.index("status")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    listed = sorted(all_findings(), key=report_order)
    open_keys = [f.key for f in listed if f.status in (FindingStatus.NEW, FindingStatus.OPEN)]
    quiet_keys = [f.key for f in listed if f.status is FindingStatus.ACKNOWLEDGED]
    assert keys == open_keys + quiet_keys
    assert keys != [f.key for f in listed]  # not the findings.json order as it stands
    assert statuses[-2:] == ["acknowledged", "acknowledged"]


def test_a_team_view_counts_its_acknowledged_findings_apart() -> None:
    warehouse = for_team(data_with_acknowledged(), Owner.WAREHOUSE)
    assert warehouse.headline.open_findings == 1
    assert warehouse.headline.acknowledged == 1
    assert [a.amount for a in warehouse.headline.money_at_risk] == [Decimal("30.00")]


def test_a_team_with_only_acknowledged_findings_gets_no_mail(tmp_path: Path) -> None:
    data = make_data(findings=acknowledged_findings(), previous_findings=None)
    recipients = {"finance": ["f@example.com"], "warehouse": ["w@example.com"]}
    messages = build_messages(data, DeliverySettings(outbox_dir=tmp_path, recipients=recipients))
    assert [str(m["X-Recon-Team"]) for m in messages] == ["finance"]
    assert str(messages[0]["Subject"]).endswith(": 0 open findings (finance)")


def test_an_acknowledged_finding_that_changed_is_loud_again() -> None:
    """The lifecycle reopens an acknowledged finding whose amount changed: it counts again."""
    reopened = [
        f.model_copy(update={"status": FindingStatus.OPEN}) for f in acknowledged_findings()
    ]
    data = make_data(findings=sample_findings() + reopened)
    assert data.headline.open_findings == 7 and data.headline.acknowledged == 0


def _money(text: str) -> dict[str, Decimal]:
    found: dict[str, Decimal] = defaultdict(Decimal)
    for amount, currency in re.findall(r"(-?[\d,]+\.\d\d) ([A-Z]{3})", text):
        found[currency] += Decimal(amount.replace(",", ""))
    return dict(found)


def _line(text: str, start: str) -> str:
    (line,) = [x for x in text.splitlines() if x.strip().startswith(start)]
    return line


def test_the_figures_agree_across_json_excel_html_email_and_console(tmp_path: Path) -> None:
    """findings.json keeps every finding with its status; every report counts and sums the
    new + open ones as open, and the acknowledged ones apart, to the same figures."""
    findings = all_findings()
    write_findings_json(tmp_path / "findings.json", findings, shop="s", run_id="r", as_of=AS_OF)
    _, stored = read_findings_json(tmp_path / "findings.json")
    assert len(stored) == len(findings)  # nothing dropped from the contract
    loud = [f for f in stored if f.status in (FindingStatus.NEW, FindingStatus.OPEN)]
    quiet = [f for f in stored if f.status is FindingStatus.ACKNOWLEDGED]
    at_risk = _money(" ".join(f"{f.amount_at_risk} {f.currency}" for f in loud))
    quiet_sum = _money(" ".join(f"{f.amount_at_risk} {f.currency}" for f in quiet))
    data = make_data(findings=findings)

    html = render_report(data)
    assert re.search(r'id="kpi-open">(\d+)<', html).group(1) == str(len(loud))  # type: ignore[union-attr]
    assert _money(" ".join(re.findall(r'money-at-risk">([^<]+)<', html))) == at_risk
    ack = re.search(r'<p id="acknowledged">(.*?)</p>', html, re.S).group(1)  # type: ignore[union-attr]
    assert f"Acknowledged: {len(quiet)}" in ack and _money(ack) == quiet_sum

    text, _ = render_email(data, "finance")
    assert f"Open findings: {len(loud)} " in text
    assert _money("".join(x for x in text.splitlines() if x.startswith("Money at risk"))) == at_risk
    assert _money(_line(text, f"Acknowledged: {len(quiet)}")) == quiet_sum
    (message,) = build_messages(
        data, DeliverySettings(outbox_dir=tmp_path, recipients={"finance": ["f@example.com"]})
    )
    assert f": {len(loud)} open findings" in str(cast(EmailMessage, message)["Subject"])

    book = load_workbook(write_monthend_workbook(data, tmp_path / "m.xlsx"))
    summary, tables = book["Summary"], table_columns(book)
    cells = {k: evaluate(summary, f, tables) for k, f in summary_formulas(summary).items()}
    assert cells[("Open findings", "Value")] == len(loud)
    assert cells[("Critical findings", "Value")] == 1
    assert cells[("Acknowledged findings", "Value")] == len(quiet)
    for currency, amount in at_risk.items():
        assert cells[(currency, "Money at risk")] == amount
        assert cells[(currency, "Acknowledged amount")] == quiet_sum[currency]
    assert cells[("USD", "Open findings")] == 3
    assert cells[("MISSING_REFUND", "USD")] == Decimal("48.60")
    assert cells[("MISSING_REFUND", "Open findings")] == 1
    assert sum(v for (k, c), v in cells.items() if k[:2] == "20" and c == "USD") == at_risk["USD"]
    sheet = write_run_reports(data, tmp_path).exceptions_xlsx
    statuses = [r[3] for r in load_workbook(sheet)["Exceptions"].iter_rows(values_only=True)]
    assert statuses.count("acknowledged") == len(quiet)
    assert len(statuses) - 1 == len(loud) + len(quiet)  # a header, then every listed finding

    console = Console(record=True, width=200)
    outcome = RunOutcome(
        run_id="r", as_of=datetime(2026, 11, 1, 2, tzinfo=UTC), findings=findings,
        result=cast(Any, None), report_dir=tmp_path,
    )  # fmt: skip
    print_outcome(console, outcome, None)
    out = console.export_text()
    assert _money(_line(out, f"open findings: {len(loud)}")) == at_risk
    assert _money(_line(out, f"acknowledged: {len(quiet)}")) == quiet_sum


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed")
def test_a_spreadsheet_engine_leaves_acknowledged_findings_out_of_the_summary(
    tmp_path: Path,
) -> None:
    """LibreOffice recomputes the month-end Summary: acknowledged findings are counted apart."""
    assert SOFFICE is not None
    path = write_monthend_workbook(data_with_acknowledged(), tmp_path / "m.xlsx")
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [SOFFICE, "--headless", "--convert-to", "xlsx", "--outdir", str(tmp_path / "lo"),
         str(path)],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    values = load_workbook(tmp_path / "lo" / path.name, data_only=True)["Summary"]
    labels = {row[0].value: [c.value for c in row] for row in values.iter_rows()}
    header = labels["Currency"]
    assert labels["Open findings"][1] == 5 and labels["Critical findings"][1] == 1
    assert labels["Acknowledged findings"][1] == 2
    usd = dict(zip(header, labels["USD"], strict=False))
    assert Decimal(str(usd["Money at risk"])) == Decimal("198.60")
    assert Decimal(str(usd["Acknowledged amount"])) == Decimal("40.00")


def test_a_currency_with_only_acknowledged_findings_still_has_its_summary_row(
    tmp_path: Path,
) -> None:
    """Its acknowledged amount is shown, beside a money at risk of 0."""
    yen = acknowledged(
        finding(Category.MISSING_REFUND, "rma=12345792", "5000", "JPY", rma="12345792"),
        "cli:ana", "refunded by hand",
    )  # fmt: skip
    data = make_data(findings=[*sample_findings(), yen])
    book = load_workbook(write_monthend_workbook(data, tmp_path / "m.xlsx"))
    summary, tables = book["Summary"], table_columns(book)
    formulas = summary_formulas(summary)
    assert evaluate(summary, formulas[("JPY", "Acknowledged amount")], tables) == 5000
    assert evaluate(summary, formulas[("JPY", "Money at risk")], tables) == 0
