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
