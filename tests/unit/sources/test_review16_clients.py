"""Review 16: the Shopify client's throttling against the reference (shopify-admin-api.md §15-§17).

Each test is a scripted exchange through the real ``ShopifyClient`` (no sleeping: a
``VirtualClock`` counts the seconds waited) and asserts what an integration engineer reads in the
reference.
"""

from __future__ import annotations

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql

from recon.clock import VirtualClock
from recon.sources.http import RetryPolicy
from recon.sources.shopify import ShopifyClient

ORDER_TEST = "query OrderTest($orderId: ID!) { order(id: $orderId) { id test } }"
ORDER = {"orderId": "gid://shopify/Order/1"}


def _client(transport: ScriptedTransport, clock: VirtualClock) -> ShopifyClient:
    return ShopifyClient(
        httpx.Client(transport=transport),
        base_url="https://shop.example",
        api_version="2026-04",
        token="shpat_test_token",
        clock=clock,
        policy=RetryPolicy(max_attempts=7),
        check_scopes=False,
    )


@pytest.mark.xfail(
    strict=True,
    reason="review16: a THROTTLED 429 without throttleStatus ignores Retry-After (waits 1 s)",
)
def test_throttled_429_without_throttle_status_waits_what_retry_after_says() -> None:
    """§17: "THROTTLED (any HTTP status), 429 | wait per throttleStatus / Retry-After, retry".

    Shopify answers 429 with the THROTTLED body and ``Retry-After: 20`` but no
    ``extensions.cost`` (nothing to compute a bucket wait from). The only wait the server named
    is 20 s; recon resent after a fixed 1 s instead, so against a server that keeps refusing
    until then a request's seven attempts are spent in seven seconds and the run stops with
    RetryExhaustedError (a write is left unsent for the next night).
    """
    clock = VirtualClock()
    refused = httpx.Response(
        429,
        json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]},
        headers={"Retry-After": "20"},
    )
    transport = ScriptedTransport(
        [refused, gql({"order": {"id": ORDER["orderId"], "test": False}})]
    )
    data = _client(transport, clock).execute(ORDER_TEST, ORDER)
    assert data["order"]["test"] is False
    assert len(transport.requests) == 2
    assert clock.monotonic() >= 20
