"""Seam: the sweep keeps every order without a readable id (cdba71a: no ``q:None`` key to
de-duplicate on) and the window's resume asks again from the last row's second, ``>=``,
dropping the rows already read by their id (0e03dad). A row with no id cannot be dropped by
id, so the row read before the resume is read again after it, and kept twice: one broken
order is two entries in the quarantine list (two payloads to review, a count of two)."""

from __future__ import annotations

from sources_scripted import ScriptedTransport, gql
from test_shopify_paging_resume import EMPTY, END, START, _client, _order

from recon.models import OrderRecord, Quarantined

T_BROKEN = "2026-01-05T08:30:00Z"


def _page(nodes: list[dict[str, object]], info: object) -> object:
    return gql({"orders": {"nodes": nodes, "pageInfo": info}})


def _idless() -> dict[str, object]:
    node = _order(2, T_BROKEN)
    node["id"] = None  # Shopify answered the row without its id
    return node


def test_an_order_without_an_id_read_again_by_the_resume_is_kept_once() -> None:
    """Page 1 ends on the order without an id and says there is more without a cursor: the
    sweep asks again from that row's second, which reads the same row again, then order 3.
    The quarantine must hold that order once, as it holds orders 1 and 3 once each."""
    transport = ScriptedTransport(
        [
            _page(
                [_order(1, "2026-01-03T10:00:00Z"), _idless()],
                {"hasNextPage": True, "endCursor": None},
            ),
            _page(
                [_idless(), _order(3, "2026-01-09T12:00:00Z")],
                {"hasNextPage": False, "endCursor": None},
            ),
            EMPTY,  # financial_status:partially_refunded
        ]
    )
    items = list(_client(transport).iter_refunded_orders(START, END))
    assert [i.id for i in items if isinstance(i, OrderRecord)] == ["1", "3"]
    broken = [i for i in items if isinstance(i, Quarantined) and i.record_id is None]
    assert len(broken) == 1, [q.reason for q in broken]
