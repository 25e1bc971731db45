"""ShopifyClient against a scripted Admin API: paging, cost-sized pages, throttling, writes."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql, throttled

from recon.clock import VirtualClock
from recon.errors import AuthError, CursorLoopError, FatalHTTPError, OutcomeUnknownError
from recon.models import OrderRecord, PayoutRecord, Quarantined, RefundRecord
from recon.sources.documents import MAX_QUERY_COST, estimate_cost, load_document
from recon.sources.http import RetryPolicy
from recon.sources.pacing import PACING_MARGIN_POINTS
from recon.sources.shopify import ShopifyClient

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)
TOKEN = "shpat_test_token"
NO_MORE_LINES = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}
MUTATION = 'mutation M($id: ID!) { tagsAdd(id: $id, tags: ["x"]) { userErrors { message } } }'


def _client(transport: ScriptedTransport, clock: VirtualClock | None = None) -> ShopifyClient:
    return ShopifyClient(
        httpx.Client(transport=transport),
        base_url="https://shop.example",
        api_version="2026-04",
        token=TOKEN,
        clock=clock or VirtualClock(),
        policy=RetryPolicy(base_delay=0.01),
        check_scopes=False,  # the start-up scope read is tested in test_shopify_limits.py
    )


def _order(number: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "createdAt": "2025-12-20T16:09:21Z",
        "updatedAt": "2026-01-01T14:02:11Z",
        "cancelledAt": None,
        "currencyCode": "USD",
        "presentmentCurrencyCode": "EUR",
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "returnStatus": "RETURNED",
        "tags": ["Refund"],
        "refunds": [{"id": f"gid://shopify/Refund/{number}0"}],
    }


def _orders_page(numbers: list[int], cursor: str | None, **kw: Any) -> httpx.Response:
    info = {"hasNextPage": cursor is not None, "endCursor": cursor}
    return gql({"orders": {"pageInfo": info, "nodes": [_order(n) for n in numbers]}}, **kw)


def test_cost_estimates_match_the_reference() -> None:
    # shopify-admin-api.md §15: OrdersById ≈ 13 per id, RefundsById ≈ 93, Payouts ≈ 15 per payout.
    reference_orders = (
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Order { id name tags "
        "totalRefundedSet { presentmentMoney { amount currencyCode } } "
        "refunds(first: 10) { id note } } } }"
    )
    assert estimate_cost(reference_orders, {"ids": ["a"] * 10}) == 130
    assert estimate_cost(REFERENCE_REFUNDS_BY_ID, {"ids": ["a"]}) == 93


REFERENCE_REFUNDS_BY_ID = """
query RefundsById($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Refund {
      id note createdAt processedAt
      order { id name }
      return { id name status }
      totalRefundedSet {
        shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }
      }
      refundLineItems(first: 10) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id quantity restockType restocked
          location { id }
          lineItem { id sku }
          subtotalSet { presentmentMoney { amount currencyCode } }
        }
      }
      refundShippingLines(first: 2) {
        nodes { id subtotalAmountSet { presentmentMoney { amount currencyCode } } }
      }
      transactions(first: 5) {
        nodes {
          id kind status gateway processedAt errorCode
          amountSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
          parentTransaction { id }
        }
      }
    }
  }
}
"""


def test_refunded_order_sweep_pages_and_returns_each_order_once() -> None:
    transport = ScriptedTransport(
        [_orders_page([1, 2], "c1"), _orders_page([3], None), _orders_page([3, 4], None)]
    )
    orders = list(_client(transport).iter_refunded_orders(START, END))
    assert [o.id for o in orders if isinstance(o, OrderRecord)] == ["1", "2", "3", "4"]
    bodies = transport.bodies()
    assert "financial_status:refunded" in bodies[0]["variables"]["query"]
    assert "updated_at:>='2026-01-01T00:00:00Z'" in bodies[0]["variables"]["query"]
    assert bodies[1]["variables"]["after"] == "c1"
    assert "financial_status:partially_refunded" in bodies[2]["variables"]["query"]
    first = bodies[0]["variables"]["first"]
    assert 1 <= first <= 250
    assert estimate_cost(bodies[0]["query"], bodies[0]["variables"]) <= MAX_QUERY_COST
    assert transport.requests[0].headers["X-Shopify-Access-Token"] == TOKEN


def test_cursor_loop_is_detected() -> None:
    """The window is asked again from its last row when a cursor comes back; a server that
    loops there too (no later start) stops the sweep instead of paging for ever."""
    transport = ScriptedTransport(
        [_orders_page([1], "same"), _orders_page([2], "same")], repeat_last=True
    )
    with pytest.raises(CursorLoopError):
        list(_client(transport).iter_refunded_orders(START, END))
    assert len(transport.requests) == 4


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_waits_from_throttle_status_then_succeeds(status: int) -> None:
    clock = VirtualClock()
    transport = ScriptedTransport(
        [throttled(requested=752, available=666, restore=50, status=status), gql({"shop": {}})]
    )
    assert _client(transport, clock).execute("{ shop { id } }", {}) == {"shop": {}}
    assert len(transport.requests) == 2
    assert clock.monotonic() == pytest.approx((752 - 666) / 50)


def test_pacing_sleeps_before_a_query_the_bucket_cannot_hold() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport(
        [
            _orders_page([1], "c1", available=10, restore=50),
            _orders_page([2], None),
            _orders_page([], None),
        ]
    )
    list(_client(transport, clock).iter_refunded_orders(START, END))
    second = transport.bodies()[1]
    cost = estimate_cost(second["query"], second["variables"])
    assert clock.monotonic() == pytest.approx((cost + PACING_MARGIN_POINTS - 10) / 50)


def test_write_503_is_an_unknown_outcome_and_not_resent() -> None:
    transport = ScriptedTransport([httpx.Response(503), gql({"tagsAdd": {"userErrors": []}})])
    with pytest.raises(OutcomeUnknownError):
        _client(transport).execute(MUTATION, {"id": "gid://shopify/Order/1"}, write=True)
    assert len(transport.requests) == 1


def test_write_throttled_is_resent() -> None:
    transport = ScriptedTransport(
        [throttled(requested=10, available=0, restore=50), gql({"tagsAdd": {"userErrors": []}})]
    )
    data = _client(transport).execute(MUTATION, {"id": "gid://shopify/Order/1"}, write=True)
    assert data == {"tagsAdd": {"userErrors": []}}
    assert len(transport.requests) == 2
    assert transport.bodies()[0] == transport.bodies()[1]


def test_top_level_errors_are_fatal_and_access_denied_is_auth() -> None:
    bad = gql(
        None,
        errors=[{"message": "Field 'x' doesn't exist", "extensions": {"code": "undefinedField"}}],
    )
    with pytest.raises(FatalHTTPError, match="doesn't exist"):
        _client(ScriptedTransport([bad])).execute("{ shop { id } }", {})
    denied = gql(
        {"shop": None}, errors=[{"message": "no", "extensions": {"code": "ACCESS_DENIED"}}]
    )
    with pytest.raises(AuthError):
        _client(ScriptedTransport([denied])).execute("{ shop { id } }", {})


def _refund(number: int, *, more_lines: bool) -> dict[str, Any]:
    money = {"amount": "10.00", "currencyCode": "EUR"}
    shop = {"amount": "11.00", "currencyCode": "USD"}
    return {
        "id": f"gid://shopify/Refund/{number}",
        "note": "Loop RMA #12345701",
        "createdAt": "2026-01-02T10:00:00Z",
        "processedAt": "2026-01-02T10:00:00Z",
        "order": {"id": "gid://shopify/Order/1"},
        "return": None,
        "totalRefundedSet": {"shopMoney": shop, "presentmentMoney": money},
        "refundLineItems": {
            "pageInfo": {"hasNextPage": more_lines, "endCursor": "l1" if more_lines else None},
            "nodes": [_refund_line(1)],
        },
        "transactions": {
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "nodes": [
                {
                    "id": "gid://shopify/OrderTransaction/77",
                    "kind": "REFUND",
                    "status": "SUCCESS",
                    "gateway": "shopify_payments",
                    "processedAt": "2026-01-02T10:00:01Z",
                    "errorCode": None,
                    "amountSet": {"shopMoney": shop, "presentmentMoney": money},
                    "parentTransaction": {"id": "gid://shopify/OrderTransaction/5"},
                }
            ],
        },
    }


def _refund_line(number: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/RefundLineItem/{number}",
        "quantity": 1,
        "restockType": "RETURN",
        "restocked": True,
        "location": {"id": "gid://shopify/Location/9"},
        "lineItem": {"id": f"gid://shopify/LineItem/{number}", "sku": f"SKU-{number}"},
        "subtotalSet": {"presentmentMoney": {"amount": "5.00", "currencyCode": "EUR"}},
    }


def test_refunds_by_id_follow_overflowing_line_items() -> None:
    overflow = {
        "node": {
            "refundLineItems": {
                "pageInfo": {"hasNextPage": False, "endCursor": "l2"},
                "nodes": [_refund_line(2), _refund_line(3)],
            }
        }
    }
    transport = ScriptedTransport(
        [
            gql({"nodes": [_refund(1, more_lines=True), None, _refund(2, more_lines=False)]}),
            gql(overflow),
        ]
    )
    refunds = list(_client(transport).iter_refunds_by_id(["1", "404", "2"]))
    assert [r.id for r in refunds if isinstance(r, RefundRecord)] == ["1", "2"]
    # The refund nodes(ids:) answered null for is kept for review, not dropped unseen.
    (missing,) = [r for r in refunds if isinstance(r, Quarantined)]
    assert (missing.kind, missing.record_id) == ("refund", "404")
    assert "not visible" in missing.reason
    first = refunds[0]
    assert isinstance(first, RefundRecord)
    assert [line.sku for line in first.lines] == ["SKU-1", "SKU-2", "SKU-3"]
    assert first.transactions[0].amount == Decimal("10.00") and first.transactions[
        0
    ].amount_shop == Decimal("11.00")
    follow = transport.bodies()[1]["variables"]
    assert (follow["id"], follow["after"]) == ("gid://shopify/Refund/1", "l1")
    assert transport.bodies()[0]["variables"]["ids"][1] == "gid://shopify/Refund/404"


def test_orders_by_id_are_chunked_from_the_cost_and_deduplicated() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["variables"]["ids"]
        return gql(
            {
                "nodes": [
                    _order(int(i.rsplit("/", 1)[1])) | {"lineItems": NO_MORE_LINES} for i in ids
                ]
            }
        )

    transport = ScriptedTransport([answer], repeat_last=True)
    ids = [str(n) for n in range(1, 201)] + ["5"]
    orders = list(_client(transport).iter_orders_by_id(ids))
    assert sorted(int(o.id) for o in orders) == list(range(1, 201))
    assert len(transport.requests) > 1
    for body in transport.bodies():
        assert estimate_cost(body["query"], body["variables"]) <= MAX_QUERY_COST
        assert len(body["variables"]["ids"]) <= 250


def test_page_size_adapts_when_shopify_disagrees_with_the_estimate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _client(ScriptedTransport([]))
    document = load_document("OrdersPage")
    before = client.sizer.size(document, "first", {"first": 0})
    transport = ScriptedTransport(
        [_orders_page([1], "c1", requested=1500), _orders_page([2], None), _orders_page([], None)]
    )
    client = _client(transport)
    with caplog.at_level(logging.WARNING):
        list(client.iter_refunded_orders(START, END))
    assert "requested cost 1500" in caplog.text
    assert transport.bodies()[2]["variables"]["first"] < before


def test_payouts_and_missing_payments_account() -> None:
    payout = {
        "id": "gid://shopify/ShopifyPaymentsPayout/623721858",
        "issuedAt": "2026-01-05T00:00:00Z",
        "status": "PAID",
        "net": {"amount": "41.90", "currencyCode": "USD"},
        "summary": {
            "chargesGross": {"amount": "44.52", "currencyCode": "USD"},
            "refundsFeeGross": {"amount": "-3.54", "currencyCode": "USD"},
        },
    }
    page = {
        "shopifyPaymentsAccount": {
            "payouts": {"pageInfo": {"hasNextPage": False}, "nodes": [payout, {"id": "gid://x/1"}]}
        }
    }
    items = list(_client(ScriptedTransport([gql(page)])).iter_payouts(START, END))
    assert isinstance(items[0], PayoutRecord) and items[0].refunds_gross == Decimal("-3.54")
    assert isinstance(items[1], Quarantined) and items[1].field == "net"
    empty = ScriptedTransport([gql({"shopifyPaymentsAccount": None})])
    assert list(_client(empty).iter_payouts(START, END)) == []
