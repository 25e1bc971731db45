"""Turn mirrored records into the engine's DataFrames (money as int64 minor units + currency)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from recon.engine.codes import Codes, encode
from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopReturnRecord,
    OrderRecord,
    PayoutRecord,
    RefundRecord,
)
from recon.money import from_minor, to_minor, tolerance_units

# Column sets are the engine's contract: the benchmark builds the same frames directly.
RETURN_COLUMNS = (
    "rma",
    "state",
    "outcome",
    "created_at",
    "order_id",
    "order_name",
    "currency",
    "total_minor",
    "refund_minor",
    "gift_card_minor",
    "label_status",
    "was_processed",
)
RETURN_LINE_COLUMNS = (
    "rma",
    "line_item_id",
    "provider_line_item_id",
    "sku",
    "price_minor",
    "inspected",
    "restock_location_id",
)
RETURN_REFUND_COLUMNS = ("rma", "provider_refund_id")
ORDER_COLUMNS = ("order_id", "order_name", "currency", "presentment_currency", "return_status")
REFUND_COLUMNS = ("refund_id", "order_id", "note", "processed_at", "currency", "shop_currency")
REFUND_LINE_COLUMNS = ("refund_id", "line_item_id", "sku", "quantity", "restocked", "location_id")
TRANSACTION_COLUMNS = (
    "transaction_id",
    "order_id",
    "refund_id",
    "kind",
    "status",
    "gateway",
    "amount_minor",
    "currency",
    "amount_shop_minor",
    "shop_currency",
    "processed_at",
)
PAYOUT_COLUMNS = (
    "payout_id",
    "issued_at",
    "status",
    "transaction_type",
    "currency",
    "refunds_gross_minor",
)
BALANCE_COLUMNS = (
    "balance_transaction_id",
    "type",
    "source_order_transaction_id",
    "amount_minor",
    "currency",
    "payout_id",
    "payout_status",
    "transaction_date",
)
GIFT_CARD_COLUMNS = ("gift_card_id", "note", "currency", "initial_value_minor")


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for column in columns:
        if column.endswith("_minor") or column == "quantity":
            frame[column] = frame[column].astype("int64")
        elif column in ("was_processed", "inspected", "restocked"):
            frame[column] = frame[column].astype(bool)
        elif column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        else:  # ids and codes stay Python strings (an empty frame would default to float)
            frame[column] = frame[column].astype(object)
    return frame


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    """An empty frame with the engine's dtypes for a column set."""
    return _frame([], columns)


@dataclass(frozen=True)
class Frames:
    """The engine's input: one DataFrame per record kind (see the *_COLUMNS constants)."""

    returns: pd.DataFrame
    return_lines: pd.DataFrame
    orders: pd.DataFrame
    refunds: pd.DataFrame
    refund_lines: pd.DataFrame
    transactions: pd.DataFrame
    payouts: pd.DataFrame
    balance_transactions: pd.DataFrame
    gift_cards: pd.DataFrame
    # Loop's refunds[].provider_refund_id per RMA (findings.md link 2); exploded, one row a pair.
    return_refunds: pd.DataFrame = field(default_factory=lambda: empty_frame(RETURN_REFUND_COLUMNS))
    # Integer codes of the id columns (codes.py), built with the frames; ``reconcile`` encodes
    # frames built without them. Frames are not modified after building: codes would go stale.
    codes: Codes | None = None


def with_codes(frames: Frames) -> Frames:
    """The same frames with their id columns encoded once (``codes.encode``)."""
    return replace(frames, codes=encode(frames))


def minor(amount: Decimal, currency: str) -> int:
    """Integer minor units of an amount in its currency (recon.money, never float)."""
    return to_minor(amount, currency)


def to_decimal_series(units: pd.Series, currencies: pd.Series) -> list[Decimal]:
    """Decimal objects from minor units and currencies, for result frames and findings."""
    return list(decimal_array(units, currencies))


def decimal_array(units: Any, currencies: Any) -> np.ndarray:
    """``to_decimal_series`` as an object array (no list round trip for 1M-row frames).

    Each distinct (currency, amount) is converted once: amounts repeat a lot, Decimal is slow.
    A missing currency (None) converts as the text "None" would; NaN leaves None (as before).
    """
    return decimal_arrays(currencies, units)[0]


def decimal_arrays(currencies: Any, *columns: Any) -> list[np.ndarray]:
    """``decimal_array`` of several minor-unit columns in the same currencies (grouped once)."""
    codes = np.asarray(currencies, dtype=object)
    currency_code, names = pd.factorize(codes)
    groups = [(currency_code == i, str(currency)) for i, currency in enumerate(names)]
    for currency in pd.unique(codes[currency_code < 0]):
        if currency is None:  # ``codes == None`` matched None rows before; NaN matched nothing
            groups.append((codes == None, str(currency)))  # noqa: E711
    outs = []
    made: dict[str, dict[int, Decimal]] = {currency: {} for _, currency in groups}
    for units in columns:  # amounts repeat across columns too (refund vs refunded total)
        values = np.asarray(units, dtype="int64")
        if len(groups) == 1 and bool(groups[0][0].all()):  # one currency (usual): no masks
            outs.append(_decimals_of(values, groups[0][1], made[groups[0][1]]))
            continue
        out = np.full(len(values), None, dtype=object)
        for mask, currency in groups:
            out[mask] = _decimals_of(values[mask], currency, made[currency])
        outs.append(out)
    return outs


