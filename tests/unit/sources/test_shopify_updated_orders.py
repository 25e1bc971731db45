"""``ShopifyClient.iter_updated_orders``: the lean list of every order changed in a window.

Scripted answers (no emulator): what the client asks (the window, no financial status, full
pages of 250 at about one point an order) and what it makes of each node: a stamp, a stamp
whose time could not be read (the order counts as changed), or an entry kept for review when
the order's id cannot be sent back to Shopify.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sources_scripted import ScriptedTransport, gql

from recon.clock import VirtualClock
from recon.models import OrderStamp, Quarantined
from recon.sources.documents import MAX_QUERY_COST, estimate_cost
from recon.sources.http import RetryPolicy
from recon.sources.shopify import ShopifyClient

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 4, tzinfo=UTC)


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


def _page(nodes: list[Any], cursor: str | None) -> httpx.Response:
    info = {"hasNextPage": cursor is not None, "endCursor": cursor}
    return gql({"orders": {"pageInfo": info, "nodes": nodes}})


def _node(number: int, at: str = "2026-01-02T10:00:00Z") -> dict[str, Any]:
    return {"id": f"gid://shopify/Order/{number}", "updatedAt": at}


def test_it_lists_every_order_of_the_window_whatever_its_status_in_full_pages() -> None:
    transport = ScriptedTransport(
        [
            _page([_node(1), _node(2)], "c1"),
            _page([_node(2), _node(3, "2026-01-03T09:00:00Z")], None),
        ]
    )
    stamps = list(_client(transport).iter_updated_orders(START, END))
    assert stamps == [
        OrderStamp(id="1", updated_at=datetime(2026, 1, 2, 10, tzinfo=UTC)),
        OrderStamp(id="2", updated_at=datetime(2026, 1, 2, 10, tzinfo=UTC)),
        OrderStamp(id="3", updated_at=datetime(2026, 1, 3, 9, tzinfo=UTC)),
    ]  # order 2, on both pages (a page boundary moved under the list), is named once
    first, second = transport.bodies()
    query = first["variables"]["query"]
    assert query == "updated_at:>='2026-01-01T00:00:00Z' AND updated_at:<'2026-01-04T00:00:00Z'"
    assert "financial_status" not in query  # a restock-only refund leaves the order PAID
    assert first["variables"]["first"] == 250
    assert estimate_cost(first["query"], first["variables"]) == 2 + 250 <= MAX_QUERY_COST
    assert second["variables"]["after"] == "c1"


def test_an_unreadable_time_counts_as_changed_and_a_foreign_id_is_kept_for_review() -> None:
    nodes = [
        _node(1, at="yesterday"),
        {"id": "gid://shopify/Order/not-a-number", "updatedAt": "2026-01-02T10:00:00Z"},
        {"updatedAt": "2026-01-02T10:00:00Z"},
        None,
    ]
    items = list(_client(ScriptedTransport([_page(nodes, None)])).iter_updated_orders(START, END))
    assert items[0] == OrderStamp(id="1", updated_at=None)
    held = items[1:]
    assert all(isinstance(q, Quarantined) for q in held)
    assert [(q.kind, q.record_id, q.field) for q in held if isinstance(q, Quarantined)] == [
        ("order", None, "id"),
        ("order", None, "id"),
        ("order", None, "$"),
    ]
    first = held[0]
    assert isinstance(first, Quarantined)
    assert "OrdersUpdated" in first.reason and "digits expected" in first.reason
    assert first.raw["id"] == "gid://shopify/Order/not-a-number"
