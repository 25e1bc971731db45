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

from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from remediation_world import SHOP, standard_findings
from rich.console import Console
from run_helpers import intents, run

from recon.errors import RetryExhaustedError
from recon.models import Category, Finding
from recon.remediation.runner import action_rows
from recon.reporting.data import Amount
from recon.reporting.figures import sent_at_risk
from recon.service import RunOutcome
from recon.summary import print_outcome


def _priced() -> list[Finding]:
    """The standard findings as the report shows them: the unpaid refund 48.60 USD at risk."""
    return [
        f.model_copy(update={"currency": "USD", "amount_at_risk": Decimal("48.60")})
        if f.category is Category.MISSING_REFUND
        else f
        for f in standard_findings()
    ]


def _console(sessions: Any, run_id: str, applied: Any, clock: Any) -> str:
    """The run's console summary, as the nightly run hands it its ``ApplyReport``."""
    outcome = RunOutcome(
        run_id=run_id,
        as_of=clock.now(),
        findings=_priced(),
        result=cast(Any, None),
        report_dir=Path("reports"),
        actions=action_rows(sessions, SHOP),
        settled=applied.settled,
        unknown_writes=applied.unknown,
    )
    console = Console(record=True, width=200)
    print_outcome(console, outcome, None)
    return " ".join(console.export_text().split())


def test_a_refund_an_earlier_run_sent_is_not_sent_again_tonight_when_its_reread_fails(
    sessions, gateway, clock, monkeypatch
):
    """Run 1 sends the 48.60 USD refund and its answer is lost (``unknown``): its report says
    48.60 USD was sent this run, awaiting confirmation. Run 2 cannot read the order (retries
    exhausted): it sends nothing and leaves the refund for the next run. Finance must not read
    run 2's report or console as "48.60 USD sent to Shopify this run" again: nothing went to
    Shopify tonight."""
    sent = "of which sent to Shopify this run, awaiting confirmation: 48.60 USD"
    gateway.drop = {"refund"}
    first = run(sessions, gateway, clock)
    (refund,) = [row for row in intents(sessions) if row.kind == "refund"]
    assert first.settled[refund.id] == "unknown"
    usd = (Amount("USD", Decimal("48.60")),)
    assert sent_at_risk(_priced(), action_rows(sessions, SHOP), first.done, first.unknown) == usd
    assert sent in _console(sessions, "run-1", first, clock)
    sent_before = len([c for c in gateway.calls if c[0] == "refund"])

    def unreachable(order_gid: str) -> object:
        raise RetryExhaustedError(f"Shopify unreachable reading {order_gid}: 503 x5")

    monkeypatch.setattr(gateway, "order_refunds", unreachable)
    second = run(sessions, gateway, clock, run_id="run-2")

    assert len([c for c in gateway.calls if c[0] == "refund"]) == sent_before  # nothing sent
    tonight = sent_at_risk(_priced(), action_rows(sessions, SHOP), second.done, second.unknown)
    assert tonight == (), f"the report says sent to Shopify this run: {tonight}"
    assert "sent to Shopify this run" not in _console(sessions, "run-2", second, clock)
    assert refund.id not in second.unknown, "ApplyReport.unknown: sent or resent this run only"
