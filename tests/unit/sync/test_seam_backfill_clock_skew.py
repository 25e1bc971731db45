"""Seam: the backfill's watermarks (moved to the moment its windows were cut at) and the
nightly's clock-skew rule (a host clock ahead of an API's sets that API's watermarks by its
clock). The backfill hands the nightly a host-clock watermark, so a host clock ahead of
Shopify's by more than the look-back loses what Shopify changed just after the backfill."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recon.backfill import backfill
from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.store.sql import SqlStore
from recon.sync import SWEEP, run_sync
from tests.fakes import EPOCH
from tests.unit.sync.test_clock_skew import refunded_at, sources

SETTINGS = SyncSettings(lookback_hours=2, initial_days=60, backfill_window_days=3)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=30))


def test_a_refund_made_just_after_a_backfill_is_read_though_the_host_clock_is_ahead(
    store: SqlStore, clock: VirtualClock
) -> None:
    """The host clock is 3 hours ahead of Shopify's (the look-back is 2), as in
    ``test_clock_skew``, but the mirror was filled by a backfill up to now instead of a
    nightly. Thirty minutes after the backfill read, Shopify refunds order 5001 (stamped by
    its own clock, 2.5 hours before the host's time of the read). The next nightly must read
    it, as it does after a nightly."""
    ahead = timedelta(hours=3)
    loop, shopify = sources(clock, shopify_behind=ahead)
    began = clock.now()
    backfill(
        store, loop, shopify, clock, SETTINGS,
        start=began - timedelta(days=5), end=began, progress=False,
    )  # fmt: skip
    assert shopify.server_clock.reading() is not None  # Shopify's Date headers were seen
    shopify_now = began - ahead
    refunded = refunded_at(shopify_now + timedelta(minutes=30))
    shopify.orders, shopify.refunds = refunded.orders, refunded.refunds
    clock.advance(timedelta(days=1))
    run_sync(store, loop, shopify, clock, SETTINGS)
    snapshot = store.load_snapshot()
    assert [o.id for o in snapshot.orders] == ["5001"], store.get_watermark(SWEEP)
    assert [r.id for r in snapshot.refunds] == ["7001"]
