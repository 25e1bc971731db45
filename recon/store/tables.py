"""The mirror's tables (SQLAlchemy 2 declarative): API records, sync bookkeeping, runs and findings.

Every mirrored row keeps its natural id as primary key, the columns recon queries on, the pydantic
record as JSON (``record``, ``model_dump(mode="json")`` without ``raw``, so it round-trips exactly)
and the API payload (``raw``) for audit. Money is stored as text (exact Decimal), never float.
Migrations under ``migrations/`` create these tables; later revisions add theirs to this ``Base``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# JSONB on PostgreSQL (indexable, compact); plain JSON text elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")
MONEY = String(40)  # Decimal as its exact string: SQLite has no exact NUMERIC (DESIGN decision 4)
ID = String(64)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every dialect.

    SQLite keeps no offset, so values are stored as naive UTC (which also keeps text comparison in
    time order) and read back with ``tzinfo=UTC``; PostgreSQL uses ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: recon stores aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every recon table (remediation adds its ledger here too)."""

    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute as-is
        datetime: UTCDateTime(),
        dict[str, Any]: JsonType,
    }


class _Mirrored:
    """Columns every mirrored API record carries."""

    record: Mapped[dict[str, Any]] = mapped_column(JsonType)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    synced_at: Mapped[datetime]


# --- Loop -------------------------------------------------------------------------------------


class LoopReturnRow(_Mirrored, Base):
    __tablename__ = "loop_returns"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    outcome: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    provider_order_id: Mapped[str | None] = mapped_column(ID, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    refund: Mapped[str] = mapped_column(MONEY)
    gift_card: Mapped[str] = mapped_column(MONEY)


class LoopReturnLineRow(Base):
    __tablename__ = "loop_return_lines"
    return_id: Mapped[str] = mapped_column(ID, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_item_id: Mapped[str] = mapped_column(ID)
    provider_line_item_id: Mapped[str | None] = mapped_column(ID, index=True)
    sku: Mapped[str | None] = mapped_column(String(255))
    refund: Mapped[str] = mapped_column(MONEY)


# --- Shopify ----------------------------------------------------------------------------------


class OrderRow(_Mirrored, Base):
    __tablename__ = "orders"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    updated_at: Mapped[datetime] = mapped_column(index=True)
    financial_status: Mapped[str | None] = mapped_column(String(32))
    return_status: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    presentment_currency: Mapped[str] = mapped_column(String(3))
    # ``Order.test``; NULL: mirrored before recon read it (re-read by the next nightly sync).
    test: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # When a by-id read first answered null (deleted in Shopify, or older than 60 days without
    # read_all_orders); NULL: visible at its last read. Such an order is asked for again only
    # when its Loop return changes, or ``[sync] not_visible_recheck_days`` after
    # ``not_visible_checked_at``, when it was last asked (NULL there: at ``not_visible_at``).
    not_visible_at: Mapped[datetime | None]
    not_visible_checked_at: Mapped[datetime | None]


class UnseenOrderRow(Base):
    """An order a Loop return names that the mirror never held, which Shopify answered null
    for by id: ``not_visible_at`` the first time, ``checked_at`` the last (``OrderRow``'s two
    columns, for an order with no row there). Deleted when a read returns the order."""

    __tablename__ = "unseen_orders"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    not_visible_at: Mapped[datetime]
    checked_at: Mapped[datetime]


class OrderLineRow(Base):
    __tablename__ = "order_lines"
    order_id: Mapped[str] = mapped_column(ID, primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    sku: Mapped[str | None] = mapped_column(String(255), index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class OrderRefundIdRow(Base):
    """The refund ids an order lists: lets sync find refunds whose details are not mirrored yet."""

    __tablename__ = "order_refund_ids"
    order_id: Mapped[str] = mapped_column(ID, primary_key=True)
    refund_id: Mapped[str] = mapped_column(ID, primary_key=True, index=True)


class RefundRow(_Mirrored, Base):
    __tablename__ = "refunds"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    order_id: Mapped[str] = mapped_column(ID, index=True)
    processed_at: Mapped[datetime] = mapped_column(index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[str] = mapped_column(MONEY)
    total_shop: Mapped[str] = mapped_column(MONEY)


class RefundLineRow(Base):
    __tablename__ = "refund_lines"
    refund_id: Mapped[str] = mapped_column(ID, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_item_id: Mapped[str] = mapped_column(ID, index=True)
    sku: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer)
    restock_type: Mapped[str] = mapped_column(String(32))


class TransactionRow(Base):
    """Refund transactions (children of a refund, replaced with it)."""

    __tablename__ = "transactions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    order_id: Mapped[str] = mapped_column(ID, index=True)
    refund_id: Mapped[str | None] = mapped_column(ID, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), index=True)
    gateway: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[str] = mapped_column(MONEY)
    amount_shop: Mapped[str] = mapped_column(MONEY)
    processed_at: Mapped[datetime | None]
    record: Mapped[dict[str, Any]] = mapped_column(JsonType)
    synced_at: Mapped[datetime]


class PayoutRow(_Mirrored, Base):
    __tablename__ = "payouts"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    net: Mapped[str] = mapped_column(MONEY)


class BalanceTransactionRow(_Mirrored, Base):
    __tablename__ = "balance_transactions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    transaction_date: Mapped[datetime] = mapped_column(index=True)
    source_order_transaction_id: Mapped[str | None] = mapped_column(ID, index=True)
    order_id: Mapped[str | None] = mapped_column(ID, index=True)
    payout_id: Mapped[str | None] = mapped_column(ID, index=True)
    payout_status: Mapped[str] = mapped_column(String(32), index=True)
    amount: Mapped[str] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))


class GiftCardRow(_Mirrored, Base):
    __tablename__ = "gift_cards"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    order_id: Mapped[str | None] = mapped_column(ID, index=True)
    initial_value: Mapped[str] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))


