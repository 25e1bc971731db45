"""Ctrl-C (SIGINT) during the sync's two-thread read stops both readers, not only the main thread.

The main thread waits for the Loop and Shopify threads; Ctrl-C raises KeyboardInterrupt there,
and the run must end promptly (releasing the shop's run lock), not after the reader threads
have paged to the end of their streams for records nobody will keep.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.errors import RunInterruptedError
from recon.fetch import FetchPlan, fetch
from recon.interrupt import Interrupt, on_signals
from recon.models import OrderRecord, PayoutRecord, Quarantined, RefundRecord
from recon.store import tables as tbl
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, sample_dataset

PAGES = 200  # what a reader would read if nobody stopped it
CTRL_C_AT = 5  # the page the operator presses Ctrl-C on (the run is waiting on its readers)


@pytest.fixture(autouse=True)
def _ctrl_c_raises_keyboard_interrupt() -> Iterator[None]:
    """Python's own Ctrl-C handler, as a terminal's shell gives it: a suite started in the
    background of a shell without job control inherits SIGINT ignored, and Python then
    installs no handler, so these tests' SIGINT raised nothing there."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _unreadable(kind: str, page: int) -> Quarantined:
    """One record of a page, unreadable: a page's worth of output that needs no fixtures."""
    return Quarantined(
        source="test", kind=kind, record_id=f"p{page}", field="$", reason="page", raw={}
    )


class InterruptedShopify(FakeShopify):
    """Shopify whose payout list is long: its first page is when the operator presses Ctrl-C."""

    pages_read = 0

    def iter_payouts(self, start: datetime, end: datetime) -> Iterator[PayoutRecord | Quarantined]:
        payouts = super().iter_payouts(start, end)
        for page in range(PAGES):
            self.pages_read += 1
            if page == CTRL_C_AT:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered to the main thread
            time.sleep(0.02)  # one page's round trip
            yield from payouts if page == 0 else ()
            yield _unreadable("payout", page)


def test_ctrl_c_during_the_sync_stops_the_other_reader_and_keeps_nothing(tmp_path: Path) -> None:
    clock = VirtualClock(EPOCH + timedelta(days=30))
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    loop, fakes_shopify = sample_dataset(returns=5).fakes()
    shopify = InterruptedShopify(orders=fakes_shopify.orders, refunds=fakes_shopify.refunds)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sync(store, loop, shopify, clock, SyncSettings())
        assert shopify.pages_read < PAGES // 4, "the Shopify reader paged on after Ctrl-C"
        assert store.get_watermark("shopify.payouts") is None
        assert store.load_snapshot().orders == ()
    finally:
        store.close()


def test_ctrl_c_while_loop_is_read_alone_ends_the_read(tmp_path: Path) -> None:
    """The Loop side alone (Shopify waits for its returns): Ctrl-C still ends the read."""

    class InterruptedLoop(FakeLoop):
        pages_read = 0

        def iter_returns(self, start: datetime, end: datetime, state: str) -> Iterator[object]:  # type: ignore[override]
            for page in range(PAGES):
                self.pages_read += 1
                if self.pages_read == CTRL_C_AT:  # once: every state is its own call
                    os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.02)
                yield _unreadable("return", page)

    clock = VirtualClock(EPOCH + timedelta(days=30))
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    loop = InterruptedLoop()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sync(store, loop, FakeShopify(), clock, SyncSettings())
        assert loop.pages_read < PAGES // 4, "the Loop reader paged on after Ctrl-C"
    finally:
        store.close()


