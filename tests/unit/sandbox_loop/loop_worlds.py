"""Small inline worlds for the Loop emulator tests (uniquely named so imports never collide)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from recon.sandbox.state import LOOP_API_KEY
from recon.sandbox.world import LineItem, Location, Order, Refund, Shop, World
from recon.sandbox.world_loop import LoopLineItem, LoopRefund, LoopReturn, LoopState

# Starlette 1.x warns once, at import, that it prefers the `httpx2` fork; plain httpx works and is
# what the project depends on, so the warning is silenced for this one import only.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

__all__ = ["AUTH", "DETAILS", "LIST", "NOW", "TestClient", "make_return", "make_world"]

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
AUTH = {"X-Authorization": LOOP_API_KEY}
LIST = "/api/2026-07/warehouse/return/list"
DETAILS = "/api/2026-07/warehouse/return/details"


def make_return(
    return_id: int,
    *,
    state: str = "closed",
    created_at: datetime,
    updated_at: datetime | None = None,
    refund: str = "48.60",
    outcome: str = "refund",
    provider_refund_id: str | None = None,
    **extra: Any,
) -> LoopReturn:
    """A one-unit return on its own Shopify order (order id = return id + 5_000_000)."""
    amount = Decimal(refund)
    refunds = []
    if provider_refund_id is not None:
        refunds.append(
            LoopRefund(
                gateway="shopify_payments",
                amount=amount,
                currency="USD",
                provider_refund_id=provider_refund_id,
            )
        )
    return LoopReturn(
        id=str(return_id),
        state=LoopState(state),
        created_at=created_at,
        updated_at=updated_at or created_at,
        outcome=outcome,
        order_id=str(return_id + 9_000_000),
        provider_order_id=str(return_id + 5_000_000),
        order_name=f"#{return_id + 1000}",
        currency="USD",
        customer="example@example.com",
        total=amount,
        refund=amount,
        line_items=[
            LoopLineItem(
                line_item_id=str(return_id * 10),
                provider_line_item_id=str(return_id + 7_000_000),
                product_id="8000000000001",
                variant_id="45000000000001",
                sku="TEE-BLK-M",
                title="Basic Tee - Black / M",
                price=Decimal("50.00"),
                discount=Decimal("5.00"),
                tax=Decimal("3.60"),
                refund=amount,
                returned_at=created_at,
                return_reason="Too small",
                provider_restock_location_id="71234567890",
            )
        ],
        refunds=refunds,
        **extra,
    )


def _order_for(ret: LoopReturn) -> Order:
    refunds = [
        Refund(id=r.provider_refund_id, created_at=ret.updated_at, note=f"RMA {ret.id}")
        for r in ret.refunds
        if r.provider_refund_id
    ]
    return Order(
        id=ret.provider_order_id,
        name=ret.order_name,
        created_at=ret.created_at - timedelta(days=3),
        updated_at=ret.updated_at,
        currency="USD",
        presentment_currency="USD",
        line_items=[
            LineItem(
                id=ret.line_items[0].provider_line_item_id,
                sku="TEE-BLK-M",
                quantity=1,
                price=Decimal("50.00"),
            )
        ],
        refunds=refunds,
    )


def make_world(returns: list[LoopReturn], now: datetime = NOW) -> World:
    """A world holding these returns, each with the Shopify order it points at."""
    return World(
        now=now,
        shop=Shop(locations=[Location(id="71234567890", name="Main warehouse")]),
        orders=[_order_for(r) for r in returns],
        loop_returns=returns,
    )
