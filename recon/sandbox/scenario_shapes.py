"""Shared scenario shapes: a new, closed or young return on a fresh order, and lookups on them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import SHOP_CURRENCY, ZERO
from recon.sandbox.construct import Json

HOUR = timedelta(hours=1)
CENT = Decimal("0.01")


def new_return(
    b: Builder,
    *,
    age: tuple[float, float] = (20, 110),
    units: int = 0,
    lines: int = 2,
    presentment: str = SHOP_CURRENCY,
    gift_tender: Decimal = ZERO,
    created: datetime | None = None,
    **kwargs: object,
) -> tuple[Json, Json]:
    """An order placed a few days before a return of 1-2 of its units created ``age`` days ago."""
    created = created or b.ago(*age)
    order = b.order(
        b.later(created, -15, -3),
        lines=lines,
        presentment=presentment,
        gift_card_tender=gift_tender,
    )
    count = units or b.rng.choice((1, 1, 2))
    ret = b.loop_return(order, b.units(order, count), created, **kwargs)  # type: ignore[arg-type]
    return order, ret


def closed_return(b: Builder, **kwargs: object) -> tuple[Json, Json, datetime]:
    """A return closed (processed, delivered) 5-12 days after it was created."""
    order, ret = new_return(b, **kwargs)  # type: ignore[arg-type]
    at = b.later(ret["created_at"], 5, 12, cap=b.now - HOUR)
    b.close(ret, at)
    return order, ret, at


def young_return(b: Builder, **kwargs: object) -> tuple[Json, Json]:
    """An open return well inside the stale threshold, parcel not yet delivered."""
    return new_return(b, age=(1, 25), **kwargs)  # type: ignore[arg-type]


def txn_of(order: Json, refund: Json) -> Json:
    """The refund transaction a refund created (one per payment; the first)."""
    return next(t for t in order["transactions"] if t["refund_id"] == refund["id"])


def prices_by_line(ret: Json) -> dict[str, Decimal]:
    """Σ unit price per Shopify line item of a return (the MISSING_RESTOCK/GHOST scope)."""
    sums: dict[str, Decimal] = {}
    for line in ret["line_items"]:
        key = line["provider_line_item_id"]
        sums[key] = sums.get(key, ZERO) + line["price"]
    return sums
