"""The nightly job against a sandbox in Loop's unverified modes still finds exactly the truth.

Dataset: the generated world (seed 2, 120 returns), which holds Loop-created refunds linked only by
provider id, some whose note names the order ("Refund for order #1043 via Loop Returns"). Modes:
``shopify_refund_object`` left out of list items (linkage only on the details endpoint: without
the client's details fallback this run reports false MISSING_REFUND/MISSING_RESTOCK findings), and
cursors keyed on the timestamp alone (an end-to-end smoke check; the page-edge ties themselves are
tested in tests/unit/sources/test_loop_fidelity_client.py), also with pages served oldest first,
windows read in a shop zone behind UTC (a zone ahead of UTC delays the newest returns by a
night: tests/integration/test_loop_zone_sandbox.py), and list items sent as PHP sends them (a zero
fee as null, an ``outcomes_processed_at`` with nothing processed as ``[]``: each quarantined the
return, and its planted findings were missed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.bootstrap import build_app
from recon.config import load_settings
from recon.models import Category
from recon.sandbox.scoring import score
from recon.service import run_nightly

ROOT = Path(__file__).resolve().parents[3]
MODES = {
    "no-refund-object": {"loop_omit_refund_object": True},
    "timestamp-only-cursors": {"loop_cursor_without_id": True},
    # Loop documents no order (§6 trap 5): pages running forward in time, page edges in ties.
    "oldest-first-timestamp-only-cursors": {
        "loop_oldest_first": True,
        "loop_cursor_without_id": True,
    },
    # Loop's zone for from/to is unknown (trap 6): a shop zone behind UTC starts every window
    # later; the first night reads from [sync] initial_days back, far before any return.
    "windows-read-in-a-zone-behind-utc": {"loop_zone_hours": -10.0},
    # Loop is PHP: a zero fee as null, an outcome map with nothing processed as [] (§10.1, §10.3).
    "php-nulls-and-empty-maps": {"loop_php_nulls": True},
}


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
def test_nightly_in_loops_unverified_modes_matches_the_planted_truth(
    tmp_path: Path, mode: str
) -> None:
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.sandbox.enabled = True
    settings.sandbox.seed = 2
    settings.sandbox.returns = 120
    settings.loop.page_size = 7  # many page edges, some inside one second
    settings.store.url = f"sqlite:///{tmp_path / 'recon.db'}"
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    with build_app(settings) as app:
        assert app.truth is not None and app.sandbox is not None
        faults = app.sandbox.state.faults  # type: ignore[attr-defined]
        for name, value in MODES[mode].items():
            setattr(faults, name, value)
        outcome = run_nightly(app)
        result = score(outcome.findings, app.truth)
        loop_notes = app.truth.clean_cases.get("refund_loop_note_naming_order", 0)
    assert loop_notes > 0  # the world does hold refunds whose note names the order
    assert not result.missed, sorted(result.missed)
    assert not result.unexpected, sorted(result.unexpected)
    unmatched = [f for f in outcome.open_findings if f.category == Category.UNMATCHED_REFUND]
    planted = [p for p in app.truth.findings if p.category == "UNMATCHED_REFUND"]
    assert len(unmatched) == len(planted)
