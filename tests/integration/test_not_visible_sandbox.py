"""Orders Shopify does not show, over real HTTP: marked when ``nodes(ids:)`` answers null, and
asked again after ``[sync] not_visible_recheck_days`` whether or not anything else asks.

Dataset: a generated world (seed 3, 20 returns) whose orders are 17 to 118 days old, mirrored
whole on night 0 by an app granted ``read_all_orders``. The app then loses that scope, so
Shopify hides every order older than 60 days (shopify-admin-api.md §1).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.invariants import check_visibility  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    SandboxRig,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)

RECHECK_DAYS = 7
SETTINGS = sync_settings_for_tests(initial_days=150, not_visible_recheck_days=RECHECK_DAYS)


def _orders_asked_by_id(rig: SandboxRig) -> set[str]:
    """Numeric ids of the orders the logged ``OrdersById`` calls asked for."""
    asked: set[str] = set()
    for request in rig.log.requests:
        body = json.loads(request.body) if request.api == "shopify" else {}
        if "query OrdersById(" in body.get("query", ""):
            asked.update(i.rsplit("/", 1)[-1] for i in body["variables"]["ids"])
    return asked


def _night(rig: SandboxRig) -> set[str]:
    """One nightly sync a day later; the orders it asked for by id."""
    rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    rig.log.requests.clear()
    run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
    return _orders_asked_by_id(rig)


def _an_old_order_nothing_asks_for(rig: SandboxRig) -> str:
    """A mirrored order a return names, older than 60 days, with nothing pending on it."""
    now = rig.clock.now()
    named = {r.provider_order_id for r in rig.state.visible_returns()}
    pending = set(rig.store.orders_with_pending_refunds())
    old = sorted(
        o.id
        for o in rig.store.load_snapshot().orders
        if o.id in named and o.id not in pending and now - o.created_at > timedelta(days=65)
    )
    assert old, "the world has no old order to hide: the test proves nothing"
    return old[0]


@pytest.mark.slow
def test_an_order_hidden_then_shown_again_is_cleared_after_the_recheck_days(
    tmp_path: Path,
) -> None:
    """The upgrade night (its test flag unknown) asks for the old order: null, so it is marked.
    The app is granted ``read_all_orders`` again, and the order's Loop return never changes:
    nothing asks for it for ``RECHECK_DAYS - 1`` nights, then the recheck does, with the
    night's other by-id reads, and its mark is cleared."""
    world = normalise_generated_world(generate_world(seed=3, returns=20)[0])
    with sandbox_rig(world, tmp_path) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        order = _an_old_order_nothing_asks_for(rig)
        returns_before = {r.id: r.updated_at for r in rig.store.load_snapshot().returns}
        rig.state.world.shop.scopes.remove("read_all_orders")
        with rig.store.engine.begin() as connection:  # mirrored before recon read Order.test
            connection.execute(text("UPDATE orders SET test = NULL WHERE id = :id"), {"id": order})
        assert order in _night(rig)
        assert order in rig.store.orders_not_visible()

        rig.state.world.shop.scopes.append("read_all_orders")
        for _ in range(RECHECK_DAYS - 1):
            assert order not in _night(rig)
            assert order in rig.store.orders_not_visible()
        assert order in _night(rig)
        marked = rig.store.orders_not_visible()
        returns_after = {r.id: r.updated_at for r in rig.store.load_snapshot().returns}
    assert order not in marked
    assert check_visibility(rig.state, marked) == []
    assert returns_after == returns_before  # no return changed: the recheck alone asked
