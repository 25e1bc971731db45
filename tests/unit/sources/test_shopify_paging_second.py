"""One second holding more rows than one query reaches is read by id (scripted Shopify answers).

Shopify stops a query at 25,000 objects (shopify-admin-api.md §1); the windowed lists resume from
their last row's second, which cannot get past a second holding more rows than that. Such a
second is read again with ``sortKey: ID`` and the schema's ``id`` range filter (``id:>=``), each
row once, and the window goes on from the next second. Here the cap is 3.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql
from test_shopify_paging_resume import END, START, _client, _page

from recon.errors import FatalHTTPError
from recon.models import OrderRecord

SECOND = "2026-01-10T08:00:00"
EMPTY = _page([], {"hasNextPage": False, "endCursor": None})
REFUSED = gql(None, errors=[{"message": "Invalid cursor", "extensions": {"code": "BAD_REQUEST"}}])


def _at(millis: int) -> str:
    return f"{SECOND}.{millis:03d}Z"


def _ids(client: Any) -> list[str]:
    return [o.id for o in client.iter_refunded_orders(START, END) if isinstance(o, OrderRecord)]


def test_a_crowded_second_is_read_by_id_past_a_refused_cursor_each_row_once() -> None:
    """Orders 5, 2 and 9 share one second and fill the query; orders 7 and 11 are in it too.
    By id: 2 and 5, a cursor Shopify refuses, then from id 6 on: 7, 9, 11. Every order is read
    once, and the window goes on from the next second, sorted by time again."""
    done = {"hasNextPage": False, "endCursor": None}
    transport = ScriptedTransport(
        [
            _page([(5, _at(100)), (2, _at(500)), (9, _at(900))], done),
            _page([(2, _at(500)), (5, _at(100))], {"hasNextPage": True, "endCursor": "c1"}),
            REFUSED,
            _page([(7, _at(700)), (9, _at(900)), (11, _at(300))], done),
            _page([], done),  # id:>=12: the second is read
            EMPTY,  # the rest of the window, from the next second
            EMPTY,  # financial_status:partially_refunded
        ]
    )
    assert _ids(_client(transport, deep_page_cap=3)) == ["5", "2", "9", "7", "11"]
    sent = [body["variables"] for body in transport.bodies()]
    second = f"updated_at:>='{SECOND}Z' AND updated_at:<'2026-01-10T08:00:01Z'"
    assert [v.get("sortKey") for v in sent] == [None, "ID", "ID", "ID", "ID", None, None]
    assert all(second in v["query"] for v in sent[1:5])
    assert "id:" not in sent[1]["query"] and sent[2]["after"] == "c1"
    assert sent[3]["query"].endswith(" AND id:>=6") and sent[3]["after"] is None
    assert sent[4]["query"].endswith(" AND id:>=12")
    assert sent[5]["query"].startswith("updated_at:>='2026-01-10T08:00:01Z'")


def test_a_crowded_second_whose_first_page_by_id_is_refused_fails_the_run() -> None:
    """Nothing read by id, nothing to go on from: the refusal is the run's error, not a part
    taken for the whole."""
    done = {"hasNextPage": False, "endCursor": None}
    transport = ScriptedTransport(
        [_page([(5, _at(100)), (2, _at(500))], done), httpx.Response(400, json={"errors": "x"})]
    )
    with pytest.raises(FatalHTTPError):
        _ids(_client(transport, deep_page_cap=2))
    assert len(transport.requests) == 2
    assert transport.bodies()[1]["variables"]["sortKey"] == "ID"
