"""Writes recon sent in the run, beside the findings they fix: still open until the next run
reads them back, their next step says what was sent, so nobody redoes them by hand.

Dataset: the sample report (report_samples.py: MISSING_REFUND 12345701, MISSING_RESTOCK
12345704 line 77) plus intents: a refund of 12345701 done in this run that restocked line 77
(``RETURN``), the same RMA's refund done by an earlier run (not this run's), and a restock of
12345704 done in this run.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from openpyxl import load_workbook
from report_samples import AS_OF, make_data, sample_actions, sample_findings, sheet_rows
from rich.console import Console
from test_messages import body, settings

from recon.delivery import build_messages
from recon.remediation.ledger import ActionView
from recon.remediation.trail import NOT_RUN
from recon.remediation.views import report_row
from recon.reporting.data import ReportData
from recon.reporting.exceptions_xlsx import write_run_reports
from recon.reporting.html import render_report
from recon.service import RunOutcome
from recon.summary import print_outcome

REFUND_KEY = "MISSING_REFUND|rma=12345701"
RESTOCK_KEY = "MISSING_RESTOCK|rma=12345704,line=77"


def _done(id_: int, kind: str, rma: str, finding_key: str, **details: Any) -> dict[str, Any]:
    view = ActionView(
        id=id_,
        key=f"k-{id_}",
        kind=kind,
        category=finding_key.partition("|")[0],
        rma=rma,
        order_id="5444175757553",
        amount="48.60" if kind == "refund" else None,
        currency="USD" if kind == "refund" else None,
        state="done",
        reason="",
        result_id=f"gid://shopify/Refund/{id_}",
        details=details,
        created_at=AS_OF,
        updated_at=AS_OF,
        finding_key=finding_key,
    )
    return report_row(view)


def _refund(id_: int, restocks: str | None = None) -> dict[str, Any]:
    lines = [{"line_item_id": "2001", "quantity": 1, "restock_type": "NO_RESTOCK"}]
    if restocks:
        lines.append({"line_item_id": restocks, "quantity": 1, "restock_type": "RETURN"})
    return _done(id_, "refund", "12345701", REFUND_KEY, lines=lines)


def _restock(id_: int) -> dict[str, Any]:
    details = {"line_item_id": "77", "location_id": "4001", "quantity": 1, "units": ["L1"]}
    return _done(id_, "restock", "12345704", RESTOCK_KEY, **details)


def _data(done: frozenset[int], *actions: dict[str, Any]) -> ReportData:
    return make_data(actions=[*sample_actions(), *actions], done_writes=done)


def _step(data: ReportData, key: str) -> str:
    return next(r.next_step for r in data.exception_rows() if r.key == key)


def test_a_refund_sent_this_run_says_so_instead_of_asking_for_it_again() -> None:
    data = _data(frozenset({11}), _refund(11))
    step = _step(data, REFUND_KEY)
    assert step.startswith("recon sent refund 48.60 USD, no restock (action 11) in this run")
    assert "do not redo it by hand" in step
    assert data.headline.open_findings == make_data().headline.open_findings  # still open
    top = next(r for r in data.top_exceptions if r.key == REFUND_KEY)
    assert top.next_step == step  # the report's and e-mail's table too


def test_the_units_a_sent_refund_restocked_are_not_asked_of_the_warehouse(
    tmp_path: Path,
) -> None:
    """A refund restocks (``RETURN``) the units of the run's MISSING_RESTOCK of its line: no
    restock intent is planned for them, so that finding's next step names the refund."""
    refund = _done(
        12, "refund", "12345704", "MISSING_REFUND|rma=12345704",
        lines=[{"line_item_id": "77", "quantity": 1, "restock_type": "RETURN", "units": ["L1"]}],
    )  # fmt: skip
    data = _data(frozenset({12}), refund)
    assert "recon sent refund 48.60 USD, restocking 1 unit(s) (action 12)" in _step(
        data, RESTOCK_KEY
    )
    warehouse = next(m for m in build_messages(data, settings(tmp_path)) if "wh@" in m["To"])
    text = " ".join(body(warehouse, "plain").split())
    assert "Restock the returned units." not in text
    assert "Sent to Shopify by recon this run: 1" not in text  # a refund: finance's write


