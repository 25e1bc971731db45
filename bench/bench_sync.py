"""Benchmark the sync against the rate-limited sandbox: API calls, refusals and wall time vs floor.

``python bench/bench_sync.py [--orders 50000 --returns 10000 --scale 50]``

A generated world is served with Shopify at the Standard plan (bucket 2,000 points, 100 points/s)
and Loop at 300 requests/minute, both enforced. Emulators and clients share one clock that runs
``scale`` times faster than real time, so rate-limit time passes quickly; every time below is in
that clock's seconds ("API seconds"). Two runs: a one-year backfill, then one simulated night.

The "minimum" calls are a model of the reads a sync must make (``FORMULA``): each stream's
records over the largest page the cost cap allows. The updated-orders list (``OrdersUpdated``,
ids and times of every order changed in a window) writes no record, so the model counts it from
the orders it listed (``SyncStats.listed``): ``max(1, ceil(listed / 250))`` per run, the same
"at least one query" the sweep is given. Its calls are in the measured figures like any other,
and so are the full reads of the orders it picks (they are written: ``orders``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recon.backfill import backfill
from recon.clock import SystemClock
from recon.config import SyncSettings
from recon.ports import LOOP_STATES
from recon.sandbox.generator import generate_world
from recon.sandbox.server import SandboxServer
from recon.sandbox.state import SandboxState
from recon.sources.documents import MAX_QUERY_COST, PageSizer, load_document
from recon.sources.loop import LoopClient
from recon.sources.shopify import ShopifyClient
from recon.store.sql import SqlStore
from recon.sync import SyncStats, run_sync

SHOPIFY_BUCKET, SHOPIFY_RESTORE = 2000.0, 100.0  # Standard plan (shopify-admin-api.md §15)
LOOP_PER_SECOND = 300 / 60  # loop-returns-api.md §4
LOOP_PAGE = 750
GOAL_RATIO = 1.2


class ScaledWorldClock:
    """``SystemClock(scale)`` for monotonic/sleep, and a world ``now`` that runs at the same rate.

    ``SystemClock.now()`` is the real wall clock (unscaled, not at the world's start), so the
    sandbox cannot use it directly; ``jump`` moves ``now`` only (a simulated night passes without
    refilling the rate-limit buckets).
    """

    def __init__(self, start: datetime, scale: float) -> None:
        self._inner = SystemClock(scale=scale)
        self._start, self._mono0, self._jumped = start, self._inner.monotonic(), timedelta()

    def now(self) -> datetime:
        return self._start + self._jumped + timedelta(seconds=self.monotonic() - self._mono0)

    def monotonic(self) -> float:
        return self._inner.monotonic()

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

    def jump(self, delta: timedelta) -> None:
        self._jumped += delta


@dataclass
class Meter:
    """httpx event hooks: calls per API, THROTTLED and 429 responses, Shopify requested cost."""

    loop_port: int
    calls: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    too_many: int = 0
    requested_cost: float = 0.0
    actual_cost: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_request(self, request: httpx.Request) -> None:
        with self.lock:
            self.calls["loop" if request.url.port == self.loop_port else "shopify"] += 1

    def on_response(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            with self.lock:
                self.too_many += 1
        if response.request.url.port == self.loop_port:
            return
        body = json.loads(response.read() or b"{}")
        codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
        cost_info = (body.get("extensions") or {}).get("cost") or {}
        cost, actual = cost_info.get("requestedQueryCost"), cost_info.get("actualQueryCost")
        with self.lock:
            if "THROTTLED" in codes:
                self.throttled += 1
            elif isinstance(cost, int | float):
                self.requested_cost += cost
                self.actual_cost += actual if isinstance(actual, int | float) else cost

    def snapshot(self) -> tuple[int, int, int, int, float, float]:
        with self.lock:
            return (
                self.calls["loop"],
                self.calls["shopify"],
                self.throttled,
                self.too_many,
                self.requested_cost,
                self.actual_cost,
            )


def page_sizes() -> dict[str, int]:
    """Largest page (or ids chunk) per Shopify document under the 1,000-point cap."""
    sizer = PageSizer(budget=MAX_QUERY_COST)
    sizes = {}
    for name in (
        "OrdersPage",
        "OrdersUpdated",
        "OrdersById",
        "RefundsById",
        "Payouts",
        "BalanceTransactions",
        "GiftCards",
    ):
        var, empty = ("ids", {"ids": []}) if name.endswith("ById") else ("first", {"first": 0})
        sizes[name] = sizer.size(load_document(name), var, empty)
    return sizes


STREAM_DOCS = {
    "orders": "OrdersById",
    "refunds": "RefundsById",
    "payouts": "Payouts",
    "balance_transactions": "BalanceTransactions",
    "gift_cards": "GiftCards",
}


def minimum_calls(records: dict[str, int], loop_windows: int, listed: int = 0) -> tuple[int, int]:
    """(Loop, Shopify) fewest calls that could fetch ``records``, the updated-orders list
    having named ``listed`` orders (see ``FORMULA``)."""
    sizes = page_sizes()
    returns = records.get("returns", 0)
    loop = max(math.ceil(returns / LOOP_PAGE), len(LOOP_STATES) * loop_windows)
    shopify = 2  # the refunded-orders sweep: at least one query per financial status
    shopify += max(1, math.ceil(listed / sizes["OrdersUpdated"]))  # the updated-orders list
    for kind, doc in STREAM_DOCS.items():
        shopify += max(1, math.ceil(records.get(kind, 0) / sizes[doc]))
    return loop, shopify


FORMULA = """minimum calls = for each stream, ceil(records / largest page the cost cap allows):
  Loop:    max(ceil(returns / 750), 5 states x ceil(days / 120))  (a state is its own call
           sequence; a window may not exceed 120 days)
  Shopify: 2 (sweep, one per status) + max(1, ceil(orders the updated-orders list named /
           OrdersUpdated page)) + sum over OrdersById, RefundsById, Payouts,
           BalanceTransactions, GiftCards of max(1, ceil(records / page)); pages: {sizes}
floors (API seconds): Shopify = max(0, requested cost - 2,000 bucket) / 100 per s;
  Loop = calls / 5 per s; floor = the slower of the two (they run concurrently).
  Shopify refunds requested - actual cost after each query, so the binding floor is the one
  by actual cost; both are shown."""


@dataclass
class Result:
    """One measured run."""

    name: str
    loop_calls: int
    shopify_calls: int
    throttled: int
    too_many: int
    cost: float
    actual: float
    wall: float  # API seconds
    real: float  # real seconds
    min_loop: int
    min_shopify: int

    def floors(self) -> tuple[float, float, float]:
        """(Shopify floor by requested cost, by actual cost, Loop floor), API seconds."""
        shopify = max(0.0, self.cost - SHOPIFY_BUCKET) / SHOPIFY_RESTORE
        actual = max(0.0, self.actual - SHOPIFY_BUCKET) / SHOPIFY_RESTORE
        return shopify, actual, self.loop_calls / LOOP_PER_SECOND


def measure(
    name: str,
    meter: Meter,
    clock: ScaledWorldClock,
    run: Callable[[], SyncStats],
    loop_windows: int,
) -> Result:
    """Run ``run`` and read the meter and clock around it."""
    before, mono, real = meter.snapshot(), clock.monotonic(), time.monotonic()
    stats = run()
    after = meter.snapshot()
    loop, shopify, throttled, too_many, cost, actual = (
        a - b for a, b in zip(after, before, strict=True)
    )
    min_loop, min_shopify = minimum_calls(stats.records, loop_windows, stats.listed)
    return Result(
        name,
        int(loop),
        int(shopify),
        int(throttled),
        int(too_many),
        float(cost),
        float(actual),
        clock.monotonic() - mono,
        time.monotonic() - real,
        min_loop,
        min_shopify,
    )


def print_report(results: list[Result], scale: float) -> None:
    """The figures, each with its anchor and ratio."""
    print(FORMULA.format(sizes=page_sizes()))
    head = f"{'run':<10}{'metric':<30}{'measured':>14}{'anchor':>14}{'ratio':>8}  goal"
    print("\n" + head + "\n" + "-" * len(head))
    for r in results:
        shopify_floor, actual_floor, loop_floor = r.floors()
        floor, true_floor = max(shopify_floor, loop_floor), max(actual_floor, loop_floor)
        rows = [
            ("Loop calls (vs minimum)", r.loop_calls, r.min_loop, "-"),
            ("Shopify calls (vs minimum)", r.shopify_calls, r.min_shopify, "-"),
            ("THROTTLED responses", r.throttled, 0, "0"),
            ("429 responses", r.too_many, 0, "0"),
            ("Shopify requested cost", r.cost, SHOPIFY_BUCKET, "-"),
            ("Shopify actual cost", r.actual, r.cost, "-"),
            ("Shopify floor s", shopify_floor, None, "-"),
            ("Shopify floor s (actual cost)", actual_floor, None, "-"),
            ("Loop floor s", loop_floor, None, "-"),
            ("wall API s (vs floor)", r.wall, floor, f"<= {GOAL_RATIO}x"),
            ("wall API s (vs actual floor)", r.wall, true_floor, f"<= {GOAL_RATIO}x"),
            (f"wall real s (scale {scale:g})", r.real, None, "-"),
        ]
        for metric, value, anchor, goal in rows:
            ratio = f"{value / anchor:.2f}" if anchor else "-"
            shown = "-" if anchor is None else f"{anchor:,.0f}"
            print(f"{r.name:<10}{metric:<30}{value:>14,.1f}{shown:>14}{ratio:>8}  {goal}")


def main(argv: list[str] | None = None) -> None:
    """Generate, serve, backfill a year, run one night, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--returns", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=50.0, help="API seconds per real second")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    began = time.monotonic()
    world, _ = generate_world(
        seed=args.seed, returns=args.returns, orders=args.orders, future_days=1
    )
    print(
        f"world: {len(world.orders):,} orders, {len(world.loop_returns):,} returns, "
        f"{len(world.balance_transactions):,} balance transactions "
        f"(generated in {time.monotonic() - began:.0f}s)"
    )
    clock = ScaledWorldClock(world.now, args.scale)
    state = SandboxState(world, clock=clock)
    settings = SyncSettings()
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(state, loop_rate_limit=True) as srv:
        meter = Meter(loop_port=httpx.URL(srv.loop_base_url).port or 0)
        hooks = {"request": [meter.on_request], "response": [meter.on_response]}
        with httpx.Client(timeout=120.0, event_hooks=hooks) as http:
            loop = LoopClient(
                http,
                base_url=srv.loop_base_url,
                api_version="2026-07",
                api_key=srv.loop_api_key,
                clock=clock,
            )
            shopify = ShopifyClient(
                http,
                base_url=srv.shopify_base_url,
                api_version="2026-04",
                token=srv.shopify_token,
                clock=clock,
            )
            store = SqlStore(f"sqlite:///{Path(tmp) / 'bench.db'}", clock=clock)
            start, end = world.now - timedelta(days=365), world.now
            results = [
                measure(
                    "backfill",
                    meter,
                    clock,
                    lambda: backfill(
                        store, loop, shopify, clock, settings, start=start, end=end, progress=False
                    ),
                    loop_windows=math.ceil(365 / 120),
                )
            ]
            clock.jump(timedelta(days=1))
            results.append(
                measure(
                    "nightly",
                    meter,
                    clock,
                    lambda: run_sync(store, loop, shopify, clock, settings),
                    loop_windows=1,
                )
            )
            store.close()
    print_report(results, args.scale)


if __name__ == "__main__":
    main()
