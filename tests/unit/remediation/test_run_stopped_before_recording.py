"""A signal that lands after the nightly run's last check before remediation (its findings are
saved) stops the run with nothing more changed: no intent recorded, no proposal superseded.

Dataset: ``history_shop`` on SQLite, in approval mode. Oct 21: 1003's ``MISSING_REFUND``
(13.03 owed) is proposed. Oct 22: Loop lowers 1003's refund to 10.00, so the proposal is no
longer what is owed, and SIGTERM lands right after the check "after reconciling".
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from recon.config import RemediationMode
from recon.errors import RunInterruptedError
from recon.interrupt import RESUME, Interrupt
from recon.remediation.ledger import ActionEventRow, ActionRow
from recon.service import run_nightly, sessions
from tests.unit.store.history_shop import HistoryShop, day


class _SignalAfterReconciling(Interrupt):
    """SIGTERM arrives just after the run checked for a stop "after reconciling"."""

    def check(self, what: str, *, who: str = "the run", resume: str = RESUME) -> None:
        super().check(what, who=who, resume=resume)
        if what.startswith("after reconciling"):
            self.request(signal.SIGTERM)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[HistoryShop]:
    shop = HistoryShop(f"sqlite:///{tmp_path / 'recon.db'}", tmp_path)
    shop.settings.remediation.mode = RemediationMode.APPROVAL
    yield shop
    shop.close()


def _ledger(shop: HistoryShop) -> tuple[list[tuple[str, str, str]], int]:
    """The intents as (kind, rma, state), and how many ledger events there are."""
    with sessions(shop.store)() as session:
        rows = session.scalars(select(ActionRow).order_by(ActionRow.id)).all()
        count = len(session.scalars(select(ActionEventRow)).all())
        return [(r.kind, r.rma, r.state) for r in rows], count


def test_a_signal_after_the_last_check_changes_no_intent(shop: HistoryShop) -> None:
    shop.night(day(10, 21, 2))
    before = _ledger(shop)
    assert ("refund", "1003", "proposed") in before[0]
    shop.loop_changes_1003(day(10, 21, 12), "10.00")
    shop.clock.set(day(10, 22, 2))
    with pytest.raises(RunInterruptedError) as stopped:
        run_nightly(shop.app, until=day(10, 22, 2), interrupt=_SignalAfterReconciling())

    assert _ledger(shop) == before  # the 13.03 proposal is superseded by the next run
    message = str(stopped.value)
    assert "nothing was recorded or sent" in message, message
    assert "write(s) done and recorded" not in message, message