def test_an_earlier_runs_write_whose_finding_is_still_open_is_not_asked_for_by_hand() -> None:
    """A refund an earlier run made (Shopify answered it done) whose finding is still open: the
    mirror has not read it back yet (a second run the same day). Its next step said "Create the
    refund", and a person following it pays the customer twice."""
    data = _data(frozenset({13}), _refund(11), _restock(13))
    step = _step(data, REFUND_KEY)
    assert step.startswith("recon sent refund 48.60 USD, no restock (action 11) in an earlier run")
    assert "do not redo it by hand" in step and "Create the refund" not in step
    assert _step(data, RESTOCK_KEY).startswith("recon sent restock")


def test_a_write_names_only_its_own_findings() -> None:
    data = _data(frozenset({13}), _restock(13))
    assert _step(data, REFUND_KEY) == "Create the refund"
    assert _step(data, RESTOCK_KEY).startswith("recon sent restock")


def test_finance_reads_the_writes_sent_in_the_mail_report_and_workbook(tmp_path: Path) -> None:
    data = _data(frozenset({11}), _refund(11))
    finance = build_messages(data, settings(tmp_path))[0]
    for part in ("plain", "html"):
        text = " ".join(body(finance, part).split())
        assert "Sent to Shopify by recon this run: 1 " in text.replace("<strong>", "").replace(
            "</strong>", ""
        ), part
    files = write_run_reports(data, tmp_path / "report")
    page = files.report_html.read_text("utf-8")
    assert 'id="sent-writes"' in page and "gid://shopify/Refund/11" in page
    actions = sheet_rows(files.exceptions_xlsx, "Actions")
    assert [(r["id"], r["status"]) for r in actions if r["id"] == 11] == [(11, "done")]
    rows = {r["key"]: r for r in sheet_rows(files.exceptions_xlsx, "Exceptions")}
    assert str(rows[REFUND_KEY]["next_step"]).startswith("recon sent refund 48.60 USD")


def test_a_refund_whose_outcome_is_unknown_is_not_asked_for_by_hand() -> None:
    """A refund sent with no answer (``unknown``, any run's: the next run re-reads Shopify and
    resends only if it did not land) is listed apart as a write that did not go through, but
    its finding still said "Create the refund": one made by hand beside it pays twice."""
    unknown = {**_refund(14), "status": "unknown", "state": "unknown", "shopify_result": None}
    data = _data(frozenset(), unknown)
    step = _step(data, REFUND_KEY)
    assert step.startswith("recon sent refund 48.60 USD, no restock (action 14); no answer")
    assert "next run re-reads Shopify" in step and "do not redo it by hand" in step


def test_what_recon_sent_is_worked_out_once_per_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "What recon sent, per finding" is computed once, when the report data is frozen, and
    every row (the report's, each team's mail, the workbook) reads that one result. A spy
    wraps the real function: the figures are unchanged, only the calls are counted."""
    from recon.reporting import data as data_module
    from recon.reporting import figures

    calls: list[int] = []
    real = data_module.sent_by_finding

    def counted(*args: Any, **kwargs: Any) -> dict[str, tuple[str, ...]]:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(figures, "sent_by_finding", counted, raising=False)
    monkeypatch.setattr(data_module, "sent_by_finding", counted)
    data = _data(frozenset({11, 13}), _refund(11), _restock(13))
    assert _step(data, REFUND_KEY).startswith("recon sent refund 48.60 USD")
    assert _step(data, RESTOCK_KEY).startswith("recon sent restock")
    build_messages(data, settings(tmp_path))
    write_run_reports(data, tmp_path / "report")
    assert len(calls) == 1


def test_the_headline_says_how_much_of_the_money_at_risk_recon_sent_this_run(
    tmp_path: Path,
) -> None:
    """recon refunded 48.60 USD in this run; the finding stays open (and in the 198.60 USD at
    risk, as findings.json counts it) until the next run reads the refund back. Beside the
    headline, finance reads that 48.60 USD of it was sent and awaits confirmation, so it does
    not pay it again by hand. EUR had no write: nothing is said beside it. An earlier run's
    refund of the same RMA is not this run's."""
    data = _data(frozenset({11, 13}), _refund(11), _refund(15), _restock(13))
    assert data.headline.money_at_risk == make_data().headline.money_at_risk  # unchanged
    sent = "of which sent to Shopify this run, awaiting confirmation: 48.60 USD"
    page = " ".join(
        write_run_reports(data, tmp_path / "report").report_html.read_text("utf-8").split()
    )
    headline = page[page.index('id="headline"') : page.index("</section>")]
    assert "198.60 USD" in headline and sent in headline and headline.count("of which") == 1
    finance = build_messages(data, settings(tmp_path))[0]
    for part in ("plain", "html"):
        text = " ".join(re.sub("<[^>]+>", "", body(finance, part)).split())
        assert f"198.60 USD ({sent})" in text, part
        assert "37.35 EUR (" not in text, part
    quiet = _data(frozenset(), _refund(11))  # done by an earlier run: not this run's
    assert "of which" not in render_report(quiet)


