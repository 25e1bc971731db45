"""What a planted MISSING_RESTOCK leaves to restock, read from the sandbox's world."""

from __future__ import annotations

from typing import Any


def units_to_restock(state: Any, rma: str, line: str) -> int:
    """Units of the return's line item minus those its planted refunds restocked.

    Each plant has an order of its own, so every restocked refund line on it is the plant's.
    """
    ret = state.returns_by_id[rma]
    order = state.orders_by_id[ret.provider_order_id]
    restocked = sum(
        x.quantity for f in order.refunds for x in f.lines if x.line_item_id == line and x.restocked
    )
    return sum(1 for unit in ret.line_items if unit.provider_line_item_id == line) - restocked
