"""Planted stock and status discrepancies: wrong SKU, restocks, Shopify Return status, staleness."""

from __future__ import annotations

from recon.money import quantize
from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import SHOP_CURRENCY, SHOPIFY_PAYMENTS, ZERO
from recon.sandbox.construct import Json
from recon.sandbox.scenario_shapes import (
    HOUR,
    closed_return,
    new_return,
    prices_by_line,
    young_return,
)

# Each planter returns the number of Loop returns it used.


def plant_sku_mismatch(b: Builder) -> int:
    """Refunded before inspection, but the refund line names the wrong item of the order."""
    order, ret = young_return(b, units=1)
    ret["refund_before_inspection"] = True
    returned = ret["line_items"][0]["provider_line_item_id"]
    wrong = next(li for li in order["line_items"] if li["id"] != returned)
    refund = b.refund(
        order,
        b.later(ret["created_at"], 0.1, 1, cap=b.now - HOUR),
        units=[wrong],
        restock=False,
        note=f"Loop RMA #{ret['id']}",
        pays=[(SHOPIFY_PAYMENTS, ret["refund"], "SUCCESS")],
    )
    b.expect_return(
        "SKU_MISMATCH",
        order,
        ret,
        refunds=[refund],
        amount=ZERO,
        description="refunded the wrong SKU",
    )
    return 1


def expect_missing_restocks(
    b: Builder, order: Json, ret: Json, refund: Json, description: str
) -> None:
    """One ``MISSING_RESTOCK`` per Shopify line of ``ret``, none of whose units is restocked."""
    for line_id, amount in prices_by_line(ret).items():
        b.expect(
            "MISSING_RESTOCK",
            f"rma={ret['id']},line={line_id}",
            order=order,
            rma=ret["id"],
            refunds=[refund],
            amount=amount,
            currency=ret["currency"],
            description=description,
        )


def plant_missing_restock(b: Builder) -> int:
    if b.rng.random() < 0.5:
        return _plant_partial_restock(b)
    order, ret, at = closed_return(b)
    refund = b.refunded(order, ret, at, restock=False)
    expect_missing_restocks(b, order, ret, refund, "not restocked")
    return 1


def _plant_partial_restock(b: Builder) -> int:
    """Two units of one line item refunded in two parts: the first restocks, the second not.

    Restocks are counted in units (docs/findings.md): the line is restocked once for two
    received units, so one unit (the second in Loop line id order) is missing.
    """
    created = b.ago(20, 110)
    order = b.order(b.later(created, -15, -3), lines=1, quantity=2)
    item = order["line_items"][0]
    ret = b.loop_return(order, [item, item], created)
    at = b.later(created, 5, 12, cap=b.now - 2 * HOUR)
    b.close(ret, at)
    first = quantize(ret["refund"] / 2, SHOP_CURRENCY)
    refunds = [
        b.refund(
            order,
            when,
            units=[item],
            restock=restock,
            pays=[(SHOPIFY_PAYMENTS, amount, "SUCCESS")],
            note=f"Loop RMA #{ret['id']}",
            return_id=b.mirror[ret["id"]]["id"],
        )
        for when, restock, amount in (
            (at, True, first),
            (at + HOUR, False, ret["refund"] - first),
        )
    ]
    units = sorted(ret["line_items"], key=lambda x: (x["line_item_id"], x["price"]))
    b.expect(
        "MISSING_RESTOCK",
        f"rma={ret['id']},line={item['id']}",
        order=order,
        rma=ret["id"],
        refunds=refunds,
        amount=units[1]["price"],
        currency=ret["currency"],
        description="one of two units restocked",
    )
    return 1


def plant_ghost_inventory(b: Builder) -> int:
    """Refunded and restocked before inspection while the parcel is still in transit."""
    order, ret = young_return(b)
    ret["refund_before_inspection"] = True
    refund = b.refunded(order, ret, b.later(ret["created_at"], 0.1, 1, cap=b.now - HOUR))
    for line_id, amount in prices_by_line(ret).items():
        b.expect(
            "GHOST_INVENTORY",
            f"rma={ret['id']},line={line_id}",
            order=order,
            rma=ret["id"],
            refunds=[refund],
            amount=amount,
            currency=ret["currency"],
            description="restocked before the parcel arrived",
        )
    return 1


def plant_status_drift(b: Builder) -> int:
    order, ret, at = closed_return(b)
    b.refunded(order, ret, at)
    b.mirror[ret["id"]].update(status="OPEN", closed_at=None)
    b.expect(
        "STATUS_DRIFT",
        f"order={order['id']}",
        order=order,
        rma=ret["id"],
        amount=ZERO,
        currency=SHOP_CURRENCY,
        description="Shopify return still open",
    )
    return 1


def plant_stale(b: Builder) -> int:
    order, ret = new_return(
        b, age=(35, 100), label="pending", state=b.rng.choice(("open", "review"))
    )
    b.expect_return(
        "STALE_RETURN",
        order,
        ret,
        amount=ret["total"],
        description="open for over 30 days",
    )
    return 1
