"""Review 18: reading Loop returns and keeping them in the mirror (today's later-copy rule and
the Get Return Details quarantine), against a scripted Loop and either store.

Loop's windows overlap, so one return is often listed twice in one run; a closed refund return
whose list item carries no refund link has its Get Return Details read for each listing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from recon.clock import VirtualClock
from recon.fetch import Batch
from recon.models import RETURN_DETAILS_UNREAD, LoopReturnRecord, Quarantined
from recon.sources.http import RetryPolicy
from recon.sources.loop import LoopClient
from recon.store.sql import SqlStore
from recon.sync import commit_batch

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "examples"
BASE = "https://api.loopreturns.com/api"
START = datetime(2026, 1, 1, tzinfo=UTC)
RETURN_ID = "12345701"


def _listed() -> dict[str, Any]:
    """Loop's list item of a closed refund return with no refund link (no
    ``shopify_refund_object``): recon asks Get Return Details for its ``refunds[]``."""
    item = json.loads((EXAMPLES / "loop" / "return-closed-refund.json").read_text())
    item.pop("shopify_refund_object", None)
    return dict(item)


def _details() -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / "loop" / "return-details.json").read_text()))


class TwoListings:
    """A Loop whose two overlapping windows both list the return; its Get Return Details
    answer ``statuses`` in turn (200: the details, else that status)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.details_asked = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/warehouse/return/details"):
            self.details_asked += 1
            status = self.statuses.pop(0)
            if status == 200:
                return httpx.Response(200, json=_details())
            return httpx.Response(status, json={"message": "Return not found."})
        body = {"returns": [_listed()], "nextPageUrl": None, "previousPageUrl": None}
        return httpx.Response(200, json=body)


def _read(loop: TwoListings) -> Batch:
    client = LoopClient(
        httpx.Client(transport=httpx.MockTransport(loop)),
        base_url=BASE,
        api_version="2026-07",
        api_key="loop-secret-key",
        clock=VirtualClock(),
        policy=RetryPolicy(zero_wait=True),
        window_days=100,
    )
    batch = Batch()
    for item in client.iter_returns(START, START + timedelta(days=150), "closed"):
        if isinstance(item, Quarantined):
            batch.quarantined.append(item)
        else:
            assert isinstance(item, LoopReturnRecord)
            batch.returns.append(item)
    return batch


def _commit(store_url: str, batch: Batch) -> tuple[list[str | None], list[str]]:
    """Commit a night's batch; the mirrored return's provider refund ids and its open
    refund-link-unknown entries."""
    store = SqlStore(store_url, clock=VirtualClock())
    try:
        commit_batch(store, batch, None)
        mirrored = store.mirrored_returns([RETURN_ID])[RETURN_ID]
        open_entries = [
            e.entry.reason
            for e in store.quarantine_entries()
            if e.entry.record_id == RETURN_ID and e.entry.reason.startswith(RETURN_DETAILS_UNREAD)
        ]
    finally:
        store.close()
    return [r.provider_refund_id for r in mirrored.refunds], open_entries


def test_a_return_listed_twice_has_its_details_read_once_and_is_linked_and_not_held(
    store_url: str,
) -> None:
    """The return sits in the overlap of two windows; both listings are the same version. Its
    Get Return Details are asked once (the copy read again is dropped before they are asked):
    one answer, so a second call failing (404, a 5xx) cannot unlink what the first read, which
    made the engine call Loop's own refund missing (MISSING_REFUND on a paid return) and held
    the return's writes behind an entry saying the link was unknown."""
    loop = TwoListings([200, 404])
    refunds, open_entries = _commit(store_url, _read(loop))
    assert loop.details_asked == 1
    assert refunds == ["918273645123"]
    assert open_entries == []


def test_a_return_listed_twice_whose_details_fail_is_asked_once_and_held(store_url: str) -> None:
    """The same listings, Get Return Details failing: one call, not one per listing, and the
    return is held (refund link unknown) for the next night to ask again."""
    loop = TwoListings([404, 200])
    refunds, open_entries = _commit(store_url, _read(loop))
    assert loop.details_asked == 1
    assert refunds == []
    assert len(open_entries) == 1
