"""The console summary of a run agrees with the e-mail and report on what waits for a person."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from rich.console import Console

from recon.models import Category, Finding, Owner, Severity
from recon.remediation.trail import NOT_RUN
from recon.service import RunOutcome
from recon.summary import print_outcome


def _printed(
    *,
    findings: list[Finding] | None = None,
    actions: list[dict[str, Any]] | None = None,
    settled: dict[int, str] | None = None,
) -> str:
    """What ``print_outcome`` prints for a run with these findings and actions (no frames:
    the summary prints findings and actions)."""
    outcome = RunOutcome(
        run_id="r1",
        as_of=datetime(2026, 11, 1, 6, tzinfo=UTC),
        findings=findings or [],
        result=cast(Any, None),
        report_dir=Path("reports"),
        actions=actions or [],
        settled=settled or {},
    )
    console = Console(record=True, width=200)
    print_outcome(console, outcome, None)
    return str(console.export_text())


def test_intents_in_review_count_as_waiting_as_in_the_email() -> None:
    """Two intents wait for a person: one proposed, one a check stopped (needs_review). The
    e-mail said "Actions waiting for a decision: 2"; the console said "1 proposed or waiting"."""
    actions = [
        {"id": 1, "state": "proposed", "status": "proposed"},
        {"id": 2, "state": "needs_review", "status": "needs_review"},
        {"id": 3, "state": "done", "status": "done"},
        {"id": 4, "state": "rejected", "status": "rejected"},
    ]
    printed = _printed(actions=actions, settled={3: "done"})
    assert "actions: 1 applied, 2 waiting for a decision" in printed


def test_applied_counts_this_runs_writes_and_the_failures_agree_with_the_report() -> None:
    """The ledger holds every intent ever: 40 refunds done on earlier nights, one tonight. The
    console said "actions: 41 applied" every night. It counts tonight's, and the writes that
    did not go through as the report lists them: tonight's refusal (not an earlier night's)
    and, apart (it may have gone through), every write still unknown."""
    actions = [{"id": i, "state": "done", "status": "done"} for i in range(1, 42)]
    actions += [
        {"id": 50, "state": "failed", "status": "failed"},  # refused tonight
        {"id": 51, "state": "failed", "status": "failed"},  # refused on an earlier night
        {"id": 52, "state": "unknown", "status": "unknown"},  # left by an earlier night
    ]
    printed = _printed(actions=actions, settled={41: "done", 50: "failed"})
    text = " ".join(printed.split())
    assert (
        "actions: 1 applied, 0 waiting for a decision, 1 refused by Shopify (not done), "
        "1 outcome unknown (may have gone through: check Shopify before redoing)"
    ) in text


def test_the_title_is_the_shops_time_with_its_zone() -> None:
    """Sydney's 02:00 nightly run is 15:00 UTC the day before: the reports name 2 November in
    Australia/Sydney, and the console's title said "2026-11-01 15:00 UTC"."""
    outcome = RunOutcome(
        run_id="r1",
        as_of=datetime(2026, 11, 1, 15, 0, tzinfo=UTC),
        findings=[],
        result=cast(Any, None),
        report_dir=Path("reports"),
        timezone="Australia/Sydney",
    )
    console = Console(record=True, width=200)
    print_outcome(console, outcome, None)
    title = " ".join(console.export_text().split())
    assert "recon run r1 as of 2026-11-02 02:00 AEDT (Australia/Sydney)" in title


def test_a_utc_shop_title_names_utc_once() -> None:
    outcome = RunOutcome(
        run_id="r1",
        as_of=datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
        findings=[],
        result=cast(Any, None),
        report_dir=Path("reports"),
    )
    console = Console(record=True, width=200)
    print_outcome(console, outcome, None)
    assert "recon run r1 as of 2026-11-01 06:00 UTC" in " ".join(console.export_text().split())


def test_file_paths_and_notes_stay_on_one_line_in_a_log() -> None:
    """Under cron the console is 80 columns of a log file: rich folded a report's long path and
    a note naming a withheld workbook, so the path could be neither copied nor grepped."""
    workbook = Path(
        "/srv/recon/reports/an-agency-client-with-a-long-slug/2026-11-30-2/exceptions.xlsx"
    )
    note = f"exceptions.xlsx (31.2 MB) is over max_attachment_mb 15; it is at {workbook}"
    outcome = RunOutcome(
        run_id="r1",
        as_of=datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
        findings=[],
        result=cast(Any, None),
        report_dir=workbook.parent,
        files={"workbook": workbook},
        notes=[note],
    )
    console = Console(record=True, width=80)
    print_outcome(console, outcome, None)
    lines = console.export_text().splitlines()
    assert f"workbook: {workbook}" in lines
    assert f"note: {note}" in lines


def test_a_throttled_write_reads_as_not_run_not_as_may_have_gone_through() -> None:
    """Shopify answered THROTTLED until the run gave up: the request did not execute
    (shopify-admin-api.md §17), and the ledger sends it again next run under the same key.
    The console counted it "outcome unknown (may have gone through: check Shopify before
    redoing)", so someone could redo it by hand, and then the next run's resend paid twice.
    It is counted apart as not run, sent again by the next run; the write with no answer
    stays unknown."""
    throttled = (
        f"{NOT_RUN} (ThrottledError: throttled, nothing was written); the next run re-reads "
        "the order and resends it with the same key: THROTTLED"
    )
    actions = [
        {"id": 60, "state": "unknown", "status": "unknown", "reason": throttled},
        {"id": 61, "state": "unknown", "status": "unknown", "reason": "outcome unknown: 502"},
    ]
    printed = _printed(actions=actions, settled={60: "unknown", 61: "unknown"})
    text = " ".join(printed.split())
    assert "1 not run by Shopify (throttled, nothing written: the next run sends it again" in text
    assert "1 outcome unknown (may have gone through" in text


def test_amounts_print_with_thousands_separators_and_zero_as_zero() -> None:
    """The report says 12,345.60 USD; the console said 12345.60 USD, and "-" for a category
    whose findings are priced 0.00 (a declined refund a retry stands beside) and for no money
    at risk at all, which reads as unknown. Amounts print as the report prints them, 0.00
    as 0.00."""
    findings = [
        Finding(
            key="MISSING_REFUND|rma=1", category=Category.MISSING_REFUND,
            severity=Severity.HIGH, owner=Owner.FINANCE, amount_at_risk=Decimal("12345.6"),
            currency="USD",
        ),
        Finding(
            key="REFUND_FAILED|refund=2", category=Category.REFUND_FAILED,
            severity=Severity.HIGH, owner=Owner.CX, amount_at_risk=Decimal("0"), currency="USD",
        ),
    ]  # fmt: skip
    lines = _printed(findings=findings).splitlines()
    (missing,) = [line for line in lines if "MISSING_REFUND" in line]
    (failed,) = [line for line in lines if "REFUND_FAILED" in line]
    assert "12,345.60 USD" in missing and "0.00 USD" in failed and "-" not in failed
    assert "open findings: 2; money at risk: 12,345.60 USD" in lines

    assert "open findings: 0; money at risk: 0.00" in _printed().splitlines()
