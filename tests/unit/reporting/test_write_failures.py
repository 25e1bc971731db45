"""Writes of recon's that Shopify refused, or whose outcome is still unknown, in the nightly
report, the e-mails and the workbook's Actions sheet.

Dataset: the sample report (report_samples.py) plus three intents: a refund Shopify refused in
this run (a userError), a restock left ``unknown`` (no answer; the next run re-reads it), and
a refund refused by an earlier run (its report went out then; not this run's news).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from report_samples import AS_OF, make_data, sample_actions, sheet_rows
from test_messages import body, settings

from recon.delivery import build_messages
from recon.remediation.ledger import ActionView
from recon.remediation.trail import NOT_RUN
from recon.remediation.views import report_row
from recon.reporting.exceptions_xlsx import write_run_reports
from recon.reporting.monthend import write_monthend_workbook

REFUSED = "Shopify refused the refund: Refund amount exceeds refundable amount"


def _intent(id_: int, kind: str, category: str, state: str, reason: str, **extra: Any) -> Any:
    details: dict[str, Any] = (
        {"lines": [{"line_item_id": "2001", "quantity": 1, "restock_type": "NO_RESTOCK"}]}
        if kind == "refund"
        else {"line_item_id": "2002", "location_id": "4001", "quantity": 1, "units": ["L1"]}
    )
    view = ActionView(
        id=id_,
        key=f"k-{id_}",
        kind=kind,
        category=category,
        rma=extra.get("rma", f"RMA-{id_}"),
        order_id=extra.get("order_id", f"54441757575{id_}"),
        amount=extra.get("amount"),
        currency=extra.get("currency"),
        state=state,
        reason=reason,
        result_id=None,
        details=details,
        created_at=AS_OF,
        updated_at=AS_OF,
    )
    return report_row(view)


def _data() -> Any:
    refused = _intent(
        7, "refund", "MISSING_REFUND", "failed", REFUSED, amount="48.60", currency="USD",
        rma="12345777", order_id="5444175757577",
    )  # fmt: skip
    unknown = _intent(
        8, "restock", "MISSING_RESTOCK", "unknown",
        "outcome unknown (OutcomeUnknownError): HTTP 502", rma="12345788",
    )  # fmt: skip
    old = _intent(
        9, "refund", "MISSING_REFUND", "failed", "Shopify refused the refund: old news",
        amount="5.00", currency="USD",
    )  # fmt: skip
    actions = [*sample_actions(), refused, unknown, old]
    return make_data(actions=actions, failed_writes=frozenset({7}))


def test_finance_mail_names_the_refused_refund_and_the_unknown_write(tmp_path: Path) -> None:
    messages = build_messages(_data(), settings(tmp_path))
    finance = messages[0]
    for part in ("plain", "html"):
        text = " ".join(body(finance, part).split())
        assert "12345777" in text and "5444175757577" in text, part  # RMA and order
        assert "48.60" in text and "Refund amount exceeds refundable amount" in text, part
        assert "12345788" in text and "HTTP 502" in text, part  # outcome still unknown
        assert "old news" not in text, part  # an earlier run's refusal was told then


def test_each_team_hears_of_its_own_failed_writes(tmp_path: Path) -> None:
    data = make_data(
        actions=[
            _intent(8, "restock", "MISSING_RESTOCK", "failed", "Shopify refused the restock: x")
        ],
        failed_writes=frozenset({8}),
        findings=[],
        previous_findings=None,
    )
    told = {
        str(m["X-Recon-Team"]): " ".join(body(m, "plain").split())
        for m in build_messages(data, settings(tmp_path))
    }
    assert set(told) == {"finance", "warehouse"}  # CX has nothing of its own to hear
    assert "RMA-8" in told["warehouse"] and "refused the restock" in told["warehouse"]
    assert "Nothing for warehouse to do" not in told["warehouse"]


def _section(html: str, id_: str) -> str:
    """The heading and text before the table ``id_``, and the table."""
    before, table = html.split(f'id="{id_}"', 1)
    return before.rsplit("<h2>", 1)[-1] + table.split("</table>", 1)[0]


def test_report_and_workbook_list_the_writes_that_failed_or_are_unknown(tmp_path: Path) -> None:
    reports = write_run_reports(_data(), tmp_path)
    html = reports.report_html.read_text(encoding="utf-8")
    refused = _section(html, "write-failures")
    assert "12345777" in refused and "Refund amount exceeds refundable amount" in refused
    unknown = _section(html, "writes-unknown")
    assert "12345788" in unknown and "HTTP 502" in unknown
    assert "old news" not in refused + unknown
    rows = {r["id"]: r for r in sheet_rows(reports.exceptions_xlsx, "Actions")}
    assert rows[7]["status"] == "failed" and rows[7]["order_id"] == "5444175757577"
    assert "refundable amount" in rows[7]["reason"]
    assert rows[8]["status"] == "unknown"
    assert 9 not in rows


def test_a_write_whose_outcome_is_unknown_is_not_said_to_have_failed(tmp_path: Path) -> None:
    """The restock left ``unknown`` got no answer: it may well have gone through. It was
    listed under "Writes that did not go through", and someone redoing it by hand from that
    would restock the unit twice. The refused refund is under a heading saying it was not
    done; the unknown restock under one saying its outcome is unknown, to check in Shopify
    before redoing anything; in the report and in both parts of finance's mail."""
    reports = write_run_reports(_data(), tmp_path)
    html = reports.report_html.read_text(encoding="utf-8")
    refused, unknown = _section(html, "write-failures"), _section(html, "writes-unknown")
    assert "12345788" not in refused and "12345777" not in unknown
    assert "not done" in refused.split("</h2>", 1)[0]
    assert "outcome unknown" in unknown.split("</h2>", 1)[0].lower()
    assert "check" in unknown and "Shopify" in unknown
    finance = build_messages(_data(), settings(tmp_path))[0]
    for shown in [html, body(finance, "plain"), body(finance, "html")]:
        text = " ".join(re.sub(r"<[^>]+>", "", shown).split())
        assert "did not go through" not in text
        refused_at, unknown_at = text.index("refused: 1 (not done"), text.index("unknown: 1")
        assert refused_at < text.index("12345777") < unknown_at < text.index("12345788")
        assert "may have gone through" in text and "check Shopify before redoing" in text


