"""Scenario activity after *now*: open returns closing with a refund, new returns being created."""

from __future__ import annotations

from datetime import datetime

from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import SHOPIFY_PAYMENTS, iso
from recon.sandbox.construct import Json


def add_future(b: Builder, returns: int) -> None:
    """Activity after *now*: open returns closing with a refund, and new returns being created."""
    horizon = float(b.future_days)
    for ret in b.open_refund_returns[::2]:
        _close_later(b, ret, b.later(b.now, 0.1, horizon))
    count = max(1, round(returns * horizon / 100))
    for order in b.rng.sample(b.plain_orders, min(count, len(b.plain_orders))):
        created = b.later(b.now, 0.1, horizon)
        b.loop_return(order, b.units(order, 1), created)
        b.revise(created, f"order:{order['id']}", {"updated_at": iso(created)})


def _close_later(b: Builder, ret: Json, at: datetime) -> None:
    """Refund an open return at ``at`` and revise it closed then; its mirror closes at finish."""
    order = b.orders_by_id[ret["provider_order_id"]]
    units = [b.line_item(order, x["provider_line_item_id"]) for x in ret["line_items"]]
    refund = b.refund(
        order,
        at,
        units=units,
        pays=[(SHOPIFY_PAYMENTS, ret["refund"], "SUCCESS")],
        return_id=b.mirror[ret["id"]]["id"],
    )
    b.revise(
        at,
        f"loop_return:{ret['id']}",
        {
            "state": "closed",
            "updated_at": iso(at),
            "was_processed": True,
            "label_status": "delivered",
            "return_processed_at": iso(at),
            "refund_processed_at": iso(at),
            "refunds": [
                {
                    "gateway": SHOPIFY_PAYMENTS,
                    "amount": str(ret["refund"]),
                    "currency": ret["currency"],
                    "provider_refund_id": refund["id"],
                }
            ],
        },
    )
    b.deferred.append((order, ret["id"], at))
