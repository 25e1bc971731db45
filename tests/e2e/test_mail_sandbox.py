"""What the e-mails of a sandbox run say, read back from the outbox as finance receives them."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_nightly_sandbox import sandbox_settings

from recon.bootstrap import build_app
from recon.config import RemediationMode
from recon.delivery import read_eml
from recon.service import RunOutcome, run_nightly

pytestmark = pytest.mark.e2e


def _mails(outbox: Path, outcome: RunOutcome) -> dict[str, EmailMessage]:
    """The run's e-mails by team."""
    mails = [read_eml(p) for p in outbox.glob("*.eml")]
    return {str(m["X-Recon-Team"]): m for m in mails if m["X-Recon-Run"] == outcome.run_id}


def _text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def test_a_later_run_of_the_day_says_which_run_it_is_in_its_subject(tmp_path: Path) -> None:
    """The nightly and an on-demand run of the same shop day mailed finance two messages with
    one subject; the second run's report is in ``<day>-2/``. Its mails now say "(run 2)", as
    its folder does, and the first run's subject is as it always was."""
    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    outbox = settings.delivery.outbox_dir
    with build_app(settings) as app:
        nightly = run_nightly(app)
        app.clock.advance(timedelta(hours=4))  # type: ignore[attr-defined]
        on_demand = run_nightly(app)
    assert on_demand.report_dir.name == "2026-11-01-2"
    first, second = _mails(outbox, nightly), _mails(outbox, on_demand)
    assert set(first) == set(second) and "finance" in first
    count = len(nightly.open_findings)
    assert str(first["finance"]["Subject"]) == (
        f"[recon] sandbox 2026-11-01: {count} open findings (finance)"
    )
    assert str(second["finance"]["Subject"]) == (
        f"[recon] sandbox 2026-11-01 (run 2): {len(on_demand.open_findings)} open findings "
        "(finance)"
    )
    for team, mail in second.items():
        assert "2026-11-01 (run 2): " in str(mail["Subject"]), team
        for subtype in ("plain", "html"):
            assert "run 2 of the day (folder 2026-11-01-2)" in _text(mail, subtype), team
    for team, mail in first.items():
        assert "(run " not in str(mail["Subject"]), team
        assert "of the day" not in _text(mail, "plain"), team


def _report_limit_lines(outcome: RunOutcome) -> list[str]:
    """The report's lines on remediation's limits, as finance reads them in report.html."""
    page = outcome.files["html"].read_text(encoding="utf-8")
    found = re.findall(r'<p class="remediation-limits">(.*?)</p>', page, flags=re.S)
    return [" ".join(html.unescape(line).split()) for line in found]


def _teams_told(mails: dict[str, EmailMessage], lines: list[str]) -> set[str]:
    """The teams whose mail (plain and HTML alike) carries every one of ``lines``."""
    told = set()
    for team, mail in mails.items():
        said = [
            all(line in _text(mail, subtype) for line in lines) for subtype in ("plain", "html")
        ]
        assert said[0] == said[1], team  # both parts say the same
        if said[0]:
            told.add(team)
    return told


def test_a_held_run_is_in_the_mails_of_finance_and_the_team_whose_writes_were_held(
    tmp_path: Path,
) -> None:
    """An apply run whose restocks the circuit breaker held (``max_run_count = 0``) said so on
    the console and in the report, but the mails said nothing: finance and the warehouse read
    a normal night. Both mails now carry the report's line (why, and what releases the writes);
    CX, none of whose writes was held, is not told."""
    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    settings.remediation.mode = RemediationMode.APPLY
    settings.remediation.auto_apply = ["MISSING_RESTOCK"]
    settings.remediation.max_run_count = 0
    with build_app(settings) as app:
        outcome = run_nightly(app)
    lines = _report_limit_lines(outcome)
    assert len(lines) == 1 and lines[0].startswith("remediation halted: circuit breaker: ")
    assert "max_run_count 0" in lines[0] and "actions reject" in lines[0]  # what releases them
    assert lines[0] in outcome.notes  # the console's wording
    mails = _mails(settings.delivery.outbox_dir, outcome)
    assert {"finance", "warehouse", "cx"} <= set(mails), "the world needs every team's mail"
    assert _teams_told(mails, lines) == {"finance", "warehouse"}


