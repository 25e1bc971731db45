"""The sandbox world file: one shop's Shopify and Loop data, as a documented, validated JSON format.

A world is the single source of truth both emulators serve from. It is deliberately close to the
two APIs' own vocabulary (Shopify names in the ``orders``/``payouts`` parts, Loop names in
``loop_returns``) so a user can hand-write one from a real incident. Format reference:
``docs/world-format.md``. Every id is a string of digits (the numeric tail of a Shopify GID, or a
Loop id); every amount is a decimal string; every timestamp is ISO 8601 with a zone.

Time: the sandbox clock decides what exists. A record whose ``created_at`` (or, for a balance
transaction, ``transaction_date``; for a payout, ``issued_at``) lies after the sandbox's *now* is
invisible, and a record's ``revisions`` apply once their ``at`` has passed. That is how a world
describes several nights: returns closing later, refunds landing late, payouts settling days after.

Loading validates with pydantic; an invalid file raises ``WorldError`` naming the path of the bad
field, e.g. ``orders[3].line_items[0].price: expected a decimal amount``. Loop's records are in
``recon.sandbox.world_loop``; the field types all parts share in ``recon.sandbox.world_fields``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from recon.sandbox.world_fields import Amount, Currency, Id, WorldModel
from recon.sandbox.world_loop import LoopReturn

WORLD_FORMAT_VERSION: Literal[1] = 1


class Plan(StrEnum):
    """Shopify plan, which fixes the GraphQL restore rate (points per second)."""

    STANDARD = "standard"
    ADVANCED = "advanced"
    PLUS = "plus"
    ENTERPRISE = "enterprise"

    @property
    def restore_rate(self) -> float:
        return {"standard": 100.0, "advanced": 200.0, "plus": 1000.0, "enterprise": 2000.0}[
            self.value
        ]


class Location(WorldModel):
    id: Id
    name: str


class InventoryItem(WorldModel):
    """One stocked variant; ``available`` is keyed by location id."""

    id: Id
    variant_id: Id
    sku: str
    tracked: bool = True
    available: dict[str, int] = Field(default_factory=dict)


class LineItem(WorldModel):
    id: Id
    sku: str | None = None
    title: str = ""
    variant_id: Id | None = None
    inventory_item_id: Id | None = None
    quantity: int = Field(ge=1)
    price: Amount  # unit price, presentment currency
    price_shop: Amount | None = None  # unit price, shop currency (defaults to price)
    fulfilled: bool = True


class TransactionKind(StrEnum):
    SALE = "SALE"
    CAPTURE = "CAPTURE"
    AUTHORIZATION = "AUTHORIZATION"
    VOID = "VOID"
    REFUND = "REFUND"
    CHANGE = "CHANGE"
    EMV_AUTHORIZATION = "EMV_AUTHORIZATION"
    SUGGESTED_REFUND = "SUGGESTED_REFUND"


class TransactionStatus(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    PENDING = "PENDING"
    ERROR = "ERROR"
    AWAITING_RESPONSE = "AWAITING_RESPONSE"
    UNKNOWN = "UNKNOWN"


class Transaction(WorldModel):
    """An order transaction (sale, capture, refund...). Refund transactions name their refund."""

    id: Id
    kind: TransactionKind
    status: TransactionStatus = TransactionStatus.SUCCESS
    gateway: str = "shopify_payments"
    amount: Amount  # presentment currency
    amount_shop: Amount | None = None  # shop currency (defaults to amount)
    processed_at: AwareDatetime
    parent_id: Id | None = None
    refund_id: Id | None = None
    # An OrderTransactionErrorCode value (upper case, e.g. CARD_DECLINED), as the schema enumerates.
    error_code: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z_]+$")] | None = None


class RestockType(StrEnum):
    RETURN = "RETURN"
    CANCEL = "CANCEL"
    NO_RESTOCK = "NO_RESTOCK"
    LEGACY_RESTOCK = "LEGACY_RESTOCK"


class RefundLine(WorldModel):
    id: Id
    line_item_id: Id
    quantity: int = Field(ge=1)
    restock_type: RestockType = RestockType.NO_RESTOCK
    restocked: bool = False
    location_id: Id | None = None
    subtotal: Amount  # presentment currency


class Refund(WorldModel):
    """A Shopify refund. Money moved only through its transactions (``Transaction.refund_id``)."""

    id: Id
    note: str | None = None
    created_at: AwareDatetime
    processed_at: AwareDatetime | None = None
    lines: list[RefundLine] = Field(default_factory=list)
    shipping: Amount = Decimal("0")
    return_id: Id | None = None  # Shopify Return this refund belongs to
    idempotency_key: str | None = None  # set by the emulator for refunds it created


class ShopifyReturnStatus(StrEnum):
    REQUESTED = "REQUESTED"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    DECLINED = "DECLINED"
    CANCELED = "CANCELED"


class ShopifyReturnLine(WorldModel):
    id: Id
    line_item_id: Id
    quantity: int = Field(ge=1)


class ShopifyReturn(WorldModel):
    """A Shopify ``Return`` object (Loop mirrors its returns into Shopify's Returns API)."""

    id: Id
    name: str
    status: ShopifyReturnStatus
    created_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    lines: list[ShopifyReturnLine] = Field(default_factory=list)


class Order(WorldModel):
    id: Id
    name: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    processed_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    # Deleted in Shopify's admin: from then on null for ``order``/``nodes`` and absent from
    # ``orders``, with its refunds, transactions and returns (a revision can set it).
    deleted_at: AwareDatetime | None = None
    test: bool = False
    currency: Currency  # shop currency
    presentment_currency: Currency
    exchange_rate: Amount = Decimal("1")  # shop amount = presentment amount * rate
    tags: list[str] = Field(default_factory=list)
    note: str | None = None
    line_items: list[LineItem] = Field(min_length=1)
    transactions: list[Transaction] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)
    returns: list[ShopifyReturn] = Field(default_factory=list)


class PayoutStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class PayoutSummary(WorldModel):
    """``ShopifyPaymentsPayoutSummary``; omitted fields are zero."""

    charges_gross: Amount = Decimal("0")
    charges_fee: Amount = Decimal("0")
    refunds_fee_gross: Amount = Decimal("0")
    refunds_fee: Amount = Decimal("0")
    adjustments_gross: Amount = Decimal("0")
    adjustments_fee: Amount = Decimal("0")
    reserved_funds_gross: Amount = Decimal("0")
    reserved_funds_fee: Amount = Decimal("0")
    retried_payouts_gross: Amount = Decimal("0")
    retried_payouts_fee: Amount = Decimal("0")
    advance_gross: Amount = Decimal("0")
    advance_fees: Amount = Decimal("0")
    usdc_rebate_credit_amount: Amount = Decimal("0")


class Payout(WorldModel):
    id: Id
    issued_at: AwareDatetime
    status: PayoutStatus
    transaction_type: Literal["DEPOSIT", "WITHDRAWAL"] = "DEPOSIT"
    currency: Currency
    net: Amount
    summary: PayoutSummary = Field(default_factory=PayoutSummary)


class BalanceTransaction(WorldModel):
    """A Shopify Payments balance transaction. Refund rows are negative."""

    id: Id
    type: str  # ShopifyPaymentsTransactionType: CHARGE, REFUND, REFUND_FAILURE, ADJUSTMENT...
    source_type: str | None = None  # ShopifyPaymentsSourceType
    source_id: Id | None = None
    source_order_transaction_id: Id | None = None
    order_id: Id | None = None
    currency: Currency
    amount: Amount
    fee: Amount = Decimal("0")
    net: Amount
    transaction_date: AwareDatetime
    payout_id: Id | None = None  # None while PENDING
    payout_status: Literal[
        "PENDING", "SCHEDULED", "PAID", "FAILED", "CANCELED", "ACTION_REQUIRED"
    ] = "PENDING"
    test: bool = False


class GiftCard(WorldModel):
    id: Id
    created_at: AwareDatetime
    note: str | None = None
    initial_value: Amount
    balance: Amount
    currency: Currency
    customer_id: Id | None = None
    order_id: Id | None = None
    enabled: bool = True
    source: Literal["api_client", "manual", "purchased"] = "api_client"
    last_characters: str = "0000"


