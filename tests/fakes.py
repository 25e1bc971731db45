"""Test doubles implementing recon.ports (FakeLoop, FakeShopify) and a deterministic sample dataset.

The fakes hold lists of records, honour the window arguments ([start, end) on the field the real
API filters on) and record every call, in memory and optionally as JSON lines in a file (so a test
can see what a killed subprocess asked for).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopRefundRecord,
    LoopReturnRecord,
    OrderLine,
    OrderRecord,
    OrderStamp,
    PayoutRecord,
    Quarantined,
    RefundLineRecord,
    RefundRecord,
    ReturnLine,
    TransactionRecord,
)
from recon.ports import LOOP_STATES
from recon.sources.shopify_unread import (
    BALANCE_NOT_VISIBLE,
    NOT_VISIBLE,
    REFUND_NOT_VISIBLE,
    not_visible,
)
from recon.store import tables as tbl
from recon.store.sql import SqlStore

MIRROR_TABLES = (
    "loop_returns",
    "loop_return_lines",
    "orders",
    "order_lines",
    "order_refund_ids",
    "refunds",
    "refund_lines",
    "transactions",
    "payouts",
    "balance_transactions",
    "gift_cards",
)


def _cell(value: object) -> str:
    # JSONB (PostgreSQL) reorders keys; compare JSON by content.
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else repr(value)


def dump_mirror(store: SqlStore) -> dict[str, list[tuple[str, ...]]]:
    """Every mirror table's rows (all columns but synced_at), sorted: what a user would diff."""
    out = {}
    with store.session() as s:
        for name in MIRROR_TABLES:
            table = tbl.Base.metadata.tables[name]
            cols = [c for c in table.columns if c.name != "synced_at"]
            out[name] = sorted(tuple(_cell(v) for v in row) for row in s.execute(select(*cols)))
    return out


class _CallLog:
    def __init__(self, path: Path | None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.path = path

    def record(self, *call: Any) -> None:
        self.calls.append(call)
        if self.path is not None:
            text = [c.isoformat() if isinstance(c, datetime) else c for c in call]
            with self.path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(text) + "\n")

    @property
    def api_calls(self) -> int:
        return len(self.calls)


def _check_window(start: datetime, end: datetime) -> None:
    assert start.tzinfo is not None and end.tzinfo is not None, "naive window"
    assert start < end, f"empty window {start} .. {end}"


def _upsert(items: list[Any], record: Any) -> None:
    items[:] = [r for r in items if r.id != record.id] + [record]


class FakeLoop(_CallLog):
    """Loop's Detailed Returns List over a list of returns (filter=updated_at, one state a call)."""

    def __init__(
        self,
        returns: Sequence[LoopReturnRecord] = (),
        quarantined: Sequence[tuple[datetime, Quarantined]] = (),
        call_log: Path | None = None,
    ) -> None:
        super().__init__(call_log)
        self.returns = list(returns)
        self.quarantined = list(quarantined)  # (updated_at, entry): yielded with state "open"

    def put(self, record: LoopReturnRecord) -> None:
        """Replace (or add) a return, as Loop would after an update."""
        _upsert(self.returns, record)

    def iter_returns(
        self, start: datetime, end: datetime, state: str
    ) -> Iterator[LoopReturnRecord | Quarantined]:
        _check_window(start, end)
        assert state in LOOP_STATES
        self.record("iter_returns", state, start, end)
        yield from (r for r in self.returns if r.state == state and start <= r.updated_at < end)
        if state == "open":
            yield from (q for at, q in self.quarantined if start <= at < end)

    def iter_details(
        self, records: Sequence[LoopReturnRecord]
    ) -> Iterator[LoopReturnRecord | Quarantined]:
        """Each record with the refunds Loop holds for it now (as Get Return Details gives)."""
        self.record("iter_details", [r.id for r in records])
        held = {r.id: r for r in self.returns}
        for record in records:
            now = held.get(record.id)
            yield record.model_copy(update={"refunds": now.refunds}) if now else record