THROTTLED = (
    f"{NOT_RUN} (ThrottledError: throttled, nothing was written); the next run re-reads the "
    "order and resends it with the same key: Throttled"
)


def _with_throttled() -> Any:
    """``_data`` plus a refund Shopify throttled until the run gave up (the ledger's word)."""
    data = _data()
    throttled = _intent(
        10, "refund", "MISSING_REFUND", "unknown", THROTTLED, amount="30.00", currency="USD",
        rma="12345710",
    )  # fmt: skip
    return make_data(actions=[*data.actions, throttled], failed_writes=frozenset({7}))


def test_a_throttled_write_reads_as_not_run_apart_from_refused_and_unknown(
    tmp_path: Path,
) -> None:
    """THROTTLED (or 429) means Shopify did not run the request (shopify-admin-api.md §17);
    the ledger sends it again next run under the same key. The report and mail listed it under
    "Writes with outcome unknown (may have gone through: check Shopify before redoing one by
    hand)": someone redoing it by hand would pay the customer twice once the next run resent
    it. It is listed apart, as not run, sent again by the next run and not to be redone by
    hand; and in the Actions sheet its status says not run, its rows grouped with their kind:
    refused, then not run, then unknown."""
    data = _with_throttled()
    reports = write_run_reports(data, tmp_path)
    html = reports.report_html.read_text(encoding="utf-8")
    not_run = _section(html, "writes-not-run")
    assert "12345710" in not_run and "may have gone through" not in not_run
    heading = not_run.split("</h2>", 1)[0]
    assert "not run" in heading.lower() and "1" in heading
    assert "next run" in not_run and "do not redo" in not_run.lower()
    assert "12345710" not in _section(html, "writes-unknown")
    assert "12345710" not in _section(html, "write-failures")
    finance = build_messages(data, settings(tmp_path))[0]
    for part in ("plain", "html"):
        text = " ".join(re.sub(r"<[^>]+>", "", body(finance, part)).split())
        said = text.index("Writes Shopify did not run (throttled): 1")
        unknown_at = text.index("Writes with outcome unknown: 1")
        assert said < text.index("12345710") < unknown_at < text.index("12345788"), part
    rows = sheet_rows(reports.exceptions_xlsx, "Actions")
    failures = [(r["id"], r["status"]) for r in rows if r["id"] in (7, 8, 10)]
    assert failures == [(7, "failed"), (10, "not run"), (8, "unknown")]


def test_the_month_end_book_says_a_throttled_write_was_not_run(tmp_path: Path) -> None:
    """The month-end Actions sheet showed the throttled refund ``unknown`` at the period's
    end, as a write that may have gone through; it says ``not run``, the others unchanged."""
    book = write_monthend_workbook(_with_throttled(), tmp_path / "2026-10.xlsx")
    rows = {r["id"]: r["status_at_period_end"] for r in sheet_rows(book, "Actions")}
    assert (rows[7], rows[8], rows[10]) == ("failed", "unknown", "not run")
