"""The daily limits count the shop's day, over real HTTP against the sandbox.

A Los Angeles shop (`[shop] timezone`) in approval mode with `max_daily_count = 1`: each run
sends the one write approved since the last. The sandbox's clock starts at 2026-11-01 06:00
UTC, 23:00 on 31 October in Los Angeles; the shop's 1 November runs from 07:00 UTC on the 1st
(daylight time) to 08:00 UTC on the 2nd (standard time). Counted by UTC day, the run after the
shop's midnight would be held and the evening run of the 1st would not: the other way round.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from test_nightly_sandbox import sandbox_settings

from recon.bootstrap import App, build_app
from recon.config import RemediationMode
from recon.remediation.ledger import ActionEventRow, ActionRow, approve
from recon.service import RunOutcome, run_nightly, sessions

pytestmark = pytest.mark.e2e

LA = "America/Los_Angeles"
# The daily limits hold every write or none: what a held run tells the operator to do.
NEXT_DAY = (
    "; all or nothing, none of them was sent: the shop's next day sends them, or sooner once "
    "some are rejected (run_recon.py actions list, then run_recon.py actions reject ID... "
    "--reason TEXT) "
    "or [remediation] max_daily_count is raised"
)
SHOP_MIDNIGHT = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # 00:00 on 1 November in Los Angeles


def _run_at(app: App, moment: datetime) -> RunOutcome:
    app.clock.set(moment)  # type: ignore[attr-defined]
    return run_nightly(app)


def _approve(app: App, intent: int) -> None:
    with sessions(app.store)() as session, session.begin():
        approve(session, "sandbox", [intent], actor="cli:ana", now=app.clock.now())


def _state_and_sent_at(app: App, intent: int) -> tuple[str, datetime | None]:
    """The intent's state and when it was first sent (None: never)."""
    with sessions(app.store)() as session:
        row = session.get_one(ActionRow, intent)
        sent = session.scalars(
            select(ActionEventRow.at).where(
                ActionEventRow.action_id == intent, ActionEventRow.to_state == "sending"
            )
        ).first()
    return row.state, None if sent is None else sent.replace(tzinfo=UTC)


def test_the_daily_count_is_the_shops_day_not_the_utc_day(tmp_path: Path) -> None:
    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    settings.shop.timezone = LA
    settings.remediation.mode = RemediationMode.APPROVAL
    settings.remediation.auto_apply = []
    settings.remediation.max_daily_count = 1
    with build_app(settings) as app:
        proposing = run_nightly(app)  # 06:00 UTC: proposes, sends nothing
        # one proposal of each of three returns: refunds, restocks or tags (each a write)
        by_rma = {a["rma"]: a["id"] for a in proposing.actions if a["state"] == "proposed"}
        assert len(by_rma) >= 3, "the world needs three returns' writes to approve one by one"
        first, second, third = sorted(by_rma.values())[:3]

        _approve(app, first)
        before_midnight = _run_at(app, datetime(2026, 11, 1, 6, 20, tzinfo=UTC))
        state, sent_at = _state_and_sent_at(app, first)
        assert state == "done" and sent_at is not None and sent_at < SHOP_MIDNIGHT
        assert not [n for n in before_midnight.notes if "daily limit" in n]

        # 00:30 on the shop's 1 November, the same UTC day as the first send: not held
        _approve(app, second)
        after_midnight = _run_at(app, datetime(2026, 11, 1, 7, 30, tzinfo=UTC))
        state, sent_at = _state_and_sent_at(app, second)
        assert state == "done" and sent_at is not None and sent_at >= SHOP_MIDNIGHT
        assert not [n for n in after_midnight.notes if "daily limit" in n]

        # 19:00 on the shop's 1 November, already the 2nd in UTC: the 00:30 send counts
        _approve(app, third)
        evening = _run_at(app, datetime(2026, 11, 2, 3, 0, tzinfo=UTC))
        assert _state_and_sent_at(app, third) == ("approved", None)
        (held,) = [n for n in evening.notes if "daily limit" in n]
        assert held == (
            f"remediation halted: daily limit: 1 writes sent on 2026-11-01 ({LA}) and 1 asked "
            "exceed max_daily_count 1" + NEXT_DAY
        )
        assert held in _html_text(evening)  # the report says it too, not only the console

        # 01:00 on the shop's 2 November: a new day, the held write goes out
        next_day = _run_at(app, datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
        assert _state_and_sent_at(app, third)[0] == "done"
        assert not [n for n in next_day.notes if "daily limit" in n]


def _html_text(outcome: RunOutcome) -> str:
    return html.unescape(outcome.files["html"].read_text(encoding="utf-8"))


def test_plan_mode_says_whether_the_limits_would_hold_tonights_writes(tmp_path: Path) -> None:
    """The world (seed 4) owes two refunds. One is approved and sent in the morning; a plan
    run later that day, with refunds auto-applied and a daily total below what the day would
    then have moved, sends nothing, and says (console and report) that an apply run would be
    held, with what moved today, what it plans and the limit. The per-run breaker is within
    its limit and says so with its figures."""
    settings = sandbox_settings(tmp_path, seed=4)
    settings.remediation.mode = RemediationMode.APPROVAL
    settings.remediation.auto_apply = []
    with build_app(settings) as app:
        proposing = run_nightly(app)
        refunds = [a for a in proposing.actions if a["kind"] == "refund"]
        assert len(refunds) == 2 and {a["currency"] for a in refunds} == {"USD"}
        sent, owed = ({**a, "amount": Decimal(a["amount"])} for a in refunds)
        _approve(app, sent["id"])
        _run_at(app, app.clock.now() + timedelta(hours=1))
        assert _state_and_sent_at(app, sent["id"])[0] == "done"

        settings.remediation.mode = RemediationMode.PLAN
        settings.remediation.auto_apply = ["MISSING_REFUND"]
        day_total = sent["amount"] + owed["amount"] - Decimal("0.01")
        settings.remediation.max_daily_total = {"USD": day_total}
        plan = _run_at(app, app.clock.now() + timedelta(hours=1))
        assert _state_and_sent_at(app, owed["id"]) == ("proposed", None)
    day = f"{plan.as_of.date().isoformat()} (UTC)"
    expected = (
        "plan only, nothing sent: an apply run now would send 1 write(s) "
        f"(refunds {owed['amount']} USD); the limits would hold all of them: daily limit: "
        f"{sent['amount']} USD moved on {day} and {owed['amount']} USD asked exceed "
        f"max_daily_total {day_total} USD" + NEXT_DAY.replace("max_daily_count", "max_daily_total"),
        f"per run: 1 write(s) of max_run_count 50; {owed['amount']} USD planned of "
        "max_run_total 5000.00 USD",
        f"per day {day}: 1 write(s) sent so far + 1 planned of max_daily_count (none); "
        f"{sent['amount']} USD moved so far + {owed['amount']} USD planned = "
        f"{sent['amount'] + owed['amount']} USD of max_daily_total {day_total} USD",
    )
    assert [n for n in plan.notes if n.startswith(("plan only", "per run", "per day"))] == list(
        expected
    )
    assert not [n for n in plan.notes if n.startswith("remediation halted")]
    report = _html_text(plan)
    for line in expected:
        assert line in report
