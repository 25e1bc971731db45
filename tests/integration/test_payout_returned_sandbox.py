"""A payout the bank returns after Shopify showed it PAID, over real HTTP against the Shopify
emulator: the nightly sync brings FAILED into the mirror and its refunds are unsettled again.

World: the generated seed-11 world (40 returns), mirrored by a backfill. The next day Shopify
pays out every balance transaction still waiting (``pay_out``: a PAID payout issued then); a
nightly run reads it each night. A week after it was issued, the bank returns it
(``return_payout``): Shopify shows the payout and its balance transactions FAILED.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.config import Settings  # noqa: E402
from recon.models import Category  # noqa: E402
from recon.run_steps import reconcile_snapshot  # noqa: E402
from recon.sandbox.arrivals import pay_out, return_payout  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    backfill_world,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)


@pytest.mark.slow
def test_a_payout_returned_a_week_after_paid_reads_failed_and_its_refunds_unsettled(
    tmp_path: Path, store_url: str
) -> None:
    world = normalise_generated_world(generate_world(seed=11, returns=40)[0])
    settings = sync_settings_for_tests()
    with sandbox_rig(world, tmp_path, store_url=store_url) as rig:
        backfill_world(rig, world, settings)
        rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        payouts = pay_out(rig.state, after=timedelta(0))
        assert payouts, "the world has balance transactions waiting for a payout"
        paid = {p.id for p in payouts}
        carried = {
            b.source_order_transaction_id
            for b in rig.state.world.balance_transactions
            if b.payout_id in paid and b.type == "REFUND"
        }
        assert carried, "tonight's payout carries refunds"
        for _ in range(7):
            rig.clock.advance(timedelta(hours=12))  # type: ignore[attr-defined]
            run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
            rig.clock.advance(timedelta(hours=12))  # type: ignore[attr-defined]
        mirrored = {p.id: p.status for p in rig.store.load_snapshot().payouts}
        assert {mirrored[i] for i in paid} == {"PAID"}
        for payout in payouts:
            return_payout(rig.state, payout.id)
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        snapshot = rig.store.load_snapshot()
        result = reconcile_snapshot(Settings(), rig.store, snapshot, rig.clock.now())
    assert {p.id: p.status for p in snapshot.payouts if p.id in paid} == dict.fromkeys(
        paid, "FAILED"
    )
    unsettled = {
        t
        for f in result.findings
        if f.category is Category.UNSETTLED_REFUND
        for t in f.transaction_ids
    }
    assert carried <= unsettled
