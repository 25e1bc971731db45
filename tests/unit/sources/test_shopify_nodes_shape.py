"""``nodes(ids:)`` answers of the wrong shape: nothing may be read as "not visible" from them.

Shopify answers ``[Node]!`` with one entry per id asked, ``null`` in place for an id it cannot
show (shopify-admin-api.md §6). A list of another length (or no list) cannot be matched to the
ids: every id of the call is kept for review as a shape error, none is marked not visible.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql

from recon.clock import VirtualClock
from recon.models import OrderRecord, Quarantined, RefundRecord
from recon.sources.http import RetryPolicy
from recon.sources.shopify import NOT_VISIBLE, ShopifyClient
from recon.sync import not_visible_orders

NO_MORE = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}


def _client(transport: ScriptedTransport) -> ShopifyClient:
    return ShopifyClient(
        httpx.Client(transport=transport),
        base_url="https://shop.example",
        api_version="2026-04",
        token="shpat_test_token",
        clock=VirtualClock(),
        policy=RetryPolicy(base_delay=0.01),
        check_scopes=False,
    )


def _order(number: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "createdAt": "2025-12-20T16:09:21Z",
        "updatedAt": "2026-01-01T14:02:11Z",
        "cancelledAt": None,
        "currencyCode": "USD",
        "presentmentCurrencyCode": "USD",
        "displayFinancialStatus": "PAID",
        "returnStatus": "NO_RETURN",
        "test": False,
        "tags": [],
        "refunds": [],
        "lineItems": NO_MORE,
    }


@pytest.mark.parametrize(
    ("nodes", "said"),
    [
        ([_order(1)], "1 entries for 3 ids"),  # shorter: two ids would have read as deleted
        ([_order(1), None, None, None], "4 entries for 3 ids"),  # longer
        (None, "no list"),
    ],
)
def test_a_nodes_list_of_another_length_marks_no_order_not_visible(
    nodes: list[Any] | None, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    transport = ScriptedTransport([gql({"nodes": nodes})])
    items = list(_client(transport).iter_orders_by_id(["1", "2", "3"]))
    assert not_visible_orders([i for i in items if isinstance(i, Quarantined)]) == []
    # Nothing is read from it: each id asked is kept for review (its writes held), naming the
    # query and the ids, and asked again next run.
    assert not [i for i in items if isinstance(i, OrderRecord)]
    assert sorted((q.kind, q.record_id, q.field) for q in items if isinstance(q, Quarantined)) == [
        ("order", "1", "nodes"),
        ("order", "2", "nodes"),
        ("order", "3", "nodes"),
    ]
    for q in items:
        assert isinstance(q, Quarantined)
        assert "OrdersById" in q.reason and said in q.reason
        assert "1, 2, 3" in q.reason
        assert q.reason != NOT_VISIBLE
    assert "OrdersById" in caplog.text and said in caplog.text


def test_a_null_in_place_is_still_not_visible_and_the_rest_read() -> None:
    transport = ScriptedTransport([gql({"nodes": [_order(1), None, _order(3)]})])
    items = list(_client(transport).iter_orders_by_id(["1", "2", "3"]))
    assert sorted(i.id for i in items if isinstance(i, OrderRecord)) == ["1", "3"]
    assert not_visible_orders([i for i in items if isinstance(i, Quarantined)]) == ["2"]


def test_a_node_in_place_of_one_asked_for_is_a_shape_error_not_a_deletion() -> None:
    """The right length, but order 2's place holds an order not asked for: 2 was not answered
    null, so it is not marked (the call's ids are kept for review)."""
    transport = ScriptedTransport([gql({"nodes": [_order(1), _order(9), _order(3)]})])
    items = list(_client(transport).iter_orders_by_id(["1", "2", "3"]))
    assert not_visible_orders([i for i in items if isinstance(i, Quarantined)]) == []
    assert sorted(q.record_id or "" for q in items if isinstance(q, Quarantined)) == [
        "1",
        "2",
        "3",
    ]


def test_refunds_from_a_short_nodes_list_are_held_not_read() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert len(json.loads(request.content)["variables"]["ids"]) == 2
        return gql({"nodes": [None]})

    items = list(_client(ScriptedTransport([answer])).iter_refunds_by_id(["10", "20"]))
    assert not [i for i in items if isinstance(i, RefundRecord)]
    assert sorted((q.kind, q.record_id, q.field) for q in items if isinstance(q, Quarantined)) == [
        ("refund", "10", "nodes"),
        ("refund", "20", "nodes"),
    ]
    assert all("RefundsById" in q.reason for q in items if isinstance(q, Quarantined))
