"""Seam (xfail): throttled writes left for the next run are outside the daily limits.

A write whose throttle was outlasted is left in flight, uncounted (``NOT_RUN``, 3501875), and
the next run resends it in ``Executor._resolve`` with no daily-limit check (in-flight intents
used to be counted on their first send's day, so none was needed). Throttled nights therefore
let more writes than ``max_daily_count`` pile up, and they all land on the day Shopify answers.
"""

from __future__ import annotations

from datetime import timedelta

from remediation_world import SHOP, finding, settings
from run_helpers import run

from recon.errors import RetryExhaustedError
from recon.models import Category
from recon.remediation.daily import moved_between

REFUND = finding(Category.MISSING_REFUND, "12345701")
RESTOCK = finding(Category.MISSING_RESTOCK, "12345702", line="2002")


def _throttle() -> RetryExhaustedError:
    return RetryExhaustedError("shopify POST /graphql.json: gave up after 5 attempts: THROTTLED")


def test_throttled_writes_do_not_land_past_max_daily_count(sessions, gateway, clock):
    policy = settings(max_daily_count=1)
    gateway.raise_next["refund"] = _throttle()
    run(sessions, gateway, clock, policy=policy, findings=[REFUND])
    clock.advance(timedelta(hours=1))  # same day: the refund is resent (throttled again), and
    gateway.raise_next["refund"] = _throttle()  # the day, counting nothing, lets a restock go
    gateway.raise_next["adjust"] = _throttle()
    run(sessions, gateway, clock, policy=policy, findings=[REFUND, RESTOCK], run_id="run-2")
    clock.advance(timedelta(days=1))  # the next day Shopify answers: both land
    run(sessions, gateway, clock, policy=policy, findings=[REFUND, RESTOCK], run_id="run-3")
    day = (clock.now() - timedelta(hours=2), clock.now() + timedelta(hours=20))
    with sessions() as session:
        moved = moved_between(session, SHOP, *day)
    landed = len(gateway.refunds_with("Loop RMA #12345701")) + len(gateway.state["adjustments"])
    assert landed >= 1  # the scenario ran: Shopify did write
    assert len(moved) <= 1, f"{len(moved)} writes moved on one day with max_daily_count=1"
