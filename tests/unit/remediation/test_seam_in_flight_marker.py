"""Seam: "a refund carrying the marker of an RMA whose refund recon sent without an answer is
recon's own" (f70d6e6) against the guard that stops a refund when someone else refunded the
order since the plan (``new_refunds_reason``).

recon writes exactly ``Loop RMA #<rma>`` on its refunds; a refund whose note names the
in-flight RMA *and* the return about to be paid is a person's refund of both returns, not
recon's lost write. Treating it as recon's own sends the second return's refund again.

The world is remediation_world's order 1001 (USD, 100.00 by card): RMA 12345701 is owed
40.00, RMA 12345703 is owed 30.00; neither is paid.
"""

from __future__ import annotations

from run_helpers import intents, run
from test_several_returns_one_order import ORDER, _two_returns


def test_a_person_refunding_both_returns_while_one_is_in_flight_stops_the_other(
    sessions, gateway, clock
):
    """701's refund request is lost on its way (701 in flight, nothing landed). At that moment
    someone in the Shopify admin refunds both returns by hand, 70.00, noting both RMAs. 703's
    refund must not go out: that refund appeared since the plan and is not recon's; 703's
    30.00 is already paid."""
    contexts, findings = _two_returns()
    added: list[bool] = []

    def person_refunds_both() -> None:
        if not added:
            added.append(True)
            gateway.add_manual_refund("70.00", note="Loop RMA #12345701 + #12345703, by hand")

    gateway.on_write = person_refunds_both
    gateway.lose.add("refund")
    run(sessions, gateway, clock, contexts=contexts, findings=findings)
    by_rma = {row.rma: row for row in intents(sessions)}
    assert by_rma["12345701"].state == "unknown"
    paid_703 = [
        r for r in gateway.state["orders"][ORDER]["refunds"] if "12345703" in (r["note"] or "")
    ]
    assert len(paid_703) == 1, [(r["note"], r["amount"]) for r in paid_703]
    assert by_rma["12345703"].state == "needs_review", by_rma["12345703"].reason
