"""Resumable backfill over a date range: fixed windows, each committed with its checkpoint.

A window's rows and its checkpoint go in one transaction, so a crash loses at most the window in
flight; a rerun with the same [start, end) skips the committed windows. Test-only hook: the
environment variable ``RECON_TEST_CRASH_AFTER_WINDOWS=n`` kills the process (``os._exit(137)``,
like a SIGKILL) right after the n-th window this process committed; never set it in production.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from recon.clock import Clock
from recon.config import SyncSettings
from recon.errors import ConfigError
from recon.fetch import FetchPlan, Window, fetch
from recon.ports import LoopSource, ShopifySource
from recon.store.sql import SqlStore
from recon.sync import Fence, SyncStats, all_streams, api_calls, commit_batch

CRASH_ENV = "RECON_TEST_CRASH_AFTER_WINDOWS"


def split_windows(start: datetime, end: datetime, days: int) -> list[Window]:
    """[start, end) cut into windows of ``days``; the last one may be shorter.

    Raises:
        ConfigError: ``start`` is not before ``end``, or a bound is naive.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ConfigError("backfill start and end must be timezone-aware")
    if start >= end:
        raise ConfigError(f"backfill start {start.isoformat()} is not before end {end.isoformat()}")
    step = timedelta(days=days)
    windows, cursor = [], start
    while cursor < end:
        windows.append((cursor, min(cursor + step, end)))
        cursor += step
    return windows


def _crash_after() -> int | None:
    value = os.environ.get(CRASH_ENV, "").strip()  # test-only hook, see the module docstring
    return int(value) if value.isdigit() else None


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]backfill[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[records]} records, {task.fields[rate]} records/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=not enabled,
    )


def _advance_watermarks(
    store: SqlStore, start: datetime, end: datetime, now: datetime, fence: Fence | None
) -> None:
    """Let the nightly sync continue where a backfill up to now stopped, never moving back.

    A stream's watermark moves only when the backfill began at or before it (or it has none):
    a backfill of a later range would otherwise carry it over the days between, which neither
    the nightly sync nor the backfill ever read.
    """
    reached = min(end, now)
    behind = []
    for stream in all_streams():
        mark = store.get_watermark(stream)
        if mark is None or start <= mark <= reached:
            behind.append(stream)
    with store.session() as session:
        for stream in behind:
            store.set_watermark(stream, reached, session=session)
        if fence is not None:
            session.flush()  # the first write takes SQLite's write lock before the check
            fence(session)


def backfill(
    store: SqlStore,
    loop: LoopSource,
    shopify: ShopifySource,
    clock: Clock,
    settings: SyncSettings,
    *,
    start: datetime,
    end: datetime,
    progress: bool = True,
    fence: Fence | None = None,
) -> SyncStats:
    """Mirror everything in [start, end), window by window, resuming where a previous run stopped.

    A range reaching past now is read up to now (the rest on a later rerun of the same range).
    ``fence`` runs inside each window's transaction (and the watermarks'): the run lock's lease
    check (``service.run_backfill``). If it refuses, that window is not kept and the backfill
    stops; the windows committed before stay, and a rerun resumes after them.

    Raises:
        recon.errors.LockError: ``fence`` refused (another run took the shop's lease).
        ConfigError: the range is empty or naive, or starts at or after now.
        recon.errors.SourceError: an API failed; committed windows stay committed.
        recon.errors.StoreError: the mirror could not be written.
    """
    windows = split_windows(start, end, settings.backfill_window_days)
    now = clock.now()
    if start >= now:
        raise ConfigError(
            f"backfill --from {start:%Y-%m-%d %H:%M} UTC is not in the past "
            f"(now {now:%Y-%m-%d %H:%M} UTC): nothing to read yet"
        )
    # Days still to come cannot be committed as read: the range is read up to now, and its last
    # window ends at now, so the same command later reads that window again, to its end.
    windows = [(lo, min(hi, now)) for lo, hi in windows if lo < now]
    done = store.completed_windows(start, end)
    # A window is done when that very window was committed: a rerun with other window days
    # reads every window again rather than skip days a longer window would claim.
    todo = [w for w in windows if w not in done]
    crash_after = _crash_after()
    run_id = store.start_run("backfill")
    stats = SyncStats()
    calls_before = api_calls(loop, shopify)
    began = clock.monotonic()
    try:
        with _progress(progress) as bar:
            task = bar.add_task(
                f"{start:%Y-%m-%d}..{end:%Y-%m-%d}",
                total=len(windows),
                completed=len(windows) - len(todo),
                records=0,
                rate="-",
            )
            for window in todo:
                batch = fetch(FetchPlan.for_window(window), loop, shopify)
                window_stats = commit_batch(
                    store, batch, run_id, checkpoint=(start, end, window), fence=fence
                )
                window_stats.windows = 1
                stats.merge(window_stats)
                if crash_after is not None and stats.windows >= crash_after:
                    os._exit(137)
                elapsed = clock.monotonic() - began
                rate = f"{stats.total / elapsed:,.0f}" if elapsed > 0 else "-"
                bar.update(task, advance=1, records=stats.total, rate=rate)
        _advance_watermarks(store, start, end, clock.now(), fence)
    except BaseException as exc:
        store.finish_run(
            run_id, "failed", {"error": f"{type(exc).__name__}: {exc}", **stats.as_dict()}
        )
        raise
    calls_after = api_calls(loop, shopify)
    if calls_before is not None and calls_after is not None:
        stats.api_calls = calls_after - calls_before
    store.finish_run(run_id, "ok", stats.as_dict())
    return stats
