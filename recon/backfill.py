"""Resumable backfill over a date range: fixed windows, each committed with its checkpoint.

A window's rows and its checkpoint go in one transaction, so a crash loses at most the window in
flight; a rerun with the same [start, end) skips the committed windows. A signal
(``recon.interrupt``) stops it between windows, or between two requests of a window (nothing of
that window kept), saying which windows were committed and how to resume. Test-only hook: the
environment variable ``RECON_TEST_CRASH_AFTER_WINDOWS=n`` kills the process (``os._exit(137)``,
like a SIGKILL) right after the n-th window this process committed; never set it in production.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from recon.clock import Clock, as_argument
from recon.config import SyncSettings
from recon.errors import ConfigError, RunInterruptedError, exit_code_of
from recon.fetch import FetchPlan, LostLock, Window, fetch
from recon.interrupt import Interrupt
from recon.ports import LoopSource, ShopifySource
from recon.sources.loop_windows import FURTHEST_ZONE, WINDOW_OVERLAP
from recon.store.bookkeeping import RunStatus
from recon.store.sql import SqlStore
from recon.sync import (
    Fence,
    SyncStats,
    all_streams,
    api_calls,
    commit_batch,
    run_watermarks,
    server_clocks,
)

CRASH_ENV = "RECON_TEST_CRASH_AFTER_WINDOWS"
WHO = "the backfill"


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


def loop_window(window: Window, windows: list[Window]) -> Window:
    """What Loop is asked for to read ``window`` of ``windows`` (the range, in order) in full.

    Loop's zone for ``from``/``to`` is not documented (loop-returns-api.md §6 trap 6). A server
    reading them as wall time in the shop's zone shifts every window alike, so windows that
    meet still meet, but the range's own ends move: behind UTC its first hours are read by
    nothing, ahead of UTC its last. The nightly look-back re-reads far more than that; a
    backfill has none, so the range's first window starts, and its last ends, the furthest UTC
    offset (14 hours) beyond the range. The others start a little early, as the client's own
    windows do (``recon.sources.loop_windows.split_windows``), for a row on a boundary under
    either reading of inclusive bounds. Reading more is safe: upserts are idempotent and an
    older copy never replaces a newer one. Only Loop's side widens; the checkpoint, Shopify's
    windows and the watermarks keep ``window``.
    """
    lo, hi = window
    lo -= FURTHEST_ZONE if window == windows[0] else WINDOW_OVERLAP
    if window == windows[-1]:
        hi += FURTHEST_ZONE
    return lo, hi


@dataclass(frozen=True)
class _Stop:
    """What a backfill stopped by a signal says: where it stopped, which windows are committed,
    and the command that resumes after them."""

    interrupt: Interrupt | None
    start: datetime
    end: datetime
    windows: list[Window]
    committed: set[Window]

    def before(self, window: Window) -> str:
        """Stopped between windows, before ``window`` was read."""
        return f"before {self._which(window)}: {self._committed()}"

    def during(self, window: Window, readers: str) -> RunInterruptedError:
        """Stopped while ``window`` was read (``readers``: what each API's reader did)."""
        assert self.interrupt is not None  # fetch calls this only for a requested interrupt
        what = (
            f"during {self._which(window)}: {readers}, and nothing of that window was kept; "
            + self._committed()
        )
        return self.interrupt.error(what, who=WHO, resume=self.resume())

    def resume(self) -> str:
        """The command that resumes after the committed windows."""
        return (
            f"rerun the same command (backfill --from {as_argument(self.start)} "
            f"--to {as_argument(self.end)}) to resume after the committed windows"
        )

    def _which(self, window: Window) -> str:
        lo, hi = window
        return f"window {self.windows.index(window) + 1} of {len(self.windows)} ({_span(lo, hi)})"

    def _committed(self) -> str:
        count = sum(1 for w in self.windows if w in self.committed)
        through = None
        for window in self.windows:  # the range read in full from its start, if any
            if window not in self.committed:
                break
            through = window[1]
        whole = f", {_span(self.start, through)} read in full" if through is not None else ""
        return f"{count} of {len(self.windows)} window(s) committed{whole}"


def _span(lo: datetime, hi: datetime) -> str:
    return f"{lo:%Y-%m-%d %H:%M}..{hi:%Y-%m-%d %H:%M} UTC"


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
    store: SqlStore,
    start: datetime,
    end: datetime,
    marks: dict[str, datetime],
    fence: Fence | None,
    first_night: datetime,
) -> None:
    """Let the nightly sync continue where a backfill up to ``marks`` (the moment its windows
    were cut at, by each API's clock: ``run_watermarks``) stopped reading, never moving back.

    A stream's watermark moves only when the backfill began at or before it: a backfill of a
    later range would otherwise carry it over the days between, which neither the nightly sync
    nor the backfill ever read. A stream with none (no nightly has run) is read by the first
    nightly from ``first_night`` (``[sync] initial_days`` back): it is set only when the
    backfill began at or before that, else the first nightly read only the look-back, and the
    days between ``first_night`` and the backfill's start were in no read at all.
    """
    reached = {stream: min(end, marks[stream]) for stream in all_streams()}
    behind = []
    for stream in all_streams():
        mark = store.get_watermark(stream)
        # With none, the first nightly's own read begins at ``first_night``.
        since = first_night if mark is None else mark
        if start <= since and (mark is None or mark <= reached[stream]):
            behind.append(stream)
    with store.session() as session:
        for stream in behind:
            store.set_watermark(stream, reached[stream], session=session)
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
    interrupt: Interrupt | None = None,
    lost_lock: LostLock | None = None,
) -> SyncStats:
    """Mirror everything in [start, end), window by window, resuming where a previous run stopped.

    A range reaching past now is read up to now (the rest on a later rerun of the same range).
    ``fence`` runs inside each window's transaction (and the watermarks'): the run lock's lease
    check (``service.run_backfill``). If it refuses, that window is not kept and the backfill
    stops; the windows committed before stay, and a rerun resumes after them. So it does when
    ``interrupt`` is requested (a signal): before the next window, or before the next request
    of the window being read (nothing of that window is kept). Once the last window is
    committed the backfill finishes (the watermarks' step reads no API). ``lost_lock`` saying
    the lease was taken over (``recon.lease_keeper``) stops it the same way, with that
    ``LockError``.

    Raises:
        recon.errors.RunInterruptedError: ``interrupt`` was requested; the message names the
            committed windows and the command that resumes.
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
    committed = set(done) & set(windows)
    stop = _Stop(interrupt, start, end, windows, committed)
    crash_after = _crash_after()
    run_id = store.start_run("backfill")
    stats = SyncStats()
    calls_before = api_calls(loop, shopify)
    clocks = server_clocks(loop=loop, shopify=shopify)
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
                if interrupt is not None:
                    interrupt.check(stop.before(window), who=WHO, resume=stop.resume())
                # The orders a mirrored Loop return names that changed since the mirror read
                # them are read in full, as a nightly's (``recon.fetch.changed_orders``).
                batch = fetch(
                    FetchPlan.for_window(window, loop=loop_window(window, windows)),
                    loop, shopify, interrupt=interrupt,
                    stopped=functools.partial(stop.during, window), lost_lock=lost_lock,
                    order_versions=store.returned_order_versions,
                )  # fmt: skip
                window_stats = commit_batch(
                    store, batch, run_id, checkpoint=(start, end, window), fence=fence
                )
                committed.add(window)
                window_stats.windows = 1
                stats.merge(window_stats)
                if crash_after is not None and stats.windows >= crash_after:
                    os._exit(137)
                elapsed = clock.monotonic() - began
                rate = f"{stats.total / elapsed:,.0f}" if elapsed > 0 else "-"
                bar.update(task, advance=1, records=stats.total, rate=rate)
        # Up to the moment the windows were cut at, not the end of the run: what changed
        # while it ran (hours, days for a big shop) lies in no window it read. By each API's
        # clock when the host's is ahead of it, as a nightly's (``recon.sync.run_watermarks``).
        marks = run_watermarks(now, settings, clocks)
        first_night = now - timedelta(days=settings.initial_days)
        _advance_watermarks(store, start, end, marks, fence, first_night)
    except BaseException as exc:
        status = RunStatus.stopped_by(exc)
        said = f"{type(exc).__name__}: {exc}"
        error = {"error": said[:2000], "exit_code": exit_code_of(exc)}
        store.finish_run(run_id, status, error | stats.as_dict())
        raise
    calls_after = api_calls(loop, shopify)
    if calls_before is not None and calls_after is not None:
        stats.api_calls = calls_after - calls_before
    store.finish_run(run_id, RunStatus.OK, stats.as_dict())
    return stats
