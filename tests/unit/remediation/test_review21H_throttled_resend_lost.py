"""Review 21H: ``daily.answer_lost`` misses a send whose sender died when a later resend was
throttled (``NOT_RUN``) and the intent then ended from ``unknown``.

The first run sends 702's restock and dies before Shopify's answer is recorded: the restock
landed. The day's second run resends it with the same key; Shopify throttles it until the
attempts run out (``NOT_RUN``: that resend ran nothing). The third run, the same day, finds
the MISSING_RESTOCK no longer called for (acknowledged) and sends the intent to review
unresent. The first send's outcome was never known, exactly as in
``test_a_write_whose_run_died_before_its_answer_counts_for_the_day`` (which counts it), but
``answer_lost`` counts the sends (2), takes the throttled one off (1) and, the intent ending
from ``unknown``, never applies its "ended from sending by another run" rule: not lost. So
the day's ``max_daily_count`` 1 lets the third run's refund out (two writes on a day of one),
and the Actions sheet says nothing of the restock's unknown outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fakes import FakeGateway
from remediation_world import SHOP, finding, settings
from run_helpers import SimulatedCrashError, crash_once_at, intents, run
from sqlalchemy.orm import Session

from recon.clock import VirtualClock
from recon.errors import RetryExhaustedError
from recon.models import Category
from recon.remediation.daily import answer_lost
from recon.remediation.runner import action_rows

RESTOCK_702 = [finding(Category.MISSING_RESTOCK, "12345702", line="2002")]
REFUND_701 = [finding(Category.MISSING_REFUND, "12345701")]


def test_a_dead_send_resent_throttled_still_counts_for_the_day(
    sessions: Callable[[], Session], gateway: FakeGateway, clock: VirtualClock
) -> None:
    policy = settings(max_daily_count=1)
    with pytest.raises(SimulatedCrashError):
        run(
            sessions, gateway, clock, policy=policy, crash=crash_once_at("after_request_sent"),
            findings=RESTOCK_702,
        )  # fmt: skip
    assert gateway.available("3002") == 8  # the restock landed; its answer was never recorded
    clock.advance(timedelta(minutes=11))  # the dead run's lease expires; the same day
    gateway.raise_next["adjust"] = RetryExhaustedError(
        "shopify POST /graphql.json: gave up after 5 attempts: THROTTLED"
    )
    run(sessions, gateway, clock, policy=policy, holder="run-b", run_id="run-2",
        findings=RESTOCK_702)  # fmt: skip
    (restock,) = intents(sessions)
    assert restock.state == "unknown" and "not run" in restock.reason  # the resend ran nothing
    clock.advance(timedelta(minutes=11))
    third = run(sessions, gateway, clock, policy=policy, holder="run-c", run_id="run-3",
                findings=REFUND_701)  # fmt: skip
    restock = next(row for row in intents(sessions) if row.kind == "restock")
    assert restock.state == "needs_review" and "not resent" in restock.reason
    with sessions() as session:
        lost = answer_lost(session, [restock.id])
    (row,) = [r for r in action_rows(sessions, SHOP) if r["kind"] == "restock"]
    refunds = gateway.refunds_with("Loop RMA #12345701")
    assert restock.id in lost and third.halted is not None and refunds == [], (
        f"answer_lost {sorted(lost)} for restock {restock.id} that landed (its run died); the "
        f"day's limit let {len(refunds)} refund out after it (halted {third.halted!r}); the "
        f"Actions sheet reads {row['reason']!r}"
    )
