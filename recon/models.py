"""Typed records shared by sources, store, engine, remediation and reports.

Sources parse API payloads into these (leniently: ids int-or-str → str of digits, money → Decimal,
timestamps → aware UTC); the store persists them keyed by natural id; the engine turns lists of them
into DataFrames. Ids are the numeric tails of Shopify GIDs and Loop's ids, always ``str``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base of every mirrored record: immutable, ignores unknown fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")


# --- Loop -------------------------------------------------------------------------------------


class ReturnLine(Record):
    """One returned unit of a Loop return."""

    line_item_id: str  # Loop's line id
    provider_line_item_id: str | None  # Shopify LineItem id
    sku: str | None = None
    price: Decimal = Decimal("0")
    refund: Decimal = Decimal("0")
    returned_at: datetime | None = None
    restock_location_id: str | None = None
    inspected: bool = False  # condition/disposition graded by the warehouse


class LoopRefundRecord(Record):
    """An entry of Loop's ``refunds[]`` / ``shopify_refund_object[]``."""

    gateway: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    provider_refund_id: str | None = None


class LoopReturnRecord(Record):
    """A Loop return (RMA) as recon understands it."""

    id: str
    state: str  # open, closed, cancelled, expired, review (open string: unknown values kept)
    outcome: str
    created_at: datetime
    updated_at: datetime
    provider_order_id: str | None
    order_name: str | None
    currency: str
    total: Decimal
    refund: Decimal
    gift_card: Decimal
    handling_fee: Decimal = Decimal("0")
    label_status: str | None = None
    was_processed: bool = False
    refund_before_inspection: bool = False
    refund_processed_at: datetime | None = None
    return_processed_at: datetime | None = None
    gift_card_processed_at: datetime | None = None
    lines: tuple[ReturnLine, ...] = ()
    refunds: tuple[LoopRefundRecord, ...] = ()
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


# --- Shopify ----------------------------------------------------------------------------------


class OrderLine(Record):
    id: str
    sku: str | None
    quantity: int
    variant_id: str | None = None
    inventory_item_id: str | None = None


class OrderRecord(Record):
    id: str
    name: str
    created_at: datetime | None = None
    updated_at: datetime
    cancelled_at: datetime | None = None
    # Shopify's ``test``: placed through a test gateway (no money moved). None: not known, an
    # order mirrored before recon read the field (``recon.store.rows.rebuild``); the nightly
    # sync reads it again, and until then recon writes nothing to it (remediation planner).
    test: bool | None = False
    currency: str  # shop currency
    presentment_currency: str
    financial_status: str | None = None
    return_status: str | None = None
    tags: tuple[str, ...] = ()
    lines: tuple[OrderLine, ...] = ()
    refund_ids: tuple[str, ...] = ()
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class OrderStamp(Record):
    """An order as the updated-orders list names it (``ShopifySource.iter_updated_orders``):
    its id and when Shopify last changed it. None: that time could not be read, so the order
    counts as changed (its full read judges the payload). Not stored: it only says which
    orders to read in full."""

    id: str
    updated_at: datetime | None = None


class RefundLineRecord(Record):
    id: str | None
    line_item_id: str
    sku: str | None
    quantity: int
    restock_type: str
    restocked: bool
    location_id: str | None = None
    subtotal: Decimal = Decimal("0")  # presentment


class TransactionRecord(Record):
    id: str
    order_id: str
    refund_id: str | None  # set for refund transactions
    kind: str
    status: str
    gateway: str | None
    amount: Decimal  # presentment
    currency: str  # presentment currency
    amount_shop: Decimal
    shop_currency: str
    processed_at: datetime | None
    parent_id: str | None = None
    error_code: str | None = None


