"""Orders, payouts and balance transactions page completely, in order, and honour search filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.unit.sandbox_shopify.inline_world import NOW, T0, Shopify, order_doc, world_doc

ORDERS = """query($first: Int!, $after: String, $query: String, $sortKey: OrderSortKeys,
    $reverse: Boolean) {
  orders(first: $first, after: $after, query: $query, sortKey: $sortKey, reverse: $reverse) {
    pageInfo { hasNextPage endCursor } nodes { id updatedAt } } }"""


def walk(shop: Shopify, page_size: int, **variables: Any) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        body = shop.gql(ORDERS, {"first": page_size, "after": after, **variables})
        page = body["data"]["orders"]
        ids += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


@pytest.fixture
def many(make_shop: Callable[..., Shopify]) -> Shopify:
    """53 orders, some created in the same second (ties broken by id), two still in the future."""
    orders = [order_doc(n, created=T0 + timedelta(hours=n // 3)) for n in range(1, 54)]
    orders.append(order_doc(60, created=NOW + timedelta(days=1)))
    orders.append(order_doc(61, created=NOW + timedelta(days=2)))
    return make_shop(world_doc(orders))


@pytest.mark.parametrize("sort_key", ["UPDATED_AT", "CREATED_AT", "ID", "PROCESSED_AT"])
def test_paging_returns_every_visible_order_once_in_both_directions(
    many: Shopify, sort_key: str
) -> None:
    expected = [f"gid://shopify/Order/{1000 + n}" for n in range(1, 54)]
    forward = walk(many, 7, sortKey=sort_key)
    backward = walk(many, 7, sortKey=sort_key, reverse=True)
    assert forward == expected
    assert backward == list(reversed(expected))


def test_orders_appear_when_the_clock_reaches_them(many: Shopify) -> None:
    assert len(walk(many, 250)) == 53
    many.clock.advance(timedelta(days=1, seconds=1))
    assert walk(many, 250)[-1] == "gid://shopify/Order/1060"


def test_updated_at_window_filter(many: Shopify) -> None:
    query = "updated_at:>='2026-01-01T02:00:00Z' AND updated_at:<'2026-01-01T04:00:00Z'"
    ids = walk(many, 2, query=query, sortKey="UPDATED_AT")
    # hours 2 and 3 hold orders n with n // 3 in {2, 3}: n = 6..11
    assert ids == [f"gid://shopify/Order/{1000 + n}" for n in range(6, 12)]


def test_filters_on_id_and_financial_status(shop: Shopify) -> None:
    assert walk(shop, 10, query="id:>=1003", sortKey="ID") == [
        "gid://shopify/Order/1003",
        "gid://shopify/Order/1004",
        "gid://shopify/Order/1005",
    ]
    assert walk(shop, 10, query="financial_status:refunded") == ["gid://shopify/Order/1004"]
    assert walk(
        shop, 10, query="financial_status:partially_refunded OR financial_status:refunded"
    ) == ["gid://shopify/Order/1002", "gid://shopify/Order/1004"]
    assert walk(shop, 10, query="created_at:2026-01-03") == ["gid://shopify/Order/1003"]
    assert len(walk(shop, 10, query="no_such_filter:whatever")) == 5  # unknown terms are ignored


def test_refund_visible_later_moves_updated_at(make_shop: Callable[..., Shopify]) -> None:
    late = order_doc(1, created=T0, refunded="10.00")
    late["refunds"][0]["created_at"] = (NOW + timedelta(hours=1)).isoformat()
    late["transactions"][1]["processed_at"] = (NOW + timedelta(hours=1)).isoformat()
    shop = make_shop(world_doc([late]))
    query = (
        '{ order(id: "gid://shopify/Order/1001") '
        "{ updatedAt displayFinancialStatus refunds { id } } }"
    )
    before = shop.gql(query)["data"]["order"]
    shop.clock.advance(timedelta(hours=2))
    after = shop.gql(query)["data"]["order"]
    assert before == {
        "updatedAt": "2026-01-01T00:00:00Z",
        "displayFinancialStatus": "PAID",
        "refunds": [],
    }
    assert after["updatedAt"] == "2026-01-10T01:00:00Z"
    assert after["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert walk(shop, 5, query="updated_at:>='2026-01-10T00:00:00Z'", sortKey="UPDATED_AT") == [
        "gid://shopify/Order/1001"
    ]


def test_page_size_over_250_is_refused(shop: Shopify) -> None:
    body = shop.gql(ORDERS, {"first": 251})
    assert "data" not in body
    assert "251" in body["errors"][0]["message"]


def test_nodes_keeps_input_order_with_nulls(shop: Shopify) -> None:
    ids = [
        "gid://shopify/Order/1003",
        "gid://shopify/Order/999999",
        "gid://shopify/Refund/300002",
        "not-a-gid",
        "gid://shopify/Order/1001",
    ]
    body = shop.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Order { name } } }", {"ids": ids}
    )
    assert body["data"]["nodes"] == [
        {"id": "gid://shopify/Order/1003", "name": "#1003"},
        None,
        {"id": "gid://shopify/Refund/300002"},
        None,
        {"id": "gid://shopify/Order/1001", "name": "#1001"},
    ]


def test_nodes_refuses_more_than_250_ids(shop: Shopify) -> None:
    ids = [f"gid://shopify/Order/{n}" for n in range(251)]
    body = shop.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert "data" not in body and "251" in body["errors"][0]["message"]


PAYOUTS = """query($first: Int!, $after: String, $query: String, $reverse: Boolean) {
  shopifyPaymentsAccount { payouts(first: $first, after: $after, query: $query, reverse: $reverse) {
    pageInfo { hasNextPage endCursor } nodes { id status issuedAt } } } }"""
BALANCE = """query($first: Int!, $after: String, $query: String) {
  shopifyPaymentsAccount { balanceTransactions(first: $first, after: $after, query: $query) {
    pageInfo { hasNextPage endCursor } nodes { id associatedPayout { id status } } } } }"""


def _payments_world() -> dict[str, Any]:
    payouts = [
        {
            "id": str(700 + d),
            "issued_at": (T0 + timedelta(days=d)).isoformat(),
            "status": "PAID" if d < 5 else "SCHEDULED",
            "currency": "USD",
            "net": "10.00",
        }
        for d in range(12)
    ]  # days 10, 11 are after NOW: invisible
    rows = [
        {
            "id": str(800 + d),
            "type": "CHARGE",
            "currency": "USD",
            "amount": "10.00",
            "net": "10.00",
            "transaction_date": (T0 + timedelta(days=d, hours=1)).isoformat(),
            "payout_id": str(700 + d) if d < 7 else None,
            "payout_status": "PAID" if d < 5 else ("SCHEDULED" if d < 7 else "PENDING"),
        }
        for d in range(9)
    ]
    return world_doc([], payouts=payouts, balance_transactions=rows)


def _walk_account(
    shop: Shopify, document: str, field: str, **variables: Any
) -> list[dict[str, Any]]:
    found, after = [], None
    while True:
        page = shop.gql(document, {"first": 3, "after": after, **variables})["data"][
            "shopifyPaymentsAccount"
        ][field]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def test_payouts_page_and_filter(make_shop: Callable[..., Shopify]) -> None:
    shop = make_shop(_payments_world())
    all_ids = [p["id"] for p in _walk_account(shop, PAYOUTS, "payouts")]
    assert all_ids == [f"gid://shopify/ShopifyPaymentsPayout/{700 + d}" for d in range(10)]
    reverse = [p["id"] for p in _walk_account(shop, PAYOUTS, "payouts", reverse=True)]
    assert reverse == list(reversed(all_ids))
    scheduled = _walk_account(
        shop, PAYOUTS, "payouts", query="status:scheduled AND issued_at:>='2026-01-08'"
    )
    assert [p["id"][-3:] for p in scheduled] == ["707", "708", "709"]


def test_balance_transactions_filter_by_payout_status(make_shop: Callable[..., Shopify]) -> None:
    shop = make_shop(_payments_world())
    pending = _walk_account(shop, BALANCE, "balanceTransactions", query="payout_status:pending")
    assert pending == [
        {
            "id": f"gid://shopify/ShopifyPaymentsBalanceTransaction/{n}",
            "associatedPayout": {"id": None, "status": "PENDING"},
        }
        for n in (807, 808)
    ]
    by_date = _walk_account(shop, BALANCE, "balanceTransactions", query="payout_date:2026-01-03")
    assert [row["id"][-3:] for row in by_date] == ["802"]
