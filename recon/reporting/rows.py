"""Report rows shared by the per-run and month-end workbooks: plain cell values, PII-scrubbed
free text, and the Actions sheet's columns."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from recon.money import parse_amount
from recon.reporting.data import ReportData
from recon.reporting.xlsx_writer import Column

ACTION_COLUMNS = (
    Column("id", width=10),
    Column("rma", width=12),
    Column("order_id", width=16),
    Column("kind", width=10),
    Column("what", width=60),
    Column("status", width=12),
    # Loop's figure, in Loop's currency (shop currency), then what recon sent to Shopify: the
    # refund's amount in the order's presentment currency (empty until sent; docs/commands.md).
    Column("amount", "money", 12, currency_column="currency"),
    Column("currency", width=9),
    Column("sent_amount", "money", 12, currency_column="sent_currency"),
    Column("sent_currency", width=9),
    Column("reason", width=40),
    Column("approved_by", width=18),
    Column("rejected_by", width=18),
    # The reason given with the latest approval or rejection (``reason``: the latest step's).
    Column("decision_reason", width=40),
    Column("created_at", "datetime", 17),
    Column("updated_at", "datetime", 17),
    Column("shopify_result", width=40),
)
# Columns holding people's free text: PII-scrubbed unless the report allows it. Identifiers
# (order names, SKUs, ids) are not: an order name "#1001-2002-3003" reads like a phone number.
FREE_TEXT = frozenset({"reason", "decision_reason", "shopify_result", "what"})


def plain(value: object) -> object:
    """A pandas/numpy cell → a plain Python value openpyxl writes (NaN/NA → empty)."""
    if value is None or isinstance(value, str | Decimal | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    if pd.isna(value):  # type: ignore[call-overload]
        return None
    item = getattr(value, "item", None)  # numpy scalars
    return item() if callable(item) else str(value)


def cleaned(data: ReportData, columns: Sequence[Column], values: Sequence[Any]) -> list[object]:
    row = [plain(v) for v in values]
    for i, column in enumerate(columns):
        value = row[i]
        if column.name in FREE_TEXT and isinstance(value, str):
            row[i] = data.text(value)
        elif column.kind == "money" and isinstance(value, str) and value:
            row[i] = _amount(value)  # the ledger keeps amounts as text: a number to sum
    return row


def _amount(text: str) -> Decimal | str:
    try:
        return parse_amount(text)
    except ValueError:
        return text  # not an amount after all: shown as the text it is


def frame_rows(
    data: ReportData, frame: pd.DataFrame, columns: Sequence[Column]
) -> Iterator[list[object]]:
    """Rows of a frame in column order, lazily (no copy of the frame); missing columns are empty."""
    series = [
        frame[c.name] if c.name in frame.columns else pd.Series([None] * len(frame))
        for c in columns
    ]
    for values in zip(*series, strict=True):
        yield cleaned(data, columns, values)


def dict_rows(
    data: ReportData, items: Sequence[Mapping[str, Any]], columns: Sequence[Column]
) -> Iterator[list[object]]:
    """Rows of ledger dicts in column order, lazily."""
    for item in items:
        yield cleaned(data, columns, [item.get(c.name) for c in columns])