@dataclass
class FakeShopify(_CallLog):
    """Shopify's orders, refunds, payouts, balance transactions and gift cards over lists."""

    orders: list[OrderRecord] = field(default_factory=list)
    refunds: list[RefundRecord] = field(default_factory=list)
    payouts: list[PayoutRecord] = field(default_factory=list)
    balance_transactions: list[BalanceTransactionRecord] = field(default_factory=list)
    gift_cards: list[GiftCardRecord] = field(default_factory=list)
    call_log: Path | None = None
    # Order ids deleted in Shopify: ``nodes(ids:)`` answers null for them (quarantined, §6).
    deleted: set[str] = field(default_factory=set)
    # Order or refund ids a ``nodes(ids:)`` call answers malformed (a list of another length):
    # kept for review with field ``nodes``, never read as deleted.
    misshapen: set[str] = field(default_factory=set)
    # Order ids returned but read in part (their refund list cut short): quarantined, not stored.
    read_in_part: set[str] = field(default_factory=set)
    # Refund ids returned but read in part (a transactions page that could not be followed).
    refunds_read_in_part: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        _CallLog.__init__(self, self.call_log)

    def put(self, record: Any) -> None:
        """Replace (or add) a record in the list of its type."""
        lists = {
            OrderRecord: self.orders,
            RefundRecord: self.refunds,
            PayoutRecord: self.payouts,
            BalanceTransactionRecord: self.balance_transactions,
            GiftCardRecord: self.gift_cards,
        }
        _upsert(lists[type(record)], record)

    def iter_orders_by_id(self, ids: Sequence[str]) -> Iterator[OrderRecord | Quarantined]:
        self.record("iter_orders_by_id", sorted(ids))
        wanted = set(ids)
        for bad in sorted(wanted & self.misshapen):
            yield _misshapen("order", bad)
        wanted -= self.misshapen
        for order in (o for o in self.orders if o.id in wanted and o.id not in self.deleted):
            yield _in_part(order) if order.id in self.read_in_part else order
        for gone in sorted(wanted & self.deleted):
            yield not_visible("order", f"gid://shopify/Order/{gone}", NOT_VISIBLE)

    def iter_refunded_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderRecord | Quarantined]:
        _check_window(start, end)
        self.record("iter_refunded_orders", start, end)
        # As Shopify's sweep query: by financial status, so a refund that moved no money (the
        # order stays "paid") is not in it.
        refunded = ("refunded", "partially_refunded")
        yield from (
            o
            for o in self.orders
            if o.financial_status in refunded
            and start <= o.updated_at < end
            and o.id not in self.deleted
        )

    def iter_updated_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderStamp | Quarantined]:
        _check_window(start, end)
        self.record("iter_updated_orders", start, end)
        # Every order changed in the window, whatever its financial status (ids and times only).
        for order in self.orders:
            if start <= order.updated_at < end and order.id not in self.deleted:
                yield OrderStamp(id=order.id, updated_at=order.updated_at)

    def iter_refunds_by_id(self, ids: Sequence[str]) -> Iterator[RefundRecord | Quarantined]:
        self.record("iter_refunds_by_id", sorted(ids))
        wanted = set(ids)
        yield from (_misshapen("refund", bad) for bad in sorted(wanted & self.misshapen))
        for refund in (f for f in self.refunds if f.id in wanted - self.misshapen):
            # A deleted order's refunds are null in ``nodes(ids:)`` too (§6).
            if refund.order_id in self.deleted:
                yield not_visible("refund", f"gid://shopify/Refund/{refund.id}", REFUND_NOT_VISIBLE)
            elif refund.id in self.refunds_read_in_part:
                yield _refund_in_part(refund)
            else:
                yield refund

    def iter_payouts(self, start: datetime, end: datetime) -> Iterator[PayoutRecord | Quarantined]:
        _check_window(start, end)
        self.record("iter_payouts", start, end)
        yield from (p for p in self.payouts if start <= p.issued_at < end)

    def iter_balance_transactions(
        self, start: datetime, end: datetime
    ) -> Iterator[BalanceTransactionRecord | Quarantined]:
        _check_window(start, end)
        self.record("iter_balance_transactions", start, end)
        yield from (b for b in self.balance_transactions if start <= b.transaction_date < end)

    def iter_balance_transactions_by_id(
        self, ids: Sequence[str]
    ) -> Iterator[BalanceTransactionRecord | Quarantined]:
        self.record("iter_balance_transactions_by_id", sorted(ids))
        known = {b.id: b for b in self.balance_transactions}
        for balance_id in dict.fromkeys(ids):
            found = known.get(balance_id)
            yield found or not_visible(
                "balance_transaction",
                f"gid://shopify/ShopifyPaymentsBalanceTransaction/{balance_id}",
                BALANCE_NOT_VISIBLE,
            )

    def iter_gift_cards(
        self, start: datetime, end: datetime
    ) -> Iterator[GiftCardRecord | Quarantined]:
        _check_window(start, end)
        self.record("iter_gift_cards", start, end)
        yield from (g for g in self.gift_cards if start <= g.created_at < end)