def test_the_console_says_how_much_of_the_money_at_risk_recon_sent_this_run() -> None:
    """The console summary (what cron's log keeps) agrees with the report's headline: of the
    198.60 USD at risk, 48.60 USD was refunded by recon in this run; an earlier run's refund
    of the same RMA is not counted."""

    text = _printed([_refund(11), _refund(15)], {11: "done"})
    assert "money at risk: " in text and "198.60 USD" in text
    assert "of which sent to Shopify this run, awaiting confirmation: 48.60 USD" in text
    assert "of which" not in _printed([_refund(11), _refund(15)], {})


def _printed(actions: list[Any], settled: dict[int, str]) -> str:
    """The console summary of a run with the sample findings and these actions besides; the
    ``settled`` ones ended ``unknown`` were sent this run (``ApplyReport.unknown``)."""
    outcome = RunOutcome(
        run_id="r1",
        as_of=datetime(2026, 11, 1, 6, tzinfo=UTC),
        findings=list(sample_findings()),
        result=cast(Any, None),
        report_dir=Path("reports"),
        actions=[*sample_actions(), *actions],
        settled=settled,
        unknown_writes=frozenset(i for i, state in settled.items() if state == "unknown"),
    )
    console = Console(record=True, width=200)
    print_outcome(console, outcome, None)
    return " ".join(console.export_text().split())


def test_a_refund_shopify_throttled_and_ran_nothing_does_not_say_no_answer_came() -> None:
    """Shopify answered THROTTLED until the run's retries ran out: it wrote nothing and the
    next run resends the refund (``NOT_RUN``). Its finding's next step said "no answer came",
    which sends finance to Shopify looking for a refund that may have landed; it says that
    Shopify wrote nothing, and still not to redo it by hand."""
    throttled = {
        **_refund(16),
        "status": "unknown",
        "state": "unknown",
        "shopify_result": None,
        "reason": f"{NOT_RUN} (ThrottledError: throttled, nothing was written); run stopped",
    }
    step = _step(_data(frozenset(), throttled), REFUND_KEY)
    assert step.startswith("recon sent refund 48.60 USD, no restock (action 16)")
    assert "no answer" not in step
    assert "Shopify throttled it and wrote nothing" in step and "do not redo it by hand" in step


def _no_answer(
    id_: int, reason: str = "outcome unknown (ReadTimeout): timed out"
) -> dict[str, Any]:
    """A refund of 12345701 recon sent this run that got no answer (``unknown``)."""
    return {**_refund(id_), "status": "unknown", "state": "unknown", "shopify_result": None,
            "reason": reason}  # fmt: skip


def test_a_refund_sent_this_run_with_no_answer_counts_as_sent_awaiting_confirmation(
    tmp_path: Path,
) -> None:
    """recon sent a 48.60 USD refund in this apply run and no answer came: the next run reads
    back whether it landed. Its finding stays in the 198.60 USD at risk, and finance read
    nothing beside the headline saying that 48.60 USD of it may already be paid: the report,
    the mails and the console say it was sent this run, awaiting confirmation, and its row
    still says not to redo it."""
    sent = "of which sent to Shopify this run, awaiting confirmation: 48.60 USD"
    data = make_data(actions=[*sample_actions(), _no_answer(14)], unknown_writes=frozenset({14}))
    assert data.headline.money_at_risk == make_data().headline.money_at_risk  # still at risk
    page = " ".join(
        write_run_reports(data, tmp_path / "report").report_html.read_text("utf-8").split()
    )
    headline = page[page.index('id="headline"') : page.index("</section>")]
    assert "198.60 USD" in headline and sent in headline
    finance = build_messages(data, settings(tmp_path))[0]
    for part in ("plain", "html"):
        text = " ".join(re.sub("<[^>]+>", "", body(finance, part)).split())
        assert f"198.60 USD ({sent})" in text, part
    assert "do not redo it by hand" in _step(data, REFUND_KEY)
    assert sent in _printed([_no_answer(14)], {14: "unknown"})


