"""Building remediation's write inputs from the plan and Shopify's answers (pure, no I/O).

The refund's lines and transactions, Loop's amount in the order's presentment currency, a
restock's compare-and-swap adjustment, and whether a refund note already names the RMA: what
the preparer (``recon.remediation.prepare``) puts into a write, over the reads the gateway
(``recon.remediation.writes``) makes. Facts: shopify-admin-api.md §4, §9-§11.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from recon.errors import RemediationError
from recon.money import format_amount
from recon.remediation.writes import SuggestedRefund, SuggestedTransaction, gid


def note_names_rma(note: str | None, marker: str) -> bool:
    """Whether a refund note carries ``marker`` for exactly this RMA (``#12`` is not ``#123``)."""
    if not note:
        return False
    start = note.find(marker)
    while start >= 0:
        end = start + len(marker)
        if end == len(note) or not note[end].isalnum():
            return True
        start = note.find(marker, start + 1)
    return False


def refund_line_inputs(lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``RefundLineItemInput``s from the planned lines; ``locationId`` only for RETURN (§10)."""
    inputs = []
    for line in lines:
        item: dict[str, Any] = {
            "lineItemId": gid("LineItem", str(line["line_item_id"])),
            "quantity": int(line["quantity"]),
            "restockType": line["restock_type"],
        }
        if line["restock_type"] == "RETURN" and line.get("location_id"):
            item["locationId"] = gid("Location", str(line["location_id"]))
        inputs.append(item)
    return inputs


def presentment_amount(amount: Decimal, currency: str, suggested: SuggestedRefund) -> Decimal:
    """Loop's refund in the order's presentment currency, the currency refunds are issued in (§4).

    A Loop amount in shop currency converts only when it equals Shopify's own suggestion in shop
    money (then the suggestion's presentment amount is exact); any other case goes to a human.

    Raises:
        RemediationError: the currencies cannot be reconciled.
    """
    if currency == suggested.presentment_currency:
        return amount
    if currency == suggested.shop_currency and amount == suggested.amount_shop:
        return suggested.amount
    if currency == suggested.shop_currency:
        raise RemediationError(
            f"Loop refund {amount} {currency} is in shop currency and differs from Shopify's "
            f"suggestion; no exact conversion to {suggested.presentment_currency}"
        )
    raise RemediationError(
        f"currency mismatch: Loop {currency}, order shop {suggested.shop_currency} / presentment "
        f"{suggested.presentment_currency}"
    )


def allocate_transactions(
    order_gid: str, amount: Decimal, suggested: SuggestedRefund
) -> list[dict[str, Any]]:
    """Spread Loop's amount over Shopify's suggested transactions (§9).

    Loop owns the amount, Shopify suggests the split (gift card first): each transaction first
    gets its suggested amount (``amountSet``), in order, while Loop's amount lasts; what Loop says
    is owed beyond the suggestion then tops transactions up, in order, each within its
    ``maximumRefundableSet``. The total is never more than Loop's amount.

    Raises:
        RemediationError: the amount exceeds what the order can still refund ("over-refund"):
            someone refunded already; never set allowOverRefunding.
    """
    currency = suggested.presentment_currency
    if amount > suggested.maximum_refundable:
        raise RemediationError(
            f"over-refund: planned {format_amount(amount, currency)} {currency} exceeds maximum "
            f"refundable {format_amount(suggested.maximum_refundable, currency)}"
        )
    shares = [Decimal(0)] * len(suggested.transactions)
    left = amount
    for suggested_first in (True, False):
        for i, suggestion in enumerate(suggested.transactions):
            ceiling = suggestion.maximum_refundable
            if suggested_first:
                ceiling = min(suggestion.amount, ceiling)
            share = max(Decimal(0), min(left, ceiling - shares[i]))
            shares[i] += share
            left -= share
    if left > 0:
        raise RemediationError(
            f"over-refund: the order's transactions can refund "
            f"{format_amount(amount - left, currency)} of "
            f"{format_amount(amount, currency)} {currency}"
        )
    return [
        _refund_transaction(order_gid, suggestion, share, currency)
        for suggestion, share in zip(suggested.transactions, shares, strict=True)
        if share > 0
    ]


def _refund_transaction(
    order_gid: str, suggestion: SuggestedTransaction, share: Decimal, currency: str
) -> dict[str, Any]:
    transaction: dict[str, Any] = {
        "orderId": order_gid,
        "kind": "REFUND",
        "gateway": suggestion.gateway,
        "amount": format_amount(share, currency),
    }
    if suggestion.parent_id:
        transaction["parentId"] = suggestion.parent_id
    return transaction


def restock_input(
    rma: str, inventory_item_gid: str, location_gid: str, quantity: int, available: int
) -> dict[str, Any]:
    """``InventoryAdjustQuantitiesInput`` for a restock with compare-and-swap (§11)."""
    return {
        "reason": "restock",
        "name": "available",
        "referenceDocumentUri": f"gid://recon/LoopReturn/{rma}",
        "changes": [
            {
                "inventoryItemId": inventory_item_gid,
                "locationId": location_gid,
                "delta": quantity,
                "changeFromQuantity": available,
            }
        ],
    }
