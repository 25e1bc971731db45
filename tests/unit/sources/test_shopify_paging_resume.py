"""A window list whose cursor cannot be followed resumes from its last row's time.

Every window list (the refunded-orders sweep, payouts, balance transactions, gift cards) is
sorted by the timestamp its window filters on, so the rows not read yet are exactly those at or
after the last row read: a new query from that row's second reads them without the cursor
(shopify-admin-api.md §5: "if a cursor is rejected, restart the window"). A page saying there is
more without a cursor, or a cursor Shopify refuses, used to fail the run, and every run after it
while Shopify kept answering so. Only when the last row's second is the window's own start (the
query cannot start later) is the list still refused as read in part.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql, order_node, shopify_client

from recon.errors import CursorLoopError, FatalHTTPError, PagingError
from recon.models import OrderRecord, Quarantined, RefundRecord
from recon.sources.shopify import ShopifyClient

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)


def _client(transport: ScriptedTransport, deep_page_cap: int = 25_000) -> ShopifyClient:
    client: ShopifyClient = shopify_client(transport, deep_page_cap)
    return client


def _order(number: int, updated: str) -> dict[str, Any]:
    return order_node(number, updated)


def _page(orders: list[tuple[int, str]], info: object) -> httpx.Response:
    nodes = [_order(number, updated) for number, updated in orders]
    connection: dict[str, Any] = {"nodes": nodes}
    if info is not None:
        connection["pageInfo"] = info
    return gql({"orders": connection})


EMPTY = _page([], {"hasNextPage": False, "endCursor": None})


def _ids(client: ShopifyClient) -> list[str]:
    return [o.id for o in client.iter_refunded_orders(START, END) if isinstance(o, OrderRecord)]


@pytest.mark.parametrize(
    "broken", [{"hasNextPage": True, "endCursor": None}, None], ids=["no-cursor", "no-pageInfo"]
)
def test_a_page_without_a_way_on_resumes_from_its_last_rows_second(broken: object) -> None:
    """Page 1 says there is more but gives no cursor (or no pageInfo): the sweep asks again
    from order 2's second, reads order 3 after it, and every order is read once."""
    transport = ScriptedTransport(
        [
            _page([(1, "2026-01-03T10:00:00Z"), (2, "2026-01-05T08:30:00.250Z")], broken),
            _page(
                [(2, "2026-01-05T08:30:00.250Z"), (3, "2026-01-09T12:00:00Z")],
                {"hasNextPage": False, "endCursor": "c9"},
            ),
            EMPTY,  # financial_status:partially_refunded
        ]
    )
    client = _client(transport)
    assert _ids(client) == ["1", "2", "3"]
    resumed = transport.bodies()[1]["variables"]
    assert resumed["after"] is None
    assert "updated_at:>='2026-01-05T08:30:00Z'" in resumed["query"]
    assert "updated_at:<'2026-02-01T00:00:00Z'" in resumed["query"]
    assert "financial_status:refunded" in resumed["query"]


def test_a_refused_cursor_restarts_the_window_from_the_last_row_read() -> None:
    """Page 2's cursor is refused (cursors are short-lived): the window is asked again from
    the last row of page 1, without a cursor, and nothing is lost."""
    refused = gql(
        None, errors=[{"message": "Invalid cursor", "extensions": {"code": "BAD_REQUEST"}}]
    )
    transport = ScriptedTransport(
        [
            _page([(1, "2026-01-03T10:00:00Z")], {"hasNextPage": True, "endCursor": "c1"}),
            refused,
            _page(
                [(1, "2026-01-03T10:00:00Z"), (4, "2026-01-20T00:00:00Z")],
                {"hasNextPage": False, "endCursor": None},
            ),
            EMPTY,
        ]
    )
    client = _client(transport)
    assert _ids(client) == ["1", "4"]
    bodies = transport.bodies()
    assert bodies[1]["variables"]["after"] == "c1"
    assert bodies[2]["variables"]["after"] is None
    assert "updated_at:>='2026-01-03T10:00:00Z'" in bodies[2]["variables"]["query"]


def test_a_list_that_cannot_start_later_is_still_refused_as_read_in_part() -> None:
    """Every row read sits in the window's first second: a new query could not start later,
    so the sweep stops naming the query and the field, as before."""
    transport = ScriptedTransport(
        [_page([(1, "2026-01-01T00:00:00.500Z")], {"hasNextPage": True, "endCursor": None})]
    )
    with pytest.raises(PagingError) as failed:
        _ids(_client(transport))
    assert "pageInfo.endCursor is null while hasNextPage is true" in str(failed.value)
    assert len(transport.requests) == 1


def test_a_first_page_refused_is_not_retried_as_a_cursor_problem() -> None:
    """A refusal of the window's first page (no cursor sent) is the run's error, as before."""
    refused = gql(None, errors=[{"message": "Field 'x' doesn't exist"}])
    transport = ScriptedTransport([refused])
    with pytest.raises(FatalHTTPError):
        _ids(_client(transport))
    assert len(transport.requests) == 1


def test_a_list_broken_on_every_page_ends_in_the_error_not_a_loop() -> None:
    """Shopify drops pageInfo on every page: the sweep goes on while each query starts
    later, and stops with PagingError once it cannot (no endless asking)."""
    transport = ScriptedTransport(
        [
            _page([(1, "2026-01-03T10:00:00Z"), (2, "2026-01-04T10:00:00Z")], None),
            _page([(2, "2026-01-04T10:00:00Z")], None),
        ]
    )
    with pytest.raises(PagingError):
        _ids(_client(transport))
    assert len(transport.requests) == 2


