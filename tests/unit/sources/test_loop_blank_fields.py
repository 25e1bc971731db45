"""Truth table: every field recon reads from a Loop return, sent absent, ``null``, ``""`` or ``[]``.

Loop's API is a PHP (Laravel) service: a field with no value comes as ``null`` where another
payload leaves it out, and an empty associative array (an object with no keys) is serialised as
``[]``, not ``{}``. Each cell is either a correct read (the value recon keeps) or a quarantine
entry naming the field; never an uncaught exception, and never an amount recon guessed where a
guess could hide money (loop-returns-api.md §10, §12).

Bases: the list item ``return-closed-refund.json`` (``outcomes_processed_at``,
``shopify_refund_object[]``, one line) and the details response ``return-details.json``
(``refunds[]``) of the shared examples.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from recon.models import LoopReturnRecord, Quarantined
from recon.sources.loop_parse import parse_return_items

EXAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "examples" / "loop"
LIST, DETAILS = "return-closed-refund.json", "return-details.json"
ABSENT = object()
Q = "quarantined"  # the cell's expectation: a quarantine entry naming the field
VARIANTS = {"absent": ABSENT, "null": None, "blank": "", "empty list": []}
CREATED = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
Get = Callable[[LoopReturnRecord], Any]


def _line(attr: str) -> Get:
    return lambda r: getattr(r.lines[0], attr)


def _refund(attr: str) -> Get:
    return lambda r: getattr(r.refunds[0], attr) if r.refunds else "no refund entry"


def _refund_ids(r: LoopReturnRecord) -> list[str | None]:
    return [x.provider_refund_id for x in r.refunds]


# (base, path, what recon keeps, {variant: expected value or Q})
TABLE: list[tuple[str, list[Any], Get, dict[str, Any]]] = [
    (LIST, ["id"], lambda r: r.id, {"absent": Q, "null": Q, "blank": Q, "empty list": Q}),
    # Which outcomes are owed depends on the state: a blank one is no state to read.
    (LIST, ["state"], lambda r: r.state, {"absent": Q, "null": Q, "blank": Q, "empty list": Q}),
    # The details endpoint has no return-level outcome (§7).
    (
        LIST,
        ["outcome"],
        lambda r: r.outcome,
        {"absent": "", "null": "", "blank": "", "empty list": Q},
    ),
    (LIST, ["created_at"], lambda r: r.created_at, dict.fromkeys(VARIANTS, Q)),
    # The 2020 webhook has no updated_at (§10.1): the creation time stands in.
    (
        LIST,
        ["updated_at"],
        lambda r: r.updated_at,
        {"absent": CREATED, "null": CREATED, "blank": CREATED, "empty list": Q},
    ),
    (
        LIST,
        ["provider_order_id"],
        lambda r: r.provider_order_id,
        {"absent": None, "null": None, "blank": None, "empty list": Q},
    ),
    (
        LIST,
        ["order_name"],
        lambda r: r.order_name,
        {"absent": None, "null": None, "blank": "", "empty list": Q},
    ),
    (LIST, ["currency"], lambda r: r.currency, dict.fromkeys(VARIANTS, Q)),
    # Amounts that carry the return's money (§10.1 marks none of them optional or nullable): a
    # guess of 0 would hide a refund or a store credit owed, so they are refused.
    (LIST, ["total"], lambda r: r.total, dict.fromkeys(VARIANTS, Q)),
    (LIST, ["refund"], lambda r: r.refund, dict.fromkeys(VARIANTS, Q)),
    (LIST, ["gift_card"], lambda r: r.gift_card, dict.fromkeys(VARIANTS, Q)),
    # A fee kept from the refund, read as "absent = 0": null is absent.
    (
        LIST,
        ["handling_fee"],
        lambda r: r.handling_fee,
        {"absent": Decimal("0"), "null": Decimal("0"), "blank": Q, "empty list": Q},
    ),
    (
        LIST,
        ["label_status"],
        lambda r: r.label_status,
        {"absent": None, "null": None, "blank": "", "empty list": Q},
    ),
    (
        LIST,
        ["was_processed"],
        lambda r: r.was_processed,
        {"absent": False, "null": False, "blank": Q, "empty list": Q},
    ),
    (
        LIST,
        ["refund_before_inspection"],
        lambda r: r.refund_before_inspection,
        {"absent": False, "null": False, "blank": Q, "empty list": Q},
    ),
    # An object: PHP sends one with no keys as [].
    (
        LIST,
        ["outcomes_processed_at"],
        lambda r: (r.refund_processed_at, r.return_processed_at, r.gift_card_processed_at),
        {"absent": (None,) * 3, "null": (None,) * 3, "blank": Q, "empty list": (None,) * 3},
    ),
    *[
        (
            LIST,
            ["outcomes_processed_at", key],
            get,
            {"absent": None, "null": None, "blank": None, "empty list": Q},
        )
        for key, get in [
            ("refund_processed", lambda r: r.refund_processed_at),
            ("return_processed", lambda r: r.return_processed_at),
            ("gift_card_processed", lambda r: r.gift_card_processed_at),
        ]
    ],
    (
        LIST,
        ["line_items"],
        lambda r: r.lines,
        {"absent": (), "null": (), "blank": Q, "empty list": ()},
    ),
    # A line with nothing in it names no unit: refused, as {} is.
    (
        LIST,
        ["line_items", 0],
        lambda r: r.lines,
        {"absent": "n/a", "null": Q, "blank": Q, "empty list": Q},
    ),
    (LIST, ["line_items", 0, "line_item_id"], _line("line_item_id"), dict.fromkeys(VARIANTS, Q)),
    (
        LIST,
        ["line_items", 0, "provider_line_item_id"],
        _line("provider_line_item_id"),
        {"absent": None, "null": None, "blank": None, "empty list": Q},
    ),
    (
        LIST,
        ["line_items", 0, "sku"],
        _line("sku"),
        {"absent": None, "null": None, "blank": "", "empty list": Q},
    ),
    # Read as "absent = 0" (it prices restock findings, never a refund): null is absent.
    (
        LIST,
        ["line_items", 0, "price"],
        _line("price"),
        {"absent": Decimal("0"), "null": Decimal("0"), "blank": Q, "empty list": Q},
    ),
    # The line's credited value (§10.2): money, refused.
    (LIST, ["line_items", 0, "refund"], _line("refund"), dict.fromkeys(VARIANTS, Q)),
    (
        LIST,
        ["line_items", 0, "returned_at"],
        _line("returned_at"),
        {"absent": None, "null": None, "blank": None, "empty list": Q},
    ),
    (
        LIST,
        ["line_items", 0, "provider_restock_location_id"],
        _line("restock_location_id"),
        {"absent": None, "null": None, "blank": None, "empty list": Q},
    ),
    # Grading results (objects, §10.2): none of these is a grade.
    (LIST, ["line_items", 0, "condition"], _line("inspected"), dict.fromkeys(VARIANTS, False)),
    (LIST, ["line_items", 0, "disposition"], _line("inspected"), dict.fromkeys(VARIANTS, False)),
    (
        LIST,
        ["shopify_refund_object"],
        _refund_ids,
        {"absent": [], "null": [], "blank": Q, "empty list": []},
    ),
    (
        LIST,
        ["shopify_refund_object", 0],
        _refund_ids,
        {"absent": "n/a", "null": [], "blank": Q, "empty list": []},
    ),
    (
        LIST,
        ["shopify_refund_object", 0, "provider_refund_id"],
        _refund_ids,
        {"absent": [], "null": [], "blank": [], "empty list": Q},
    ),
    (DETAILS, ["refunds"], _refund_ids, {"absent": [], "null": [], "blank": Q, "empty list": []}),
    # An entry with no keys, as PHP sends it: one refund entry that names nothing.
    (
        DETAILS,
        ["refunds", 0],
        _refund_ids,
        {"absent": "n/a", "null": [None], "blank": Q, "empty list": [None]},
    ),
    (
        DETAILS,
        ["refunds", 0, "amount"],
        _refund("amount"),
        {"absent": None, "null": None, "blank": Q, "empty list": Q},
    ),
    (
        DETAILS,
        ["refunds", 0, "currency"],
        _refund("currency"),
        {"absent": None, "null": None, "blank": None, "empty list": Q},
    ),
    (
        DETAILS,
        ["refunds", 0, "provider_refund_id"],
        _refund("provider_refund_id"),
        {"absent": None, "null": None, "blank": None, "empty list": Q},
    ),
    (
        DETAILS,
        ["refunds", 0, "gateway"],
        _refund("gateway"),
        {"absent": None, "null": None, "blank": "", "empty list": Q},
    ),
]


PRICE_NOTED = {("line_items[0].price", "absent"), ("line_items[0].price", "null")}


def _field(path: list[Any]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


CASES = [
    pytest.param(base, path, get, variant, expected, id=f"{_field(path)}={variant}")
    for base, path, get, cells in TABLE
    for variant, expected in cells.items()
    if expected != "n/a"  # a list entry cannot be left out of its list
]


def _payload(base: str, path: list[Any], variant: str) -> dict[str, Any]:
    item: dict[str, Any] = copy.deepcopy(json.loads((EXAMPLES / base).read_text()))
    target: Any = item
    for key in path[:-1]:
        target = target[key]
    value = VARIANTS[variant]
    if value is ABSENT:
        del target[path[-1]]
    else:
        target[path[-1]] = copy.deepcopy(value)
    return item


@pytest.mark.parametrize(("base", "path", "get", "variant", "expected"), CASES)
def test_each_field_absent_null_blank_or_empty_list_is_read_or_quarantined_by_name(
    base: str, path: list[Any], get: Get, variant: str, expected: Any
) -> None:
    record, *notes = parse_return_items(_payload(base, path, variant))
    if expected == Q:
        assert isinstance(record, Quarantined), f"read as {get(record)!r}"
        assert record.field == _field(path), record.reason
        assert record.record_id == (None if path == ["id"] else "12345701")
        return
    assert isinstance(record, LoopReturnRecord), f"{record.field}: {record.reason}"
    assert get(record) == expected
    # A line with no price is read, and noted for review: its restock findings show no amount.
    noted = [_field(path)] if (_field(path), variant) in PRICE_NOTED else []
    assert [note.field for note in notes] == noted
    # The rest of the return is read as sent: its money is Loop's, untouched by the cell.
    assert (record.refund, record.total, record.currency) == (Decimal("48.60"),) * 2 + ("USD",)
