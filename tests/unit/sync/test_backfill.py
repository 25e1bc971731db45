"""Backfill: windows, checkpoints, crash-and-resume, and agreement with nightly syncs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from recon.backfill import CRASH_ENV, backfill, loop_window, split_windows
from recon.bootstrap import App
from recon.clock import VirtualClock
from recon.config import Settings, SyncSettings
from recon.errors import ConfigError, LockError
from recon.lock import RunLock
from recon.service import run_backfill, sessions
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import (
    EPOCH,
    FakeLoop,
    FakeShopify,
    dump_mirror,
    make_order,
    make_refund,
    make_return,
    sample_dataset,
)

CHILD = Path(__file__).with_name("backfill_child.py")
# initial_days: these backfills begin before the first nightly would read, so they set the
# watermarks (``recon.backfill._advance_watermarks``).
SETTINGS = SyncSettings(backfill_window_days=3, lookback_hours=72, initial_days=1)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=10))


def _store(path: Path, clock: VirtualClock) -> SqlStore:
    return SqlStore(f"sqlite:///{path}", clock=clock)


@pytest.fixture
def mirror(tmp_path: Path, clock: VirtualClock) -> Iterator[SqlStore]:
    store = _store(tmp_path / "a.db", clock)
    yield store
    store.close()


def test_windows_cover_the_range_without_gaps() -> None:
    wins = split_windows(EPOCH, EPOCH + timedelta(days=8), 3)
    assert wins == [
        (EPOCH, EPOCH + timedelta(days=3)),
        (EPOCH + timedelta(days=3), EPOCH + timedelta(days=6)),
        (EPOCH + timedelta(days=6), EPOCH + timedelta(days=8)),
    ]
    with pytest.raises(ConfigError):
        split_windows(EPOCH, EPOCH, 3)


def test_loop_reads_reach_past_the_range_ends_and_overlap_between_windows() -> None:
    """Loop's zone for from/to is unknown (trap 6): 14 hours more at the range's two ends, ten
    minutes of overlap between windows; a one-window range gets both ends."""
    wins = split_windows(EPOCH, EPOCH + timedelta(days=8), 3)
    assert [loop_window(w, wins) for w in wins] == [
        (EPOCH - timedelta(hours=14), EPOCH + timedelta(days=3)),
        (EPOCH + timedelta(days=3, minutes=-10), EPOCH + timedelta(days=6)),
        (EPOCH + timedelta(days=6, minutes=-10), EPOCH + timedelta(days=8, hours=14)),
    ]
    (only,) = split_windows(EPOCH, EPOCH + timedelta(days=1), 3)
    assert loop_window(only, [only]) == (
        EPOCH - timedelta(hours=14),
        EPOCH + timedelta(days=1, hours=14),
    )


def test_a_finished_backfill_rerun_fetches_nothing(mirror: SqlStore, clock: VirtualClock) -> None:
    loop, shopify = sample_dataset(returns=20).fakes()
    start, end = EPOCH - timedelta(days=1), EPOCH + timedelta(days=10)
    stats = backfill(mirror, loop, shopify, clock, SETTINGS, start=start, end=end, progress=False)
    assert stats.windows == 4
    assert {(c[1], c[2]) for c in shopify.calls if c[0] == "iter_payouts"} == set(
        split_windows(start, end, 3)
    )
    loop.calls.clear()
    shopify.calls.clear()
    again = backfill(mirror, loop, shopify, clock, SETTINGS, start=start, end=end, progress=False)
    assert (again.windows, loop.calls, shopify.calls) == (0, [], [])
    assert mirror.get_watermark("shopify.payouts") == end  # the nightly sync carries on from here


def test_backfill_then_nights_equals_one_backfill_of_the_whole_range(
    tmp_path: Path, clock: VirtualClock
) -> None:
    data = sample_dataset(returns=40)  # spans about 21 days from EPOCH
    start = EPOCH - timedelta(days=1)
    nightly = _store(tmp_path / "nightly.db", clock)
    loop, shopify = data.fakes()
    backfill(nightly, loop, shopify, clock, SETTINGS, start=start, end=clock.now(), progress=False)
    for _ in range(8):
        clock.advance(timedelta(days=2))
        run_sync(nightly, loop, shopify, clock, SETTINGS)

    fresh = _store(tmp_path / "fresh.db", clock)
    loop, shopify = data.fakes()
    backfill(fresh, loop, shopify, clock, SETTINGS, start=start, end=clock.now(), progress=False)
    expected = dump_mirror(fresh)
    assert len(expected["loop_returns"]) == 40
    assert dump_mirror(nightly) == expected
    nightly.close()
    fresh.close()


def _calls(log: Path, name: str) -> list[list[str]]:
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [line[1:] for line in lines if line[0] == name]


def _child(url: str, log_dir: Path, crash_after: int | None) -> int:
    log_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_after is not None:
        env[CRASH_ENV] = str(crash_after)
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(CHILD), url, str(log_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 137), done.stderr
    return done.returncode


@pytest.mark.slow
def test_a_killed_backfill_resumes_at_its_checkpoint(tmp_path: Path, clock: VirtualClock) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    assert _child(url, tmp_path / "run1", crash_after=2) == 137
    first = _calls(tmp_path / "run1" / "shopify.jsonl", "iter_payouts")
    assert len(first) == 2  # killed right after committing the second window

    assert _child(url, tmp_path / "run2", crash_after=None) == 0
    second = _calls(tmp_path / "run2" / "shopify.jsonl", "iter_payouts")
    assert len(second) == 6 and not {tuple(w) for w in first} & {tuple(w) for w in second}
    assert second[0][0] == first[-1][1]  # resumed at the first incomplete window

    assert _child(f"sqlite:///{tmp_path / 'whole.db'}", tmp_path / "run3", None) == 0
    resumed = SqlStore(url, clock=clock)
    whole = SqlStore(f"sqlite:///{tmp_path / 'whole.db'}", clock=clock)
    assert dump_mirror(resumed) == dump_mirror(whole)
    assert len(dump_mirror(whole)["refunds"]) > 0
    resumed.close()
    whole.close()


def test_a_backfill_of_a_later_range_leaves_the_nightly_watermark_before_the_gap(
    tmp_path: Path,
) -> None:
    """The nightly stopped on day 0; a return and its refund came on day 10; then someone
    backfilled days 30-37 only. The next nightly still reads from day 0, so day 10 is found."""
    clock = VirtualClock(EPOCH)
    store = _store(tmp_path / "gap.db", clock)
    settings = SyncSettings(lookback_hours=72, initial_days=60, backfill_window_days=5)
    loop, shopify = FakeLoop(), FakeShopify()
    run_sync(store, loop, shopify, clock, settings)
    day10 = EPOCH + timedelta(days=10)
    ret = make_return(1, day10)
    refund = make_refund(1, day10, ret.refund)
    loop.put(ret)
    shopify.put(refund)
    shopify.put(make_order(1, day10, (refund.id,)))
    clock.advance(timedelta(days=40))
    later = (EPOCH + timedelta(days=30), EPOCH + timedelta(days=37))
    backfill(store, loop, shopify, clock, settings, start=later[0], end=later[1], progress=False)
    assert store.get_watermark("shopify.payouts") == EPOCH  # not carried over days 0-30
    run_sync(store, loop, shopify, clock, settings)
    assert (store.count_rows("loop_returns"), store.count_rows("refunds")) == (1, 1)
    store.close()


def test_a_rerun_with_other_window_days_reads_every_day_of_the_range(
    mirror: SqlStore, clock: VirtualClock
) -> None:
    """A run with 5-day windows committed [0, 5) and stopped; the rerun uses 10-day windows.
    [0, 10) was never committed as such, so days 5-10 are read, not skipped."""
    loop, shopify = FakeLoop(), FakeShopify()
    start, end = EPOCH - timedelta(days=20), EPOCH
    with mirror.session() as session:
        first = (start, start + timedelta(days=5))
        mirror.mark_window_done(start, end, first, {}, session=session)
    loop.put(make_return(2, start + timedelta(days=7)))
    settings = SyncSettings(backfill_window_days=10, lookback_hours=72)
    stats = backfill(mirror, loop, shopify, clock, settings, start=start, end=end, progress=False)
    assert stats.windows == 2 and mirror.count_rows("loop_returns") == 1


def _backfill_app(store: SqlStore, loop: object, shopify: object, clock: VirtualClock) -> App:
    settings = Settings.model_validate({"shop": {"slug": "lock-shop"}, "sync": SETTINGS})
    return App(settings=settings, clock=clock, store=store, loop=loop, shopify=shopify)  # type: ignore[arg-type]


def test_a_backfill_waits_for_the_run_holding_the_shop_lock(
    mirror: SqlStore, clock: VirtualClock
) -> None:
    """A nightly run holds the lock: the backfill must not write the mirror under it."""
    loop, shopify = sample_dataset(returns=20).fakes()
    app = _backfill_app(mirror, loop, shopify, clock)
    lock = RunLock(sessions(mirror), clock)
    nightly = lock.acquire("lock-shop", "nightly-run", timedelta(hours=4))
    start, end = EPOCH - timedelta(days=1), EPOCH + timedelta(days=10)
    with pytest.raises(LockError):
        run_backfill(app, start=start, end=end, progress=False)
    assert mirror.completed_windows(start, end) == set()
    assert loop.calls == [] and shopify.calls == []
    lock.release(nightly)
    assert run_backfill(app, start=start, end=end, progress=False).windows == 4
    # ... and a nightly run during a backfill is refused the same way: the backfill's lease is
    # released when it ends, so it is free again now.
    assert lock.acquire("lock-shop", "nightly-run", timedelta(hours=4)).token == 3


def test_a_backfill_whose_lease_was_taken_over_stops_and_keeps_its_windows(
    mirror: SqlStore, clock: VirtualClock
) -> None:
    """The backfill stalls past its lease during its third window and a nightly run takes the
    shop over: that window is not kept (nor the watermarks), the first two stay, and a rerun
    resumes after them."""
    loop, shopify = sample_dataset(returns=20).fakes()
    lock = RunLock(sessions(mirror), clock)
    fetched = shopify.iter_payouts

    def stalls_on_third_window(since: datetime, until: datetime) -> object:
        if sum(1 for c in shopify.calls if c[0] == "iter_payouts") == 2:
            clock.advance(timedelta(hours=5))  # past RUN_LEASE: the lease expires
            lock.acquire("lock-shop", "nightly-run", timedelta(minutes=10))
        return fetched(since, until)

    shopify.iter_payouts = stalls_on_third_window  # type: ignore[method-assign]
    app = _backfill_app(mirror, loop, shopify, clock)
    start, end = EPOCH - timedelta(days=1), EPOCH + timedelta(days=10)
    with pytest.raises(LockError):
        run_backfill(app, start=start, end=end, progress=False)
    windows = split_windows(start, end, 3)
    assert mirror.completed_windows(start, end) == set(windows[:2])
    assert mirror.get_watermark("shopify.payouts") is None
    clock.advance(timedelta(minutes=11))  # the nightly run's lease ends
    shopify.iter_payouts = fetched  # type: ignore[method-assign]
    assert run_backfill(app, start=start, end=end, progress=False).windows == 2
    assert mirror.get_watermark("shopify.payouts") == end


def test_a_range_reaching_past_now_is_read_up_to_now_and_the_rest_on_a_rerun(
    mirror: SqlStore, clock: VirtualClock
) -> None:
    """``--to`` next month: the days still to come cannot be checkpointed as read. On day 10 a
    backfill of days 0-20 reads up to now; on day 20 the same command reads a return of day 15
    (it used to "resume" past it, every window committed on day 10)."""
    loop, shopify = FakeLoop(), FakeShopify()
    start, end = EPOCH, EPOCH + timedelta(days=20)
    backfill(mirror, loop, shopify, clock, SETTINGS, start=start, end=end, progress=False)
    assert max(c[2] for c in shopify.calls if c[0] == "iter_payouts") == clock.now()
    clock.advance(timedelta(days=10))
    loop.put(make_return(3, EPOCH + timedelta(days=15)))
    backfill(mirror, loop, shopify, clock, SETTINGS, start=start, end=end, progress=False)
    assert mirror.count_rows("loop_returns") == 1


def test_a_range_wholly_in_the_future_is_refused(mirror: SqlStore, clock: VirtualClock) -> None:
    """A year typed wrong (2027 for 2026): nothing to read, so say so, naming now."""
    loop, shopify = FakeLoop(), FakeShopify()
    start = clock.now() + timedelta(days=300)
    with pytest.raises(ConfigError, match="is not in the past"):
        backfill(mirror, loop, shopify, clock, SETTINGS, start=start, end=start + timedelta(days=5))
    assert (loop.calls, shopify.calls) == ([], [])


def test_each_backfill_run_starts_with_the_whole_retry_budget(
    mirror: SqlStore, clock: VirtualClock
) -> None:
    """A run that spent its budget does not leave the next run of the same process without one
    (the scheduler's process lives across nights)."""
    from recon.errors import RetryBudgetExhaustedError
    from recon.sources.retry_budget import RetryBudget

    budget = RetryBudget("shopify", retries=1)
    loop, shopify = sample_dataset(returns=5).fakes()
    fetched = shopify.iter_payouts

    def one_retry_per_window(since: datetime, until: datetime) -> object:
        budget.spend("shopify POST graphql.json: HTTP 503", counted=True, lost=0.0, wait=0.0)
        return fetched(since, until)

    shopify.iter_payouts = one_retry_per_window  # type: ignore[method-assign]
    app = _backfill_app(mirror, loop, shopify, clock)
    app.retry_budgets = (budget,)
    start = EPOCH - timedelta(days=1)
    with pytest.raises(RetryBudgetExhaustedError):  # 4 windows, 1 retry allowed
        run_backfill(app, start=start, end=EPOCH + timedelta(days=10), progress=False)
    assert run_backfill(app, start=start, end=start + timedelta(days=2), progress=False).windows


class _SlowLoop(FakeLoop):
    """A Loop read that takes ``took`` (throttled, a big shop): while it runs, ``arrival`` is
    updated in Loop, after the moment the backfill read its last window up to."""

    def __init__(self, clock: VirtualClock, took: timedelta, arrival: object) -> None:
        super().__init__()
        self.clock, self.took, self.arrival = clock, took, arrival

    def iter_returns(self, start: datetime, end: datetime, state: str) -> Iterator[Any]:
        yield from super().iter_returns(start, end, state)
        if self.took:
            self.clock.advance(self.took)
            self.put(self.arrival)  # type: ignore[arg-type]
            self.took = timedelta(0)


def test_the_nightly_after_a_long_backfill_reads_what_changed_while_it_ran(
    mirror: SqlStore, clock: VirtualClock
) -> None:
    """A backfill up to now reads its last window to the moment it began; it ran four days.
    A return updated half a day into the run was in no window it read, so the nightly sync
    must carry on from where the backfill read to, not from when it finished: with a 72-hour
    look-back, carrying on from the end lost that return for good."""
    began = clock.now()
    arrival = make_return(7, began + timedelta(hours=12))
    loop = _SlowLoop(clock, timedelta(days=4), arrival)
    shopify = FakeShopify()
    start, end = began - timedelta(days=6), began + timedelta(days=30)
    backfill(mirror, loop, shopify, clock, SETTINGS, start=start, end=end, progress=False)
    assert mirror.get_watermark("loop.returns.closed") == began
    run_sync(mirror, loop, shopify, clock, SETTINGS)
    assert mirror.return_versions([arrival.id]) == {arrival.id: arrival.updated_at}


@pytest.mark.parametrize(
    ("backfilled", "watermark"),
    [((-10, 0), None), ((-200, -150), -150), ((-90, 0), 0)],
    ids=["recent-days-only", "an-old-range", "back-past-initial-days"],
)
def test_a_backfill_before_any_nightly_never_cuts_the_first_nightly_short(
    mirror: SqlStore,
    clock: VirtualClock,
    backfilled: tuple[int, int],
    watermark: int | None,
) -> None:
    """A new install: no nightly has run; the first would read ``initial_days`` (60) back. A
    return was processed 30 days ago. Someone backfills the last 10 days only: the backfill
    set the watermarks to its end, so the first nightly read 72 hours back, and the return
    of 30 days ago was in no read at all. The watermarks now stay unset (the first nightly
    reads its 60 days) unless the backfill began at or before those 60 days: an old range
    (200-150 days ago) sets them to its end, so the first nightly reads every day since."""
    settings = SyncSettings(backfill_window_days=100, lookback_hours=72, initial_days=60)
    now = clock.now()
    loop, shopify = FakeLoop(), FakeShopify()
    older = make_return(1, now - timedelta(days=30))
    loop.put(older)
    start, end = (now + timedelta(days=d) for d in backfilled)
    backfill(mirror, loop, shopify, clock, settings, start=start, end=end, progress=False)
    expected = None if watermark is None else now + timedelta(days=watermark)
    assert mirror.get_watermark("loop.returns.closed") == expected
    clock.advance(timedelta(hours=2))
    run_sync(mirror, loop, shopify, clock, settings)
    assert mirror.return_versions([older.id]) == {older.id: older.updated_at}