def test_sigterm_stops_both_readers_and_the_run_says_so(tmp_path: Path) -> None:
    """SIGTERM (cron, systemd) under ``on_signals`` does not raise in the main thread: it asks
    the run to stop, the readers stop before their next page, and the sync ends with
    ``RunInterruptedError`` (exit 143), keeping nothing."""

    class TerminatedShopify(InterruptedShopify):
        def iter_payouts(
            self, start: datetime, end: datetime
        ) -> Iterator[PayoutRecord | Quarantined]:
            for page in range(PAGES):
                self.pages_read += 1
                if page == CTRL_C_AT:
                    os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.02)
                yield _unreadable("payout", page)

    clock = VirtualClock(EPOCH + timedelta(days=30))
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    loop, fakes_shopify = sample_dataset(returns=5).fakes()
    shopify = TerminatedShopify(orders=fakes_shopify.orders, refunds=fakes_shopify.refunds)
    before = signal.getsignal(signal.SIGTERM)
    try:
        with on_signals(Interrupt()) as interrupt, pytest.raises(RunInterruptedError) as stopped:
            run_sync(store, loop, shopify, clock, SyncSettings(), interrupt=interrupt)
        assert stopped.value.exit_code == 143
        assert str(stopped.value).startswith("SIGTERM: the run stopped during the sync")
        assert shopify.pages_read < PAGES // 4, "the Shopify reader paged on after SIGTERM"
        assert store.get_watermark("shopify.payouts") is None
        assert signal.getsignal(signal.SIGTERM) == before  # the handlers are put back
        with store.session() as session:  # the run history says stopped, not failed
            assert session.scalars(select(tbl.RunRow.status)).all() == ["interrupted"]
    finally:
        store.close()


class _StopAsTheReadsEnd(FakeShopify):
    """Shopify whose last read (the refunds by id) ends as the stop is requested: both readers
    had read everything when the run checks for the stop."""

    def __init__(self, interrupt: Interrupt, **lists: Any) -> None:
        super().__init__(**lists)
        self.interrupt = interrupt

    def iter_refunds_by_id(self, ids: Sequence[str]) -> Iterator[RefundRecord | Quarantined]:
        yield from super().iter_refunds_by_id(ids)
        self.interrupt.request(signal.SIGTERM)


class _StopDuringOrders(FakeShopify):
    """Shopify whose orders by id (read once Loop's returns are all in) are paged slowly, the
    stop requested on the first page: Loop had finished, Shopify's reader stops."""

    def __init__(self, interrupt: Interrupt, **lists: Any) -> None:
        super().__init__(**lists)
        self.interrupt = interrupt
        self.pages_read = 0

    def iter_orders_by_id(self, ids: Sequence[str]) -> Iterator[OrderRecord | Quarantined]:
        for order in super().iter_orders_by_id(ids):
            self.pages_read += 1
            self.interrupt.request(signal.SIGTERM)
            yield order


def _fetch_stopped(shopify: FakeShopify, loop: FakeLoop, interrupt: Interrupt) -> str:
    window = (EPOCH - timedelta(days=1), EPOCH + timedelta(days=30))
    with pytest.raises(RunInterruptedError) as stopped:
        fetch(FetchPlan.for_window(window), loop, shopify, interrupt=interrupt)
    return str(stopped.value)


def test_a_stop_as_both_reads_ended_does_not_say_the_readers_stopped() -> None:
    interrupt = Interrupt()
    loop, fakes_shopify = sample_dataset(returns=5).fakes()
    shopify = _StopAsTheReadsEnd(
        interrupt, orders=fakes_shopify.orders, refunds=fakes_shopify.refunds
    )
    message = _fetch_stopped(shopify, loop, interrupt)
    assert message.startswith("SIGTERM: the run stopped during the sync"), message
    assert "stopped before" not in message, message
    assert "both APIs had been read in full" in message, message
    assert "nothing of tonight's sync was kept" in message, message


def test_a_stop_after_loop_was_read_says_only_shopify_stopped() -> None:
    interrupt = Interrupt()
    loop, fakes_shopify = sample_dataset(returns=5).fakes()
    shopify = _StopDuringOrders(
        interrupt, orders=fakes_shopify.orders, refunds=fakes_shopify.refunds
    )
    message = _fetch_stopped(shopify, loop, interrupt)
    assert shopify.pages_read == 1
    assert "both APIs' readers stopped" not in message, message
    assert "Shopify's reader stopped before its next request" in message, message
    assert "Loop had been read in full" in message, message