def _misshapen(kind: str, record_id: str) -> Quarantined:
    """What ``ShopifyClient`` yields for an id of a malformed ``nodes(ids:)`` answer."""
    return Quarantined(
        source="shopify",
        kind=kind,
        record_id=record_id,
        field="nodes",
        reason="shopify ById: nodes(ids:) answered 1 entries for 2 ids: a malformed answer",
        raw={"id": record_id},
    )


def _in_part(order: OrderRecord) -> Quarantined:
    """An order Shopify returned whose refund list could not be read whole."""
    return Quarantined(
        source="shopify",
        kind="order",
        record_id=order.id,
        field="refunds",
        reason="order has at least 250 refunds: some refunds are missing",
        raw=dict(order.raw),
    )


def _refund_in_part(refund: RefundRecord) -> Quarantined:
    """A refund Shopify returned whose transactions could not be paged to their end."""
    return Quarantined(
        source="shopify",
        kind="refund",
        record_id=refund.id,
        field="transactions.pageInfo.endCursor",
        reason="refund transactions.pageInfo.endCursor missing: read in part",
        raw=dict(refund.raw),
    )


# --- a deterministic dataset ------------------------------------------------------------------

EPOCH = datetime(2026, 9, 1, tzinfo=UTC)


@dataclass
class Dataset:
    returns: list[LoopReturnRecord] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    refunds: list[RefundRecord] = field(default_factory=list)
    payouts: list[PayoutRecord] = field(default_factory=list)
    balance_transactions: list[BalanceTransactionRecord] = field(default_factory=list)
    gift_cards: list[GiftCardRecord] = field(default_factory=list)

    def fakes(self, log_dir: Path | None = None) -> tuple[FakeLoop, FakeShopify]:
        loop_log = log_dir / "loop.jsonl" if log_dir else None
        shop_log = log_dir / "shopify.jsonl" if log_dir else None
        loop = FakeLoop(self.returns, call_log=loop_log)
        shopify = FakeShopify(
            list(self.orders),
            list(self.refunds),
            list(self.payouts),
            list(self.balance_transactions),
            list(self.gift_cards),
            shop_log,
        )
        return loop, shopify


def make_refund(
    i: int, at: datetime, amount: Decimal, status: str = "SUCCESS", note: str | None = None
) -> RefundRecord:
    order_id, refund_id = str(5000 + i), str(7000 + i)
    txn = TransactionRecord(
        id=str(9000 + i),
        order_id=order_id,
        refund_id=refund_id,
        kind="REFUND",
        status=status,
        gateway="shopify_payments",
        amount=amount,
        currency="USD",
        amount_shop=amount,
        shop_currency="USD",
        processed_at=at,
    )
    line = RefundLineRecord(
        id=f"{refund_id}1",
        line_item_id=f"{order_id}1",
        sku=f"SKU-{i % 7}",
        quantity=1,
        restock_type="RETURN",
        restocked=True,
        location_id="1",
        subtotal=amount,
    )
    return RefundRecord(
        id=refund_id,
        order_id=order_id,
        note=note or f"Loop RMA #{1000 + i}",
        created_at=at,
        processed_at=at,
        total=amount,
        currency="USD",
        total_shop=amount,
        shop_currency="USD",
        lines=(line,),
        transactions=(txn,),
        raw={"id": f"gid://shopify/Refund/{refund_id}"},
    )


def make_order(i: int, at: datetime, refund_ids: tuple[str, ...] = ()) -> OrderRecord:
    order_id = str(5000 + i)
    return OrderRecord(
        id=order_id,
        name=f"#{1100 + i}",
        created_at=at - timedelta(days=20),
        updated_at=at,
        currency="USD",
        presentment_currency="USD",
        financial_status="partially_refunded" if refund_ids else "paid",
        lines=(OrderLine(id=f"{order_id}1", sku=f"SKU-{i % 7}", quantity=2),),
        refund_ids=refund_ids,
        raw={"id": f"gid://shopify/Order/{order_id}", "n": i},
    )


