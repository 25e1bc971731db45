"""The real ShopifyClient against the Shopify emulator at its limits (shopify-admin-api.md §1-§7,
§15): orders past 60 days, missing scopes, costs above the formula, the deep-pagination cap, more
refunds than ``Order.refunds(first: 20)`` returns, THROTTLED as HTTP 200 and 429.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from recon.clock import VirtualClock
from recon.errors import AuthError
from recon.models import OrderRecord, Quarantined
from recon.sandbox.faults import Faults
from recon.sandbox.server import SandboxServer
from recon.sandbox.shopify import create_shopify_app
from recon.sandbox.state import SHOPIFY_TOKEN, SandboxState
from recon.sandbox.world import RECON_SCOPES
from recon.sandbox.world_io import parse_world
from recon.sources.http import RetryPolicy
from recon.sources.shopify import NOT_VISIBLE, ShopifyClient

with warnings.catch_warnings():  # Starlette 1.x warns at import that it prefers `httpx2`
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EVER = (datetime(2025, 1, 1, tzinfo=UTC), NOW + timedelta(days=1))


def _order(n: int, created: datetime, refunds: int = 1) -> dict[str, Any]:
    """Order 5000+n: 2 x 50.00 paid, ``refunds`` refunds of 1.00 each (partially refunded)."""
    oid = str(5000 + n)
    sale = str(700000 + n * 1000)
    doc: dict[str, Any] = {
        "id": oid,
        "name": f"#{oid}",
        "created_at": created.isoformat(),
        "updated_at": created.isoformat(),
        "currency": "USD",
        "presentment_currency": "USD",
        "line_items": [
            {
                "id": str(600000 + n),
                "sku": f"SKU-{n}",
                "title": "Thing",
                "variant_id": "900",
                "inventory_item_id": "800",
                "quantity": 2,
                "price": "50.00",
            }
        ],
        "transactions": [
            {"id": sale, "kind": "SALE", "amount": "100.00", "processed_at": created.isoformat()}
        ],
        "refunds": [],
    }
    for r in range(refunds):
        at = (created + timedelta(minutes=r + 1)).isoformat()
        refund_id = str(10_000_000 + n * 1000 + r)
        doc["refunds"].append({"id": refund_id, "note": f"RMA {n}-{r}", "created_at": at})
        doc["transactions"].append(
            {
                "id": str(20_000_000 + n * 1000 + r),
                "kind": "REFUND",
                "amount": "1.00",
                "processed_at": at,
                "parent_id": sale,
                "refund_id": refund_id,
            }
        )
    return doc


def _state(orders: list[dict[str, Any]], faults: Faults | None = None, **shop: Any) -> SandboxState:
    world = parse_world(
        {
            "now": NOW.isoformat(),
            "shop": {"locations": [{"id": "1", "name": "Main"}], **shop},
            "inventory": [{"id": "800", "variant_id": "900", "sku": "SKU", "available": {"1": 5}}],
            "orders": orders,
        }
    )
    return SandboxState(world, clock=VirtualClock(world.now), faults=faults)


def _client(state: SandboxState, http: httpx.Client | None = None, **kw: Any) -> ShopifyClient:
    return ShopifyClient(
        http or TestClient(create_shopify_app(state)),
        base_url=str(http.base_url) if http is not None else "http://testserver",
        api_version="2026-04",
        token=SHOPIFY_TOKEN,
        clock=state.clock,
        policy=RetryPolicy(base_delay=0.01),
        **kw,
    )


def _by_kind(items: list[Any]) -> tuple[dict[str, OrderRecord], list[Quarantined]]:
    orders = {item.id: item for item in items if isinstance(item, OrderRecord)}
    return orders, [item for item in items if isinstance(item, Quarantined)]


def test_without_read_all_orders_old_orders_are_quarantined_and_the_start_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    orders = [_order(1, NOW - timedelta(days=90)), _order(2, NOW - timedelta(days=5))]
    state = _state(orders, scopes=[s for s in RECON_SCOPES if s != "read_all_orders"])
    client = _client(state)
    with caplog.at_level(logging.WARNING):
        found, quarantined = _by_kind(list(client.iter_orders_by_id(["5001", "5002", "5999"])))
    assert sorted(found) == ["5002"]
    assert [(q.kind, q.record_id, q.field, q.reason) for q in quarantined] == [
        ("order", "5001", "$", NOT_VISIBLE),
        ("order", "5999", "$", NOT_VISIBLE),
    ]
    warning = [r.getMessage() for r in caplog.records if "read_all_orders" in r.getMessage()]
    assert len(warning) == 1 and "60 days" in warning[0]
    assert client.scopes is not None and "read_all_orders" not in client.scopes
    swept, _ = _by_kind(list(client.iter_refunded_orders(*EVER)))
    assert sorted(swept) == ["5002"]  # silently absent from searches: why the warning matters


def test_with_every_scope_nothing_is_hidden_and_nothing_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = _state([_order(1, NOW - timedelta(days=90)), _order(2, NOW - timedelta(days=5))])
    with caplog.at_level(logging.WARNING):
        found, quarantined = _by_kind(list(_client(state).iter_orders_by_id(["5001", "5002"])))
    assert sorted(found) == ["5001", "5002"] and quarantined == []
    assert "scope" not in caplog.text


def test_payouts_without_their_scope_fail_with_the_scope_named() -> None:
    state = _state([], scopes=["read_orders", "read_all_orders"])
    with pytest.raises(AuthError, match="read_shopify_payments_payouts"):
        list(_client(state).iter_payouts(*EVER))


def test_costs_above_the_formula_shrink_the_page_and_lose_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    orders = [_order(n, NOW - timedelta(hours=n)) for n in range(1, 81)]
    state = _state(orders, Faults(cost_multiplier=1.3))
    client = _client(state)
    with caplog.at_level(logging.WARNING):
        swept, bad = _by_kind(list(client.iter_refunded_orders(*EVER)))
        by_id, bad_ids = _by_kind(list(client.iter_orders_by_id(sorted(swept))))
    assert len(swept) == 80 and len(by_id) == 80 and bad == bad_ids == []
    refusals = [r for r in caplog.records if "refused at cost" in r.getMessage()]
    assert len(refusals) == 2  # one per document: the sizer learns Shopify's figure


def _orders_read_per_query(client: ShopifyClient) -> list[int]:
    """Orders each ``OrdersPage`` call brought back (a response hook on the client's HTTP)."""
    counts: list[int] = []

    def count(response: httpx.Response) -> None:
        response.read()
        data = response.json().get("data") or {}
        if isinstance(data.get("orders"), dict):
            counts.append(len(data["orders"]["nodes"]))

    client._http.event_hooks = {"response": [count]}
    return counts


def test_windows_at_the_deep_paging_cap_resume_from_the_last_row_and_read_every_order() -> None:
    orders = [_order(n, NOW - timedelta(hours=3 * n)) for n in range(1, 24)]
    capped = _client(_state(orders, deep_page_cap=5), deep_page_cap=5)
    per_query = _orders_read_per_query(capped)
    items = list(capped.iter_refunded_orders(*EVER))
    swept, _ = _by_kind(items)
    assert sorted(swept) == [str(5000 + n) for n in range(1, 24)]
    assert len(items) == 23  # each order once
    # Each capped query hands on to one starting at its last row's second: only that row is read
    # twice (23 orders + 5 resumes), where splitting the window re-read whole halves.
    assert sum(per_query) == 23 + 5
    # The same sandbox read by a client that does not resume: the cap silently hides 18 orders.
    naive = _client(_state(orders, deep_page_cap=5), deep_page_cap=10**6)
    assert len(_by_kind(list(naive.iter_refunded_orders(*EVER)))[0]) == 5


def test_more_rows_than_the_cap_in_one_second_are_read_by_id_each_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Eight refunded orders share one updated_at second, and one query reaches five: the
    sweep reads that second again sorted by id, past the cap with ``id:>=``, and every order is
    read once (the five read by time are not yielded twice), in a bounded number of queries."""
    orders = [_order(n, NOW - timedelta(days=1)) for n in range(1, 9)]  # one shared updated_at
    capped = _client(_state(orders, deep_page_cap=5), deep_page_cap=5)
    per_query = _orders_read_per_query(capped)
    with caplog.at_level(logging.WARNING):
        items = list(capped.iter_refunded_orders(*EVER))
    swept, _ = _by_kind(items)
    assert sorted(swept) == [str(5000 + n) for n in range(1, 9)]
    assert len(items) == 8
    # No refunded order; then the partially refunded: 5 by time, all in one second, so that
    # second by id (5, then 3 from id 5006), then the window on from the next second (none).
    assert per_query == [0, 5, 5, 3, 0]
    assert "share the second 2026-05-31T00:01:00+00:00" in caplog.text
    assert "ERROR" not in caplog.text


def test_orders_with_more_refunds_than_the_list_returns_are_reread_or_quarantined() -> None:
    orders = [
        _order(1, NOW - timedelta(days=3), refunds=25),
        _order(2, NOW - timedelta(days=2), refunds=251),
        _order(3, NOW - timedelta(days=1), refunds=20),
    ]
    client = _client(_state(orders))
    for items in (
        list(client.iter_orders_by_id(["5001", "5002", "5003"])),
        list(client.iter_refunded_orders(*EVER)),
    ):
        found, quarantined = _by_kind(items)
        assert len(found["5001"].refund_ids) == 25
        assert len(found["5003"].refund_ids) == 20
        (truncated,) = quarantined
        assert (truncated.record_id, truncated.field) == ("5002", "refunds")
        assert "at least 250 refunds" in truncated.reason


@pytest.fixture
def served() -> Iterator[tuple[SandboxState, str]]:
    """The emulator on a real localhost port (uvicorn), and its base URL."""
    state = _state([_order(1, NOW - timedelta(days=1))])
    with SandboxServer(state) as server:
        yield state, server.shopify_base_url


class StormOnce(httpx.HTTPTransport):
    """A real transport that ends the sandbox's throttle storm after its first answer."""

    def __init__(self, state: SandboxState) -> None:
        super().__init__()
        self.state = state
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        self.state.faults.throttle_storm = False
        return response


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_as_200_or_429_over_real_http_is_waited_out(
    served: tuple[SandboxState, str], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    state, base_url = served
    state.faults.throttle_storm, state.faults.throttled_status = True, status
    transport = StormOnce(state)
    with httpx.Client(base_url=base_url, transport=transport) as http:
        client = _client(state, http, check_scopes=False)
        with caplog.at_level(logging.WARNING):
            found, _ = _by_kind(list(client.iter_orders_by_id(["5001"])))
    assert sorted(found) == ["5001"]
    assert transport.statuses == [status, 200]
    assert "THROTTLED" in caplog.text  # detected by its code, whatever the status


def test_a_bucket_smaller_than_a_page_shrinks_the_pages_and_loses_nothing() -> None:
    """§15: the bucket size is not published and Shopify may lower limits temporarily, so the
    client reads ``maximumAvailable`` instead of hard-coding it. A page dearer than the whole
    bucket would be THROTTLED however long the client waited: pages are sized to the bucket."""
    orders = [_order(n, NOW - timedelta(hours=n)) for n in range(1, 41)]
    # With the start-up scope read the bucket is known before the first page; without it the
    # first page is refused THROTTLED at a cost the bucket can never hold, and is shrunk.
    for check_scopes in (True, False):
        client = _client(_state(orders, bucket_size=400), check_scopes=check_scopes)
        swept, bad = _by_kind(list(client.iter_refunded_orders(*EVER)))
        by_id, bad_ids = _by_kind(list(client.iter_orders_by_id(sorted(swept))))
        assert len(swept) == 40 and len(by_id) == 40 and bad == bad_ids == [], check_scopes


def _before_the_reread(client: ShopifyClient, change: Any) -> None:
    """Run ``change`` just before recon asks again for an order's whole refund list."""

    def hook(request: httpx.Request) -> None:
        if b"query OrderRefunds" in request.content:
            change()

    client._http.event_hooks = {"request": [hook]}


@pytest.mark.parametrize("how", ["deleted", "partly read"])
@pytest.mark.parametrize("read", ["by id", "sweep"])
def test_an_order_that_changes_while_its_refunds_are_reread_is_not_read_cleanly(
    how: str, read: str
) -> None:
    """Order 5002 has 25 refunds: its list comes back full (20), so recon re-reads it whole.
    If meanwhile the order is deleted, or the re-read answers with fewer refunds than the
    first read already saw (refunds are never removed: the answer is not the whole list),
    the order is kept for review, not stored with the 20 refunds seen: stored, it would count
    as a clean read and resolve a "refunds truncated" entry with refunds still missing."""
    state = _state([_order(2, NOW - timedelta(days=2), refunds=25)])
    client = _client(state)
    order = state.orders_by_id["5002"]
    if how == "deleted":
        _before_the_reread(client, lambda: state.orders_by_id.pop("5002"))
    else:
        _before_the_reread(client, lambda: order.refunds.__delitem__(slice(5, None)))
    items = (
        list(client.iter_orders_by_id(["5002"]))
        if read == "by id"
        else list(client.iter_refunded_orders(*EVER))
    )
    found, quarantined = _by_kind(items)
    assert found == {}
    (kept,) = quarantined
    assert (kept.record_id, kept.field) == ("5002", "refunds")
    assert "20" in kept.reason and ("deleted" in kept.reason) == (how == "deleted")


def _many_lines(n: int, lines: int) -> dict[str, Any]:
    """Order 5000+n with ``lines`` line items: more than the first page of 10 holds."""
    doc = _order(n, NOW - timedelta(days=2))
    first = doc["line_items"][0]
    doc["line_items"] = [
        {**first, "id": str(600000 + n * 100 + i), "sku": f"SKU-{n}-{i}"} for i in range(lines)
    ]
    return doc


@pytest.mark.parametrize("read", ["by id", "sweep"])
def test_an_order_deleted_while_its_line_items_are_paged_is_not_read_cleanly(read: str) -> None:
    """Order 5003 has 12 line items: the first page holds 10, the rest come from the order's
    own line-item pages. Deleted in between, its next page is null: the order was read with 10
    of its 12 lines, so it is kept for review, not stored as if read whole."""
    state = _state([_many_lines(3, 12)])
    client = _client(state)

    def delete(request: httpx.Request) -> None:
        if b"query OrderLineItemsPage" in request.content:
            state.orders_by_id.pop("5003", None)

    client._http.event_hooks = {"request": [delete]}
    items = (
        list(client.iter_orders_by_id(["5003"]))
        if read == "by id"
        else list(client.iter_refunded_orders(*EVER))
    )
    found, quarantined = _by_kind(items)
    assert found == {}
    (kept,) = quarantined
    assert (kept.record_id, kept.field) == ("5003", "lineItems")
    assert "deleted" in kept.reason


def test_a_refund_whose_order_is_deleted_while_its_lines_are_paged_is_not_read_cleanly() -> None:
    """Refund 10003000 refunds 12 line items, one page of 10 and another: its order is deleted
    in between, so its next page is null. It is kept for review, not stored with 10 lines."""
    doc = _many_lines(3, 12)
    doc["refunds"][0]["lines"] = [
        {"id": str(900000 + i), "line_item_id": line["id"], "quantity": 1, "subtotal": "0.05"}
        for i, line in enumerate(doc["line_items"])
    ]
    state = _state([doc])
    client = _client(state)

    def delete(request: httpx.Request) -> None:
        if b"query RefundLineItemsPage" in request.content:
            state.orders_by_id.pop("5003", None)

    client._http.event_hooks = {"request": [delete]}
    items = list(client.iter_refunds_by_id(["10003000"]))
    assert [type(i).__name__ for i in items] == ["Quarantined"]
    (kept,) = items
    assert (kept.record_id, kept.field) == ("10003000", "refundLineItems")
    assert "deleted" in kept.reason
