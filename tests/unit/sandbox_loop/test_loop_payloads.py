"""Payload shapes against reference/examples/loop: same keys at every depth, same JSON types.

A ``null`` on either side matches any type (Loop's nullable fields), and an empty list in the
example says nothing about its items. One world return is built per example, carrying the facts
that example shows (a refund id, processed timestamps, a label...).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from loop_worlds import AUTH, DETAILS, LIST, NOW, make_return

EXAMPLES = Path("/work/shared/reference/examples/loop")
if not EXAMPLES.is_dir():  # the repo may be checked out without the shared reference
    pytest.skip("reference examples not available", allow_module_level=True)

MONEY = re.compile(r"^-?\d+\.\d{2}$")
LIST_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PLAIN_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
PHP_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
PROCESSED = datetime(2024, 3, 5, 14, 22, 12, tzinfo=UTC)


# Keys the reference documents for list items (§10.1, observed) that the examples do not show.
DOCUMENTED_EXTRAS = frozenset({"refund_shipping_total", "refund_shipping_tax_total"})


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if isinstance(value, float) else "integer"
    return type(value).__name__


def shape_differences(ours: object, example: object, path: str = "$") -> list[str]:
    """Where ``ours`` and ``example`` differ in keys or JSON types (null matches anything)."""
    if ours is None or example is None:
        return []
    if isinstance(example, float) and isinstance(ours, int | float) and not isinstance(ours, bool):
        return []  # a JSON number: 0 and 6.1 are the same type on the wire
    if _json_type(ours) != _json_type(example):
        return [f"{path}: {_json_type(ours)} where the example has {_json_type(example)}"]
    if isinstance(example, dict) and isinstance(ours, dict):
        problems = [f"{path}: missing {k}" for k in example.keys() - ours.keys()]
        extra = ours.keys() - example.keys() - DOCUMENTED_EXTRAS
        problems += [f"{path}: extra {k}" for k in extra]
        for key in example.keys() & ours.keys():
            problems += shape_differences(ours[key], example[key], f"{path}.{key}")
        return problems
    if isinstance(example, list) and isinstance(ours, list) and example:
        return [
            d
            for i, item in enumerate(ours)
            for d in shape_differences(item, example[0], f"{path}[{i}]")
        ]
    return []


def _example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def _closed_refund():
    return make_return(
        12345701,
        state="closed",
        created_at=T0,
        updated_at=datetime(2024, 3, 5, 14, 22, 15, tzinfo=UTC),
        provider_refund_id="918273645123",
        was_processed=True,
        return_processed_at=datetime(2024, 3, 5, 14, 22, 10, tzinfo=UTC),
        refund_processed_at=PROCESSED,
        carrier="USPS",
        tracking_number="9400100000000000000001",
        label_status="delivered",
        destination_id="1234",
    )


EXAMPLE_RETURNS = {
    "return-closed-refund.json": _closed_refund,
    "return-open-exchange.json": lambda: make_return(
        12345678,
        state="open",
        created_at=T0,
        outcome="exchange",
        exchange_credit_total=Decimal("101.28"),
        carrier="USPS",
        tracking_number="9400136105440512280610",
        destination_id="1234",
    ),
    "return-closed-gift-card.json": lambda: make_return(
        12345702,
        state="closed",
        created_at=T0,
        refund="0.00",
        gift_card=Decimal("80.00"),
        gift_card_processed_at=PROCESSED,
        return_processed_at=PROCESSED,
        carrier="USPS",
        tracking_number="9400100000000000000002",
        destination_id="1234",
    ),
    "return-cancelled.json": lambda: make_return(12345703, state="cancelled", created_at=T0),
}


def _render(loop_client, ret, state):
    client = loop_client([ret])
    params = {"from": "2024-02-01", "to": "2024-04-01", "state": state, "paginate": "true"}
    body = client.get(LIST, headers=AUTH, params=params).json()
    return body["returns"][0]


@pytest.mark.parametrize("name", sorted(EXAMPLE_RETURNS))
def test_list_item_has_the_examples_keys_and_types(loop_client, name):
    example = _example(name)
    ours = _render(loop_client, EXAMPLE_RETURNS[name](), example["state"])
    assert shape_differences(ours, example) == []


def test_list_item_formats_money_ids_and_timestamps_as_loop_does(loop_client):
    item = _render(loop_client, _closed_refund(), "closed")
    example = _example("return-closed-refund.json")
    for field in ("total", "refund", "gift_card", "return_total", "return_product_total"):
        assert MONEY.match(item[field]), field
        assert item[field] == example[field], field
    assert item["id"] == "12345701"
    assert LIST_TIME.match(item["created_at"])
    assert item["updated_at"] == example["updated_at"]
    assert item["outcomes_processed_at"] == example["outcomes_processed_at"]
    refund_row = item["shopify_refund_object"][0]
    assert refund_row["provider_refund_id"] == 918273645123
    assert refund_row["return_id"] == 12345701
    assert all(PLAIN_TIME.match(refund_row[k]) for k in ("provider_created_at", "created_at"))
    assert PHP_TIME.match(item["outcomes_processed_at"]["refund_processed"]["date"])
    line = item["line_items"][0]
    assert (line["price"], line["discount"], line["tax"], line["refund"]) == (
        "50.00",
        "5.00",
        "3.60",
        "48.60",
    )
    assert (line["refund_item"], line["refund_tax"]) == ("45.00", "3.60")
    assert isinstance(item["label_rate"], float)


def test_paginated_envelope_matches_the_example(loop_client):
    returns = [make_return(1 + n, created_at=NOW.replace(hour=n)) for n in range(3)]
    client = loop_client(returns)
    params = {
        "from": "2026-10-31",
        "to": "2026-11-01 12:00:00",
        "paginate": "true",
        "pageSize": "2",
    }
    body = client.get(LIST, headers=AUTH, params=params).json()
    example = _example("list-page-paginated.json")
    assert set(body) == set(example)
    assert shape_differences(body, example) == []
    assert isinstance(body["nextPageUrl"], str)


def test_details_by_return_id_matches_the_details_example(loop_client):
    client = loop_client([_closed_refund()])
    response = client.get(DETAILS, headers=AUTH, params={"return_id": "12345701"})
    assert response.status_code == 200
    ours, example = response.json(), _example("return-details.json")
    assert shape_differences(ours, example) == []
    assert ours["id"] == 12345701 and ours["provider_order_id"] == 17345701
    assert ours["created_at"] == "2024-03-01 10:00:00"
    assert ours["refunds"] == example["refunds"]


def test_details_by_order_id_and_order_name_find_the_same_return(loop_client):
    ret = _closed_refund()
    client = loop_client([ret])
    by_order = client.get(DETAILS, headers=AUTH, params={"order_id": ret.provider_order_id})
    by_name = client.get(DETAILS, headers=AUTH, params={"order_name": ret.order_name})
    assert by_order.json()["id"] == by_name.json()["id"] == 12345701


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"return_id": "999"}, 404),
        ({"return_id": "2"}, 404),  # created after now: does not exist yet
        ({"order_name": "#nope"}, 404),
        ({}, 422),
        ({"return_id": "abc"}, 422),
    ],
)
def test_details_for_unknown_or_missing_returns(loop_client, params, status):
    client = loop_client(
        [
            make_return(1, created_at=NOW - timedelta(hours=1)),
            make_return(2, created_at=NOW + timedelta(hours=1)),
        ]
    )
    assert client.get(DETAILS, headers=AUTH, params=params).status_code == status


def test_shape_comparison_notices_missing_keys_and_wrong_types():
    example = {"id": "1", "refund": "1.00", "rows": [{"n": 1}], "when": None}
    assert shape_differences({"id": "1", "refund": "1.00", "rows": [], "when": 5}, example) == []
    ours = {"id": 1, "rows": [{"n": "1"}], "x": 0, "when": None}
    assert sorted(shape_differences(ours, example)) == [
        "$.id: integer where the example has str",
        "$.rows[0].n: str where the example has integer",
        "$: extra x",
        "$: missing refund",
    ]
