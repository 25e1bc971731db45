"""The chaos campaign's harness (``bench/chaos_campaign.py``) runs and checks: two faulted nights
(each killed mid-write), then the two clean nights, a day apart, new returns with planted
discrepancies arriving, every invariant holding and the planted fixes landed."""

from __future__ import annotations

import pytest

from bench.chaos_campaign import EVERY_NIGHT, SCORED_NIGHT, run_campaign
from recon.sandbox.faults import Faults

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def quick_faults(rng):
    """Faults that cost no retry waits (a 5xx backs off for real): lost write answers, Loop
    cursors without ids, list items without refund objects, 429 for THROTTLED, a wrong cost."""
    return Faults(
        drop_write_rate=0.5,
        loop_cursor_without_id=True,
        loop_omit_refund_object=True,
        throttled_status=429,
        cost_multiplier=1.5,
        seed=rng.randrange(2**31),
    )


def test_two_faulted_nights_then_clean_ones_break_no_invariant(tmp_path):
    lines: list[str] = []
    nights = run_campaign(
        2, seed=3, returns=12, crash_rate=1.0, out=lines.append, tmp=tmp_path, draw=quick_faults
    )

    assert [n.violations for n in nights] == [[], [], [], []], "\n".join(lines)
    faulted, scored = nights[:2], nights[-1]
    assert all(n.faults and n.crash_at for n in faulted)
    assert [n.checked for n in faulted] == [EVERY_NIGHT, EVERY_NIGHT]
    assert scored.checked == SCORED_NIGHT and scored.exit_code == 0
    assert sum(len(n.arrived) for n in nights) > 0 and not scored.arrived
    assert sum(n.writes for n in nights) > 0 and scored.writes == 0, "drained before the score"
    print("\n".join(lines))
    assert lines[1].startswith("night   1 [")
    assert (
        "applied " in lines[1]
        and "checked money, stock, ledgered, landed, visibility: ok" in lines[1]
    )
