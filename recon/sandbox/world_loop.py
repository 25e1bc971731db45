"""Loop's part of the sandbox world: returns (RMAs) with their line items and refunds.

Field names are Loop's own (loop-returns-api.md), so a world can be written from a real
incident; the Loop emulator (``recon.sandbox.loop``) renders these as its API answers. The
world file as a whole, and its cross-checks, are ``recon.sandbox.world``.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from recon.sandbox.world_fields import Amount, Currency, Id, WorldModel


class LoopState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REVIEW = "review"


class LoopLineItem(WorldModel):
    """One returned unit (Loop documents no quantity field: one line item is one unit)."""

    line_item_id: Id
    provider_line_item_id: Id  # Shopify order line item id
    product_id: Id | None = None
    variant_id: Id | None = None
    sku: str | None = None
    title: str = ""
    price: Amount
    discount: Amount = Decimal("0")
    tax: Amount = Decimal("0")
    refund: Amount
    returned_at: AwareDatetime
    return_reason: str = ""
    provider_restock_location_id: Id | None = None
    outcome: str = "default"
    # Warehouse grading; set once the unit was inspected (None until then).
    condition: dict[str, Any] | None = None
    disposition: dict[str, Any] | None = None


class LoopRefund(WorldModel):
    """Loop's ``refunds[]`` entry (details endpoint and webhook)."""

    gateway: str
    amount: Amount
    currency: Currency
    provider_refund_id: str | None = None
    provider: str = "shopify"


class LoopReturn(WorldModel):
    """A Loop return (RMA). Field names are Loop's; money in the shop currency (``currency``)."""

    id: Id
    state: LoopState
    created_at: AwareDatetime
    updated_at: AwareDatetime
    outcome: str  # open string: refund, exchange, gift_card, combinations...
    order_id: Id  # Loop's own order id
    provider_order_id: Id  # Shopify order id
    order_name: str
    currency: Currency
    multi_currency: bool = False
    customer: str = ""
    total: Amount
    refund: Amount = Decimal("0")
    gift_card: Amount = Decimal("0")
    handling_fee: Amount = Decimal("0")
    exchange_credit_total: Amount = Decimal("0")
    return_total: Amount | None = None
    line_items: list[LoopLineItem] = Field(min_length=1)
    refunds: list[LoopRefund] = Field(default_factory=list)
    label_status: str = "pending"
    carrier: str = ""
    tracking_number: str = ""
    destination_id: Id | None = None
    was_processed: bool = False
    refund_before_inspection: bool = False
    return_processed_at: AwareDatetime | None = None
    refund_processed_at: AwareDatetime | None = None
    gift_card_processed_at: AwareDatetime | None = None
    exchange_processed_at: AwareDatetime | None = None
    type: Literal["standard", "warranty"] = "standard"