def test_plan_mode_mails_finance_what_the_limits_would_do(tmp_path: Path) -> None:
    """A plan run's preview of the limits (would an apply run be held, with the figures) was
    in the report and on the console only. Finance's mail now carries it; a hold that would
    fall on refunds is not the warehouse's or CX's to hear of; one within every limit is
    finance's alone."""
    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    settings.remediation.mode = RemediationMode.PLAN
    settings.remediation.auto_apply = ["MISSING_REFUND"]
    settings.remediation.max_run_count = 0
    with build_app(settings) as app:
        held = run_nightly(app)
        settings.remediation.max_run_count = 50
        app.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
        within = run_nightly(app)
    outbox = settings.delivery.outbox_dir
    for outcome, verdict in ((held, "the limits would hold all of them"), (within, "within")):
        lines = _report_limit_lines(outcome)
        assert [line.split(":")[0] for line in lines] == [
            "plan only, nothing sent",
            "per run",
            f"per day {outcome.as_of.date().isoformat()} (UTC)",
        ]
        assert verdict in lines[0]
        assert all(line in outcome.notes for line in lines)
        assert _teams_told(_mails(outbox, outcome), lines) == {"finance"}


def test_a_finding_recon_fixed_in_the_run_does_not_ask_finance_to_fix_it_again(
    tmp_path: Path,
) -> None:
    """An apply run refunded and restocked the planted breaks, then mailed the findings it had
    just fixed as open with their usual next step ("Create the refund in Shopify.", "Restock
    the returned units."), and nothing in the mail, report or workbook said recon had sent
    them: finance, doing as told, would refund the customer a second time. The findings stay
    open until the next run reads the writes back (the lifecycle), but their next step now
    says what recon sent, and the report lists the writes sent this run."""
    settings = sandbox_settings(tmp_path, seed=4, returns=120)
    settings.remediation.mode = RemediationMode.APPLY
    settings.remediation.auto_apply = ["MISSING_REFUND", "MISSING_RESTOCK"]
    with build_app(settings) as app:
        outcome = run_nightly(app)
    done = [a for a in outcome.actions if a["state"] == "done"]
    refunded = {a["rma"] for a in done if a["kind"] == "refund"}
    restocked = {a["rma"] for a in done if a["kind"] == "restock"}
    assert refunded and restocked, "the world needs a refund and a restock to apply"
    wanted = {("MISSING_REFUND", r) for r in refunded} | {("MISSING_RESTOCK", r) for r in restocked}
    fixed = [f for f in outcome.open_findings if (f.category.value, f.rma) in wanted]
    assert fixed  # still open: the next run reads the writes back
    mails = _mails(settings.delivery.outbox_dir, outcome)
    finance, warehouse = _text(mails["finance"], "plain"), _text(mails["warehouse"], "plain")
    for finding in fixed:
        mail = finance if finding.category.value == "MISSING_REFUND" else warehouse
        item = mail[mail.index(f"RMA {finding.rma} ") :][:400]
        assert finding.next_step not in item.split("Loop:")[0], finding.key
        assert "recon sent" in item and "do not redo it" in item, finding.key
    assert f"Sent to Shopify by recon this run: {len(done)}" in finance
    page = " ".join(html.unescape(outcome.files["html"].read_text("utf-8")).split())
    assert "Sent to Shopify this run" in page
    sheet = load_workbook(outcome.files["workbook"])
    rows = list(sheet["Exceptions"].iter_rows(min_row=2, values_only=True))
    header = [c.value for c in sheet["Exceptions"][1]]
    steps = {r[header.index("key")]: r[header.index("next_step")] for r in rows}
    for finding in fixed:
        assert str(steps[finding.key]).startswith("recon sent"), finding.key
    listed = [r[0] for r in sheet["Actions"].iter_rows(min_row=2, values_only=True)]
    assert {a["id"] for a in done} <= set(listed)  # the audit: what went out tonight