def test_a_refund_shopify_throttled_or_an_earlier_run_sent_is_not_sent_this_run() -> None:
    """Not counted as sent this run: a refund Shopify throttled until the run gave up (it ran
    nothing, ``NOT_RUN``: the next run sends it), and one an earlier run sent with no answer
    that this run (plan mode: no resend) did not touch. Their rows still say not to redo
    them."""
    throttled = _no_answer(16, f"{NOT_RUN} (ThrottledError: throttled, nothing was written)")
    data = make_data(actions=[*sample_actions(), throttled], unknown_writes=frozenset({16}))
    assert data.headline.sent_this_run == ()
    earlier = make_data(actions=[*sample_actions(), _no_answer(14)])
    assert earlier.headline.sent_this_run == ()
    assert "do not redo it by hand" in _step(earlier, REFUND_KEY)


def _sent_in(id_: int, currency: str, *amounts: str, state: str = "done") -> dict[str, Any]:
    """A refund done this run (or ended in ``state``) that Loop reported as 48.60 USD (shop
    currency) and recon sent in the order's presentment currency, as ``amounts`` (one per
    transaction)."""
    view = ActionView(
        id=id_, key=f"k-{id_}", kind="refund", category="MISSING_REFUND", rma="12345701",
        order_id="5444175757553", amount="48.60", currency="USD", state=state, reason="",
        result_id=f"gid://shopify/Refund/{id_}", created_at=AS_OF, updated_at=AS_OF,
        details={"lines": [], "presentment_currency": currency}, finding_key=REFUND_KEY,
        variables={"input": {"currency": currency, "transactions": [
            {"amount": a, "kind": "REFUND"} for a in amounts]}},
    )  # fmt: skip
    return report_row(view)


def test_the_actions_sheet_shows_the_amount_sent_to_shopify_as_a_number_beside_loops(
    tmp_path: Path,
) -> None:
    """A controller ties the Actions sheet to Shopify's refunds (and so its payouts): the sheet
    showed only Loop's 48.60 USD, while Shopify holds 44.90 EUR (two transactions) or ¥7,250;
    the figure sent was only in the ``what`` text. Amounts sent are numbers with their
    currency's decimals; a write not sent (the restock, the proposals) has none, nor one
    Shopify refused (nothing written: it must not add to a sum tied to Shopify)."""
    actions = [_sent_in(21, "EUR", "30.00", "14.90"), _sent_in(22, "JPY", "7250"), _restock(13),
               _sent_in(23, "EUR", "44.90", state="failed")]  # fmt: skip
    data = make_data(actions=[*sample_actions(), *actions], done_writes=frozenset({21, 22, 13}),
                     failed_writes=frozenset({23}))  # fmt: skip
    files = write_run_reports(data, tmp_path / "report")
    rows = {r["id"]: r for r in sheet_rows(files.exceptions_xlsx, "Actions")}
    picked = ("amount", "currency", "sent_amount", "sent_currency")
    assert {i: tuple(rows[i][c] for c in picked) for i in (21, 22, 13, 23)} == {
        21: (48.6, "USD", 44.9, "EUR"),
        22: (48.6, "USD", 7250, "JPY"),
        13: (None, None, None, None),
        23: (48.6, "USD", None, None),
    }
    assert all(r["sent_amount"] is None for r in rows.values() if r["status"] != "done")
    sheet = load_workbook(files.exceptions_xlsx)["Actions"]
    header = [c.value for c in sheet[1]]
    formats = {
        row[0].value: row[header.index("sent_amount")].number_format
        for row in sheet.iter_rows(min_row=2)
        if row[0].value in (21, 22)
    }
    assert formats == {21: "#,##0.00", 22: "#,##0"}
