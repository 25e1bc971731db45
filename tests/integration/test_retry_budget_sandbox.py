"""A run against a mostly failing sandbox stops on its retry budget; the next run loses nothing.

The emulators answer 70% of all requests with 5xx (``Faults.error_rate``). Each request would
get through on its own attempts (20 here, so no single request gives up first), but together
they spend the run's retry budget: the run stops with ``RetryBudgetExhaustedError``, keeps
nothing and moves no watermark. A later, healthier night catches up, and its mirror equals a
fresh backfill of the whole range.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.backfill import backfill  # noqa: E402
from recon.errors import RetryBudgetExhaustedError  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sources.http import RetryPolicy  # noqa: E402
from recon.sources.retry_budget import RetryBudget  # noqa: E402
from recon.store import tables as tbl  # noqa: E402
from recon.store.sql import SqlStore  # noqa: E402
from recon.sync import all_streams, run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    mirror_records,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)

BUDGET = 5  # retries after failures, per API and per run
DAY = timedelta(days=1)


def _watermarks(store: SqlStore) -> dict[str, object]:
    return {stream: store.get_watermark(stream) for stream in all_streams()}


def _last_sync_run(store: SqlStore) -> tbl.RunRow:
    with store.session() as session:
        rows = session.scalars(select(tbl.RunRow).where(tbl.RunRow.kind == "sync")).all()
        return max(rows, key=lambda row: row.started_at)


@pytest.mark.slow
def test_a_run_facing_mostly_errors_stops_on_its_budget_and_the_next_run_loses_nothing(
    tmp_path: Path,
) -> None:
    world, _truth = generate_world(seed=17, returns=30, future_days=3)
    world = normalise_generated_world(world)
    start = min(o.created_at for o in world.orders) - DAY
    settings = sync_settings_for_tests()
    budgets = {api: RetryBudget(api, retries=BUDGET, seconds=1800) for api in ("loop", "shopify")}
    policy = RetryPolicy(max_attempts=20)
    with sandbox_rig(world, tmp_path, policy=policy, budgets=budgets) as rig:
        backfill(rig.store, rig.loop, rig.shopify, rig.clock, settings, start=start, end=world.now)
        backfilled, marks = mirror_records(rig.store), _watermarks(rig.store)

        rig.clock.advance(DAY)  # type: ignore[attr-defined]
        rig.state.faults.error_rate = 0.7
        with pytest.raises(RetryBudgetExhaustedError) as failed:
            run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        message = str(failed.value)
        api = message.split(":", 1)[0]
        assert api in budgets, message  # names the API
        assert f"{BUDGET} retries after failures ([sync] retry_budget = {BUDGET})" in message
        assert f"last failure: {api} " in message  # the request, then why it failed:
        assert "HTTP 50" in message or "INTERNAL_SERVER_ERROR" in message  # 5xx, or Shopify's
        assert budgets[api].retries_spent == BUDGET
        assert mirror_records(rig.store) == backfilled  # nothing half-read was kept
        assert _watermarks(rig.store) == marks  # the next run reads the same days again
        run = _last_sync_run(rig.store)
        assert run.status == "failed" and "retry budget" in str(run.stats)

        rig.clock.advance(DAY)  # type: ignore[attr-defined]
        rig.state.faults.error_rate = 0.05  # a few failures: a normal night
        for budget in budgets.values():
            budget.reset()  # as every run does (App.start_retry_budgets)
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        caught_up, end = mirror_records(rig.store), rig.clock.now()
        assert all(mark == end for mark in _watermarks(rig.store).values())

        rig.state.faults.error_rate = 0.0
        fresh = rig.new_store("fresh.db")
        backfill(fresh, rig.loop, rig.shopify, rig.clock, settings, start=start, end=end)
        rebuilt = mirror_records(fresh)
        fresh.close()
    assert caught_up != backfilled, "the failed night had nothing new: the test proves nothing"
    assert caught_up == rebuilt
