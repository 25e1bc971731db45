"""A side waiting out a Retry-After stops when the other side fails, not when the wait ends.

Loop asks recon to come back in four minutes (429, ``Retry-After: 240``); meanwhile Shopify
refuses the run. The run fails with Shopify's error either way; the Loop side must not hold it
(and the shop's run lock) for the rest of a wait whose answer will be thrown away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from recon.clock import VirtualClock
from recon.errors import AuthError
from recon.fetch import FetchPlan, fetch
from recon.models import OrderRecord, Quarantined
from recon.sources.http import RetryPolicy
from recon.sources.loop import LoopClient
from tests.fakes import FakeShopify
from tests.unit.sources.sources_scripted import ScriptedTransport

WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
RETRY_AFTER = 240.0
REAL_SECONDS_PER_SECOND = 0.01  # the clock's sleeps pass a hundred times faster than real time


class SleepingClock(VirtualClock):
    """A virtual clock whose sleeps also take (scaled) real time, so another thread can act
    during one; ``slept`` adds up the seconds slept, ``sleeping`` is set at the first sleep."""

    def __init__(self) -> None:
        super().__init__(datetime(2026, 11, 3, tzinfo=UTC))
        self.slept = 0.0
        self.sleeping = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        time.sleep(seconds * REAL_SECONDS_PER_SECOND)
        self.slept += seconds
        super().sleep(seconds)


class RefusingShopify(FakeShopify):
    """Shopify refuses the token once Loop has begun its wait."""

    clock: SleepingClock | None = None

    def iter_refunded_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderRecord | Quarantined]:
        assert self.clock is not None and self.clock.sleeping.wait(10)
        raise AuthError("shopify POST /admin/api/graphql.json: HTTP 401: token refused")
        yield  # pragma: no cover - a generator like the real one


def test_a_retry_after_wait_ends_when_the_other_side_fails() -> None:
    clock = SleepingClock()
    busy = httpx.Response(429, headers={"Retry-After": str(int(RETRY_AFTER))})
    transport = ScriptedTransport([busy], repeat_last=True)
    loop = LoopClient(
        httpx.Client(transport=transport),
        base_url="https://api.loopreturns.test",
        api_version="2026-07",
        api_key="loop-key",
        clock=clock,
        policy=RetryPolicy(max_wait=300),
    )
    shopify = RefusingShopify()
    shopify.clock = clock
    with pytest.raises(AuthError):
        fetch(FetchPlan.for_window(WINDOW), loop, shopify)
    assert len(transport.requests) == 1  # no request after Shopify failed
    assert clock.slept < RETRY_AFTER / 4, "the Loop side waited out its Retry-After"
