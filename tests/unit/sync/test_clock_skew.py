"""A host clock ahead of an API's: found from the responses' ``Date`` headers, warned about, and
the watermark set by the API's clock, so what the API changes after a read is read next night."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.ports import LOOP_STATES
from recon.sources.server_clock import ServerClock
from recon.store.sql import SqlStore
from recon.sync import PAYOUTS, SWEEP, loop_stream, run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, make_order, make_refund, make_return

SETTINGS = SyncSettings(lookback_hours=2, initial_days=60)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=30))


class DatedClock(ServerClock):
    """A server clock whose API answers ``behind`` the host clock (None: without ``Date``)."""

    def __init__(self, clock: VirtualClock, behind: timedelta | None) -> None:
        super().__init__(clock)
        self.host, self.behind = clock, behind

    def answer(self) -> None:
        date = None if self.behind is None else self.host.now() - self.behind
        headers = {} if date is None else {"Date": format_datetime(date, usegmt=True)}
        self.observe(httpx.Response(200, headers=headers))


class DatedShopify(FakeShopify):
    """``FakeShopify`` whose every call is answered with a ``Date`` (``server_clock``)."""

    server_clock: DatedClock

    def record(self, *call: Any) -> None:
        super().record(*call)
        self.server_clock.answer()


class DatedLoop(FakeLoop):
    server_clock: DatedClock

    def record(self, *call: Any) -> None:
        super().record(*call)
        self.server_clock.answer()


def sources(
    clock: VirtualClock, *, shopify_behind: timedelta | None, loop_behind: timedelta | None = None
) -> tuple[DatedLoop, DatedShopify]:
    loop, shopify = DatedLoop(), DatedShopify()
    loop.server_clock = DatedClock(clock, loop_behind)
    shopify.server_clock = DatedClock(clock, shopify_behind)
    return loop, shopify


def refunded_at(at: datetime) -> FakeShopify:
    """Order 5001 with refund 7001, both stamped ``at`` by Shopify's clock."""
    refund = make_refund(1, at, make_return(1, at).refund)
    order = make_order(1, at, (refund.id,))
    return FakeShopify(orders=[order], refunds=[refund])


def test_a_refund_made_just_after_the_read_is_read_though_the_host_clock_is_ahead(
    store: SqlStore, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The host clock is 3 hours ahead of Shopify's (the look-back is 2). Thirty minutes after
    night 1's read, Shopify refunds order 5001, stamped by its own clock: 2.5 hours before the
    host's watermark. Night 2 reads it (from a watermark set by Shopify's clock), and night 1
    warned, naming both clocks."""
    ahead = timedelta(hours=3)
    loop, shopify = sources(clock, shopify_behind=ahead)
    night1 = clock.now()
    with caplog.at_level(logging.WARNING):
        run_sync(store, loop, shopify, clock, SETTINGS)
    shopify_now = night1 - ahead
    (warning,) = [r.getMessage() for r in caplog.records if "host clock" in r.getMessage()]
    assert night1.isoformat(timespec="seconds") in warning
    assert shopify_now.isoformat(timespec="seconds") in warning
    assert "Shopify" in warning and "lookback_hours" in warning
    assert store.get_watermark(SWEEP) == shopify_now  # Shopify's clock, to the second
    assert store.get_watermark(loop_stream("closed")) == night1  # Loop's is not skewed

    refunded = refunded_at(shopify_now + timedelta(minutes=30))
    shopify.orders, shopify.refunds = refunded.orders, refunded.refunds
    clock.advance(timedelta(days=1))
    run_sync(store, loop, shopify, clock, SETTINGS)
    snapshot = store.load_snapshot()
    assert [o.id for o in snapshot.orders] == ["5001"]
    assert [r.id for r in snapshot.refunds] == ["7001"]


def test_a_loop_clock_behind_the_host_moves_only_loops_watermarks(
    store: SqlStore, clock: VirtualClock
) -> None:
    loop, shopify = sources(clock, shopify_behind=None, loop_behind=timedelta(hours=1))
    until = clock.now()
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert {store.get_watermark(loop_stream(s)) for s in LOOP_STATES} == {
        until - timedelta(hours=1)
    }
    assert store.get_watermark(PAYOUTS) == until


@pytest.mark.parametrize(
    "behind",
    [None, timedelta(minutes=29), timedelta(0), -timedelta(hours=5)],
    ids=["no Date header", "within a quarter of the look-back", "in step", "host behind"],
)
def test_a_small_skew_or_none_leaves_the_watermark_at_the_hosts_time(
    store: SqlStore, clock: VirtualClock, caplog: pytest.LogCaptureFixture, behind: timedelta
) -> None:
    """The look-back absorbs a skew of up to a quarter of it; a host clock behind the API's
    loses nothing (the window only starts earlier than it needs to): no warning, no change."""
    loop, shopify = sources(clock, shopify_behind=behind, loop_behind=behind)
    until = clock.now()
    with caplog.at_level(logging.WARNING):
        run_sync(store, loop, shopify, clock, SETTINGS)
    assert not [r for r in caplog.records if "host clock" in r.getMessage()]
    assert store.get_watermark(SWEEP) == until
    assert store.get_watermark(loop_stream("open")) == until


def test_each_run_measures_its_own_skew(store: SqlStore, clock: VirtualClock) -> None:
    """The clients outlive a run under the scheduler: a host clock in step one night and 3
    hours ahead the next moves the second night's watermark (an in-step reading of the night
    before does not hide it)."""
    loop, shopify = sources(clock, shopify_behind=timedelta(0))
    run_sync(store, loop, shopify, clock, SETTINGS)
    shopify.server_clock.behind = timedelta(hours=3)
    clock.advance(timedelta(days=1))
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert store.get_watermark(SWEEP) == clock.now() - timedelta(hours=3)
