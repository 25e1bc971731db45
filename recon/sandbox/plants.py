"""The scenario mix: which discrepancies to plant, clean cases up to the return count, plain sales.

Each clean case (``scenario_cases``) must raise nothing under ``docs/findings.md`` (default
settings); each planter (``plants_money``, ``plants_stock``) breaks exactly one return or refund and
records, through ``Builder.expect``, every finding the break produces and nothing else. Activity
after *now* comes from ``scenario_future``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import SHOPIFY_PAYMENTS
from recon.sandbox.plants_money import (
    plant_ambiguous_rma,
    plant_amount_mismatch,
    plant_currency_mismatch,
    plant_duplicate_refund,
    plant_missing_refund,
    plant_missing_store_credit,
    plant_refund_failed,
    plant_refund_on_cancelled,
    plant_refund_pending,
    plant_unknown_rma,
    plant_unmatched,
    plant_unsettled,
)
from recon.sandbox.plants_stock import (
    plant_ghost_inventory,
    plant_missing_restock,
    plant_sku_mismatch,
    plant_stale,
    plant_status_drift,
)
from recon.sandbox.scenario_cases import CLEAN, LOOP_ORDER_NOTES
from recon.sandbox.scenario_future import add_future
from recon.sandbox.scenario_limits import plant_limits
from recon.sandbox.scenario_shapes import CENT, HOUR

# Names that lived here before the split by concern; still importable from here.
__all__ = [
    "CENT",
    "CLEAN",
    "HOUR",
    "LOOP_ORDER_NOTES",
    "PLANTS",
    "plant_count",
    "populate",
]

# AMBIGUOUS_RMA last: it names two returns that already exist.
PLANTS: dict[str, Callable[[Builder], int]] = {
    "MISSING_REFUND": plant_missing_refund,
    "MISSING_RESTOCK": plant_missing_restock,
    "AMOUNT_MISMATCH": plant_amount_mismatch,
    "DUPLICATE_REFUND": plant_duplicate_refund,
    "UNKNOWN_RMA": plant_unknown_rma,
    "REFUND_ON_CANCELLED_RETURN": plant_refund_on_cancelled,
    "REFUND_FAILED": plant_refund_failed,
    "REFUND_PENDING": plant_refund_pending,
    "UNSETTLED_REFUND": plant_unsettled,
    "UNMATCHED_REFUND": plant_unmatched,
    "SKU_MISMATCH": plant_sku_mismatch,
    "CURRENCY_MISMATCH": plant_currency_mismatch,
    "MISSING_STORE_CREDIT": plant_missing_store_credit,
    "STATUS_DRIFT": plant_status_drift,
    "STALE_RETURN": plant_stale,
    "GHOST_INVENTORY": plant_ghost_inventory,
    "AMBIGUOUS_RMA": plant_ambiguous_rma,
}


def plant_count(returns: int) -> int:
    """About 10 % of returns, but every category at least once from 60 returns on."""
    return max(round(returns * 0.10), min(len(PLANTS), returns // 3))


def populate(b: Builder, *, returns: int, orders: int) -> None:
    """Fill the builder: plants, the cases at each limit (``scenario_limits``), clean cases up
    to ``returns``, plain sales up to ``orders``."""
    used = _plant(b, returns)
    used += plant_limits(b, returns)
    _add_clean(b, returns, used)
    _add_plain_sales(b, orders)
    if b.future_days > 0:
        add_future(b, returns)


def _plant(b: Builder, returns: int) -> int:
    """Plant ``plant_count`` discrepancies round-robin by category; return the returns used."""
    names = list(PLANTS)
    plants = [names[i % len(names)] for i in range(plant_count(returns))]
    used = 0
    for name in sorted(plants, key=lambda n: n == "AMBIGUOUS_RMA"):
        if used + (PLANTS[name] not in (plant_unknown_rma, plant_ambiguous_rma)) > returns:
            continue
        used += PLANTS[name](b)
    return used


def _add_clean(b: Builder, returns: int, used: int) -> None:
    """Weighted clean cases until ``returns`` Loop returns exist (counted in ``b.clean``)."""
    kinds = list(CLEAN)
    weights = [CLEAN[k][0] for k in kinds]
    while used < returns:
        kind = b.rng.choices(kinds, weights)[0]
        if kind == "several_returns_one_order" and returns - used < 2:
            continue
        used += CLEAN[kind][1](b)
        b.clean[kind] += 1


def _add_plain_sales(b: Builder, orders: int) -> None:
    """Orders with no return up to ``orders``; a few carry a goodwill refund (clean)."""
    for _ in range(max(0, orders - len(b.orders))):
        order = b.order(b.ago(0.2, 120), lines=b.rng.choice((1, 2, 3)))
        if b.rng.random() < 0.03:
            amount = order["line_items"][0]["price_shop"]
            b.refund(
                order,
                b.later(order["created_at"], 1, 5, cap=b.now - HOUR),
                note="Goodwill credit: late delivery",
                pays=[(SHOPIFY_PAYMENTS, amount, "SUCCESS")],
            )
            b.clean["refund_without_return"] += 1
        elif order["created_at"] < b.now - timedelta(days=10):
            b.plain_orders.append(order)
