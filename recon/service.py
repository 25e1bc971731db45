"""Service functions the CLI and the scheduler call: the nightly run and backfill (the month-end
book: ``recon.month_end``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from recon.bootstrap import App
from recon.config import RemediationMode, Settings
from recon.deliverables import (
    check_output_dirs,
    nightly_period,
    publish,
    report_data,
    undelivered_error,
)
from recon.engine import ReconResult
from recon.engine.findings_json import write_findings_json
from recon.engine.lifecycle import merge, unreported_closures
from recon.errors import (
    LockError,
    RunInterruptedError,
    StoreError,
    exit_code_of,
)
from recon.interrupt import Interrupt
from recon.lease_keeper import LeaseKeeper
from recon.lock import Lease, RunLock, give_up, holder_name
from recon.models import OPEN_STATUSES, Finding
from recon.remediation.runner import action_rows, remediate
from recon.remediation.verdicts import ApplyReport
from recon.report_folders import mark_latest, report_folder
from recon.run_steps import (
    left_out_keys,
    left_out_notes,
    live_only,
    muted_notes,
    order_flags,
    reconcile_snapshot,
    remediation_lines,
    sessions,
)
from recon.store.bookkeeping import RunStatus
from recon.store.quarantine import held_records
from recon.store.sql import SqlStore

if TYPE_CHECKING:
    from recon.sync import SyncStats

log = logging.getLogger(__name__)
# A crashed run's lease expires after this; a live run's is renewed all along (``LeaseKeeper``,
# every RUN_LEASE / 16), so a sync or backfill may read for longer.
RUN_LEASE = timedelta(hours=4)


@dataclass
class RunOutcome:
    """What one nightly run did, for the CLI summary and the runs table."""

    run_id: str
    as_of: datetime
    findings: list[Finding]
    result: ReconResult
    report_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    sync: dict[str, Any] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    # The intents this run settled (``ApplyReport.settled``: id → the state it ended in), as
    # ``actions`` holds every intent of the shop ever: the console counts this run's writes.
    settled: dict[int, str] = field(default_factory=dict)
    # Of those, the ones this run sent and got no answer for (``ApplyReport.unknown``): with
    # the ``done`` ones, what the console counts as sent to Shopify this run.
    unknown_writes: frozenset[int] = frozenset()
    notes: list[str] = field(default_factory=list)
    # Delivery errors of messages left waiting in the outbox (the CLI's exit 5 in smtp mode).
    undelivered: list[str] = field(default_factory=list)
    timezone: str = "UTC"  # [shop] timezone: the console shows the run's moment in it
    # The keys the report listed as new (since the last report that went out): the console's
    # "new" column counts these, so it agrees with the mail after a run that failed.
    new_keys: frozenset[str] = frozenset()

    @property
    def open_findings(self) -> list[Finding]:
        """Findings that still need someone: new or open (not resolved, not left out, not
        acknowledged: someone checked those, and they stay quiet until they change)."""
        return [f for f in self.findings if f.status in OPEN_STATUSES]


def run_nightly(
    app: App, *, until: datetime | None = None, interrupt: Interrupt | None = None
) -> RunOutcome:
    """Sync, reconcile, remediate per policy, report and deliver: the nightly job.

    ``interrupt`` (set by a signal: ``recon.interrupt``) stops the run at its next safe point:
    the sync's readers before their next request (nothing of the sync kept), remediation after
    the write in flight (no other started), or between steps; the lock is released either way.

    Raises:
        RunInterruptedError: ``interrupt`` was requested; the message says what was done.
        LockError: another run of this shop holds the lock.
        SourceError: an API could not be read (auth, exhausted retries, or the run's retry
            budget for an API spent: nothing of the sync is kept, the watermarks stay).
        ConfigError: ``[reports] dir`` or ``[delivery] outbox_dir`` cannot be written (found
            before anything is synced or sent).
        StoreError: the store could not be reached to take the lock.
        LockReleaseError: the run completed, but the store failed as it gave the lock up (the
            lease expires by itself); a run that failed ends with its own error instead.
    """
    check_output_dirs(app.settings)
    interrupt = interrupt or Interrupt()
    interrupt.check("before it began: nothing was done")
    store: Any = app.store
    lock = RunLock(sessions(app.store), app.clock)
    lease = _acquire(app, lock, "nightly")
    app.start_retry_budgets()
    try:
        # Renewed while the run is alive, however long its sync reads (``recon.lease_keeper``).
        with LeaseKeeper(lock, lease, RUN_LEASE) as keeper:
            outcome = _run_locked(
                app, store, lock, lease, until or app.clock.now(), interrupt, keeper
            )
    except BaseException:
        _release(lock, lease, completed=None)  # the run's own error is the one it ends with
        raise
    # A report left in the outbox ends the run with exit 5 (the CLI's): that outcome wins.
    undelivered = undelivered_error(app.settings, outcome.undelivered) is not None
    done = f"run {outcome.run_id} completed (its findings, reports and mail are saved)"
    _release(lock, lease, completed=None if undelivered else done)
    return outcome


def run_backfill(
    app: App,
    *,
    start: datetime,
    end: datetime,
    progress: bool = True,
    interrupt: Interrupt | None = None,
) -> SyncStats:
    """Backfill [start, end) under the shop's run lock, as a nightly run holds it.

    The two write the same mirror and watermarks, and a nightly run would reconcile (and
    remediate on) a half-backfilled mirror, so they take turns: a backfill while a run holds
    the lock gets ``LockError``, and so does a run during a backfill. The lease is renewed
    while it runs (``recon.lease_keeper``: a window may take hours to read); if another run
    took it over, the backfill stops before its next request, its committed windows stay,
    and a rerun resumes after them. So it does
    when ``interrupt`` is requested (a signal: ``recon.interrupt``), between windows or between
    two requests of one; the lock is released either way.

    Raises:
        RunInterruptedError: ``interrupt`` was requested; the message names the committed
            windows and the command that resumes.
        LockError: another run of this shop holds the lock, or took it over.
        SourceError: an API failed (e.g. the run's retry budget was spent); the committed
            windows stay, and a rerun resumes after them.
        LockReleaseError: the backfill completed, but the store failed as it gave the lock up.
    """
    from recon.backfill import backfill

    lock = RunLock(sessions(app.store), app.clock)
    lease = _acquire(app, lock, "backfill")
    app.start_retry_budgets()
    try:
        _abandon_earlier_runs(app.store)
        with LeaseKeeper(lock, lease, RUN_LEASE) as keeper:
            stats = backfill(
                app.store,
                app.loop,
                app.shopify,
                app.clock,
                app.settings.sync,
                start=start,
                end=end,
                progress=progress,
                fence=lambda session: _extended(lock, session, lease),
                interrupt=interrupt,
                lost_lock=keeper.lost,
            )
    except BaseException:
        _release(lock, lease, completed=None)  # the backfill's own error is the one it ends with
        raise
    _release(lock, lease, completed="the backfill completed (its windows are committed)")
    return stats


def _acquire(app: App, lock: RunLock, kind: str) -> Lease:
    """The shop's run lease for a run of ``kind``; a refusal is recorded in the runs table.

    Under cron a refused night (exit 4) had no run, no report and no row: the runs table read
    as if nothing had been tried. The ``refused`` row is all this writes: no lease is taken, and
    the holder's runs (``running``) are not touched.

    Raises:
        LockError: another run holds the lock (recorded as ``refused``).
    """
    try:
        return lock.acquire(app.settings.shop.slug, holder_name(), RUN_LEASE)
    except LockError as exc:
        try:
            app.store.record_refused_run(kind, str(exc))
        except (StoreError, SQLAlchemyError) as failed:  # SQLite's writer may be the holder
            # (the store wraps the database's error in StoreError): the night still ends
            # refused (exit 4, retried), not failed (exit 1, never retried).
            log.warning("the refused %s run could not be recorded: %s", kind, failed)
        raise


def _release(lock: RunLock, lease: Lease, *, completed: str | None) -> None:
    """Give the run's lease up (``lock.give_up``): a store that fails meanwhile is logged and
    the lease expires by itself (``RUN_LEASE``). ``completed`` says what the run completed when
    it has nothing else to report; None when the run ends with an error of its own (or a report
    left in the outbox): that one wins.

    Raises:
        LockReleaseError: the store failed and ``completed`` is given.
    """
    give_up(lock, lease, completed=completed, ttl=RUN_LEASE)


def _abandon_earlier_runs(store: SqlStore) -> None:
    """Mark the runs a killed process left ``running`` as abandoned (the caller holds the lock,
    so none of them is alive)."""
    abandoned = store.abandon_unfinished_runs()
    if abandoned:
        log.warning("%d earlier run(s) never finished (killed); marked abandoned", abandoned)


def _extended(lock: RunLock, session: Session, lease: Lease) -> None:
    """The sync's fence: its commit stands unless another run took the shop's lease."""
    lock.extend_in(session, lease, RUN_LEASE)


def _run_locked(
    app: App,
    store: Any,
    lock: RunLock,
    lease: Lease,
    as_of: datetime,
    interrupt: Interrupt,
    keeper: LeaseKeeper,
) -> RunOutcome:
    from recon.sync import run_sync

    slug = app.settings.shop.slug
    _abandon_earlier_runs(store)
    run_id = store.start_run("nightly")
    # Kept with how the run ended (``stats.mode``): the schedule counts a night as run only by
    # a run in at least its own mode (``recon.scheduler.last_nightly_start``).
    mode: str = app.settings.remediation.mode.value
    try:
        stats = run_sync(
            store,
            app.loop,
            app.shopify,
            app.clock,
            app.settings.sync,
            until=as_of,
            fence=lambda session: _extended(lock, session, lease),
            interrupt=interrupt,
            lost_lock=keeper.lost,
            details_reasks=app.settings.loop.details_reask_per_night,
        )
        interrupt.check(
            f"after the sync ({stats.total} records mirrored, the watermarks moved): nothing "
            "was reconciled or sent"
        )
        # A long sync may have eaten most of the lease: renew it before remediation writes
        # (LockError if it was taken over meanwhile: then this run must not write at all).
        lease = lock.renew(lease, RUN_LEASE)
        mirrored = store.load_snapshot()
        snapshot, left_out = live_only(app.settings, mirrored)
        result = reconcile_snapshot(app.settings, store, snapshot, as_of)
        keeper.check()  # taken over while the engine ran: save nothing
        # Muted categories' earlier findings stay as they were: muting is not resolving.
        muted = set(app.settings.engine.muted_categories)
        # One transaction reads the findings as stored now (locked: SQLite's write lock, or
        # PostgreSQL's row locks), merges and saves them, under the lease check: a `findings
        # ack` from another process lands before the read or waits for the save, never
        # saved over.
        with store.session() as session:
            stored = store.load_findings(session=session, lock=True)
            previous = [f for f in stored if f.category not in muted]
            gone = left_out_keys(app.settings, mirrored, previous)
            findings = merge(previous, result.findings, as_of, left_out=gone)
            store.save_findings(findings, session=session, run_id=run_id, previous=stored)
            unreported = store.unreported_keys(session=session)
            # Closed by an earlier run whose report never went out: this report says so.
            unshown = store.unreported_closed_keys(session=session)
            closed_before, passed_over = unreported_closures(stored, muted, unshown)
            lease = lock.extend_in(session, lease, RUN_LEASE)
        interrupt.check("after reconciling (the findings are saved): nothing was sent")
        applied = remediate(
            sessions(app.store),
            app.shopify,
            app.settings.remediation,
            app.clock,
            shop=slug,
            findings=findings,
            snapshot=snapshot,
            lease=lease,
            run_id=run_id,
            renew=lambda current: lock.renew(current, RUN_LEASE),
            include_test_orders=app.settings.engine.include_test_orders,
            timezone=app.settings.shop.timezone,
            interrupt=interrupt,
        )
        interrupt.check(stopped_in_remediation(applied, app.settings.remediation.mode))
        keeper.check()  # taken over meanwhile: the run that took the shop reports, not this one
        actions = action_rows(sessions(app.store), slug)
        said = remediation_lines(applied)
        flags = order_flags(app.settings, mirrored, findings)
        shop = app.settings.shop
        out = report_folder(app.settings.reports.dir, slug, as_of, shop.timezone)
        files = {"findings": out / "findings.json"}
        write_findings_json(files["findings"], findings, shop=slug, run_id=run_id, as_of=as_of)
        data = report_data(
            app.settings,
            findings=findings,
            previous=previous,
            result=result,
            snapshot=snapshot,
            actions=actions,
            run_id=run_id,
            as_of=as_of,
            period=nightly_period(as_of, shop.timezone),
            left_out=left_out,
            remediation=said,
            remediation_held=applied.held,
            order_flags=flags,
            folder=out,
            unreported=unreported,
            closed_before=closed_before,
            failed_writes=applied.failed,
            done_writes=applied.done,
            unknown_writes=applied.unknown,
            held_records=held_records(store.quarantine_entries()),
        )
        shown = {f.key for f in chain(findings, closed_before)} | passed_over

        def went_out(told: bool) -> None:
            # Sent, or waiting in the outbox for the next run to resend: either way finance
            # hears of it (called though a later team's message was lost). Parked (refused for
            # good, resent by no run): not reported, so the next report lists them as new.
            if told:
                store.mark_reported(shown, as_of)
            mark_latest(out)

        keeper.check()  # taken over while the report was built: the other run reports
        reports, notes, undelivered = publish(
            app.settings, data, out, went_out=went_out, unreported=store.unmark_reported
        )
        notes.extend(muted_notes(result.muted))
        notes.extend(left_out_notes(left_out))
        notes.extend(f"{label}: {text}" for label, text in flags.lines())
        files |= {"workbook": reports.exceptions_xlsx, "html": reports.report_html}
        notes[0:0] = said
        outcome = RunOutcome(
            run_id=run_id,
            as_of=as_of,
            findings=findings,
            result=result,
            report_dir=out,
            files=files,
            sync=stats.as_dict(),
            actions=actions,
            settled=applied.settled,
            unknown_writes=applied.unknown,
            notes=notes,
            undelivered=undelivered,
            timezone=shop.timezone,
            new_keys=frozenset(row.key for row in data.new_findings),
        )
    except RunInterruptedError as exc:
        ended = {"error": str(exc), "exit_code": exc.exit_code, "mode": mode}
        store.finish_run(run_id, RunStatus.INTERRUPTED, ended)
        raise
    except BaseException as exc:
        # The runs table says why (a mail lost after the report went out reads apart from a
        # crash; the error text is the one the CLI prints, which never carries a secret), and
        # the exit code `runs` shows (a failed run exits 1 or 3: its status cannot say). A
        # lease lost mid-run (taken over, or the lease keeper's renewals failing for a whole
        # lease) is ``lease_lost``: the run stopped short of the night, so the schedule's
        # retry runs it again, as it does a run a signal stopped.
        error = f"{type(exc).__name__}: {exc}"  # a database error may quote a long statement
        failed = {"error": error[:2000], "exit_code": exit_code_of(exc), "mode": mode}
        store.finish_run(run_id, RunStatus.stopped_by(exc), failed)
        raise
    status, figures = _ended(app.settings, outcome)
    store.finish_run(run_id, status, figures | {"mode": mode})
    return outcome


def _ended(settings: Settings, outcome: RunOutcome) -> tuple[RunStatus, dict[str, Any]]:
    """How a completed run is recorded: ``undelivered`` with the error the CLI exits 5 with
    when its report waits unsent (smtp mode), else ``ok``; with its figures either way."""
    stats: dict[str, Any] = {"sync": outcome.sync, "findings": len(outcome.open_findings)}
    problem = undelivered_error(settings, outcome.undelivered)
    if problem is None:
        return RunStatus.OK, stats
    return RunStatus.UNDELIVERED, stats | {"error": str(problem)[:2000]}


def stopped_in_remediation(applied: ApplyReport, mode: RemediationMode) -> str:
    """What remediation did before a signal stopped the run, for the run's error."""
    return applied.stopped(mode)
