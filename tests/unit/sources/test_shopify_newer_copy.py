"""A Shopify record read twice in one list keeps its later copy, not its first.

The refunded-orders sweep is sorted by ``updatedAt``: an order changed while the sweep pages
(a refund made at the till between page 1 and page 2) comes again on a later page, with the
later ``updatedAt`` and the new refund, and so may an order whose ``financial_status`` moved
from one status's pass to the other's. The client passed on only the first copy of each id,
so the mirror kept the order as it was before the change, its new refund unread, until some
later night read the order again. A copy read again unchanged (the rows a resumed query
reads twice) is still passed on once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sources_scripted import ScriptedTransport, gql, order_node, shopify_client

from recon.models import OrderRecord
from recon.sources.shopify import ShopifyClient

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)
BEFORE, AFTER = "2026-01-03T10:00:00Z", "2026-01-20T09:15:00Z"


def _order(
    number: int, updated: str, refunds: tuple[int, ...] = (), status: str = "PARTIALLY_REFUNDED"
) -> dict[str, Any]:
    return order_node(number, updated, refunds, status)


def _page(nodes: list[dict[str, Any]], cursor: str | None = None) -> httpx.Response:
    info = {"hasNextPage": cursor is not None, "endCursor": cursor}
    return gql({"orders": {"nodes": nodes, "pageInfo": info}})


EMPTY = _page([])


def _last_copies(client: ShopifyClient) -> dict[str, OrderRecord]:
    """What the mirror keeps: the last copy of each id the client passed on (the store's
    upsert keeps the later ``updatedAt``, and on a tie the last given)."""
    kept: dict[str, OrderRecord] = {}
    for item in client.iter_refunded_orders(START, END):
        assert isinstance(item, OrderRecord)
        if item.id not in kept or item.updated_at >= kept[item.id].updated_at:
            kept[item.id] = item
    return kept


def test_an_order_changed_between_two_pages_keeps_the_copy_of_the_later_page() -> None:
    transport = ScriptedTransport(
        [
            _page([_order(1, BEFORE, (71,)), _order(2, "2026-01-10T00:00:00Z", (72,))], "c1"),
            _page([_order(1, AFTER, (71, 73))]),  # a second refund, made mid-sweep
            EMPTY,  # financial_status:partially_refunded
        ]
    )
    kept = _last_copies(shopify_client(transport))
    assert kept["1"].updated_at == datetime.fromisoformat(AFTER)
    assert kept["1"].refund_ids == ("71", "73")
    assert kept["2"].refund_ids == ("72",)


def test_an_order_seen_by_both_status_passes_keeps_the_later_copy() -> None:
    """Read by the fully refunded pass, then edited (an item added after its full refund) and
    read by the partly refunded pass: the mirror keeps it partly refunded."""
    transport = ScriptedTransport(
        [
            _page([_order(1, BEFORE, (71,), status="REFUNDED")]),
            _page([_order(1, AFTER, (71,))]),
        ]
    )
    kept = _last_copies(shopify_client(transport))
    assert kept["1"].updated_at == datetime.fromisoformat(AFTER)
    assert kept["1"].financial_status == "PARTIALLY_REFUNDED"


def test_a_copy_read_again_unchanged_is_passed_on_once() -> None:
    transport = ScriptedTransport(
        [
            _page([_order(1, BEFORE, (71,))], "c1"),
            _page([_order(1, BEFORE, (71,)), _order(2, AFTER, (72,))]),
            _page([_order(2, AFTER, (72,))]),
        ]
    )
    ids = [o.id for o in shopify_client(transport).iter_refunded_orders(START, END)]
    assert ids == ["1", "2"]
