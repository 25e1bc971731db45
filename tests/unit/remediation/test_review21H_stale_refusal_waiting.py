"""Review 21H: a restock Shopify refused as stale, which recon plans again by itself the next
night, is listed on the night's report as waiting for a person.

Since "Restock refused as stale ..." the refusal (``trail.REFUSED_STALE``, no answer lost) is
not a person's to act on: the next run plans its units again under the next key
(``succession.past_held``), up to ``STALE_REPLANS`` refusals. Yet the refusing run's report
(``reporting.data.waiting``, the intents on the mailed Actions sheet and the "waiting"
section) lists it beside the open MISSING_RESTOCK as waiting for review: the break is open and
no later intent replaced it yet. A person who restocks the unit by hand from that morning's
mail gets it restocked a second time by recon the next night (a hand adjustment is invisible
to the engine), so the shelf shows one unit more than is there.
"""

from __future__ import annotations

from collections.abc import Callable

from fakes import FakeGateway
from remediation_world import SHOP, finding
from run_helpers import run
from sqlalchemy.orm import Session

from recon.clock import VirtualClock
from recon.models import Category
from recon.remediation.runner import action_rows
from recon.reporting.data import planned_again, waiting

RESTOCK_702 = [finding(Category.MISSING_RESTOCK, "12345702", line="2002")]


def test_a_stale_refusal_recon_plans_again_is_not_waiting_for_a_person(
    sessions: Callable[[], Session], gateway: FakeGateway, clock: VirtualClock
) -> None:
    gateway.move_stock_after_read = -1  # a sale lands between recon's read and its write
    (refused,) = run(sessions, gateway, clock, findings=RESTOCK_702).applied
    assert refused.state == "needs_review" and "refused as stale" in refused.reason
    rows = action_rows(sessions, SHOP)
    listed = waiting(rows, {f.key for f in RESTOCK_702})
    # The next run restocks the unit itself (test_stale_restock_replanned): nothing waits.
    (landed,) = run(sessions, gateway, clock, findings=RESTOCK_702, run_id="run-2").applied
    assert landed.state == "done"
    assert [r["id"] for r in listed] == [], (
        "the night's report lists the refused restock as waiting for a person, reason "
        f"{listed[0]['reason']!r}; recon restocked the same unit itself the next run"
    )
    # It is listed apart instead: not done, planned again, not to be redone by hand.
    again = planned_again(rows, {f.key for f in RESTOCK_702})
    assert [(r["kind"], r["status"]) for r in again] == [("restock", "stale, planned again")]
    assert again[0]["reason"].startswith("refused as stale")