def make_return(
    i: int, at: datetime, state: str = "closed", outcome: str = "refund"
) -> LoopReturnRecord:
    amount = Decimal(f"{10 + i % 50}.{i % 100:02d}")
    return LoopReturnRecord(
        id=str(1000 + i),
        state=state,
        outcome=outcome,
        created_at=at - timedelta(days=2),
        updated_at=at,
        provider_order_id=str(5000 + i),
        order_name=f"#{1100 + i}",
        currency="USD",
        total=amount,
        refund=amount if outcome == "refund" else Decimal("0"),
        gift_card=amount if outcome == "credit" else Decimal("0"),
        was_processed=state == "closed",
        lines=(
            ReturnLine(
                line_item_id=f"L{i}",
                provider_line_item_id=f"{5000 + i}1",
                sku=f"SKU-{i % 7}",
                price=amount,
                refund=amount,
                returned_at=at,
            ),
        ),
        refunds=(
            LoopRefundRecord(
                gateway="shopify_payments",
                amount=amount,
                currency="USD",
                provider_refund_id=str(7000 + i),
            ),
        ),
        # Loop's list always carries ``updated_at`` (a payload without one is read as undated).
        raw={"id": 1000 + i, "state": state, "total": str(amount), "updated_at": at.isoformat()},
    )


def sample_dataset(returns: int = 40, start: datetime = EPOCH, hours_apart: int = 13) -> Dataset:
    """``returns`` returns spread ``hours_apart`` apart from ``start``, with their whole chain.

    Every third return is store credit (a gift card, no refund), every 7th is still open (no
    refund yet); refunds settle in a payout every 5 balance transactions; two extra refunded orders
    carry RMAs Loop does not know (only the sweep finds them).
    """
    data = Dataset()
    for i in range(returns):
        at = start + timedelta(hours=hours_apart * i)
        state = "open" if i % 7 == 0 else ("cancelled" if i % 11 == 0 else "closed")
        outcome = "credit" if i % 3 == 0 else "refund"
        r = make_return(i, at, state, outcome)
        data.returns.append(r)
        if outcome == "credit":
            data.orders.append(make_order(i, at + timedelta(hours=1)))
            data.gift_cards.append(
                GiftCardRecord(
                    id=str(3000 + i),
                    created_at=at,
                    note=f"Loop RMA #{r.id}",
                    initial_value=r.gift_card,
                    currency="USD",
                    order_id=r.provider_order_id,
                )
            )
            continue
        if state != "closed":
            data.orders.append(make_order(i, at + timedelta(hours=1)))
            continue
        refund = make_refund(i, at + timedelta(hours=1), r.refund)
        data.refunds.append(refund)
        data.orders.append(make_order(i, at + timedelta(hours=1), (refund.id,)))
        data.balance_transactions.append(balance_for(i, refund, payout_id=str(6000 + i // 5)))
    for i in range(returns, returns + 2):  # refunds naming an RMA Loop does not know
        at = start + timedelta(hours=hours_apart * i // 2)
        refund = make_refund(i, at, Decimal("5.00"), note=f"Loop RMA #{90000 + i}")
        data.refunds.append(refund)
        data.orders.append(make_order(i, at, (refund.id,)))
    for j in sorted({int(b.payout_id or 0) for b in data.balance_transactions}):
        members = [b for b in data.balance_transactions if b.payout_id == str(j)]
        issued = max(b.transaction_date for b in members) + timedelta(days=1)
        net = sum((b.net for b in members), Decimal("0"))
        data.payouts.append(
            PayoutRecord(
                id=str(j),
                issued_at=issued,
                status="PAID",
                currency="USD",
                net=net,
                refunds_gross=net,
                raw={"id": j},
            )
        )
    return data


def balance_for(
    i: int, refund: RefundRecord, payout_id: str | None, status: str = "PAID"
) -> BalanceTransactionRecord:
    """The balance transaction settling refund ``i``'s transaction into payout ``payout_id``."""
    txn = refund.transactions[0]
    return BalanceTransactionRecord(
        id=str(8000 + i),
        type="REFUND",
        source_type="REFUND",
        source_id=txn.id,
        source_order_transaction_id=txn.id,
        order_id=refund.order_id,
        amount=-txn.amount,
        fee=Decimal("0.00"),
        net=-txn.amount,
        currency="USD",
        transaction_date=refund.processed_at + timedelta(hours=2),
        payout_id=payout_id,
        payout_status=status,
        raw={"id": 8000 + i},
    )
