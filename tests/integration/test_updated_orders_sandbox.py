"""The updated-orders list over real HTTP against the Shopify emulator: which orders it reads.

World: the generated seed-11 world (40 returns). The day after its now, the warehouse restocks
one unit by hand (a refund of no money, ``restockType: RETURN``) on two paid orders: one a
Loop return names, and one no Loop return names (a sale that simply changed). Both orders'
``updatedAt`` move into the night's window and neither becomes refunded, so the
refunded-orders sweep lists neither. The night must read the first in full (its restock
reaches the mirror) and only list the second: recon has nothing to say about it.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.shopify.render import OrderView  # noqa: E402
from recon.sandbox.world import Order, World  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    RequestLog,
    backfill_world,
    mirror_records,
    normalise_generated_world,
    restock_one_unit,
    sandbox_rig,
    sync_settings_for_tests,
)


def _paid_orders(world: World) -> tuple[Order, Order]:
    """(a paid order one Loop return names, a paid order no Loop return names), both with no
    refund yet, placed before the world's now."""
    named = {str(r.provider_order_id) for r in world.loop_returns}

    def candidates(with_return: bool) -> list[Order]:
        return [
            o
            for o in world.orders
            if (o.id in named) == with_return
            and not o.refunds
            and o.created_at < world.now - timedelta(days=2)
            and OrderView(o, world.now, world.shop, None).financial_status() == "PAID"
        ]

    return candidates(True)[0], candidates(False)[0]


def _asked(log: RequestLog, document: str) -> list[dict[str, object]]:
    """The variables of every Shopify request that sent ``document``."""
    bodies = [json.loads(r.body) for r in log.requests if r.api == "shopify" and r.body]
    return [b["variables"] for b in bodies if f"query {document}(" in b["query"]]


@pytest.mark.slow
def test_only_a_changed_order_a_loop_return_names_is_read_in_full(
    tmp_path: Path, store_url: str
) -> None:
    world, _truth = generate_world(seed=11, returns=40)
    world = normalise_generated_world(world)
    named, unnamed = _paid_orders(world)
    restock = restock_one_unit(world, named, "5400000099101")
    restock_one_unit(world, unnamed, "5400000099201")
    settings = sync_settings_for_tests()
    with sandbox_rig(world, tmp_path, store_url=store_url) as rig:
        backfill_world(rig, world, settings)
        rig.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
        rig.log.requests.clear()
        stats = run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        mirror = mirror_records(rig.store)
    read = {i for v in _asked(rig.log, "OrdersById") for i in v["ids"]}  # type: ignore[attr-defined]
    assert f"gid://shopify/Order/{named.id}" in read
    assert f"gid://shopify/Order/{unnamed.id}" not in read
    assert restock.id in mirror["refunds"]
    assert restock.id in mirror["orders"][named.id]["refund_ids"]
    assert unnamed.id not in mirror["orders"]
    # The list was asked over the night's window, and it named both orders.
    listed = _asked(rig.log, "OrdersUpdated")
    assert listed and all("financial_status" not in str(v["query"]) for v in listed)
    assert stats.listed >= 2
