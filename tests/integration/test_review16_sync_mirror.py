"""Review16: the mirror must keep matching what Shopify and Loop hold, night after night.

Over real HTTP against the sandbox (both emulators, the real clients, a SQLite or PostgreSQL
mirror), on a virtual clock.

(a) A Shopify order whose return CX closes in Shopify, after Loop closed it (the fix a
``STATUS_DRIFT`` finding asks for), on an order with no refund (a store-credit or exchange
outcome): the refunded-orders sweep never sees it (its financial status is ``PAID``), its Loop
return did not change, so no by-id read asks for it, and ``STATUS_DRIFT`` is not among the
categories whose orders are re-read every night. The mirror keeps the return open for good.
The same happens when Loop mirrors its close into Shopify minutes after the night's read.

(c) The same blind spot for a restock-only refund (no money moved) on such an order: the
warehouse restocks a cancelled return's unit in Shopify, which ``GHOST_INVENTORY`` is for, and
the mirror never held that refund. The updated-orders list (every order changed in the night's
window, ids and times only) now names the order, and a Loop return names it, so it is read.

(b) One Loop return whose free text carries a lone UTF-16 surrogate (``"\\ud83d"``: an emoji cut
in half by a 255-character truncation; valid JSON, and ``json.loads`` accepts it). The sync's
one transaction fails on it: PostgreSQL's ``jsonb`` refuses the escape, and SQLite's driver
cannot encode a text column holding it (a ``UnicodeEncodeError``, not even a ``StoreError``).
Nothing of the night is kept and the watermarks stay, so the same record fails every night.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.config import Settings  # noqa: E402
from recon.sandbox.faults import Faults  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.shopify.render import OrderView  # noqa: E402
from recon.sandbox.world import (  # noqa: E402
    Refund,
    RefundLine,
    RestockType,
    Revision,
    ShopifyReturnStatus,
    World,
)
from recon.sandbox.world_loop import LoopState  # noqa: E402
from recon.service import reconcile_snapshot  # noqa: E402
from recon.sources.http import RetryPolicy  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    CorruptReturns,
    backfill_world,
    mirror_records,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)


def _world(seed: int, returns: int) -> World:
    world, _truth = generate_world(seed=seed, returns=returns)
    return normalise_generated_world(world)


# --- (a) a Shopify return closed on an order with no refund ---------------------------------


def _unrefunded_closed_return_order(world: World) -> str:
    """An order with one Loop return, closed with a non-refund outcome, whose Shopify order
    shows no refund (financial status PAID) and one Shopify return."""
    by_order: dict[str, list[Any]] = {}
    for r in world.loop_returns:
        by_order.setdefault(str(r.provider_order_id), []).append(r)
    for order in world.orders:
        loop_returns = by_order.get(order.id, [])
        view = OrderView(order, world.now, world.shop, None)
        if (
            len(loop_returns) == 1
            and loop_returns[0].state == LoopState.CLOSED
            and loop_returns[0].outcome != "refund"
            and view.financial_status() == "PAID"
            and len(order.returns) == 1
        ):
            return order.id
    raise AssertionError("the world has no closed non-refund return on an unrefunded order")


@pytest.mark.slow
def test_a_shopify_return_closed_after_loop_reaches_the_mirror(tmp_path: Path) -> None:
    """Loop closed the return (store credit or exchange: no money moved); Shopify's return is
    still open, which is the ``STATUS_DRIFT`` CX is asked to fix. CX closes it in Shopify the
    next day (a world revision: the order's return closed, its ``updatedAt`` moved). The
    order's financial status stays PAID, so the refunded-orders sweep skips it, and its Loop
    return did not change: three nights later the mirror (and the finding) must show what
    Shopify shows, returned."""
    world = _world(seed=11, returns=40)
    order_id = _unrefunded_closed_return_order(world)
    order = next(o for o in world.orders if o.id == order_id)
    order.returns[0].status = ShopifyReturnStatus.OPEN  # Loop closed it; Shopify still open
    order.returns[0].closed_at = None
    closed_at = world.now + timedelta(days=1)
    closed = order.returns[0].model_copy(
        update={"status": ShopifyReturnStatus.CLOSED, "closed_at": closed_at}
    )
    world.revisions.append(
        Revision(
            at=closed_at,
            target=f"order:{order_id}",
            set={
                "returns": [closed.model_dump(mode="json")],
                "updated_at": closed_at.isoformat(),
            },
        )
    )
    settings = sync_settings_for_tests()
    with sandbox_rig(world, tmp_path) as rig:
        backfill_world(rig, world, settings)
        before = mirror_records(rig.store)["orders"][order_id]["return_status"]
        # The night's run reports the drift (the findings a nightly run stores).
        found = reconcile_snapshot(Settings(), rig.store, rig.store.load_snapshot(), world.now)
        rig.store.save_findings(found.findings)
        drift = [f.key for f in found.findings if f.category.value == "STATUS_DRIFT"]
        for _night in range(3):
            rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
            run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        mirrored = mirror_records(rig.store)["orders"][order_id]["return_status"]
        shopify_shows = OrderView(order, rig.clock.now(), world.shop, None).return_status()
    assert before == "IN_PROGRESS"  # the drift was mirrored: the test starts where it should
    assert any(f"order={order_id}" in key or order_id in key for key in drift), drift
    assert shopify_shows == "RETURNED"
    assert mirrored == shopify_shows


# --- (c) a restock-only refund on an order with no refund -------------------------------------


@pytest.mark.slow
def test_a_restock_only_refund_on_an_unrefunded_order_reaches_the_mirror(tmp_path: Path) -> None:
    """The customer cancelled the Loop return; days later the warehouse restocks its unit in
    Shopify anyway (Shopify's restock: a refund of no money, ``restockType: RETURN``), so
    Shopify now shows stock the warehouse does not have, which ``GHOST_INVENTORY`` exists to
    catch. The order's financial status stays ``PAID`` (no money moved), so the refunded-orders
    sweep skips it, and the Loop return did not change, so no by-id read asks for the order
    but the one the updated-orders list leads to: three nights later the mirror holds the
    refund."""
    world = _world(seed=11, returns=40)
    order_id = _unrefunded_closed_return_order(world)
    order = next(o for o in world.orders if o.id == order_id)
    loop_return = next(r for r in world.loop_returns if r.provider_order_id == order_id)
    loop_return.state = LoopState.CANCELLED  # the customer cancelled: nothing comes back
    order.returns[0].status = ShopifyReturnStatus.CANCELED
    # The restock happens a day after the world's now: the emulator shows it (and moves the
    # order's updatedAt) once the clock passes it.
    restocked_at = world.now + timedelta(days=1)
    line = order.line_items[0]
    restock = Refund(
        id="5400000099001",
        created_at=restocked_at,
        processed_at=restocked_at,
        lines=[
            RefundLine(
                id="5400000099002",
                line_item_id=line.id,
                quantity=1,
                restock_type=RestockType.RETURN,
                restocked=True,
                location_id=world.shop.locations[0].id,
                subtotal=Decimal("0"),
            )
        ],
    )
    order.refunds.append(restock)
    settings = sync_settings_for_tests()
    with sandbox_rig(world, tmp_path) as rig:
        backfill_world(rig, world, settings)
        for _night in range(3):
            rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
            run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        mirror = mirror_records(rig.store)
        financial = OrderView(order, rig.clock.now(), world.shop, None).financial_status()
        snapshot = rig.store.load_snapshot()
        found = reconcile_snapshot(Settings(), rig.store, snapshot, rig.clock.now())
    assert financial == "PAID"  # no money moved: the sweep's filter does not match it
    assert restock.id in mirror["refunds"]
    assert restock.id in mirror["orders"][order_id]["refund_ids"]
    # What the warehouse is told: stock Shopify shows that never came back, on that return.
    ghosts = [f.key for f in found.findings if f.category.value == "GHOST_INVENTORY"]
    assert any(f"rma={loop_return.id}," in key for key in ghosts), ghosts


# --- (b) a lone surrogate in a Loop return's text ---------------------------------------------


def _half_an_emoji(field: str) -> Any:
    """What ``CorruptReturns`` does to a victim: its first line's ``field`` ends with half an
    emoji (``json.dumps`` writes it as the escape ``\\ud83d``, as a JSON encoder that truncated
    a UTF-16 string does)."""

    def spoil(item: dict[str, Any]) -> None:
        if item.get("line_items"):
            line = item["line_items"][0]
            line[field] = f"{line.get(field) or 'x'} \ud83d"

    return spoil


def test_a_lone_surrogate_in_one_returns_text_costs_that_return_at_most(
    tmp_path: Path, store_url: str
) -> None:
    """One return's SKU and another's return comment (a field recon does not read) end with
    half an emoji. The sync completes; every other return is mirrored; each of the two is
    mirrored (its text cleaned, noted for review) or quarantined naming the field."""
    world = _world(seed=23, returns=20)
    victims = sorted(r.id for r in world.loop_returns if r.created_at <= world.now)[:2]
    damage = dict(zip(victims, ("sku", "return_comment"), strict=True))

    def wrapper(app: Any) -> Any:
        return CorruptReturns(app, {rid: _half_an_emoji(f) for rid, f in damage.items()})

    with sandbox_rig(world, tmp_path, loop_wrapper=wrapper, store_url=store_url) as rig:
        run_sync(
            rig.store, rig.loop, rig.shopify, rig.clock,
            sync_settings_for_tests(initial_days=400),
        )  # fmt: skip
        mirrored = set(mirror_records(rig.store)["loop_returns"])
        held = {q.record_id: q.field for q in rig.store.list_quarantined() if q.source == "loop"}
    visible = {r.id for r in rig.state.visible_returns()}
    assert visible - set(victims) <= mirrored  # the rest of the night was kept
    for victim, field in damage.items():
        assert victim in mirrored or field in held.get(victim, ""), victim


# --- (d) Loop's details endpoint failing for one return -----------------------------------------


class _DetailsDown:
    """ASGI wrapper around the Loop emulator: Get Return Details answers 500 for ``victim``."""

    def __init__(self, app: Any, victim: str) -> None:
        self.app = app
        self.victim = victim
        self.refused = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        asked = scope.get("query_string", b"").decode()
        if (
            scope["type"] == "http"
            and scope["path"].endswith("/warehouse/return/details")
            and f"return_id={self.victim}" in asked.split("&")
        ):
            self.refused += 1
            body = b'{"message": "Server Error"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def test_loop_details_failing_for_one_return_costs_that_return_at_most(tmp_path: Path) -> None:
    """List items without ``shopify_refund_object`` (a Loop account that does not send it), so
    recon asks Get Return Details for each closed refund return's ``refunds[]``; for one return
    Loop answers 500 every time. The night completes: every return is mirrored (that one as the
    list gave it, or quarantined naming it), and the watermarks move."""
    world = _world(seed=23, returns=20)
    closed = sorted(
        r.id
        for r in world.loop_returns
        if r.state == LoopState.CLOSED and r.outcome == "refund" and r.created_at <= world.now
    )
    victim = closed[0]
    wrapped: list[_DetailsDown] = []

    def wrapper(app: Any) -> Any:
        wrapped.append(_DetailsDown(app, victim))
        return wrapped[-1]

    faults = Faults(loop_omit_refund_object=True)
    quick = RetryPolicy(max_attempts=3, zero_wait=True)
    with sandbox_rig(world, tmp_path, faults=faults, loop_wrapper=wrapper, policy=quick) as rig:
        settings = sync_settings_for_tests(initial_days=400)
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        mirrored = set(mirror_records(rig.store)["loop_returns"])
        held = {q.record_id for q in rig.store.list_quarantined() if q.source == "loop"}
        watermark = rig.store.get_watermark("loop.returns.closed")
    assert wrapped[0].refused > 0  # recon did ask for the victim's details
    visible = {r.id for r in rig.state.visible_returns()}
    assert visible - {victim} <= mirrored
    assert victim in mirrored | held
    assert watermark is not None