def _refund(number: int, cursor: str | None) -> dict[str, Any]:
    money = {"amount": "10.00", "currencyCode": "USD"}
    return {
        "id": f"gid://shopify/Refund/{number}",
        "note": None,
        "createdAt": "2026-01-02T10:00:00Z",
        "processedAt": "2026-01-02T10:00:00Z",
        "order": {"id": "gid://shopify/Order/1"},
        "return": None,
        "totalRefundedSet": {"shopMoney": money, "presentmentMoney": money},
        "refundLineItems": {
            "pageInfo": {"hasNextPage": cursor is not None, "endCursor": cursor},
            "nodes": [],
        },
        "transactions": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []},
    }


def test_an_inner_list_that_repeats_its_cursor_spoils_its_record_not_the_run() -> None:
    """Refund 1's line items hand back the cursor they were asked with: that refund cannot be
    read whole, so it is kept for review (as for an inner list without a cursor) and refund 2
    is read; the night no longer fails on one refund, every night while Shopify answers so."""
    repeated = gql(
        {
            "node": {
                "refundLineItems": {
                    "pageInfo": {"hasNextPage": True, "endCursor": "l1"},
                    "nodes": [],
                }
            }
        }
    )
    transport = ScriptedTransport([gql({"nodes": [_refund(1, "l1"), _refund(2, None)]}), repeated])
    items = list(_client(transport).iter_refunds_by_id(["1", "2"]))
    assert [r.id for r in items if isinstance(r, RefundRecord)] == ["2"]
    (kept,) = [q for q in items if isinstance(q, Quarantined)]
    assert (kept.kind, kept.record_id) == ("refund", "1")
    assert kept.field == "refundLineItems.pageInfo.endCursor"
    assert "repeated" in kept.reason and "RefundLineItemsPage" in kept.reason


def test_a_window_list_repeating_a_cursor_resumes_from_its_last_row() -> None:
    """Page 2 hands back page 1's cursor: following it would go round in circles, so the
    sweep asks again from page 2's last row and reads on."""
    transport = ScriptedTransport(
        [
            _page([(1, "2026-01-03T10:00:00Z")], {"hasNextPage": True, "endCursor": "same"}),
            _page([(2, "2026-01-04T10:00:00Z")], {"hasNextPage": True, "endCursor": "same"}),
            _page(
                [(2, "2026-01-04T10:00:00Z"), (3, "2026-01-05T10:00:00Z")],
                {"hasNextPage": False, "endCursor": None},
            ),
            EMPTY,
        ]
    )
    assert _ids(_client(transport)) == ["1", "2", "3"]
    resumed = transport.bodies()[2]["variables"]
    assert resumed["after"] is None
    assert "updated_at:>='2026-01-04T10:00:00Z'" in resumed["query"]


def test_a_cursor_loop_that_cannot_start_later_is_still_refused() -> None:
    transport = ScriptedTransport(
        [
            _page([(1, "2026-01-01T00:00:00Z")], {"hasNextPage": True, "endCursor": "same"}),
            _page([(2, "2026-01-01T00:00:00Z")], {"hasNextPage": True, "endCursor": "same"}),
        ]
    )
    with pytest.raises(CursorLoopError):
        _ids(_client(transport))


def test_every_sweep_order_without_a_readable_id_is_kept_for_review() -> None:
    """Two orders of the sweep carry no id recon can read: each is kept for review with its
    payload. The sweep's de-duplication by id took the second for a repeat of the first and
    dropped it unseen."""
    nodes = [
        _order(1, "2026-01-03T10:00:00Z") | {"id": None, "name": "#A"},
        _order(2, "2026-01-04T10:00:00Z") | {"id": None, "name": "#B"},
    ]
    transport = ScriptedTransport(
        [gql({"orders": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": nodes}}),
         EMPTY]
    )  # fmt: skip
    items = list(_client(transport).iter_refunded_orders(START, END))
    kept = [q for q in items if isinstance(q, Quarantined)]
    assert sorted(q.raw["name"] for q in kept) == ["#A", "#B"]


def test_a_capped_window_whose_last_row_has_no_readable_time_resumes_from_the_row_before() -> None:
    """The deep-paging cap ends the first query on an order whose updatedAt cannot be read
    (it is quarantined): the window resumes from the last time it can read, the row before,
    instead of stopping there with orders after it never read."""
    cap = {"hasNextPage": False, "endCursor": "c"}  # the cap ends paging (§1, §5)
    one, two, bad = (1, "2026-01-03T10:00:00Z"), (2, "2026-01-04T10:00:00Z"), (9, "garbage")
    three = (3, "2026-01-09T12:00:00Z")
    transport = ScriptedTransport(
        [
            _page([one, two, bad], cap),
            _page([two, bad, three], cap),
            _page([three], {"hasNextPage": False, "endCursor": None}),
            EMPTY,
        ]
    )
    items = list(_client(transport, deep_page_cap=3).iter_refunded_orders(START, END))
    assert [o.id for o in items if isinstance(o, OrderRecord)] == ["1", "2", "3"]
    assert [(q.record_id, q.field) for q in items if isinstance(q, Quarantined)] == [
        ("9", "updatedAt")
    ]
    resumed = [body["variables"]["query"].split(" AND ")[0] for body in transport.bodies()]
    assert resumed[1:3] == [
        "updated_at:>='2026-01-04T10:00:00Z'",
        "updated_at:>='2026-01-09T12:00:00Z'",
    ]