class RefundRecord(Record):
    id: str
    order_id: str
    note: str | None
    created_at: datetime | None
    processed_at: datetime
    total: Decimal  # presentment
    currency: str  # presentment
    total_shop: Decimal
    shop_currency: str
    lines: tuple[RefundLineRecord, ...] = ()
    transactions: tuple[TransactionRecord, ...] = ()
    return_id: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class PayoutRecord(Record):
    id: str
    issued_at: datetime
    status: str
    # DEPOSIT or WITHDRAWAL (§13); None when not read (records mirrored before it was).
    transaction_type: str | None = None
    currency: str
    net: Decimal
    refunds_gross: Decimal  # summary.refundsFeeGross
    charges_gross: Decimal = Decimal("0")
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class BalanceTransactionRecord(Record):
    id: str
    type: str
    source_type: str | None
    source_id: str | None
    source_order_transaction_id: str | None
    order_id: str | None
    amount: Decimal
    fee: Decimal
    net: Decimal
    currency: str
    transaction_date: datetime
    payout_id: str | None
    payout_status: str
    test: bool = False  # a test-mode transaction: never paid out
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class GiftCardRecord(Record):
    id: str
    created_at: datetime
    note: str | None
    initial_value: Decimal
    currency: str
    order_id: str | None = None
    enabled: bool = True


class InventoryObservation(Record):
    """Available quantity of one inventory item at one location, when it was read."""

    inventory_item_id: str
    location_id: str
    available: int
    observed_at: datetime


# The reason prefix of a note on free text that was cleaned: the record itself was usable.
CLEANED = "kept after cleaning: "
# The field of an entry for an id whose ``nodes(ids:)`` answer was malformed (a list of another
# length than the ids asked): nothing was read for it, and it is asked for again next run.
NODES_SHAPE_FIELD = "nodes"
# Why a record a ``nodes(ids:)`` read answered null for is kept (``shopify_unread.not_visible``):
# deleted, or out of sight. A later read that returns the record, even in part, settles it.
ORDER_NOT_VISIBLE = "order not visible: deleted, or older than 60 days without read_all_orders"
REFUND_NOT_VISIBLE = (
    "refund not visible: nodes(ids:) returned null (its order deleted or out of sight); "
    "recon holds its refunds and restocks on the order until it can read it"
)
BALANCE_NOT_VISIBLE = (
    "balance transaction not visible: nodes(ids:) returned null (gone, or the app lost "
    "read_shopify_payments_payouts); the mirrored row keeps its last known payout status"
)
NOT_VISIBLE_REASONS = frozenset({ORDER_NOT_VISIBLE, REFUND_NOT_VISIBLE, BALANCE_NOT_VISIBLE})
# The reason prefix of an entry for a closed refund return stored as Loop's list gave it, its
# Get Return Details unread (404, or 5xx until its attempts ran out): its refund link is unknown
# (``recon.sources.loop``). It is asked for again (``recon.sync_plan``) until a read settles it.
RETURN_DETAILS_UNREAD = "refund link unknown: "
# Its variant when Loop failed to answer (5xx, timeouts, throttling until the attempts ran out:
# Loop down for a while), not when it refused (404: deleted, or another shop's) or answered
# something unusable: such a return is asked again every night while its entry is open, not
# at the ``not_visible_recheck_days`` pace (``SyncQueries.returns_details_due``).
RETURN_DETAILS_FAILING = f"{RETURN_DETAILS_UNREAD}Loop failed to answer: "


class Quarantined(Record):
    """A record that could not be parsed: kept with its raw payload for review, never dropped.

    An entry whose reason starts with ``CLEANED`` is a note instead: the record was stored,
    with that field's free text cleaned.
    """

    source: str  # loop, shopify
    kind: str  # return, order, refund, payout, balance_transaction...
    record_id: str | None
    field: str
    reason: str
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def usable(self) -> bool:
        """Whether the record was stored all the same (a cleaning note, not a rejection)."""
        return self.reason.startswith(CLEANED)

    @property
    def not_visible(self) -> bool:
        """Whether a by-id read answered null for the record (``NOT_VISIBLE_REASONS``)."""
        return self.reason in NOT_VISIBLE_REASONS

    @property
    def read_not_stored(self) -> bool:
        """Whether a read returned the record but could not store it (read in part, a field
        unreadable): the vendor shows it. Not one answered null, nor one of a malformed
        ``nodes(ids:)`` answer (nothing was read for it), nor a cleaning note (stored)."""
        return (
            self.record_id is not None
            and not self.usable
            and not self.not_visible
            and self.field != NODES_SHAPE_FIELD
        )


# --- Findings ---------------------------------------------------------------------------------


