"""A signal stops a backfill at its next safe point: between windows, or between two requests of
a window with nothing of that window kept. The committed windows stay, the error names them and
the command that resumes, and a rerun of that command reads only the windows left."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from recon.backfill import backfill, split_windows
from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.errors import RunInterruptedError
from recon.interrupt import Interrupt
from recon.models import PayoutRecord, Quarantined
from recon.store.sql import SqlStore
from tests.fakes import EPOCH, FakeShopify, sample_dataset

# initial_days: the backfills begin before the first nightly would read, so they set the
# watermarks (``recon.backfill._advance_watermarks``).
SETTINGS = SyncSettings(backfill_window_days=3, initial_days=1)
START, END = EPOCH - timedelta(days=1), EPOCH + timedelta(days=23)  # 8 windows
WINDOWS = split_windows(START, END, 3)
RESUME = f"backfill --from {START:%Y-%m-%d} --to {END:%Y-%m-%d}"  # the same command, to resume


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path / 'a.db'}", clock=VirtualClock(EPOCH))
    yield store
    store.close()


def _payout_windows(shopify: FakeShopify) -> list[tuple[datetime, datetime]]:
    return [(c[1], c[2]) for c in shopify.calls if c[0] == "iter_payouts"]


def _resumes_after_two_windows(mirror: SqlStore, clock: VirtualClock) -> None:
    """A rerun of the same range reads windows 3..8 only, and finishes the backfill."""
    loop, shopify = sample_dataset(returns=40).fakes()
    stats = backfill(mirror, loop, shopify, clock, SETTINGS, start=START, end=END, progress=False)
    assert stats.windows == 6
    assert _payout_windows(shopify) == WINDOWS[2:]
    assert mirror.completed_windows(START, END) == set(WINDOWS)
    assert mirror.get_watermark("shopify.payouts") == END


def test_a_signal_between_windows_stops_before_the_next_one(mirror: SqlStore) -> None:
    clock = VirtualClock(EPOCH + timedelta(days=40))
    interrupt = Interrupt()
    loop, shopify = sample_dataset(returns=40).fakes()
    commits: list[int] = []

    def fence(session: Session) -> None:  # inside each window's commit
        commits.append(1)
        if len(commits) == 2:
            interrupt.request(signal.SIGTERM)  # as the second window commits

    with pytest.raises(RunInterruptedError) as stopped:
        backfill(
            mirror, loop, shopify, clock, SETTINGS, start=START, end=END, progress=False,
            fence=fence, interrupt=interrupt,
        )  # fmt: skip
    message = str(stopped.value)
    assert stopped.value.exit_code == 143
    assert message.startswith("SIGTERM: the backfill stopped before window 3 of 8"), message
    assert "2 of 8 window(s) committed" in message, message
    assert f"{START:%Y-%m-%d %H:%M}..{WINDOWS[1][1]:%Y-%m-%d %H:%M} UTC read in full" in message
    assert RESUME in message, message
    assert _payout_windows(shopify) == WINDOWS[:2]  # the third window was not begun
    assert mirror.completed_windows(START, END) == set(WINDOWS[:2])
    assert mirror.get_watermark("shopify.payouts") is None
    _resumes_after_two_windows(mirror, clock)


class _SignalInThirdWindow(FakeShopify):
    """Shopify whose payouts of the third window are read as the signal comes."""

    def __init__(self, interrupt: Interrupt, shopify: FakeShopify) -> None:
        super().__init__(orders=shopify.orders, refunds=shopify.refunds, payouts=shopify.payouts)
        self.interrupt = interrupt

    def iter_payouts(self, start: datetime, end: datetime) -> Iterator[PayoutRecord | Quarantined]:
        if (start, end) == WINDOWS[2]:
            self.interrupt.request(signal.SIGINT)
        yield from super().iter_payouts(start, end)


def test_a_signal_during_a_window_keeps_nothing_of_it(mirror: SqlStore) -> None:
    clock = VirtualClock(EPOCH + timedelta(days=40))
    interrupt = Interrupt()
    loop, fakes_shopify = sample_dataset(returns=40).fakes()
    shopify = _SignalInThirdWindow(interrupt, fakes_shopify)
    with pytest.raises(RunInterruptedError) as stopped:
        backfill(
            mirror, loop, shopify, clock, SETTINGS, start=START, end=END, progress=False,
            interrupt=interrupt,
        )  # fmt: skip
    message = str(stopped.value)
    assert stopped.value.exit_code == 130
    assert message.startswith("SIGINT: the backfill stopped during window 3 of 8"), message
    assert "nothing of that window was kept; 2 of 8 window(s) committed" in message, message
    assert RESUME in message, message
    assert mirror.completed_windows(START, END) == set(WINDOWS[:2])
    _resumes_after_two_windows(mirror, clock)
