"""Client-side pacing: waits happen before sending, on the virtual clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recon.clock import VirtualClock
from recon.sources.pacing import PACING_MARGIN_POINTS, CostBucket, RequestPacer, TokenBucket


def _ext(
    available: float, restore: float = 50, maximum: float = 1000, requested: float | None = None
) -> dict[str, object]:
    status = {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": restore}
    return {"cost": {"requestedQueryCost": requested, "throttleStatus": status}}


def test_cost_bucket_sleeps_the_shortfall_over_restore_rate() -> None:
    clock = VirtualClock()
    bucket = CostBucket(clock)
    bucket.pace(900)
    assert clock.monotonic() == 0  # nothing known yet: no wait
    bucket.observe(_ext(available=100, restore=50))
    bucket.pace(300)
    # (300 + margin - 100) / 50: the margin absorbs the rounding of currentlyAvailable
    assert clock.monotonic() == pytest.approx((300 + PACING_MARGIN_POINTS - 100) / 50)


def test_cost_bucket_estimate_restores_over_time_and_caps() -> None:
    clock = VirtualClock()
    bucket = CostBucket(clock)
    bucket.observe(_ext(available=100, restore=50, maximum=1000))
    clock.advance(timedelta(seconds=2))
    assert bucket.estimated_available() == pytest.approx(200)
    clock.advance(timedelta(seconds=100))
    assert bucket.estimated_available() == pytest.approx(1000)
    assert bucket.wait_needed(5000) == 0  # never waits for more than a full bucket


def test_throttled_wait_from_throttle_status() -> None:
    bucket = CostBucket(VirtualClock())
    # examples/shopify/graphql-throttled-error.json: (752 - 666) / 50
    assert bucket.throttled_wait(_ext(available=666, restore=50, requested=752)) == pytest.approx(
        1.72
    )


def test_request_pacer_does_not_pace_again_after_a_throttled_wait() -> None:
    clock = VirtualClock()
    bucket = CostBucket(clock)
    pacer = RequestPacer(bucket, cost=900)
    wait = pacer.throttled(_ext(available=100, restore=50, requested=500))
    assert wait == pytest.approx(8.0)
    clock.sleep(wait)
    pacer.pace()  # the THROTTLED wait covered this attempt: no (900 - 500) / 50 on top
    assert clock.monotonic() == pytest.approx(8.0)
    pacer.pace()  # a later attempt (after another kind of failure) is paced as usual
    assert clock.monotonic() == pytest.approx(8.0 + (900 + PACING_MARGIN_POINTS - 500) / 50)


def test_token_bucket_never_exceeds_300_in_any_minute() -> None:
    clock = VirtualClock()
    bucket = TokenBucket(clock, per_minute=300, burst=5)
    times = []
    for _ in range(900):
        bucket.acquire()
        times.append(clock.monotonic())
    assert times[:5] == [0.0] * 5  # the burst goes at once
    for index, start in enumerate(times):
        in_window = sum(1 for t in times[index:] if t < start + 60)
        assert in_window <= 300
    assert times[-1] < 200  # and it is not needlessly slow