class Category(StrEnum):
    MISSING_REFUND = "MISSING_REFUND"
    MISSING_RESTOCK = "MISSING_RESTOCK"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    DUPLICATE_REFUND = "DUPLICATE_REFUND"
    UNKNOWN_RMA = "UNKNOWN_RMA"
    REFUND_ON_CANCELLED_RETURN = "REFUND_ON_CANCELLED_RETURN"
    REFUND_FAILED = "REFUND_FAILED"
    REFUND_PENDING = "REFUND_PENDING"
    UNSETTLED_REFUND = "UNSETTLED_REFUND"
    UNMATCHED_REFUND = "UNMATCHED_REFUND"
    SKU_MISMATCH = "SKU_MISMATCH"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    MISSING_STORE_CREDIT = "MISSING_STORE_CREDIT"
    STATUS_DRIFT = "STATUS_DRIFT"
    STALE_RETURN = "STALE_RETURN"
    AMBIGUOUS_RMA = "AMBIGUOUS_RMA"  # a refund note naming two RMAs
    GHOST_INVENTORY = "GHOST_INVENTORY"  # restocked in Shopify, never received by the warehouse


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Owner(StrEnum):
    FINANCE = "finance"
    WAREHOUSE = "warehouse"
    CX = "cx"


class FindingStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"
    # Gone because its order turned out to be a Shopify test order (``Order.test``, read after
    # the finding was raised): not fixed, no longer reconciled (``[engine] include_test_orders``).
    LEFT_OUT = "left_out"


# Findings that need nobody any more: fixed, or left out as a test order's.
CLOSED_STATUSES = frozenset({FindingStatus.RESOLVED, FindingStatus.LEFT_OUT})
# Findings that count as open in every headline and alarm. Acknowledged ones (someone checked
# them: ``findings ack``) are neither closed nor open: quiet until they change, counted apart.
OPEN_STATUSES = frozenset({FindingStatus.NEW, FindingStatus.OPEN})


class Finding(Record):
    """One break in the Loop → Shopify → payout chain. Fields: the findings.json contract."""

    key: str  # stable across runs: same break, same key
    category: Category
    severity: Severity
    owner: Owner
    rma: str | None = None
    shopify_order_id: str | None = None
    shopify_order_name: str | None = None
    shopify_refund_ids: tuple[str, ...] = ()
    transaction_ids: tuple[str, ...] = ()
    payout_id: str | None = None
    sku: str | None = None
    location_id: str | None = None
    amount_at_risk: Decimal = Decimal("0")
    currency: str | None = None
    detail: str = ""
    next_step: str = ""
    # Stock findings: the returned units at issue (Loop line item ids, one per unit, sorted).
    loop_line_item_ids: tuple[str, ...] = ()
    status: FindingStatus = FindingStatus.NEW
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    resolved_at: datetime | None = None
    # Who acknowledged it and why (``run_recon.py findings ack``); cleared when it changes.
    acknowledged_by: str | None = None
    acknowledged_note: str = ""
    # When (None: acknowledged before recon recorded it): a month-end book shows a finding
    # acknowledged only if it was by the period's end.
    acknowledged_at: datetime | None = None


class EventOrigin(StrEnum):
    """What wrote a finding event: a run's save, an acknowledgement, or the upgrade that began
    the history (the finding's state as stored then; what came before it is not known)."""

    RUN = "run"
    ACK = "ack"
    UPGRADE = "upgrade"


class FindingEvent(Record):
    """One change of a finding's status, or of the amount at risk of one still open or
    acknowledged, as the append-only history keeps it.

    ``first_seen`` is the first-seen time of the episode the finding was in (a finding fixed
    and back starts a new one); ``acknowledged_*`` are set on acknowledgements.
    """

    key: str
    at: datetime
    status: FindingStatus
    origin: EventOrigin
    amount_at_risk: Decimal = Decimal("0")
    currency: str | None = None
    # What the amount at risk and currency were before, when this event changed them.
    amount_before: Decimal | None = None
    currency_before: str | None = None
    first_seen: datetime | None = None
    run_id: str | None = None
    acknowledged_by: str | None = None
    acknowledged_note: str = ""
    acknowledged_at: datetime | None = None
