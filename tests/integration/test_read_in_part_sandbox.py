"""An order read in part once, over real HTTP, settles the next night though nothing changed.

Dataset: a generated world (seed 31, 40 returns) mirrored whole on night 1. Its closed returns'
labels change during day 2, so night 2 asks for their orders by id; one ``OrdersById`` answer
says one of those orders (mirrored the night before, no refund pending) has more lines and
names no cursor: a one-off glitch, read in part over the older copy. Night 3, a minute later,
nothing about that order has changed in either API.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.remediation.runner import contexts_for  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.world import Revision, World  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    mirror_records,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)
from tests.integration.test_paging_sandbox import CorruptQuery  # noqa: E402

SETTINGS = sync_settings_for_tests(initial_days=400)


def _world() -> World:
    """The world, its closed returns' labels delivered 12 hours after ``now`` (day 2)."""
    world, _truth = generate_world(seed=31, returns=40, future_days=0)
    at = world.now + timedelta(hours=12)
    world.revisions += [
        Revision(
            at=at,
            target=f"loop_return:{r.id}",
            set={"label_status": "delivered", "updated_at": at},
        )
        for r in world.loop_returns
        if r.state == "closed"
    ]
    return normalise_generated_world(world)


class LinesGlitch:
    """Cuts the lines of the first order of an ``OrdersById`` answer that is in ``targets``
    (a page that says there is more and names no cursor), once; ``hit`` is that order's id."""

    def __init__(self) -> None:
        self.targets: set[str] = set()
        self.hit: str | None = None

    def __call__(self, document: dict[str, Any]) -> bool:
        if self.hit is not None:
            return False
        for node in (document.get("data") or {}).get("nodes") or []:
            if not isinstance(node, dict) or not isinstance(node.get("lineItems"), dict):
                continue
            order_id = str(node.get("id")).rsplit("/", 1)[-1]
            if order_id in self.targets:
                node["lineItems"]["pageInfo"] = {"hasNextPage": True, "endCursor": None}
                self.hit = order_id
                return True
        return False


@pytest.mark.slow
def test_an_order_read_in_part_once_reads_clean_the_next_night_and_its_writes_are_released(
    tmp_path: Path,
) -> None:
    """The entry of the order read in part is open after night 2 (its writes held); night 3
    asks for it again, reads it whole, resolves the entry and lifts the hold."""
    glitch = LinesGlitch()
    wrap = lambda app: CorruptQuery(app, "OrdersById", glitch)  # noqa: E731
    with sandbox_rig(_world(), tmp_path, shopify_wrapper=wrap) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        assert rig.store.quarantine_entries() == []
        # An order with a refund pending is asked every night anyway.
        pending = set(rig.store.orders_with_pending_refunds())
        glitch.targets = set(mirror_records(rig.store)["orders"]) - pending

        rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        order_id = glitch.hit
        assert order_id is not None, "night 2 asked for no mirrored order by id"
        entries = [(e.entry.kind, e.entry.record_id) for e in rig.store.quarantine_entries()]
        assert entries == [("order", order_id)]
        assert ("order", order_id) in rig.store.load_snapshot().unreadable

        rig.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        assert rig.store.quarantine_entries() == []
        snapshot = rig.store.load_snapshot()
    assert ("order", order_id) not in snapshot.unreadable
    held = [c for c in contexts_for(snapshot).values() if c.order_unreadable]
    assert held == []
