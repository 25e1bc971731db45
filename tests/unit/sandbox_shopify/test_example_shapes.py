"""Responses to the reference examples' requests have the examples' keys and value types."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.unit.sandbox_shopify.inline_world import NOW, T0, Shopify, order_doc, world_doc

EXAMPLES = Path("/work/shared/reference/examples/shopify")


def shape_problems(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Differences in keys and JSON value types (null in the example accepts anything)."""
    if expected is None:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected object, got {type(actual).__name__}"]
        problems = (
            [f"{path}: keys {sorted(set(expected) ^ set(actual))}"]
            if set(expected) != set(actual)
            else []
        )
        for key in set(expected) & set(actual):
            problems += shape_problems(expected[key], actual[key], f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or (expected and not actual):
            return [f"{path}: expected a non-empty list"]
        return [p for item in actual for p in shape_problems(expected[0], item, f"{path}[]")]
    if type(expected) is not type(actual) and not (
        isinstance(expected, float) and isinstance(actual, int)
    ):
        return [f"{path}: expected {type(expected).__name__}, got {type(actual).__name__}"]
    return []


def load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def rich_world() -> dict[str, Any]:
    order = order_doc(1, created=T0, refunded="41.94")
    order["refunds"][0]["return_id"] = "950"
    order["returns"] = [
        {
            "id": "950",
            "name": "#1001-R1",
            "status": "CLOSED",
            "created_at": T0.isoformat(),
            "lines": [{"id": "951", "line_item_id": "100001", "quantity": 1}],
        }
    ]
    payout = {
        "id": "623721858",
        "issued_at": (NOW - timedelta(days=1)).isoformat(),
        "status": "PAID",
        "currency": "USD",
        "net": "41.90",
    }
    rows = [
        {
            "id": "1044362223",
            "type": "REFUND",
            "source_type": "REFUND",
            "source_id": "500001",
            "source_order_transaction_id": "500001",
            "order_id": "1001",
            "currency": "USD",
            "amount": "-41.94",
            "net": "-41.94",
            "transaction_date": T0.isoformat(),
            "payout_id": "623721858",
            "payout_status": "PAID",
        }
    ]
    return world_doc([order], payouts=[payout], balance_transactions=rows)


def test_orders_page_with_refunds_shape(make_shop: Callable[..., Shopify]) -> None:
    example = load("graphql-orders-page-with-refunds.json")
    shop = make_shop(rich_world())
    # The example asks 50 x 20 x 50 (over the cost cap): same document, smaller.
    query = (
        example["request"]["body"]["query"]
        .replace("refunds(first: 20)", "refunds(first: 2)")
        .replace("refundLineItems(first: 50)", "refundLineItems(first: 5)")
    )
    body = shop.gql(query, {**example["request"]["body"]["variables"], "first": 5, "query": ""})
    assert shape_problems(example["response"], body) == []


def test_payouts_page_shape(make_shop: Callable[..., Shopify]) -> None:
    example = load("graphql-payouts-page.json")
    body = make_shop(rich_world()).gql(
        example["request"]["body"]["query"], example["request"]["body"]["variables"]
    )
    assert shape_problems(example["response"], body) == []


def test_balance_transactions_page_shape(make_shop: Callable[..., Shopify]) -> None:
    example = load("graphql-balance-transactions-page.json")
    shop = make_shop(rich_world())
    # payout_id is not a GraphQL filter (README caution): it is ignored, as Shopify ignores it.
    body = shop.gql(example["request"]["body"]["query"], example["request"]["body"]["variables"])
    assert shape_problems(example["response"], body) == []


def test_refund_create_shapes(make_shop: Callable[..., Shopify]) -> None:
    example = load("graphql-refundCreate.json")
    doc = rich_world()
    doc["orders"][0]["refunds"] = []
    doc["orders"][0]["transactions"] = doc["orders"][0]["transactions"][:1]
    doc["orders"][0]["id"] = "450789469"
    doc["orders"][0]["line_items"][0]["id"] = "518995019"
    doc["orders"][0]["transactions"][0]["id"] = "801038806"
    doc["orders"][0]["transactions"][0]["amount"] = "209.00"
    doc["orders"][0]["returns"] = []
    doc["shop"]["locations"].append({"id": "487838322", "name": "Example"})
    doc["inventory"][0]["available"]["487838322"] = 0
    shop = make_shop(doc)
    request = example["request"]["body"]
    success = shop.gql(request["query"], request["variables"])
    assert shape_problems(example["response_success"], success) == []
    too_much = json.loads(json.dumps(request["variables"]))
    too_much["input"]["transactions"][0]["amount"] = "500.00"
    failure = shop.gql(request["query"].replace("b3f1c2de", "other-key"), too_much)
    assert shape_problems(example["response_user_error"], failure) == []
