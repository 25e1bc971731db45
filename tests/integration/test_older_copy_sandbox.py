"""A lagging listing page over real HTTP: the mirror does not go back to an older order.

Shopify's search listings lag: a page can hold an order as it was before its last change. The
nightly wrote whatever copy it read last, so on the night a lagging sweep page held the older
copy, the mirror lost the order's newest refund (its refund ids, its ``updatedAt``) and the
engine reconciled against that: a refund made looked missing, a restock done looked undone.

World: the generated seed-11 world (40 returns). Order X, named by a Loop return and already
(partly) refunded, gets a restock-only refund a day after the world's now (no money: its
status stays, so the refunded-orders sweep lists it). Night 1 (a backfill up to now) mirrors
X; the test's middleware keeps the copy of X the sweep served. Night 2, two days later, reads
X with its new refund. Night 3, a day later, the middleware serves the night-1 copy of X in
place of the current one on the sweep's pages (the look-back lists X again): the mirror must
keep X as night 2 read it.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.shopify.render import OrderView  # noqa: E402
from recon.sandbox.world import Order, World  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    backfill_world,
    mirror_records,
    normalise_generated_world,
    restock_one_unit,
    sandbox_rig,
    sync_settings_for_tests,
)


class LaggingSweep:
    """ASGI wrapper of the Shopify emulator: keeps the first ``OrdersPage`` node of one order,
    and while ``lagging`` serves that kept copy in place of the current one (a search index that
    lags behind the order)."""

    def __init__(self, app: Any, order_gid: str) -> None:
        self.app = app
        self.order_gid = order_gid
        self.kept: dict[str, Any] | None = None
        self.lagging = False
        self.served = 0  # pages that carried the kept copy

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked: list[bytes] = []

        async def receive_body() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                asked.append(message.get("body", b""))
            return message

        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    body = self._rewrite(b"".join(asked), b"".join(chunks))
                    headers = [
                        (k, v) for k, v in start["headers"] if k.lower() != b"content-length"
                    ]
                    headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive_body, capture)

    def _rewrite(self, request: bytes, body: bytes) -> bytes:
        try:
            query = json.loads(request).get("query", "")
            answer = json.loads(body)
        except ValueError:
            return body
        if "query OrdersPage(" not in query or not isinstance(answer.get("data"), dict):
            return body
        nodes = ((answer["data"].get("orders") or {}).get("nodes")) or []
        for index, node in enumerate(nodes):
            if not isinstance(node, dict) or node.get("id") != self.order_gid:
                continue
            if self.lagging and self.kept is not None:
                nodes[index] = self.kept
                self.served += 1
            elif self.kept is None:
                self.kept = node  # the first copy served: night 1's
        return json.dumps(answer).encode()


def _refunded_order(world: World) -> Order:
    """An order a Loop return names that money was refunded on (the sweep lists it)."""
    named = {str(r.provider_order_id) for r in world.loop_returns}
    return next(
        o
        for o in world.orders
        if o.id in named
        and not o.deleted_at
        and OrderView(o, world.now, world.shop, None).financial_status()
        in ("REFUNDED", "PARTIALLY_REFUNDED")
    )


@pytest.mark.slow
def test_a_lagging_sweep_page_does_not_take_the_mirror_back_to_an_older_order(
    tmp_path: Path, store_url: str
) -> None:
    world = normalise_generated_world(generate_world(seed=11, returns=40)[0])
    order = _refunded_order(world)
    restock = restock_one_unit(world, order, "5400000099301")
    settings = sync_settings_for_tests()
    sweep: list[LaggingSweep] = []

    def lagging(app: Any) -> LaggingSweep:
        sweep.append(LaggingSweep(app, f"gid://shopify/Order/{order.id}"))
        return sweep[0]

    with sandbox_rig(world, tmp_path, store_url=store_url, shopify_wrapper=lagging) as rig:
        backfill_world(rig, world, settings)  # night 1: the copy before the restock
        assert sweep[0].kept is not None, "the sweep never listed the order: proves nothing"
        rig.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)  # night 2
        night2 = mirror_records(rig.store)["orders"][order.id]
        assert restock.id in night2["refund_ids"]
        rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        sweep[0].lagging = True
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)  # night 3, lagging
        assert sweep[0].served, "the lagging copy was never served: proves nothing"
        mirror = mirror_records(rig.store)
        snapshot = rig.store.load_snapshot()
        listed = rig.store.refund_ids_of_orders([order.id])
    kept = mirror["orders"][order.id]
    assert kept["updated_at"] == night2["updated_at"]
    assert restock.id in kept["refund_ids"]
    assert restock.id in listed
    (mirrored,) = [o for o in snapshot.orders if o.id == order.id]
    assert restock.id in mirrored.refund_ids
    assert restock.id in {r.id for r in snapshot.refunds if r.order_id == order.id}
