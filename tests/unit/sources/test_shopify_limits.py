"""ShopifyClient at Shopify's limits, against scripted answers: the start-up scope read, the served
API version, MAX_COST_EXCEEDED on the same page, ACCESS_DENIED naming the scope, the total wait
after THROTTLED, and the sizing helpers (shopify-admin-api.md §2, §3, §15, §16).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql, throttled

from recon.clock import VirtualClock
from recon.errors import AuthError
from recon.models import OrderRecord, Quarantined
from recon.sources.documents import (
    MAX_QUERY_COST,
    PAGE_COST_BUDGET,
    PageSizer,
    estimate_cost,
    field_first,
    load_document,
)
from recon.sources.http import RetryPolicy
from recon.sources.shopify import ShopifyClient

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)


def _client(transport: ScriptedTransport, clock: VirtualClock | None = None, **kw: Any) -> Any:
    return ShopifyClient(
        httpx.Client(transport=transport),
        base_url="https://shop.example",
        api_version="2026-04",
        token="shpat_test_token",
        clock=clock or VirtualClock(),
        policy=RetryPolicy(base_delay=0.01),
        **kw,
    )


def _scopes(*handles: str) -> httpx.Response:
    scopes = [{"handle": handle} for handle in handles]
    return gql({"currentAppInstallation": {"accessScopes": scopes}})


def _order(number: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "updatedAt": "2026-01-01T14:02:11Z",
        "currencyCode": "USD",
        "presentmentCurrencyCode": "USD",
        "tags": [],
        "refunds": [],
        "lineItems": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []},
    }


def _page(numbers: list[int], cursor: str | None = None, **kw: Any) -> httpx.Response:
    info = {"hasNextPage": cursor is not None, "endCursor": cursor}
    return gql({"orders": {"pageInfo": info, "nodes": [_order(n) for n in numbers]}}, **kw)


def test_first_call_reads_the_scopes_and_warns_when_read_all_orders_is_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = ScriptedTransport(
        [_scopes("read_orders", "read_shopify_payments_payouts"), gql({"shop": {}}), gql({})]
    )
    client = _client(transport)
    with caplog.at_level(logging.WARNING):
        client.execute("{ shop { id } }", {})
        client.execute("{ shop { id } }", {})
    assert "currentAppInstallation" in transport.bodies()[0]["query"]
    assert len(transport.requests) == 3  # the scopes are read once
    assert client.scopes == {"read_orders", "read_shopify_payments_payouts"}
    (warning,) = caplog.records
    assert "read_all_orders" in warning.getMessage() and "60 days" in warning.getMessage()


def test_nodes_that_resolve_to_null_are_quarantined_by_id() -> None:
    transport = ScriptedTransport([gql({"nodes": [_order(1), None]})])
    items = list(_client(transport, check_scopes=False).iter_orders_by_id(["1", "2"]))
    assert isinstance(items[0], OrderRecord) and items[0].id == "1"
    assert isinstance(items[1], Quarantined)
    assert (items[1].record_id, items[1].field) == ("2", "$")
    assert "older than 60 days without read_all_orders" in items[1].reason


def test_a_served_version_other_than_the_pinned_one_is_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    header = {"X-Shopify-API-Version": "2026-07"}
    transport = ScriptedTransport([gql({"shop": {}}, headers=header)] * 3)
    client = _client(transport, check_scopes=False)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            client.execute("{ shop { id } }", {})
    (warning,) = caplog.records
    assert "2026-04" in warning.getMessage() and "2026-07" in warning.getMessage()
    assert client.versions.served == "2026-07"


def test_same_version_header_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    transport = ScriptedTransport([gql({"shop": {}}, headers={"X-Shopify-API-Version": "2026-04"})])
    with caplog.at_level(logging.WARNING):
        _client(transport, check_scopes=False).execute("{ shop { id } }", {})
    assert caplog.records == []


def test_max_cost_exceeded_shrinks_and_retries_the_same_page() -> None:
    refused = gql(
        None,
        requested=1170,
        errors=[
            {
                "message": "Query cost is 1170, which exceeds the single query max cost limit.",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1170, "maxCost": 1000},
            }
        ],
    )
    transport = ScriptedTransport(
        [_page([1], "c1"), refused, _page([2]), _page([])]  # refused: the second page
    )
    orders = list(_client(transport, check_scopes=False).iter_refunded_orders(START, END))
    assert sorted(o.id for o in orders if isinstance(o, OrderRecord)) == ["1", "2"]
    bodies = [body["variables"] for body in transport.bodies()]
    assert bodies[1]["after"] == bodies[2]["after"] == "c1"  # the same page, asked again
    assert bodies[2]["first"] < bodies[1]["first"]
    assert bodies[2]["first"] * 1170 / bodies[1]["first"] <= 1000


def test_access_denied_names_the_missing_scope() -> None:
    denied = gql(
        {"shopifyPaymentsAccount": None},
        errors=[
            {
                "message": "Access denied for shopifyPaymentsAccount field.",
                "path": ["shopifyPaymentsAccount"],
                "extensions": {"code": "ACCESS_DENIED"},
            }
        ],
    )
    client = _client(ScriptedTransport([denied]), check_scopes=False)
    with pytest.raises(AuthError, match="read_shopify_payments_payouts"):
        list(client.iter_payouts(START, END))


def test_after_throttled_the_wait_is_not_paced_again_on_top() -> None:
    """The reviewer's case: THROTTLED for a query Shopify prices below the client's estimate.

    Waiting (requested - available) / restoreRate is enough; pacing again for the estimate would
    add (estimate - requested) / restoreRate on top.
    """
    clock = VirtualClock()
    transport = ScriptedTransport(
        [throttled(requested=500, available=100, restore=50), _page([1]), _page([])]
    )
    client = _client(transport, clock, check_scopes=False)
    list(client.iter_refunded_orders(START, END))
    first = transport.bodies()[0]
    assert estimate_cost(first["query"], first["variables"]) > 800  # well above Shopify's 500
    assert clock.monotonic() == pytest.approx((500 - 100) / 50)


def test_shrink_always_makes_progress_and_respects_the_budget() -> None:
    sizer = PageSizer()
    document = load_document("OrdersPage")
    first = sizer.size(document, "first", {"first": 0, "query": ""})
    assert estimate_cost(document, {"first": first, "query": ""}) <= PAGE_COST_BUDGET
    variables = {"first": first, "query": ""}
    assert 0 < sizer.shrink(document, "first", variables, 1170) <= first * 1000 // 1170
    assert sizer.shrink(document, "first", {"first": 1, "query": ""}, 1001) == 0
    assert sizer.shrink(document, "first", {"first": 40, "query": ""}, None) < 40


def test_a_capped_window_resumes_at_its_last_rows_timestamp_with_a_new_query() -> None:
    def at_hour(numbers: list[int]) -> httpx.Response:
        nodes = [_order(n) | {"updatedAt": f"2026-01-01T{9 + n}:00:00Z"} for n in numbers]
        info = {"hasNextPage": False, "endCursor": "c"}  # the cap ends paging (§1, §5)
        return gql({"orders": {"pageInfo": info, "nodes": nodes}})

    empty = at_hour([])
    transport = ScriptedTransport([at_hour([1, 2]), at_hour([2, 3]), at_hour([3]), empty])
    client = _client(transport, check_scopes=False, deep_page_cap=2)
    orders = [o.id for o in client.iter_refunded_orders(START, END)]
    assert orders == ["1", "2", "3"]  # order 2 came twice: kept once
    queries = [body["variables"]["query"] for body in transport.bodies()]
    assert [q.split(" AND ")[0] for q in queries] == [
        "updated_at:>='2026-01-01T00:00:00Z'",
        "updated_at:>='2026-01-01T11:00:00Z'",  # order 2's updatedAt, inclusive
        "updated_at:>='2026-01-01T12:00:00Z'",
        "updated_at:>='2026-01-01T00:00:00Z'",  # the next status starts over
    ]
    assert all("updated_at:<'2026-02-01T00:00:00Z'" in q for q in queries)


def test_documents_ask_for_twenty_refunds() -> None:
    for name in ("OrdersById", "OrdersPage"):
        assert field_first(load_document(name), "refunds") == 20


def test_pages_grow_to_the_cap_once_shopify_confirms_the_estimate() -> None:
    """Headroom until the live cost model is confirmed; then no call is wasted on it (§15)."""
    sizer = PageSizer()
    document = load_document("OrdersById")
    cautious = sizer.size(document, "ids", {"ids": []})
    assert estimate_cost(document, {"ids": ["x"] * cautious}) <= PAGE_COST_BUDGET
    variables = {"ids": ["x"] * cautious}
    sizer.observe(document, "ids", variables, float(estimate_cost(document, variables)))
    confirmed = sizer.size(document, "ids", {"ids": []})
    assert confirmed > cautious
    assert estimate_cost(document, {"ids": ["x"] * confirmed}) <= MAX_QUERY_COST
    sizer.observe(document, "ids", variables, 1.3 * estimate_cost(document, variables))
    assert sizer.size(document, "ids", {"ids": []}) < cautious  # off: learned, and headroom again
