"""A scripted httpx transport: answers requests from a list, records what it saw. No sleeping."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class ScriptedTransport(httpx.MockTransport):
    """Plays ``steps`` in order (the last one repeats if ``repeat_last``)."""

    def __init__(self, steps: list[Step], *, repeat_last: bool = False) -> None:
        self.steps = list(steps)
        self.repeat_last = repeat_last
        self.requests: list[httpx.Request] = []
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        step = self.steps[0] if self.repeat_last and len(self.steps) == 1 else self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    def params(self, index: int) -> dict[str, str]:
        """Query parameters of the index-th request."""
        return dict(parse_qsl(self.requests[index].url.query.decode(), keep_blank_values=True))

    def bodies(self) -> list[dict[str, Any]]:
        """JSON bodies of every request (GraphQL posts)."""
        return [json.loads(request.content) for request in self.requests]


def gql(
    data: Any,
    *,
    available: float = 1000,
    restore: float = 50,
    maximum: float = 1000,
    requested: float | None = None,
    status: int = 200,
    errors: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A GraphQL response with throttle status extensions."""
    body: dict[str, Any] = {
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": maximum,
                    "currentlyAvailable": available,
                    "restoreRate": restore,
                },
            }
        }
    }
    if data is not None:
        body["data"] = data
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers=headers)


def throttled(
    *, requested: float, available: float, restore: float, status: int = 200
) -> httpx.Response:
    """Shopify's THROTTLED body (examples/shopify/graphql-throttled-error.json)."""
    return gql(
        None,
        requested=requested,
        available=available,
        restore=restore,
        status=status,
        errors=[{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
    )


def shopify_client(transport: ScriptedTransport, deep_page_cap: int = 25_000) -> Any:
    """A ``ShopifyClient`` on ``transport``: virtual clock, no waits, no scope check."""
    from recon.clock import VirtualClock
    from recon.sources.http import RetryPolicy
    from recon.sources.shopify import ShopifyClient

    return ShopifyClient(
        httpx.Client(transport=transport),
        base_url="https://shop.example",
        api_version="2026-04",
        token="shpat_test",
        clock=VirtualClock(),
        policy=RetryPolicy(base_delay=0.01, zero_wait=True),
        check_scopes=False,
        deep_page_cap=deep_page_cap,
    )


def order_node(
    number: int, updated: str, refunds: tuple[int, ...] = (), status: str = "REFUNDED"
) -> dict[str, Any]:
    """An ``OrdersPage`` order node: USD, returned, no line items, ``refunds`` by number."""
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "createdAt": "2025-12-20T16:09:21Z",
        "updatedAt": updated,
        "cancelledAt": None,
        "currencyCode": "USD",
        "presentmentCurrencyCode": "USD",
        "displayFinancialStatus": status,
        "returnStatus": "RETURNED",
        "tags": [],
        "refunds": [
            {"id": f"gid://shopify/Refund/{r}", "note": None, "createdAt": updated} for r in refunds
        ],
        "lineItems": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []},
    }
