"""Review 21C: the Actions sheets' ``sent_amount`` of a refund whose answer was lost and whose
re-read then failed.

``views.report_row`` says ``sent_amount`` is None only "for a write that ended without
writing (refused, sent to review, rejected)... One in flight keeps it: it may have landed."
A refund sent, its answer lost (a 502 after Shopify applied it), then sent to review because
the next run could not re-read the order, did not end without writing: Shopify holds the
refund, and the daily limits count it as moved (``daily._answer_lost``). The sheet a
controller sums against Shopify should not drop it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fakes import FakeGateway
from remediation_world import SHOP
from run_helpers import run
from sqlalchemy.orm import Session

from recon.clock import VirtualClock
from recon.errors import FatalHTTPError
from recon.remediation.daily import day_bounds, moved_between
from recon.remediation.runner import action_rows


def _order_unreadable(gateway: Any) -> None:
    """Shopify's answer to the re-read before a resend: the order is gone from sight (older
    than 60 days without read_all_orders, as ``GraphQLGateway._order`` words it)."""

    def order_refunds(order_gid: str) -> Any:
        raise FatalHTTPError(f"order {order_gid} not found (or older than 60 days, §1)")

    gateway.order_refunds = order_refunds


def test_refund_that_landed_keeps_its_sent_amount_when_its_reread_fails(
    sessions: Callable[[], Session], gateway: FakeGateway, clock: VirtualClock
) -> None:
    gateway.drop.add("refund")  # Shopify applies the refund, the answer is lost (502)
    run(sessions, gateway, clock, run_id="run-1")
    (landed,) = gateway.refunds_with("Loop RMA #12345701")
    _order_unreadable(gateway)
    run(sessions, gateway, clock, run_id="run-2")
    (row,) = [r for r in action_rows(sessions, SHOP) if r["kind"] == "refund"]
    assert row["status"] == "needs_review"  # the re-read failed: a human decides
    # The daily limits count it as money moved today (its answer was lost: it may have landed).
    _, start, end = day_bounds(clock.now(), "UTC")
    with sessions() as session:
        moved = [w for w in moved_between(session, SHOP, start, end) if w[0] is not None]
    assert moved == [(Decimal("48.60"), "USD")]
    # What Shopify holds under recon's key: the refund that landed in the first run.
    assert (row["sent_amount"], row["sent_currency"]) == (Decimal(landed["amount"]), "USD")
    assert row["reason"].startswith("outcome unknown: an earlier send got no answer")
