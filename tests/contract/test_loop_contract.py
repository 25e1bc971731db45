"""Loop's Detailed Returns List through the real ``LoopClient``, replayed from a cassette.

The cassette holds the contract world (``conftest.contract_world``): four closed returns and one
open, read two to a page, so the client follows ``nextPageUrl`` twice and re-sends the window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from recon.models import LoopReturnRecord
from recon.sources.loop import LoopClient

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_closed_and_open_returns_are_paged_and_parsed(
    endpoint: Any, cassette: Callable[[str], Any]
) -> None:
    with cassette("loop_returns_list.yaml") as tape, httpx.Client() as http:
        loop = LoopClient(
            http,
            base_url=endpoint.loop_url,
            api_version="2026-07",
            api_key=endpoint.loop_api_key,
            clock=endpoint.clock,
            page_size=2,
        )
        closed = list(loop.iter_returns(START, END, "closed"))
        still_open = list(loop.iter_returns(START, END, "open"))
        pages = len(tape.requests)
    assert all(isinstance(r, LoopReturnRecord) for r in closed + still_open)
    by_id = {r.id: r for r in closed if isinstance(r, LoopReturnRecord)}
    assert sorted(by_id) == ["701", "702", "703", "704"]
    assert [r.id for r in still_open] == ["705"]
    third = by_id["703"]
    assert third.refund == Decimal("35.50") and isinstance(third.refund, Decimal)
    assert third.total == Decimal("40.00")
    assert third.state == "closed" and third.currency == "USD"
    assert third.provider_order_id == "5003"
    assert [line.provider_line_item_id for line in third.lines] == ["50031"]
    assert third.updated_at == datetime(2026, 10, 23, 10, 0, tzinfo=UTC)
    assert pages == 2 + 1  # closed: two full pages (the second has no next page); open: one
