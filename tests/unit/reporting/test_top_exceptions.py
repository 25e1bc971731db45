"""The top exceptions of the report and the e-mails, per currency: recon has no FX rates, so
amounts of different currencies are never ranked against each other.

Dataset: twenty ``MISSING_REFUND`` of 3,000 JPY (finance, high), one of 900.00 USD (finance,
high) and one of 45.00 USD (finance, critical); for the CX mail, three ``REFUND_FAILED`` of
5,000 JPY and one of 60.00 USD.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from report_samples import finding, make_data
from test_messages import body, settings

from recon.delivery import build_messages
from recon.models import Category, Owner, Severity
from recon.reporting.data import ReportData
from recon.reporting.figures import for_team
from recon.reporting.html import render_report

USD_900 = "20009000"  # the RMA of the 900.00 USD refund finance must not miss


def _yen(n: int, amount: str = "3000", **extra: Any) -> list[Any]:
    return [
        finding(Category.MISSING_REFUND, f"rma={10000 + i}", amount, "JPY", rma=str(10000 + i),
                **extra)
        for i in range(n)
    ]  # fmt: skip


def _data(**overrides: Any) -> ReportData:
    findings = [
        *_yen(20),
        finding(Category.MISSING_REFUND, f"rma={USD_900}", "900.00", "USD", rma=USD_900),
        finding(
            Category.DUPLICATE_REFUND, "rma=20000045", "45.00", "USD",
            rma="20000045", severity=Severity.CRITICAL,
        ),
        *[
            finding(Category.REFUND_FAILED, f"refund={30000 + i}", "5000", "JPY",
                    owner=Owner.CX, rma=str(30000 + i))
            for i in range(3)
        ],
        finding(Category.REFUND_FAILED, "refund=40000060", "60.00", "USD", owner=Owner.CX,
                rma="40000060"),
    ]  # fmt: skip
    return make_data(**{"findings": findings, "previous_findings": None, **overrides})


def _section(text: str, start: str, end: str | None = None) -> str:
    """The part of a rendered report or mail from ``start`` to ``end`` (or to its end)."""
    tail = text[text.index(start) :]
    stop = tail.find(end, len(start)) if end else -1
    return tail if stop < 0 else tail[:stop]


def test_each_currency_has_its_own_top_list() -> None:
    """Twenty 3,000 JPY findings no longer push a 900.00 USD one out of a top 20."""
    data = _data(top_n=20)
    groups = {g.currency: g for g in data.top_groups}
    assert [r.rma for r in groups["USD"].rows] == ["20000045", USD_900, "40000060"]
    assert len(groups["JPY"].rows) == 20  # of 23: the three 5,000 JPY lead
    assert [r.amount_at_risk for r in groups["JPY"].rows[:3]] == [5000] * 3
    assert USD_900 in {r.rma for r in data.top_exceptions}


def test_groups_come_largest_first_then_by_currency_code() -> None:
    """The documented rule: the currency with the most open findings first; ties by code."""
    data = _data(top_n=2)
    assert [(g.currency, len(g.rows), g.total) for g in data.top_groups] == [
        ("JPY", 2, 23),
        ("USD", 2, 3),
    ]
    euro = finding(Category.MISSING_REFUND, "rma=1", "5.00", "EUR", rma="1")
    tie = make_data(findings=[*_yen(1), euro])
    assert [g.currency for g in tie.top_groups] == ["EUR", "JPY"]


def test_the_report_and_finance_mail_list_the_dollar_finding(tmp_path: Path) -> None:
    data = _data(top_n=20)
    page = _section(render_report(data), "<h2>Top exceptions</h2>", "<h2>")
    assert "900.00 USD" in page and USD_900 in page
    finance = build_messages(data, settings(tmp_path))[0]
    for part in ("plain", "html"):
        top = _section(body(finance, part), "Top items")
        assert "900.00 USD" in top and USD_900 in top, part


def test_a_team_mail_ranks_its_own_findings_per_currency(tmp_path: Path) -> None:
    """CX's mail with a top 2: its two largest JPY failures, and its one USD failure."""
    data = _data(top_n=2)
    cx = for_team(data, Owner.CX)
    assert [(g.currency, [r.rma for r in g.rows]) for g in cx.top_groups] == [
        ("JPY", ["30000", "30001"]),
        ("USD", ["40000060"]),
    ]
    mail = next(m for m in build_messages(data, settings(tmp_path)) if "cx@" in m["To"])
    assert "60.00 USD" in _section(body(mail, "plain"), "Top items")


def test_a_partial_list_says_how_many_of_how_many_and_where_the_rest_are(
    tmp_path: Path,
) -> None:
    """JPY shows 20 of its 23 open findings: the reader sees "20 of 23" and where the other 3
    are; USD's list is whole (3 of 3) and sends nobody looking for more."""
    data = _data(top_n=20)
    rest = "3 more in exceptions.xlsx (sheet Exceptions) and findings.json"
    page = " ".join(_section(render_report(data), "<h2>Top exceptions</h2>", "<h2>").split())
    assert "JPY: 20 of 23 open findings; " + rest + ", beside this report" in page
    assert "USD: 3 of 3 open findings</h3>" in page
    finance = build_messages(data, settings(tmp_path))[0]
    for part in ("plain", "html"):
        top = " ".join(re.sub("<[^>]+>", "", _section(body(finance, part), "Top items")).split())
        assert "JPY: 20 of 23 open findings; " + rest in top, part
        assert "report folder sandbox/2026-11-01" in top, part
        assert "USD: 3 of 3 open findings" in top and "0 more" not in top, part


def test_a_team_mail_counts_its_own_findings() -> None:
    cx = for_team(_data(top_n=2), Owner.CX)
    assert [(g.currency, len(g.rows), g.total) for g in cx.top_groups] == [
        ("JPY", 2, 3),
        ("USD", 1, 1),
    ]
