"""A restock Shopify throttled until its attempts ran out is resent against today's stock.

``inventoryAdjustQuantities`` carries ``changeFromQuantity``, the ``available`` recon read before
sending (compare-and-swap, shopify-admin-api.md §11). A THROTTLED answer comes before execution
(§15, §17): nothing was written, and the next run resends the restock. It used to resend the
figure read before the first attempt, a night earlier; any sale since made Shopify refuse it as
stale and the restock went to review, the unit never put back. Now the resend of a restock
Shopify never ran re-reads ``available`` first. A restock whose answer was lost (it may have
landed) is still resent exactly as first sent: the key makes a landed one answer as before, and
a figure read after it would restock the unit twice past the key's retention.

The world is remediation_world's: RMA 12345702's unit of line item 2002 (inventory item 3002)
is owed back to location 4001, where 7 are available.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from remediation_world import T0, finding
from run_helpers import intents, run

from recon.clock import VirtualClock
from recon.errors import OutcomeUnknownError, RetryBudgetExhaustedError, RetryExhaustedError
from recon.models import Category
from recon.remediation.runner import gateway_for
from recon.sandbox.invariants import adjustments
from recon.sandbox.server import SandboxServer
from recon.sandbox.state import SHOPIFY_TOKEN, SandboxState
from recon.sandbox.world_io import parse_world
from recon.sources.http import RetryPolicy
from recon.sources.shopify import ShopifyClient

RESTOCK_702 = [finding(Category.MISSING_RESTOCK, "12345702", line="2002")]
SLOT = "gid://shopify/InventoryItem/3002|gid://shopify/Location/4001"


def _throttled() -> RetryExhaustedError:
    """What the Shopify client raises once THROTTLED outlasted every attempt."""
    return RetryExhaustedError(
        "shopify POST /graphql.json: gave up after 5 attempts; last failure: THROTTLED"
    )


def _compared(gateway: Any) -> list[tuple[str | None, int]]:
    """(key, changeFromQuantity) of every restock that reached the gateway, in order."""
    return [
        (key, sent["changes"][0]["changeFromQuantity"])
        for kind, key, sent in gateway.calls
        if kind == "adjust"
    ]


def test_a_throttled_restock_is_resent_against_the_stock_as_it_is_now(sessions, gateway, clock):
    gateway.raise_next["adjust"] = _throttled()
    (first,) = run(sessions, gateway, clock, findings=RESTOCK_702).applied
    assert first.state == "unknown" and "not run" in first.reason
    gateway.state["inventory"][SLOT] -= 2  # two sold before the next night: 7 → 5
    clock.advance(timedelta(days=1))
    (resent,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2").recovered
    assert resent.state == "done", resent.reason
    assert gateway.available("3002") == 6  # the returned unit is back, the sales stand
    (key, _), (same_key, compared) = _compared(gateway)
    assert same_key == key and compared == 5  # one write, under its key, from today's stock
    assert len(gateway.state["adjustments"]) == 1
    (row,) = intents(sessions)
    assert row.variables["input"]["changes"][0]["changeFromQuantity"] == 5  # what went out


def test_a_restock_throttled_again_and_again_rereads_before_each_resend(sessions, gateway, clock):
    gateway.raise_next["adjust"] = _throttled()
    run(sessions, gateway, clock, findings=RESTOCK_702)
    for night, sold in enumerate((1, 3), start=2):
        gateway.state["inventory"][SLOT] -= sold
        gateway.raise_next["adjust"] = _throttled()
        clock.advance(timedelta(days=1))
        (left,) = run(
            sessions, gateway, clock, findings=RESTOCK_702, run_id=f"run-{night}"
        ).recovered
        assert left.state == "unknown" and "not run" in left.reason
    clock.advance(timedelta(days=1))
    (resent,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-4").recovered
    assert resent.state == "done", resent.reason
    assert [compared for _, compared in _compared(gateway)] == [7, 6, 3, 3]
    assert gateway.available("3002") == 4


def test_a_restock_throttled_until_the_runs_budget_ran_out_is_resent_from_todays_stock(
    sessions, gateway, clock
):
    gateway.raise_next["adjust"] = RetryBudgetExhaustedError(
        "shopify: this run's throttle budget is spent; last failure: HTTP 429"
    )
    with pytest.raises(RetryBudgetExhaustedError):
        run(sessions, gateway, clock, findings=RESTOCK_702)
    gateway.state["inventory"][SLOT] -= 1
    clock.advance(timedelta(days=1))
    (resent,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2").recovered
    assert resent.state == "done", resent.reason
    assert [compared for _, compared in _compared(gateway)] == [7, 6]
    assert gateway.available("3002") == 7


def test_a_restock_whose_answer_was_lost_is_resent_as_first_sent(sessions, gateway, clock):
    """The first send landed (7 → 8) but its answer was lost; the resend was throttled; two
    units sold. The last resend carries the first figure: Shopify knows the key and answers
    with the first restock. Re-read, it would compare from 6: a new write under the same key
    (refused as a key reuse, or, past the key's retention, a second unit restocked)."""
    gateway.drop.add("adjust")
    (first,) = run(sessions, gateway, clock, findings=RESTOCK_702).applied
    assert first.state == "unknown" and gateway.available("3002") == 8
    gateway.raise_next["adjust"] = _throttled()
    clock.advance(timedelta(hours=1))
    run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2")
    gateway.state["inventory"][SLOT] -= 2
    clock.advance(timedelta(days=1))
    (resent,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-3").recovered
    assert resent.state == "done", resent.reason
    assert [compared for _, compared in _compared(gateway)] == [7, 7, 7]
    assert gateway.available("3002") == 6 and len(gateway.state["adjustments"]) == 1


def test_a_restock_lost_before_it_arrived_is_not_reread(sessions, gateway, clock):
    """A connection reset: recon cannot tell whether Shopify ran it, so the resend compares
    from the first figure and stock that moved since sends it to review (README)."""
    gateway.raise_next["adjust"] = OutcomeUnknownError("connection reset")
    run(sessions, gateway, clock, findings=RESTOCK_702)
    gateway.state["inventory"][SLOT] -= 2
    clock.advance(timedelta(days=1))
    (resent,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2").recovered
    assert resent.state == "needs_review" and "stale" in resent.reason
    assert gateway.available("3002") == 5 and gateway.state["adjustments"] == []


# --- against the Shopify emulator over real HTTP ----------------------------------------------

WORLD = {
    "now": T0.isoformat(),
    "shop": {"locations": [{"id": "4001", "name": "Main"}]},
    "inventory": [{"id": "3002", "variant_id": "902", "sku": "SKU-2002", "available": {"4001": 7}}],
    "orders": [
        {
            "id": "1001",
            "name": "#1001",
            "created_at": (T0 - timedelta(days=10)).isoformat(),
            "updated_at": (T0 - timedelta(days=1)).isoformat(),
            "currency": "USD",
            "presentment_currency": "USD",
            "line_items": [
                {
                    "id": "2002",
                    "sku": "SKU-2002",
                    "variant_id": "902",
                    "inventory_item_id": "3002",
                    "quantity": 1,
                    "price": "30.00",
                }
            ],
            "transactions": [
                {"id": "9001", "kind": "SALE", "amount": "30.00",
                 "processed_at": (T0 - timedelta(days=10)).isoformat()}
            ],
        }
    ],
}  # fmt: skip


class ThrottledRestocks(httpx.HTTPTransport):
    """A real transport that, while ``on``, has the emulator answer every restock THROTTLED
    (its throttle storm for that request alone): the reads before it go through."""

    def __init__(self, state: SandboxState) -> None:
        super().__init__()
        self.state = state
        self.on = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        storm = self.on and b"inventoryAdjustQuantities" in request.content
        self.state.faults.throttle_storm = storm
        try:
            return super().handle_request(request)
        finally:
            self.state.faults.throttle_storm = False


@pytest.fixture
def emulator(clock: VirtualClock) -> Iterator[tuple[SandboxState, ThrottledRestocks, Any]]:
    """The Shopify emulator on a localhost port and remediation's gateway to it."""
    state = SandboxState(parse_world(WORLD), clock=clock)
    transport = ThrottledRestocks(state)
    with SandboxServer(state) as server, httpx.Client(transport=transport) as http:
        client = ShopifyClient(
            http,
            base_url=server.shopify_base_url,
            api_version="2026-04",
            token=SHOPIFY_TOKEN,
            clock=clock,
            policy=RetryPolicy(max_attempts=3, base_delay=0.01),
        )
        yield state, transport, gateway_for(client)


def _available(state: SandboxState) -> int:
    (item,) = state.world.inventory
    return int(item.available["4001"])


def test_a_restock_the_emulator_throttled_lands_once_the_next_night(sessions, clock, emulator):
    state, transport, gateway = emulator
    transport.on = True
    (first,) = run(sessions, gateway, clock, findings=RESTOCK_702).applied
    assert first.state == "unknown" and "not run" in first.reason
    assert _available(state) == 7  # THROTTLED: nothing written
    with state.lock:
        state.world.inventory[0].available["4001"] = 5  # two sold during the day
    transport.on = False
    clock.advance(timedelta(days=1))
    (resent,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2").recovered
    assert resent.state == "done", resent.reason
    assert _available(state) == 6
    (group,) = adjustments(state)  # one stock movement: the throttled send wrote nothing
    assert group.reference_document_uri == "gid://recon/LoopReturn/12345702"
    assert [(c.delta, c.quantity_after) for c in group.changes] == [(1, 6)]
