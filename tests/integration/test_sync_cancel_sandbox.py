"""When one API gives up, the other side of the sync stops at its next page.

Loop and Shopify are read in two threads (``recon.fetch.fetch``). One API answering nothing but
503 spends its retry budget and the run fails; the other side, still reading a healthy API, must
not go on paging (for minutes against a struggling API, holding the run lock) only for its
records to be thrown away. Each test holds the healthy side on its second request until the
failing side has sent its last attempt, so what it sends afterwards is what cancellation saves.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.errors import RetryBudgetExhaustedError  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sources.http import RetryPolicy  # noqa: E402
from recon.sources.retry_budget import RetryBudget  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)

BUDGET = 2  # retries after failures: the failing API gives up on its 3rd attempt
HOLD_AT = 2  # the healthy side's request that waits for the failing side to give up


class AlwaysUnavailable:
    """An ASGI app answering every request 503; ``gave_up`` is set on its last allowed attempt."""

    def __init__(self, app: Any, attempts: int) -> None:
        self.app = app
        self.attempts = attempts
        self.served = 0
        self.gave_up = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.served += 1
        if self.served >= self.attempts:
            self.gave_up.set()
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b"busy"})


def _hold(api: str, port: int | None, failing: AlwaysUnavailable, sent: list[str]) -> Any:
    """A request hook: counts ``api``'s requests; its ``HOLD_AT``-th waits until the failing API
    has sent its last answer, then a moment for the failure to reach the sync."""

    def hook(request: httpx.Request) -> None:
        if (request.url.port == port) != (api == "loop"):
            return
        sent.append(str(request.url))
        if len(sent) == HOLD_AT:
            assert failing.gave_up.wait(30), "the failing API was never asked enough times"
            time.sleep(0.5)

    return hook


def _world() -> Any:
    world, _truth = generate_world(seed=29, returns=60, future_days=3)
    return normalise_generated_world(world)


def _run(rig: Any, hook: Any) -> RetryBudgetExhaustedError:
    rig.http.event_hooks = {"request": [*rig.http.event_hooks["request"], hook], "response": []}
    settings = sync_settings_for_tests(initial_days=400)
    with pytest.raises(RetryBudgetExhaustedError) as failed:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
    return failed.value


def _budgets() -> dict[str, RetryBudget]:
    return {api: RetryBudget(api, retries=BUDGET, seconds=1800) for api in ("loop", "shopify")}


@pytest.mark.slow
def test_loop_giving_up_stops_the_shopify_side_at_its_next_page(tmp_path: Path) -> None:
    holder: dict[str, AlwaysUnavailable] = {}

    def wrap(app: Any) -> Any:
        holder["loop"] = AlwaysUnavailable(app, BUDGET + 1)
        return holder["loop"]

    policy = RetryPolicy(max_attempts=20)
    with sandbox_rig(
        _world(), tmp_path, loop_wrapper=wrap, policy=policy, budgets=_budgets()
    ) as rig:
        port = httpx.URL(rig.server.loop_base_url).port
        sent: list[str] = []
        error = _run(rig, _hold("shopify", port, holder["loop"], sent))
    assert str(error).startswith("loop: this run's retry budget is spent"), error
    # The held request, and at most the one the failure reached in the middle of: not the
    # sweep's other status, the payouts, balance transactions and gift cards (6 or more).
    assert len(sent) <= HOLD_AT + 1, "\n".join(sent)


@pytest.mark.slow
def test_shopify_giving_up_stops_the_loop_side_at_its_next_page(tmp_path: Path) -> None:
    holder: dict[str, AlwaysUnavailable] = {}

    def wrap(app: Any) -> Any:
        holder["shopify"] = AlwaysUnavailable(app, BUDGET + 1)
        return holder["shopify"]

    policy = RetryPolicy(max_attempts=20)
    with sandbox_rig(
        _world(),
        tmp_path,
        shopify_wrapper=wrap,
        policy=policy,
        budgets=_budgets(),
        loop_page_size=5,  # many Loop pages: six states, a dozen pages or more
    ) as rig:
        port = httpx.URL(rig.server.loop_base_url).port
        sent: list[str] = []
        started = time.monotonic()
        error = _run(rig, _hold("loop", port, holder["shopify"], sent))
        assert time.monotonic() - started < timedelta(seconds=20).total_seconds()
    assert str(error).startswith("shopify: this run's retry budget is spent"), error
    assert len(sent) <= HOLD_AT + 1, "\n".join(sent)
