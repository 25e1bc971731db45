"""Review 21G: the Actions sheets' ``sent_amount`` of a refund no send of which can have moved
money.

``runner._report_rows`` keeps ``sent_amount`` on an intent that ended (refused, sent to
review) "after a send whose answer was lost" (``daily.answer_lost``): Shopify may hold it. A
refund whose first send Shopify ran nothing of (a throttle outlasted: ``NOT_RUN``), whose next
run could not re-read the order (a transient failure: a note, nothing sent), and whose resend
Shopify then refused with a userError lost no answer: every send was answered, and Shopify
holds no refund under recon's key. The sheet a controller sums against Shopify should not
count it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fakes import FakeGateway
from remediation_world import SHOP, finding
from run_helpers import run
from sqlalchemy.orm import Session

from recon.clock import VirtualClock
from recon.errors import RetryExhaustedError
from recon.models import Category
from recon.remediation.runner import action_rows

REFUND = [finding(Category.MISSING_REFUND, "12345701")]


def _throttle() -> RetryExhaustedError:
    return RetryExhaustedError("shopify POST /graphql.json: gave up after 5 attempts: THROTTLED")


def _reread_fails_once(gateway: Any) -> None:
    """The re-read before the resend fails once, transiently (retries outlasted): the intent
    stays in flight with a note, nothing is sent."""
    real = gateway.order_refunds

    def order_refunds(order_gid: str) -> Any:
        gateway.order_refunds = real
        raise RetryExhaustedError("shopify POST /graphql.json: gave up after 5 attempts: 503")

    gateway.order_refunds = order_refunds


def test_refund_throttled_then_refused_shows_no_sent_amount(
    sessions: Callable[[], Session], gateway: FakeGateway, clock: VirtualClock
) -> None:
    gateway.raise_next["refund"] = _throttle()  # run 1: Shopify ran nothing (NOT_RUN)
    run(sessions, gateway, clock, findings=REFUND, run_id="run-1")
    clock.advance(timedelta(days=1))
    _reread_fails_once(gateway)  # run 2: the re-read fails; nothing is sent
    run(sessions, gateway, clock, findings=REFUND, run_id="run-2")
    clock.advance(timedelta(days=1))
    gateway.user_errors["refund"] = {  # run 3: the resend is refused, with Shopify's answer
        "field": ["transactions", "0", "amount"],
        "message": "Amount cannot exceed the maximum refundable amount",
    }
    run(sessions, gateway, clock, findings=REFUND, run_id="run-3")
    (row,) = [r for r in action_rows(sessions, SHOP) if r["kind"] == "refund"]
    sent = [call for call in gateway.calls if call[0] == "refund"]
    assert len(sent) == 2  # the scenario ran: one throttled send, one refused resend
    assert row["status"] == "failed"
    assert gateway.refunds_with("Loop RMA #12345701") == []  # Shopify holds nothing of it
    assert row["sent_amount"] is None, (
        f"Actions sheet shows sent_amount {row['sent_amount']} {row['sent_currency']} "
        f"for a refund Shopify holds nothing of (reason: {row['reason']!r})"
    )
