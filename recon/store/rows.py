"""Conversions between pydantic records and mirror rows (plain dicts for bulk upserts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopReturnRecord,
    OrderRecord,
    PayoutRecord,
    Record,
    RefundRecord,
)

R = TypeVar("R", bound=Record)
Row = dict[str, Any]


def money(value: Decimal) -> str:
    """Decimal as its exact text (``Decimal("63.30")`` → ``"63.30"``): no float on any dialect."""
    return str(value)


def record_json(record: Record) -> Row:
    """The record as JSON without ``raw`` (kept in its own column, once)."""
    return record.model_dump(mode="json", exclude={"raw"})


def raw_json(record: Record) -> Row | None:
    raw = getattr(record, "raw", None)
    return dict(raw) if raw is not None else None


# Fields recon began reading after records were first mirrored: a record stored before lacks
# them, which means "not read" (None), not the model's default (``OrderRecord.test`` False: a
# live order). The nightly sync reads such records again (``orders_with_unknown_test_flag``).
_READ_LATER: dict[type[Record], tuple[str, ...]] = {OrderRecord: ("test",)}


def rebuild(model: type[R], record: Row, raw: Row | None) -> R:
    """The record exactly as it was upserted (``raw`` restored when the model has it); a field
    of ``_READ_LATER`` it was stored without is None."""
    data = dict(record)
    for name in _READ_LATER.get(model, ()):
        data.setdefault(name, None)
    if "raw" in model.model_fields:
        data["raw"] = raw or {}
    return model.model_validate(data)


def _mirrored(record: Record, synced_at: datetime) -> Row:
    return {"record": record_json(record), "raw": raw_json(record), "synced_at": synced_at}


def return_rows(records: Sequence[LoopReturnRecord], at: datetime) -> tuple[list[Row], list[Row]]:
    """Rows for ``loop_returns`` and ``loop_return_lines``."""
    parents: list[Row] = []
    lines: list[Row] = []
    for r in records:
        parents.append(
            {
                "id": r.id,
                "state": r.state,
                "outcome": r.outcome,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "provider_order_id": r.provider_order_id,
                "currency": r.currency,
                "refund": money(r.refund),
                "gift_card": money(r.gift_card),
                **_mirrored(r, at),
            }
        )
        lines.extend(
            {
                "return_id": r.id,
                "position": i,
                "line_item_id": line.line_item_id,
                "provider_line_item_id": line.provider_line_item_id,
                "sku": line.sku,
                "refund": money(line.refund),
            }
            for i, line in enumerate(r.lines)
        )
    return parents, lines


def order_rows(
    records: Sequence[OrderRecord], at: datetime
) -> tuple[list[Row], list[Row], list[Row]]:
    """Rows for ``orders``, ``order_lines`` and ``order_refund_ids``."""
    parents: list[Row] = []
    lines: list[Row] = []
    refund_ids: list[Row] = []
    for o in records:
        parents.append(
            {
                "id": o.id,
                "name": o.name,
                "updated_at": o.updated_at,
                "financial_status": o.financial_status,
                "return_status": o.return_status,
                "currency": o.currency,
                "presentment_currency": o.presentment_currency,
                "test": o.test,
                "not_visible_at": None,  # read (it is here): visible again
                "not_visible_checked_at": None,
                **_mirrored(o, at),
            }
        )
        # A line id appears once per order in Shopify; dict() guards against a repeated one.
        by_id = {line.id: line for line in o.lines}
        lines.extend(
            {"order_id": o.id, "id": line.id, "sku": line.sku, "quantity": line.quantity}
            for line in by_id.values()
        )
        refund_ids.extend(
            {"order_id": o.id, "refund_id": rid} for rid in dict.fromkeys(o.refund_ids)
        )
    return parents, lines, refund_ids


def refund_rows(
    records: Sequence[RefundRecord], at: datetime
) -> tuple[list[Row], list[Row], list[Row]]:
    """Rows for ``refunds``, ``refund_lines`` and ``transactions``."""
    parents: list[Row] = []
    lines: list[Row] = []
    transactions: list[Row] = []
    for f in records:
        parents.append(
            {
                "id": f.id,
                "order_id": f.order_id,
                "processed_at": f.processed_at,
                "currency": f.currency,
                "total": money(f.total),
                "total_shop": money(f.total_shop),
                **_mirrored(f, at),
            }
        )
        lines.extend(
            {
                "refund_id": f.id,
                "position": i,
                "line_item_id": line.line_item_id,
                "sku": line.sku,
                "quantity": line.quantity,
                "restock_type": line.restock_type,
            }
            for i, line in enumerate(f.lines)
        )
        transactions.extend(
            {
                "id": t.id,
                "order_id": t.order_id,
                "refund_id": t.refund_id or f.id,
                "kind": t.kind,
                "status": t.status,
                "gateway": t.gateway,
                "amount": money(t.amount),
                "amount_shop": money(t.amount_shop),
                "processed_at": t.processed_at,
                "record": record_json(t),
                "synced_at": at,
            }
            for t in f.transactions
        )
    return parents, lines, transactions


def payout_rows(records: Sequence[PayoutRecord], at: datetime) -> list[Row]:
    return [
        {
            "id": p.id,
            "issued_at": p.issued_at,
            "status": p.status,
            "currency": p.currency,
            "net": money(p.net),
            **_mirrored(p, at),
        }
        for p in records
    ]


def balance_rows(records: Sequence[BalanceTransactionRecord], at: datetime) -> list[Row]:
    return [
        {
            "id": b.id,
            "type": b.type,
            "transaction_date": b.transaction_date,
            "source_order_transaction_id": b.source_order_transaction_id,
            "order_id": b.order_id,
            "payout_id": b.payout_id,
            "payout_status": b.payout_status,
            "amount": money(b.amount),
            "currency": b.currency,
            **_mirrored(b, at),
        }
        for b in records
    ]


def gift_card_rows(records: Sequence[GiftCardRecord], at: datetime) -> list[Row]:
    return [
        {
            "id": g.id,
            "created_at": g.created_at,
            "order_id": g.order_id,
            "initial_value": money(g.initial_value),
            "currency": g.currency,
            **_mirrored(g, at),
        }
        for g in records
    ]
