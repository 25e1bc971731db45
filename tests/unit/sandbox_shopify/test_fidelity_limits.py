"""Shopify's less obvious limits, as the emulator serves them (shopify-admin-api.md §1-§6, §15):
the 60-day window without read_all_orders, granted scopes, ACCESS_DENIED partial data, costs that
drift from the formula, the deep-pagination cap, THROTTLED as 200 or 429, the served version.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from recon.sandbox.faults import Faults
from recon.sandbox.world import RECON_SCOPES
from tests.unit.sandbox_shopify.inline_world import NOW, T0, Shopify, order_doc, world_doc

WITHOUT_ALL_ORDERS = [s for s in RECON_SCOPES if s != "read_all_orders"]
ORDERS = "query($q: String) { orders(first: 50, query: $q) { nodes { id } } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
IDS = [
    "gid://shopify/Order/1001",
    "gid://shopify/Order/1002",
    "gid://shopify/Refund/300001",
    "gid://shopify/Refund/300002",
    "gid://shopify/OrderTransaction/200001",
]


def _ages_world(scopes: list[str] | None = None) -> dict[str, Any]:
    """Order 1 was created 61 days before now (refunded), order 2 ten days before (refunded)."""
    orders = [
        order_doc(1, created=NOW - timedelta(days=61), refunded="25.00"),
        order_doc(2, created=NOW - timedelta(days=10), refunded="25.00"),
    ]
    doc = world_doc(orders)
    if scopes is not None:
        doc["shop"]["scopes"] = scopes
    return doc


def test_without_read_all_orders_old_orders_and_their_children_are_invisible(
    make_shop: Callable[..., Shopify],
) -> None:
    shop = make_shop(_ages_world(WITHOUT_ALL_ORDERS))
    listed = shop.gql(ORDERS)["data"]["orders"]["nodes"]
    assert [n["id"] for n in listed] == ["gid://shopify/Order/1002"]  # silently absent, no error
    body = shop.gql(NODES, {"ids": IDS})
    assert "errors" not in body
    assert [n and n["id"] for n in body["data"]["nodes"]] == [
        None,
        "gid://shopify/Order/1002",
        None,
        "gid://shopify/Refund/300002",
        None,
    ]


def test_with_read_all_orders_every_order_is_visible(make_shop: Callable[..., Shopify]) -> None:
    shop = make_shop(_ages_world())  # the default grants every scope recon needs
    assert len(shop.gql(ORDERS)["data"]["orders"]["nodes"]) == 2
    assert all(node is not None for node in shop.gql(NODES, {"ids": IDS})["data"]["nodes"])


def test_current_app_installation_lists_the_granted_scopes(
    make_shop: Callable[..., Shopify],
) -> None:
    query = "{ currentAppInstallation { id accessScopes { handle description } } }"
    granted = make_shop(_ages_world(["read_orders"])).gql(query)["data"]
    assert [s["handle"] for s in granted["currentAppInstallation"]["accessScopes"]] == [
        "read_orders"
    ]
    default = make_shop(_ages_world()).gql(query)["data"]["currentAppInstallation"]
    assert {s["handle"] for s in default["accessScopes"]} >= {
        "read_all_orders",
        "read_shopify_payments_payouts",
    }


def test_payouts_without_their_scope_are_null_with_an_access_denied_error(
    make_shop: Callable[..., Shopify],
) -> None:
    shop = make_shop(_ages_world(["read_orders", "read_all_orders"]))
    body = shop.gql(
        "{ orders(first: 1) { nodes { id } } "
        "shopifyPaymentsAccount { payouts(first: 5) { nodes { id } } } }"
    )
    assert body["data"]["shopifyPaymentsAccount"] is None
    assert len(body["data"]["orders"]["nodes"]) == 1  # partial data: the rest still answered
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert error["path"] == ["shopifyPaymentsAccount"]
    assert "read_shopify_payments_payouts" in error["message"]


def test_payments_nodes_without_the_scope_are_denied_item_by_item(
    make_shop: Callable[..., Shopify],
) -> None:
    ids = [
        "gid://shopify/Order/1002",
        "gid://shopify/ShopifyPaymentsPayout/1",
        "gid://shopify/ShopifyPaymentsBalanceTransaction/1",
    ]
    body = make_shop(_ages_world(["read_orders", "read_all_orders"])).gql(NODES, {"ids": ids})
    assert [n and n["id"] for n in body["data"]["nodes"]] == [ids[0], None, None]
    assert [e["path"] for e in body["errors"]] == [["nodes", 1], ["nodes", 2]]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"ACCESS_DENIED"}
    granted = make_shop(_ages_world()).gql(NODES, {"ids": ids})  # unknown ids: null, no error
    assert "errors" not in granted and granted["data"]["nodes"][1:] == [None, None]
    cards = make_shop(_ages_world(["read_orders", "read_gift_cards"]))
    assert "errors" not in cards.gql(NODES, {"ids": ["gid://shopify/GiftCard/1"]})  # own scope


def test_cost_multiplier_scales_requested_cost_and_can_exceed_the_cap(
    make_shop: Callable[..., Shopify],
) -> None:
    query = (  # 2 + n x (1 + lineItems 2 + 10): 13 per order, as OrdersPage in §15
        "query($n: Int!) { orders(first: $n) "
        "{ nodes { id lineItems(first: 10) { nodes { id } } } } }"
    )
    plain = make_shop(world_doc([]))
    assert plain.gql(query, {"n": 60})["extensions"]["cost"]["requestedQueryCost"] == 2 + 60 * 13
    drifted = make_shop(world_doc([]), Faults(cost_multiplier=1.3))
    body = drifted.gql(query, {"n": 60})  # 782 by the formula, 1,017 as served
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1017
    assert drifted.gql(query, {"n": 50})["extensions"]["cost"]["requestedQueryCost"] == 848


def _many_orders(count: int, cap: int) -> dict[str, Any]:
    orders = [order_doc(n, created=NOW - timedelta(hours=n)) for n in range(1, count + 1)]
    doc = world_doc(orders)
    doc["shop"]["deep_page_cap"] = cap
    return doc


def test_deep_pagination_stops_at_the_cap_although_more_records_match(
    make_shop: Callable[..., Shopify],
) -> None:
    shop = make_shop(_many_orders(8, cap=5))
    query = (
        "query($after: String) { orders(first: 2, after: $after) "
        "{ pageInfo { hasNextPage endCursor } nodes { id } } }"
    )
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = shop.gql(query, {"after": after})["data"]["orders"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 5 == len(set(seen))
    # Two narrower queries (the window split in halves) reach every record.
    middle = (NOW - timedelta(hours=4, minutes=30)).isoformat()
    halves = [shop.gql(ORDERS, {"q": f"created_at:{op}'{middle}'"}) for op in ("<", ">=")]
    ids = {n["id"] for half in halves for n in half["data"]["orders"]["nodes"]}
    assert len(ids) == 8 and set(seen) < ids


def test_default_deep_page_cap_is_shopifys(make_shop: Callable[..., Shopify]) -> None:
    assert make_shop(world_doc([])).state.world.shop.deep_page_cap == 25_000


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_status_is_configurable(make_shop: Callable[..., Shopify], status: int) -> None:
    shop = make_shop(world_doc([]), Faults(throttle_storm=True, throttled_status=status))
    response = shop.post("{ orders(first: 1) { nodes { id } } }")
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    shop.state.faults.throttle_storm = False
    assert shop.post("{ orders(first: 1) { nodes { id } } }").status_code == 200


@pytest.mark.parametrize("version", ["2026-01", "2026-04"])
def test_served_version_is_echoed(shop: Shopify, version: str) -> None:
    response = shop.post("{ orders(first: 1) { nodes { id } } }", version=version)
    assert response.headers["X-Shopify-API-Version"] == version


def test_short_decimals_switch_prints_amounts_as_shopifys_own_payloads_do(
    make_shop: Callable[..., Shopify],
) -> None:
    """examples/shopify/rest-refund-create.json (verbatim) has "348.0": the form is not settled."""
    doc = world_doc([order_doc(1, created=T0, refunded="25.00"), order_doc(2, created=T0)])
    doc["orders"][1]["transactions"][0]["amount"] = "50.10"
    query = """{ orders(first: 5) { nodes { totalRefundedSet { shopMoney { amount } }
      transactions { amountSet { presentmentMoney { amount } } } } } }"""

    def amounts(faults: Faults | None) -> list[str]:
        nodes = make_shop(doc, faults).gql(query)["data"]["orders"]["nodes"]
        return [n["totalRefundedSet"]["shopMoney"]["amount"] for n in nodes] + [
            t["amountSet"]["presentmentMoney"]["amount"] for n in nodes for t in n["transactions"]
        ]

    assert amounts(None) == ["25.00", "0.00", "50.00", "25.00", "50.10"]
    assert amounts(Faults(shopify_short_decimals=True)) == ["25.0", "0.0", "50.0", "25.0", "50.1"]
