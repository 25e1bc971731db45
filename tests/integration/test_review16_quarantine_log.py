"""Review16: a record the nightly sync quarantines must be named where the operator looks.

A Loop return whose payload cannot be used (here its refund amount written "1,000.00") is
quarantined and the run goes on: that return raises no finding, so its refund is checked by
nobody until someone reads `run_recon.py quarantine`. `run` prints one console line with a count;
the built-in `schedule` prints nothing of a run, and the reports and mails never mention
quarantine. The log, which `schedule` (and cron's mail) keeps, is the one place left: it must
name the record and the field at fault, as every other bad-input error does.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    CorruptReturns,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)


def test_a_quarantined_loop_return_is_named_in_the_log_with_its_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world, _truth = generate_world(seed=23, returns=20)
    world = normalise_generated_world(world)
    victim = max(world.loop_returns, key=lambda r: r.updated_at).id  # in tonight's window

    def wrapper(app: Any) -> Any:
        return CorruptReturns(app, {victim: lambda r: r.update(refund="1,000.00")})

    with (
        caplog.at_level(logging.INFO),
        sandbox_rig(world, tmp_path, loop_wrapper=wrapper) as rig,
    ):
        stats = run_sync(rig.store, rig.loop, rig.shopify, rig.clock, sync_settings_for_tests())
        entries = [q for q in rig.store.list_quarantined() if q.record_id == victim]
    assert stats.quarantined >= 1 and entries, "the set-up must quarantine the return"
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(victim in line and "refund" in line for line in said), said
