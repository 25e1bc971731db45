"""The daily limits count the shop's day, over real HTTP against the sandbox.

A Los Angeles shop (`[shop] timezone`) in approval mode with `max_daily_count = 1`: each run
sends the one write approved since the last. The sandbox's clock starts at 2026-11-01 06:00
UTC, 23:00 on 31 October in Los Angeles; the shop's 1 November runs from 07:00 UTC on the 1st
(daylight time) to 08:00 UTC on the 2nd (standard time). Counted by UTC day, the run after the
shop's midnight would be held and the evening run of the 1st would not: the other way round.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
        assert f"1 writes sent on 2026-11-01 ({LA}) and 1 asked exceed max_daily_count 1" in held

        # 01:00 on the shop's 2 November: a new day, the held write goes out
        next_day = _run_at(app, datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
        assert _state_and_sent_at(app, third)[0] == "done"
        assert not [n for n in next_day.notes if "daily limit" in n]
