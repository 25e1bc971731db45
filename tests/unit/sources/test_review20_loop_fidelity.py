"""Review 20: recon's Loop client against shapes and behaviours the reference leaves open.

loop-returns-api.md §6 documents neither the inclusivity of ``from``/``to`` nor an id in the
page cursor (trap 4: the docs sample cursor holds the filter timestamp only). recon claims to
work under either reading of the bounds (``loop_windows.split_windows``); the sandbox only ever
serves both bounds inclusive. These tests put recon's client in front of a small Loop that
differs from the sandbox only where the reference is silent, and check what finance would:
every return the window holds is read.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from recon.clock import VirtualClock
from recon.models import LoopReturnRecord
from recon.sources.http import RetryPolicy
from recon.sources.loop import LoopClient

EXAMPLES = Path("/work/shared/reference/examples/loop")
NOW = datetime(2024, 4, 1, tzinfo=UTC)
START, END = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 10, tzinfo=UTC)
BASE = "https://api.loopreturns.com/api"


def _template() -> dict[str, Any]:
    """Loop's list item as in the reference (closed, linked by ``shopify_refund_object``)."""
    path = EXAMPLES / "return-closed-refund.json"
    if not path.exists():  # pragma: no cover - the reference travels with the project
        pytest.skip("reference examples not available")
    item: dict[str, Any] = json.loads(path.read_text())
    return item


def _stamp(moment: datetime) -> str:
    """The list item's timestamp format (``2024-03-05T14:22:15.000Z``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _bound(text: str) -> datetime:
    """A ``from``/``to``/cursor value in any of the formats Loop takes (§6)."""
    moment = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class StrictFromLoop:
    """A Loop list endpoint that reads ``from`` as exclusive (``updated_at > from``) and ``to``
    as inclusive, pages oldest first, and keys its cursor on the timestamp alone, moving strictly
    past it (the docs sample cursor: ``{"updated_at": ..., "_pointsToNextItems": true}``).
    Its next page URL keeps ``to``, ``filter``, ``pageSize`` and ``cursor`` only, as Loop's does.
    """

    def __init__(self, rows: list[dict[str, Any]], *, from_exclusive: bool = True) -> None:
        self.rows = rows
        self.from_exclusive = from_exclusive  # False: the sandbox's reading, for the control
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        params = dict(request.url.params)
        low, high = _bound(params["from"]), _bound(params["to"])
        past = None  # the cursor's second: the next page starts strictly after it (trap 4)
        if params.get("cursor"):
            cursor = json.loads(base64.urlsafe_b64decode(params["cursor"] + "=="))
            past = _bound(cursor["updated_at"])
        size = int(params["pageSize"])

        def served(moment: datetime) -> bool:
            above = low < moment if self.from_exclusive else low <= moment
            return above and moment <= high and (past is None or moment > past)

        held = sorted(
            (r for r in self.rows if served(_bound(r["updated_at"]))),
            key=lambda r: (_bound(r["updated_at"]), r["id"]),
        )
        page, more = held[:size], len(held) > size
        next_url = None
        if more:
            last = _bound(page[-1]["updated_at"]).strftime("%Y-%m-%d %H:%M:%S")
            token = json.dumps({"updated_at": last, "_pointsToNextItems": True})
            cursor_text = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
            query = {
                "to": params["to"],
                "filter": "updated_at",
                "pageSize": str(size),
                "cursor": cursor_text,
            }
            next_url = f"{BASE}/v1/warehouse/return/list?{urlencode(query)}"
        body = {"returns": page, "nextPageUrl": next_url, "previousPageUrl": None}
        return httpx.Response(200, json=body)


def _rows() -> list[dict[str, Any]]:
    """Nine closed returns, three updated in each of three seconds."""
    base = datetime(2024, 3, 5, 14, 22, 15, tzinfo=UTC)
    rows = []
    for n in range(9):
        item = copy.deepcopy(_template())
        item["id"] = str(12_345_800 + n)
        item["updated_at"] = _stamp(base + timedelta(seconds=n // 3))
        rows.append(item)
    return rows


def _read(loop: StrictFromLoop, page_size: int) -> set[str]:
    with httpx.Client(transport=httpx.MockTransport(loop)) as http:
        client = LoopClient(
            http,
            base_url=BASE,
            api_version="2026-07",
            api_key="k",
            clock=VirtualClock(NOW),
            page_size=page_size,
            policy=RetryPolicy(zero_wait=True),
        )
        items = list(client.iter_returns(START, END, "closed"))
    return {i.id for i in items if isinstance(i, LoopReturnRecord)}


def test_one_page_reads_every_return_under_an_exclusive_from() -> None:
    """A control: with no page edge, the exclusive ``from`` loses nothing."""
    rows = _rows()
    assert _read(StrictFromLoop(rows), page_size=750) == {r["id"] for r in rows}


def test_paged_read_keeps_every_return_when_loop_reads_from_as_inclusive() -> None:
    """A control: the sandbox's reading (both bounds inclusive) loses nothing at page edges."""
    rows = _rows()
    assert _read(StrictFromLoop(rows, from_exclusive=False), page_size=2) == {r["id"] for r in rows}


def test_paged_read_keeps_every_return_when_loop_reads_from_as_exclusive() -> None:
    """Pages of two split each second: the cursor (timestamp only, trap 4) then skips the
    second's third row. recon re-reads [T, T + 1 s] to bring it back; a Loop that reads
    ``from`` as ``updated_at > T`` answers none of T's rows to that, and every zone shift
    tried after it misses too, so the return is never read (and, the page edges falling in the
    same places, not the next night either): its refund looks missing or unlinked."""
    rows = _rows()
    assert _read(StrictFromLoop(rows), page_size=2) == {r["id"] for r in rows}
