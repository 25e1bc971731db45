"""Query cost as the reference computes it, the 1,000-point cap, and the leaky bucket."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from recon.sandbox.faults import Faults
from tests.unit.sandbox_shopify.inline_world import Shopify, world_doc

REFERENCE = Path("/work/shared/reference")
DOCS = {
    m.group(1): m.group(0)
    for m in re.finditer(
        r"(?:query|mutation) (\w+)[^`]*", (REFERENCE / "shopify-admin-api.md").read_text()
    )
}
ORDERS_PAGE = DOCS["OrdersPage"]


@pytest.mark.parametrize(
    ("name", "variables", "expected"),
    [
        ("OrdersPage", {"first": 60, "query": ""}, 2 + 60 * 13),  # §15: ≈ 13 per order
        ("OrdersById", {"ids": ["gid://shopify/Order/1"] * 10}, 10 * 13),
        ("RefundsById", {"ids": ["gid://shopify/Refund/1"] * 2}, 2 * 93),  # ≈ 93 per refund
        ("Payouts", {"first": 50}, 1 + 2 + 50 * 15),  # account 1; ≈ 15 per payout
        ("BalanceTransactions", {"first": 100}, 1 + 2 + 100 * 6),  # ≈ 6 per row
        ("GiftCards", {"first": 10, "query": ""}, 2 + 10 * 5),  # ≈ 5 per card
        ("SuggestedRefund", {"orderId": "gid://shopify/Order/1"}, 25),
    ],
)
def test_requested_cost_matches_the_reference_estimates(
    shop: Shopify, name: str, variables: dict[str, object], expected: int
) -> None:
    body = shop.gql(DOCS[name].split("```")[0], variables)
    assert body["extensions"]["cost"]["requestedQueryCost"] == expected


def test_actual_cost_counts_what_was_returned_and_is_refunded(shop: Shopify) -> None:
    body = shop.gql(ORDERS_PAGE.split("```")[0], {"first": 60, "query": ""})
    cost = body["extensions"]["cost"]
    # 2 for the connection + 5 orders x (1 + totalRefundedSet 2) + 2 refunds
    assert cost["actualQueryCost"] == 2 + 5 * 3 + 2
    assert cost["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 2000 - cost["actualQueryCost"],
        "restoreRate": 100.0,
    }


def test_over_cost_query_is_refused_without_data(shop: Shopify) -> None:
    example = json.loads(
        (REFERENCE / "examples/shopify/graphql-orders-page-with-refunds.json").read_text()
    )
    body = shop.gql(example["request"]["body"]["query"], example["request"]["body"]["variables"])
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["extensions"]["cost"]["requestedQueryCost"] > 1000
    assert body["extensions"]["cost"]["actualQueryCost"] is None


def test_throttled_when_bucket_is_short_and_clears_at_restore_rate(shop: Shopify) -> None:
    document = ORDERS_PAGE.split("```")[0]
    big = {"first": 76, "query": "id:<0"}  # requested 2 + 76 x 13 = 990, actual 2
    for _ in range(2):  # each call holds 990 until it finishes and gets 988 back
        assert "data" in shop.gql(document, big)
    engine_bucket = shop.client.app.state.engine.bucket  # type: ignore[attr-defined]
    assert engine_bucket.take(1500)  # someone else drained the bucket
    throttled = shop.gql(document, big)
    expected = json.loads(
        (REFERENCE / "examples/shopify/graphql-throttled-error.json").read_text()
    )["body"]
    assert throttled["errors"] == expected["errors"]
    assert "data" not in throttled
    cost = throttled["extensions"]["cost"]
    assert cost["actualQueryCost"] is None and cost["requestedQueryCost"] == 990
    wait = (990 - cost["throttleStatus"]["currentlyAvailable"]) / 100.0
    shop.clock.advance(timedelta(seconds=wait - 0.5))
    assert shop.gql(document, big)["errors"][0]["extensions"]["code"] == "THROTTLED"
    shop.clock.advance(timedelta(seconds=1))
    assert "data" in shop.gql(document, big)


def test_throttle_storm_throttles_everything(make_shop: Callable[..., Shopify]) -> None:
    shop = make_shop(world_doc([]), Faults(throttle_storm=True))
    body = shop.gql("{ orders(first: 1) { nodes { id } } }")
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
