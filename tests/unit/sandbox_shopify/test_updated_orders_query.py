"""The emulator answers recon's updated-orders list (``OrdersUpdated``) as Shopify does.

The world: five orders a day apart (all paid, no refund), and order 1003 restocked by hand
on day 7 (a refund of no money: one line, ``restockType: RETURN``, no transaction), so its
financial status stays ``PAID`` while its ``updatedAt`` moves to the restock. A sixth order
gets the same kind of restock after the world's now, which Shopify does not show yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from recon.sandbox.faults import Faults
from recon.sources.documents import load_document
from recon.sources.shopify import window_query
from tests.unit.sandbox_shopify.inline_world import NOW, T0, Shopify, iso, order_doc, world_doc

REFERENCE = Path("/work/shared/reference")
UPDATED = load_document("OrdersUpdated")
RESTOCKED_AT = T0 + timedelta(days=6)  # order 1003's hand-made restock
LATER = NOW + timedelta(days=1)  # order 1006's, after the world's now


def _restock(n: int, at: datetime) -> dict[str, Any]:
    """A refund of order ``n`` that moves no money: one unit back to stock, no transaction."""
    return {
        "id": str(310000 + n),
        "created_at": iso(at),
        "lines": [
            {
                "id": str(410000 + n),
                "line_item_id": str(100000 + n),
                "quantity": 1,
                "restock_type": "RETURN",
                "restocked": True,
                "location_id": "1",
                "subtotal": "0.00",
            }
        ],
    }


@pytest.fixture
def shop(make_shop: Callable[..., Shopify]) -> Shopify:
    orders = [order_doc(n, created=T0 + timedelta(days=n - 1)) for n in range(1, 7)]
    orders[2]["refunds"] = [_restock(3, RESTOCKED_AT)]
    orders[5]["refunds"] = [_restock(6, LATER)]
    return make_shop(world_doc(orders))


def _list(shop: Shopify, start: datetime, end: datetime, first: int = 250) -> list[Any]:
    """Every page of the list over [start, end), as the client pages it."""
    pages, after = [], None
    while True:
        body = shop.gql(
            UPDATED,
            {"first": first, "after": after, "query": window_query("updated_at", start, end)},
        )
        connection = body["data"]["orders"]
        pages.append(connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            return pages
        after = connection["pageInfo"]["endCursor"]


def test_a_restock_with_no_money_moves_updated_at_into_the_window(shop: Shopify) -> None:
    """Over day 7: order 1003 (its restock), whatever its financial status; the sweep's
    ``financial_status`` filter does not list it, which is why this list exists."""
    day7 = (T0 + timedelta(days=6), T0 + timedelta(days=7))
    (page,) = _list(shop, *day7)
    assert page == [{"id": "gid://shopify/Order/1003", "updatedAt": iso(RESTOCKED_AT)[:19] + "Z"}]
    swept = shop.gql(
        load_document("OrdersPage"),
        {"first": 10, "query": f"{window_query('updated_at', *day7)} AND financial_status:paid"},
    )
    assert [n["displayFinancialStatus"] for n in swept["data"]["orders"]["nodes"]] == ["PAID"]


def test_pages_are_sorted_by_updated_at_and_name_each_order_once(shop: Shopify) -> None:
    pages = _list(shop, T0, NOW, first=2)
    assert [len(p) for p in pages] == [2, 2, 2]
    listed = [n["id"].rsplit("/", 1)[1] for p in pages for n in p]
    assert listed == ["1001", "1002", "1004", "1005", "1006", "1003"]  # 1003 moved to day 7
    times = [n["updatedAt"] for p in pages for n in p]
    assert times == sorted(times)


def test_a_restock_after_now_is_listed_once_the_clock_passes_it(shop: Shopify) -> None:
    window = (NOW, NOW + timedelta(days=2))
    assert _list(shop, *window) == [[]]
    shop.clock.advance(timedelta(days=1, seconds=1))
    assert [n["id"] for p in _list(shop, *window) for n in p] == ["gid://shopify/Order/1006"]


def test_cost_is_one_point_an_order_and_only_what_came_back_is_kept(shop: Shopify) -> None:
    """Requested: the connection 2 + 250 orders x 1 (ids and times are free); actual: 2 + the
    orders returned (shopify-admin-api.md §15)."""
    body = shop.gql(UPDATED, {"first": 250, "query": window_query("updated_at", T0, NOW)})
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 250
    assert cost["actualQueryCost"] == 2 + len(body["data"]["orders"]["nodes"]) == 2 + 6


def test_a_short_bucket_throttles_it_like_any_query(shop: Shopify) -> None:
    bucket = shop.client.app.state.engine.bucket  # type: ignore[attr-defined]
    assert bucket.take(1900)  # someone else drained the bucket
    throttled = shop.gql(UPDATED, {"first": 250, "query": window_query("updated_at", T0, NOW)})
    expected = json.loads((REFERENCE / "examples/shopify/graphql-throttled-error.json").read_text())
    assert throttled["errors"] == expected["body"]["errors"]
    assert "data" not in throttled
    assert throttled["extensions"]["cost"]["requestedQueryCost"] == 252


def test_a_throttle_storm_throttles_it(make_shop: Callable[..., Shopify]) -> None:
    shop = make_shop(world_doc([]), Faults(throttle_storm=True))
    body = shop.gql(UPDATED, {"first": 250, "query": window_query("updated_at", T0, NOW)})
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
