"""Seam review (session 15): "of which sent to Shopify this run, awaiting confirmation" versus the
recovery of an earlier run's write whose outcome is unknown.

``ApplyReport.unknown`` is documented as "the intents this run sent (or resent) and ended
``unknown``", and the headline, the mails and the console count the refunds among them as sent
this run. A refund an earlier run sent with no answer is recovered first by the next run: it
re-reads the order before any resend. When that re-read fails for a passing reason (Shopify
unreachable, retries exhausted), the run sends nothing and leaves the intent for the next run
(``Executor._unreadable``), but its outcome, still ``unknown``, lands in ``recovered``, so the
refund the earlier run sent is counted as sent again tonight.

Dataset: the remediation world's standard findings (a 48.60 USD refund for RMA 12345701, a
restock, a tag); the first run's refund answer is lost (``drop``), the second run cannot read
the order.
"""

from __future__ import annotations

import pytest
from remediation_world import SHOP, standard_findings
from run_helpers import intents, run

from recon.errors import RetryExhaustedError
from recon.remediation.runner import action_rows
from recon.reporting.figures import sent_at_risk


@pytest.mark.xfail(
    strict=True,
    reason="seam: an earlier run's unknown refund whose re-read failed counts as sent this run",
)
def test_a_refund_an_earlier_run_sent_is_not_sent_again_tonight_when_its_reread_fails(
    sessions, gateway, clock, monkeypatch
):
    """Run 1 sends the 48.60 USD refund and its answer is lost (``unknown``). Run 2 cannot read
    the order (retries exhausted): it sends nothing and leaves the refund for the next run.
    Finance must not read run 2's report as "48.60 USD sent to Shopify this run": nothing
    went to Shopify tonight (run 1's report already said it was sent)."""
    gateway.drop = {"refund"}
    first = run(sessions, gateway, clock)
    (refund,) = [row for row in intents(sessions) if row.kind == "refund"]
    assert first.settled[refund.id] == "unknown"
    sent_before = len([c for c in gateway.calls if c[0] == "refund"])

    def unreachable(order_gid: str) -> object:
        raise RetryExhaustedError(f"Shopify unreachable reading {order_gid}: 503 x5")

    monkeypatch.setattr(gateway, "order_refunds", unreachable)
    second = run(sessions, gateway, clock, run_id="run-2")

    assert len([c for c in gateway.calls if c[0] == "refund"]) == sent_before  # nothing sent
    assert refund.id not in second.unknown, "ApplyReport.unknown: sent or resent this run only"
    tonight = sent_at_risk(
        standard_findings(), action_rows(sessions, SHOP), second.done, second.unknown
    )
    assert tonight == (), f"report says sent to Shopify this run: {tonight}"
