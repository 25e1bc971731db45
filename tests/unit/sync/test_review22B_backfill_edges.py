"""review22B: a backfill's range edges for Loop, whichever zone Loop reads ``from``/``to`` in.

loop-returns-api.md §6 trap 6: the time zone of ``from``/``to`` is not documented; the advice is
"send UTC explicitly and overlap windows". recon's own Loop client says (``recon.sources.loop``
docstring) that a server reading the bounds as wall time in the shop's zone "can delay a return
by a night but never lose it", because the nightly look-back re-reads far more than ±14 hours.
A backfill has no look-back: its Loop windows start exactly at ``--from`` and end exactly at
``--to``, so under that reading the first (or last) hours of the range are read by nothing, and
a return updated there never reaches the mirror (the nightly watermarks are far later).

The Loop below is the real client against a scripted list endpoint that reads the digits of
``from``/``to`` as wall time in the shop's zone (the sandbox's ``Faults.loop_zone_hours``
reading); Shopify is the in-memory fake.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from recon.backfill import backfill
from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.sources.http import RetryPolicy
from recon.sources.loop import LoopClient
from recon.store.sql import SqlStore
from tests.fakes import FakeShopify

EXAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "examples" / "loop"
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 10, tzinfo=UTC)
SETTINGS = SyncSettings(backfill_window_days=3, lookback_hours=72, initial_days=1)


def _item(return_id: str, updated_at: datetime) -> dict[str, Any]:
    item = json.loads((EXAMPLES / "return-closed-refund.json").read_text())
    item["id"] = return_id
    stamp = updated_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    item["created_at"] = item["updated_at"] = stamp
    return item


class ZoneReadingLoop(httpx.MockTransport):
    """Loop's list endpoint reading ``from``/``to`` as wall time at UTC``zone_hours``
    (inclusive bounds, one page, ``state`` honoured)."""

    def __init__(self, returns: list[dict[str, Any]], zone_hours: float) -> None:
        self.returns = returns
        self.zone = timedelta(hours=zone_hours)
        super().__init__(self._answer)

    def _bound(self, text: str) -> datetime:
        wall = datetime.fromisoformat(text.replace("Z", "")).replace(tzinfo=None)
        return wall.replace(tzinfo=UTC) - self.zone

    def _answer(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        low, high = self._bound(params["from"]), self._bound(params["to"])
        rows = [
            r
            for r in self.returns
            if r["state"] == params["state"]
            and low <= datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00")) <= high
        ]
        return httpx.Response(200, json={"returns": rows, "nextPageUrl": None})


def _mirrored_after_backfill(tmp_path: Path, zone_hours: float, updated_at: datetime) -> set[str]:
    clock = VirtualClock(END + timedelta(days=30))
    loop = LoopClient(
        httpx.Client(transport=ZoneReadingLoop([_item("4242", updated_at)], zone_hours)),
        base_url="https://api.loopreturns.com/api",
        api_version="2026-07",
        api_key="loop-key",
        clock=clock,
        policy=RetryPolicy(zero_wait=True),
    )
    store = SqlStore(f"sqlite:///{tmp_path / 'mirror.db'}", clock=clock)
    try:
        backfill(store, loop, FakeShopify(), clock, SETTINGS, start=START, end=END, progress=False)
        return set(store.mirrored_returns(["4242"]))
    finally:
        store.close()


def test_control_the_scripted_loop_serves_a_mid_range_return(tmp_path: Path) -> None:
    """The harness works: a return in the middle of the range is mirrored in either zone."""
    assert _mirrored_after_backfill(tmp_path, -5.0, START + timedelta(days=4)) == {"4242"}


def test_a_return_updated_in_the_first_hours_of_the_range_is_backfilled(tmp_path: Path) -> None:
    """A US shop (UTC-5): a return updated at 02:00 UTC on --from's day is in the range asked
    for, but Loop reads 'from=...T00:00:00Z' as 05:00 UTC and nothing else reads those hours."""
    assert _mirrored_after_backfill(tmp_path, -5.0, START + timedelta(hours=2)) == {"4242"}


def test_a_return_updated_in_the_last_hours_of_the_range_is_backfilled(tmp_path: Path) -> None:
    """An Australian shop (UTC+10): a return updated 3 hours before --to is in the range, but
    Loop reads 'to=...T00:00:00Z' as 14:00 UTC the day before; the nightly watermarks are a
    month later, so no later read reaches it either."""
    assert _mirrored_after_backfill(tmp_path, 10.0, END - timedelta(hours=3)) == {"4242"}
