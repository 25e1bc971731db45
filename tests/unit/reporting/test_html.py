"""HTML report and e-mail bodies: escaping, no external resources, snapshot."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

from report_samples import make_data, sample_findings

from recon.reporting.data import ReportData
from recon.reporting.html import make_environment, money, render_email, render_report

SNAPSHOT = Path(__file__).parent / "snapshots" / "report.html"


def test_autoescape_is_really_on_for_html_templates(report_data: ReportData) -> None:
    html = render_report(report_data)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    _, email_html = render_email(report_data, "finance")
    assert "<script>" not in email_html and "&lt;script&gt;" in email_html
    env = make_environment()
    assert env.autoescape("report.html.j2")  # type: ignore[operator]
    assert env.autoescape("email.html.j2")  # type: ignore[operator]
    assert not env.autoescape("email.txt.j2")  # type: ignore[operator]


def test_plain_text_body_is_not_html_escaped() -> None:
    findings = [
        f.model_copy(update={"next_step": "Refund & restock <now>"}) for f in sample_findings()
    ]
    text, html = render_email(make_data(findings=findings), "finance")
    assert "Refund & restock <now>" in text
    assert "Refund &amp; restock &lt;now&gt;" in html
    assert "Open findings: 5 (critical: 1, new: 3, resolved: 2)" in text
    assert "Money at risk: 198.60 USD" in text and "Money at risk: 37.35 EUR" in text


def test_new_and_resolved_are_labelled_since_the_last_report_that_went_out(
    report_data: ReportData,
) -> None:
    """ "New" and "resolved" count what no report that went out has shown (a run that failed
    sent none): the labels must not say "since the last run"."""
    html = render_report(report_data)
    text, email_html = render_email(report_data, "finance")
    for body in (html, text, email_html):
        assert "last run" not in body
    assert '<div class="label">new since the last report that went out</div>' in html
    assert '<div class="label">resolved since the last report that went out</div>' in html
    assert "<h2>What changed since the last report that went out</h2>" in html


def test_no_external_resources(report_data: ReportData) -> None:
    html = render_report(report_data)
    assert not re.search(r"<(link|script|img|iframe)\b", html)
    assert not re.search(r"url\(", html)
    urls = set(re.findall(r'(?:src|href)="([^"]+)"', html))
    assert urls and all(
        u.startswith(("https://admin.shopify.com/", "https://admin.loopreturns.com/")) for u in urls
    )  # only admin links in <a>, nothing fetched


def test_headline_changes_and_top_exceptions_are_shown(report_data: ReportData) -> None:
    html = render_report(report_data)
    assert '<div class="value" id="kpi-open">5</div>' in html
    assert "198.60 USD" in html and "37.35 EUR" in html
    assert "3 new, 2 resolved." in html
    assert "Create the refund" in html  # next step
    assert html.index("DUPLICATE_REFUND</td>") < html.index(
        "MISSING_REFUND</td>\n      <td>finance"
    )
    assert "<svg" in html and "<rect" in html


def test_money_formats_minor_units_and_grouping() -> None:
    assert money(Decimal("1234567.5"), "USD") == "1,234,567.50 USD"
    assert money(Decimal("-5"), "JPY") == "-5 JPY"
    assert money(Decimal("1.2345"), "KWD") == "1.234 KWD"  # banker's rounding at 3 digits


def test_html_snapshot() -> None:
    """Regenerate with RECON_UPDATE_SNAPSHOTS=1 after an intended change; review the diff."""
    html = render_report(make_data())
    if os.environ.get("RECON_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(html, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot: run with RECON_UPDATE_SNAPSHOTS=1"
    assert html == SNAPSHOT.read_text(encoding="utf-8")


def test_an_approved_action_waiting_to_be_sent_shows_who_approved_it() -> None:
    """The report's "waiting" table lists approved intents (the next run sends them) beside
    proposed ones, with no word of who approved them: finance could not tell a decision taken
    from one waiting (found by review)."""
    from report_samples import sample_actions

    refund, restock = sample_actions()
    decided = {"approved_by": "cli:alice", "decision_reason": "checked in Loop"}
    approved = refund | {"status": "approved", "state": "approved"} | decided
    html = render_report(make_data(actions=[approved, restock]))
    table = html[html.index('<table id="actions">') :]
    table = table[: table.index("</table>")]
    assert "Decided by" in table, table
    (row,) = [r for r in table.split("<tr>") if "approved" in r and "<td" in r]
    assert "cli:alice" in row, row