class Revision(WorldModel):
    """A change that happens to a record at ``at`` (e.g. a Loop return closing on night 3).

    ``target`` is ``loop_return:<id>``, ``order:<id>``, ``balance_transaction:<id>`` or
    ``payout:<id>``; ``set`` holds top-level field values that replace the record's from ``at`` on.
    Records that first appear later need no revision: their ``created_at`` is in the future.
    """

    at: AwareDatetime
    target: Annotated[
        str, StringConstraints(pattern=r"^(loop_return|order|balance_transaction|payout):[0-9]+$")
    ]
    set: dict[str, Any]


# Every scope recon needs (shopify-admin-api.md §3), read_all_orders included.
RECON_SCOPES: tuple[str, ...] = (
    "read_orders",
    "read_all_orders",
    "write_orders",
    "read_returns",
    "read_inventory",
    "write_inventory",
    "read_gift_cards",
    "write_gift_cards",
    "read_shopify_payments_payouts",
)


class Shop(WorldModel):
    domain: str = "recon-sandbox.myshopify.com"
    name: str = "Recon Sandbox"
    currency: Currency = "USD"
    plan: Plan = Plan.STANDARD
    # Leaky-bucket capacity; the restore rate comes from the plan. Shopify does not publish bucket
    # sizes and may lower limits temporarily (shopify-admin-api.md §15), so a bucket smaller than
    # the 1,000-point single-query cap is allowed: a client must size its pages to it.
    bucket_size: int = Field(default=2000, ge=100)
    locations: list[Location] = Field(min_length=1)
    shopify_payments: bool = True
    # Access scopes granted to recon's app (shopify-admin-api.md §3). Without read_all_orders the
    # emulator hides orders created more than 60 days before its now, as Shopify does (§1, §5).
    scopes: list[str] = Field(default_factory=lambda: list(RECON_SCOPES))
    # Deep pagination stops after this many objects per query (§1: 25,000); tests set it small.
    deep_page_cap: int = Field(default=25_000, ge=1)


class World(WorldModel):
    """A whole sandbox world. ``now`` is where the sandbox clock starts."""

    format: Literal["recon-world"] = "recon-world"
    version: Literal[1] = WORLD_FORMAT_VERSION
    seed: int | None = None
    now: AwareDatetime
    shop: Shop
    inventory: list[InventoryItem] = Field(default_factory=list)
    orders: list[Order] = Field(default_factory=list)
    loop_returns: list[LoopReturn] = Field(default_factory=list)
    payouts: list[Payout] = Field(default_factory=list)
    balance_transactions: list[BalanceTransaction] = Field(default_factory=list)
    gift_cards: list[GiftCard] = Field(default_factory=list)
    revisions: list[Revision] = Field(default_factory=list)

    @field_validator("orders")
    @classmethod
    def _unique_orders(cls, orders: list[Order]) -> list[Order]:
        _require_unique("orders", [o.id for o in orders])
        return orders

    @field_validator("loop_returns")
    @classmethod
    def _unique_returns(cls, returns: list[LoopReturn]) -> list[LoopReturn]:
        _require_unique("loop_returns", [r.id for r in returns])
        return returns

    @model_validator(mode="after")
    def _references(self) -> World:
        order_ids = {o.id for o in self.orders}
        for index, ret in enumerate(self.loop_returns):
            if ret.provider_order_id not in order_ids:
                raise ValueError(
                    f"loop_returns[{index}].provider_order_id: order {ret.provider_order_id} "
                    "is not in orders"
                )
        payout_ids = {p.id for p in self.payouts}
        for index, row in enumerate(self.balance_transactions):
            if row.payout_id is not None and row.payout_id not in payout_ids:
                raise ValueError(
                    f"balance_transactions[{index}].payout_id: payout {row.payout_id} "
                    "is not in payouts"
                )
        return self


def _require_unique(name: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            raise ValueError(f"{name}[{index}].id: duplicate id {value}")
        seen.add(value)


def to_utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, seconds precision, as Shopify prints ``DateTime``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