def _decimals_of(values: np.ndarray, currency: str, made: dict[int, Decimal]) -> np.ndarray:
    """The Decimals of ``values`` (minor units of ``currency``), each distinct amount made once."""
    code, amounts = _amount_codes(values)
    decimals = []
    for amount in amounts.tolist():
        decimal = made.get(amount)
        if decimal is None:
            decimal = made[amount] = from_minor(amount, currency)
        decimals.append(decimal)
    filled: np.ndarray = np.array([*decimals, None], dtype=object)[code]
    return filled


def _amount_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's position among the distinct ``values`` (a ``pd.factorize``, any order).

    Amounts in minor units span a small range: a table over that range finds the distinct
    ones without hashing (at 1M rows, a fifth of the hash's time); a wide range is hashed.
    """
    if not len(values):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    if high - low > 4 * len(values) + 1024:
        code, amounts = pd.factorize(values)
        return code, np.asarray(amounts, dtype=np.int64)
    offset = values - low
    seen = np.zeros(high - low + 1, dtype=bool)
    seen[offset] = True
    slot = np.cumsum(seen, dtype=np.int64) - 1
    return slot[offset], np.flatnonzero(seen).astype(np.int64) + low


def _return_rows(returns: Iterable[LoopReturnRecord]) -> tuple[list[dict[str, Any]], ...]:
    rows: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    for r in returns:
        c = r.currency
        rows.append(
            {
                "rma": r.id,
                "state": r.state,
                "outcome": r.outcome,
                "created_at": r.created_at,
                "order_id": r.provider_order_id,
                "order_name": r.order_name,
                "currency": c,
                "total_minor": minor(r.total, c),
                "refund_minor": minor(r.refund, c),
                "gift_card_minor": minor(r.gift_card, c),
                "label_status": r.label_status,
                "was_processed": r.was_processed,
            }
        )
        lines.extend(
            {
                "rma": r.id,
                "line_item_id": ln.line_item_id,
                "provider_line_item_id": ln.provider_line_item_id,
                "sku": ln.sku,
                "price_minor": minor(ln.price, c),
                "inspected": ln.inspected,
                "restock_location_id": ln.restock_location_id,
            }
            for ln in r.lines
        )
        ids = dict.fromkeys(x.provider_refund_id for x in r.refunds if x.provider_refund_id)
        refs.extend({"rma": r.id, "provider_refund_id": pid} for pid in ids)
    return rows, lines, refs


def _refund_rows(refunds: Iterable[RefundRecord]) -> tuple[list[dict[str, Any]], ...]:
    rows: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    txns: list[dict[str, Any]] = []
    for f in refunds:
        rows.append(
            {
                "refund_id": f.id,
                "order_id": f.order_id,
                "note": f.note,
                "processed_at": f.processed_at,
                "currency": f.currency,
                "shop_currency": f.shop_currency,
            }
        )
        lines.extend(
            {
                "refund_id": f.id,
                "line_item_id": ln.line_item_id,
                "sku": ln.sku,
                "quantity": ln.quantity,
                "restocked": ln.restocked,
                "location_id": ln.location_id,
            }
            for ln in f.lines
        )
        txns.extend(
            {
                "transaction_id": t.id,
                "order_id": t.order_id,
                "refund_id": t.refund_id or f.id,
                "kind": t.kind,
                "status": t.status,
                "gateway": t.gateway,
                "amount_minor": minor(t.amount, t.currency),
                "currency": t.currency,
                "amount_shop_minor": minor(t.amount_shop, t.shop_currency),
                "shop_currency": t.shop_currency,
                # Shopify may leave processedAt null on a transaction; the age rules
                # (REFUND_PENDING, UNSETTLED_REFUND) then count from its refund's.
                "processed_at": t.processed_at or f.processed_at,
            }
            for t in f.transactions
        )
    return rows, lines, txns


def build_frames(
    returns: Iterable[LoopReturnRecord],
    orders: Iterable[OrderRecord],
    refunds: Iterable[RefundRecord],
    payouts: Iterable[PayoutRecord],
    balance_transactions: Iterable[BalanceTransactionRecord],
    gift_cards: Iterable[GiftCardRecord],
) -> Frames:
    """Build the engine's frames from mirrored records.

    Refund transactions come from ``RefundRecord.transactions``. Duplicate records (same natural
    id) keep the last one, as the mirror's upsert would; a return's or a refund's lines,
    transactions and Loop refund ids come from that copy only (``_last_copies``).

    Raises:
        recon.money.MoneyError: never for records built by sources (they validate currencies).
    """
    ret_rows, line_rows, ref_rows = _return_rows(_last_copies(returns))
    refund_rows, refund_line_rows, txn_rows = _refund_rows(_last_copies(refunds))
    order_rows = [
        {
            "order_id": o.id,
            "order_name": o.name,
            "currency": o.currency,
            "presentment_currency": o.presentment_currency,
            "return_status": o.return_status,
        }
        for o in orders
    ]
    payout_rows = [
        {
            "payout_id": p.id,
            "issued_at": p.issued_at,
            "status": p.status,
            "currency": p.currency,
            "refunds_gross_minor": minor(p.refunds_gross, p.currency),
            "transaction_type": p.transaction_type,
        }
        for p in payouts
    ]
    bt_rows = [
        {
            "balance_transaction_id": b.id,
            "type": b.type,
            "source_order_transaction_id": _source_transaction(b),
            "amount_minor": minor(b.amount, b.currency),
            "currency": b.currency,
            "payout_id": b.payout_id,
            "payout_status": b.payout_status,
            "transaction_date": b.transaction_date,
        }
        for b in balance_transactions
    ]
    gift_rows = [
        {
            "gift_card_id": g.id,
            "note": g.note,
            "currency": g.currency,
            "initial_value_minor": minor(g.initial_value, g.currency),
        }
        for g in gift_cards
    ]
    frames = Frames(
        returns=_frame(ret_rows, RETURN_COLUMNS),
        return_lines=_frame(line_rows, RETURN_LINE_COLUMNS),
        orders=_dedupe(_frame(order_rows, ORDER_COLUMNS), "order_id"),
        refunds=_frame(refund_rows, REFUND_COLUMNS),
        refund_lines=_frame(refund_line_rows, REFUND_LINE_COLUMNS),
        transactions=_dedupe(_frame(txn_rows, TRANSACTION_COLUMNS), "transaction_id"),
        payouts=_dedupe(_frame(payout_rows, PAYOUT_COLUMNS), "payout_id"),
        balance_transactions=_dedupe(_frame(bt_rows, BALANCE_COLUMNS), "balance_transaction_id"),
        gift_cards=_dedupe(_frame(gift_rows, GIFT_CARD_COLUMNS), "gift_card_id"),
        return_refunds=_frame(ref_rows, RETURN_REFUND_COLUMNS),
    )
    return with_codes(frames)


def _source_transaction(b: BalanceTransactionRecord) -> str | None:
    """The order transaction a balance transaction belongs to.

    ``sourceOrderTransactionId``; for a REFUND_FAILURE row that lacks it, ``sourceId`` (on
    refund rows the two are equal in Shopify's REST fixtures; whether Shopify fills the first on
    failures is unverified, so both cases tie the bounce to its refund transaction).
    """
    if b.source_order_transaction_id or str(b.type).upper() != "REFUND_FAILURE":
        return b.source_order_transaction_id
    return b.source_id


_Parent = TypeVar("_Parent", LoopReturnRecord, RefundRecord)


def _last_copies(records: Iterable[_Parent]) -> list[_Parent]:
    """Each id's last record, where ``_dedupe`` keeps it (its last position).

    Returns and refunds are deduplicated as records, before their rows are made: a frame of
    parents deduplicated by ``_dedupe`` kept every copy's child rows, so a one-unit return
    read twice counted two units (MISSING_RESTOCK) and a refund read twice restocked its
    unit twice (GHOST_INVENTORY). The upsert this mirrors replaces a record with its children.
    """
    listed = list(records)
    last = {r.id: i for i, r in enumerate(listed)}
    return [r for i, r in enumerate(listed) if last[r.id] == i]


def _dedupe(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.drop_duplicates(subset=[key], keep="last").reset_index(drop=True)


def minor_tolerance(tolerance: Decimal, currencies: pd.Series) -> pd.Series:
    """The amount tolerance in each row's minor units (``money.tolerance_units``)."""
    text = currencies.to_numpy(dtype=object)
    if infer_dtype(text, skipna=False) != "string":  # all ``str`` (usual): no copy to make
        text = currencies.astype(str).to_numpy()
    # One hash pass, each currency's units looked up once (a map by dict took 100 ms at 1M).
    code, names = pd.factorize(text)
    units = np.array([tolerance_units(tolerance, c) for c in names], dtype=np.int64)
    return pd.Series(units[code], index=currencies.index, name=currencies.name)


def fill_int(values: pd.Series) -> pd.Series:
    """Integer column after a left join: missing → 0, without object-downcast warnings."""
    return values.astype("Int64").fillna(0).astype("int64")


def fill_bool(values: pd.Series) -> pd.Series:
    """Boolean column after a left join: missing → False."""
    return values.eq(True).astype(bool)


def decimals(units: pd.Series, currencies: pd.Series) -> pd.Series:
    """``to_decimal_series`` as an object Series aligned with ``units``."""
    return pd.Series(decimal_array(units, currencies), index=units.index, dtype=object)
