"""Shopify Admin GraphQL through the real ``ShopifyClient``, replayed from a cassette.

Pages are capped at two records so five payouts, five refunded orders and five ids each take
three calls: the client must follow ``pageInfo.endCursor`` and chunk ``nodes(ids:)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from recon.models import OrderRecord, PayoutRecord, RefundRecord
from recon.sources.documents import PageSizer
from recon.sources.shopify import ShopifyClient

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class TwoPerPage(PageSizer):
    """The client's sizer, capped at two records a page (a tiny world still pages)."""

    def size(self, document: str, size_var: str, variables: Mapping[str, Any]) -> int:
        return min(2, super().size(document, size_var, variables))


def test_payouts_orders_and_refunds_are_paged_and_parsed(
    endpoint: Any, cassette: Callable[[str], Any]
) -> None:
    with cassette("shopify_graphql.yaml") as tape, httpx.Client() as http:
        shopify = ShopifyClient(
            http,
            base_url=endpoint.shopify_url,
            api_version="2026-04",
            token=endpoint.shopify_token,
            clock=endpoint.clock,
        )
        shopify.sizer = TwoPerPage()
        payouts = list(shopify.iter_payouts(START, END))
        swept = list(shopify.iter_refunded_orders(START, END))
        orders = list(shopify.iter_orders_by_id(["5001", "5002", "5003", "5004", "5005"]))
        refunds = list(shopify.iter_refunds_by_id(["50014", "50034", "50054"]))
        calls = len(tape.requests)
    assert all(isinstance(p, PayoutRecord) for p in payouts)
    assert [p.id for p in payouts] == ["60001", "60002", "60003", "60004", "60005"]
    assert [p.net for p in payouts] == [Decimal(f"{100 * n}.25") for n in range(1, 6)]
    assert all(isinstance(p.net, Decimal) for p in payouts)

    swept_ids = sorted(o.id for o in swept if isinstance(o, OrderRecord))
    assert swept_ids == [
        "5001",
        "5002",
        "5003",
        "5004",
        "5005",
    ]
    full = {o.id: o for o in orders if isinstance(o, OrderRecord)}
    assert sorted(full) == ["5001", "5002", "5003", "5004", "5005"]
    assert [(li.id, li.sku, li.quantity) for li in full["5003"].lines] == [("50031", "TEE-3", 2)]
    assert full["5003"].refund_ids == ("50034",)

    parsed = {r.id: r for r in refunds if isinstance(r, RefundRecord)}
    assert sorted(parsed) == ["50014", "50034", "50054"]
    assert parsed["50034"].note == "Loop RMA #703"
    assert parsed["50034"].total == Decimal("35.50")
    assert [t.amount for t in parsed["50034"].transactions] == [Decimal("35.50")]
    assert [t.amount for t in parsed["50054"].transactions] == [Decimal("12.34")]
    # the start-up scope read + payouts 3 pages + sweep (refunded: 1, partially_refunded: 3)
    # + by id 3 + refunds 2
    assert calls == 1 + 3 + 4 + 3 + 2
