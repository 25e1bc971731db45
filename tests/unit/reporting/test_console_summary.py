"""The console summary of a run agrees with the e-mail and report on what waits for a person."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from rich.console import Console

from recon.service import RunOutcome
from recon.summary import print_outcome


def test_intents_in_review_count_as_waiting_as_in_the_email() -> None:
    """Two intents wait for a person: one proposed, one a check stopped (needs_review). The
    e-mail said "Actions waiting for a decision: 2"; the console said "1 proposed or waiting"."""
    actions = [
        {"id": 1, "state": "proposed", "status": "proposed"},
        {"id": 2, "state": "needs_review", "status": "needs_review"},
        {"id": 3, "state": "done", "status": "done"},
        {"id": 4, "state": "rejected", "status": "rejected"},
    ]
    outcome = RunOutcome(
        run_id="r1",
        as_of=datetime(2026, 11, 1, 6, tzinfo=UTC),
        findings=[],
        result=cast(Any, None),  # the summary prints findings and actions, not the frames
        report_dir=Path("reports"),
        actions=actions,
    )
    console = Console(record=True, width=200)
    print_outcome(console, outcome, None)
    assert "actions: 1 applied, 2 waiting for a decision" in console.export_text()


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