class InventoryObservationRow(Base):
    __tablename__ = "inventory_observations"
    inventory_item_id: Mapped[str] = mapped_column(ID, primary_key=True)
    location_id: Mapped[str] = mapped_column(ID, primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(primary_key=True)
    available: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(JsonType)


# --- Bookkeeping ------------------------------------------------------------------------------


class QuarantineRow(Base):
    """One time a record could not be used (or was cleaned); ``resolved_at`` is set when a later
    sync read and stored the same record cleanly, or (an entry without a record id) when someone
    resolved it by hand. Rows are never deleted: they are the history (migration 0013 folded
    the repeat "not visible" rows of one record, which held only its id, into the first). A
    "not visible" entry (a by-id read answered null), and a Loop return's unread details, count
    their repeat sightings while open: ``times``, and the last one's ``last_seen_at`` and
    ``last_run_id`` (any other entry: 1, its own)."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_record", "kind", "record_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(ID)
    field: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(2000))
    raw: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    quarantined_at: Mapped[datetime]
    times: Mapped[int] = mapped_column(Integer, server_default="1")
    last_seen_at: Mapped[datetime]
    last_run_id: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    # Set when someone resolved the entry by hand (``quarantine resolve``), not a clean read.
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    resolved_note: Mapped[str | None] = mapped_column(String(2000))


class SyncWatermarkRow(Base):
    """How far each incremental stream has been read (the end of its last committed window)."""

    __tablename__ = "sync_watermarks"
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BackfillWindowRow(Base):
    """One committed backfill window, keyed by the backfill's own [range_start, range_end)."""

    __tablename__ = "backfill_windows"
    range_start: Mapped[datetime] = mapped_column(primary_key=True)
    range_end: Mapped[datetime] = mapped_column(primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    window_end: Mapped[datetime]
    completed_at: Mapped[datetime]
    stats: Mapped[dict[str, Any]] = mapped_column(JsonType)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    stats: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)


class FindingRow(Base):
    __tablename__ = "findings"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    # When a report that went out (written and handed to delivery) first showed the finding as
    # it stands: NULL while its episode (or its reopening) is still to be reported as new, or
    # its close (resolved, left out) is still to be reported as such.
    reported_at: Mapped[datetime | None]


class FindingEventRow(Base):
    """One change of a finding's status (append-only: rows are never updated or deleted).

    Written in the transaction that saves the findings or records an acknowledgement, so the
    history and the findings never disagree; ``origin`` ``upgrade`` rows are each finding's
    state when the history began (migration 0008).
    """

    __tablename__ = "finding_events"
    __table_args__ = (Index("ix_finding_events_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop: Mapped[str | None] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(16))
    amount_at_risk: Mapped[str] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(16))
    # The amount at risk and currency before this event, when it changed them (else NULL).
    amount_before: Mapped[str | None] = mapped_column(MONEY)
    currency_before: Mapped[str | None] = mapped_column(String(16))
    first_seen: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    acknowledged_note: Mapped[str] = mapped_column(Text, default="")
    acknowledged_at: Mapped[datetime | None]


class StoreOwnerRow(Base):
    """The shop a store belongs to (one row, id 1): one store never holds two shops' data."""

    __tablename__ = "store_owner"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    shop: Mapped[str] = mapped_column(String(64))
    # The shop's domain (``[shop] domain``); None for a store claimed before it was recorded.
    domain: Mapped[str | None] = mapped_column(String(255), nullable=True)
    claimed_at: Mapped[datetime]
