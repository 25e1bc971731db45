"""The built-in scheduler: run the nightly job on a cron expression with APScheduler.

Cron users do not need this: ``run_recon.py run`` from crontab does the same, and the run lock
(``recon.lock``) keeps two runs of one shop from overlapping whichever way they were started.
The schedule's times (the trigger, a missed night, the night a firing is for) are
in ``recon.schedule_times``; this module builds the scheduler and wraps the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from recon.config_modes import RemediationMode
from recon.errors import LockError, LockReleaseError, ReconError, ReportNotDeliveredError
from recon.schedule_times import cron_trigger, missed_run, night_of
from recon.store.bookkeeping import RAN_TO_THE_END

if TYPE_CHECKING:
    from recon.store.sql import SqlStore

log = logging.getLogger(__name__)
_TICK = timedelta(seconds=1)
# The longest the scheduler waits without reading the wall clock (``_wall_clock_scheduler``).
RECHECK_SECONDS = 60.0
# A night refused by the run lock is tried again this much later (``_retried``).
CATCH_UP_RETRY = timedelta(minutes=15)
CATCH_UP_JOB = "recon-catch-up"
# A scheduled run refused by the run lock is tried again as a missed night is (``_retried``).
RETRY_JOB = "recon-nightly-retry"
# A missed night is not caught up this close to the next scheduled run: that run covers it (the
# sync reads from the watermarks, not from the schedule), and finance gets one report, not two
# minutes apart.
CATCH_UP_HORIZON = timedelta(minutes=60)


def _wall_now() -> datetime:
    """The wall clock the schedule fires on (UTC)."""
    return datetime.now(UTC)


def build_scheduler(
    cron: str,
    job: Callable[[], object],
    *,
    timezone: str = "UTC",
    first_run: datetime | None = None,
    last_run: datetime | None = None,
    recheck_seconds: float = RECHECK_SECONDS,
    read_last_run: Callable[[], datetime | None] | None = None,
) -> object:
    """A BackgroundScheduler (not started) that calls ``job`` on ``cron`` (five fields, read as
    cron reads them: ``recon.crontab``) in the shop's ``timezone``, each wall-clock time once
    (``recon.schedule_trigger``).

    A run still going when the next is due is not started twice (``max_instances=1``); runs missed
    while the machine slept or the scheduler was down start once on wake-up, however late
    (``coalesce``, no grace limit): a late nightly run beats a skipped one, and the next one reads
    from the watermarks either way.

    ``first_run`` (``schedule --now``): the job runs first at that time, then on ``cron``.
    ``last_run`` (``last_nightly_start``): when the shop's last nightly run started, so that a
    scheduler restarted in the hour the clocks repeat does not run a night that already ran,
    and one that was down over a scheduled time runs it at once (``missed_run``).
    ``recheck_seconds``: the longest the scheduler waits before reading the wall clock again
    (``_wall_clock_scheduler``), so a run missed while the host slept starts on wake-up.
    ``read_last_run``: reads ``last_run`` again, before a missed night is run or retried
    (``_unless_caught_up``) and before each scheduled run or its retry (``_unless_ran``): a run
    started elsewhere meanwhile (cron, another scheduler) may have run it. A scheduled run the
    run lock refuses is tried again (``_retried``) only with it: without the runs table (the
    sandbox, dated by the world's clock) a retry could run a night twice.

    Raises:
        ConfigError: if the cron expression or time zone is invalid.
    """
    trigger = cron_trigger(cron, timezone, last_run=last_run)
    missed = None
    if first_run is None and last_run is not None:
        missed = _catch_up_now(trigger, last_run, _wall_now())
    # In the background: the main thread waits for a signal, then stops the schedule and waits
    # for a run in progress to stop at its next safe point (``cli.schedule``).
    scheduler = _wall_clock_scheduler(recheck_seconds)
    # ``schedule --now``: when the run asked for at start was asked, until it runs or is given up.
    asked_at_start = [first_run] if first_run is not None else []
    nightly = _unless_ran(job, trigger, read_last_run, asked_at_start=asked_at_start)
    scheduler.add_job(
        # Refused by the run lock (a backfill still reading at 02:00, another scheduler's run
        # of the night) it is tried again as a missed night is; only with the runs table to
        # read before each try (``_unless_ran``), so the night is never run twice.
        _guarded(nightly)
        if read_last_run is None
        else _retried(
            nightly,
            scheduler,
            trigger,
            what="the scheduled run",
            job_id=RETRY_JOB,
            scheduled=True,
            # Given up, the run asked for at start is over: the schedule's next run is judged
            # by the runs table as any scheduled run (else it ran a night cron had run).
            on_give_up=asked_at_start.clear,
        ),
        trigger,
        id="recon-nightly",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        **({} if first_run is None else {"next_run_time": first_run}),
    )
    if missed is not None:
        catch_up = _retried(
            _unless_caught_up(job, trigger, read_last_run),
            scheduler,
            trigger,
            what="the missed run",
            job_id=CATCH_UP_JOB,
            scheduled=False,
        )
        # No misfire grace (as the nightly job): a catch-up the host slept through runs on wake-up.
        scheduler.add_job(
            catch_up, "date", run_date=missed, id=CATCH_UP_JOB, misfire_grace_time=None
        )
    return scheduler


def _catch_up_now(trigger: Any, last_run: datetime, now: datetime) -> datetime | None:
    """``now`` when the night missed since ``last_run`` (``missed_run``) is to run at once;
    None when none was missed, or when the next scheduled run comes within
    ``CATCH_UP_HORIZON``: that run covers it. What was decided is logged."""
    missed = missed_run(trigger, last_run, now)
    if missed is None:
        return None
    since = f"{last_run.astimezone(UTC):%Y-%m-%d %H:%M}"
    upcoming = trigger.get_next_fire_time(None, now)
    if upcoming is not None and upcoming - now <= CATCH_UP_HORIZON:
        log.warning(
            "a scheduled run was missed since the last nightly run (started %s UTC); not run "
            "now: the next scheduled run, at %s UTC (within %d minutes), reads from where the "
            "last run stopped and covers it",
            since,
            f"{upcoming.astimezone(UTC):%Y-%m-%d %H:%M}",
            CATCH_UP_HORIZON // timedelta(minutes=1),
        )
        return None
    log.warning(
        "a scheduled run was missed since the last nightly run (started %s UTC): running it now",
        since,
    )
    return missed


def _wall_clock_scheduler(recheck_seconds: float) -> Any:
    """A BackgroundScheduler (UTC) that reads the wall clock at least every ``recheck_seconds``.

    APScheduler waits for the next fire time on a ``threading.Event`` timer, which runs on the
    monotonic clock: on Linux that clock stops while the host is suspended. Woken at 09:00 after
    sleeping through 02:00, the scheduler waited out the rest of its timer (hours: up to a day
    after a nightly run), so the missed run started as late again as the host had slept, or
    not that day at all. Capping each wait makes it see the missed time within
    ``recheck_seconds`` of waking (or of the clock being stepped forward).
    """
    from apscheduler.schedulers.background import BackgroundScheduler

    class WallClockScheduler(BackgroundScheduler):  # type: ignore[misc]  # untyped apscheduler
        def _process_jobs(self) -> float:
            wait: float | None = super()._process_jobs()
            return recheck_seconds if wait is None else min(wait, recheck_seconds)

    return WallClockScheduler(timezone=UTC)


def last_nightly_start(
    store: SqlStore, *, sandbox: bool = False, mode: RemediationMode | None = None
) -> datetime | None:
    """When the shop's last nightly run that ran to its end (ok, undelivered or failed) started.

    One whose report was not mailed ran the night (its findings, reports and fixes are saved;
    the mail waits in the outbox): it is not run again. One stopped by a signal or killed does
    not count: that may be the restart itself, and the night must then run again; nor does
    one the run lock refused (it did nothing), nor one stopped because its lease was lost
    (``lease_lost``: taken over, or not renewed for a whole lease; it did not finish the
    night). None for the ``sandbox``: its runs are dated by the world's clock, weeks behind the
    wall clock the schedule fires on, so every start would read a night that just ran as
    missed.

    ``mode`` (the schedule's ``[remediation] mode``): only a run in at least that mode counts
    (plan < approval < apply). A finance user's ``run --mode plan`` preview after the
    scheduled time, while the apply-mode run was refused by the lock or missed, made no
    refunds or restocks: counted, the retry or catch-up left them a day. A run recorded
    before runs kept their mode counts as before (``SqlStore.last_run_started``). None: any
    mode counts.
    """
    if sandbox:
        return None
    modes = None if mode is None else mode.covering()
    return store.last_run_started("nightly", RAN_TO_THE_END, modes=modes)


def _unless_caught_up(
    job: Callable[[], object],
    trigger: Any,
    read_last_run: Callable[[], datetime | None] | None,
) -> Callable[[], object]:
    """The missed night's ``job``, unless the runs table, read again (``read_last_run``), says
    a nightly run ended since the missed time: a run that ended meanwhile (cron's, or the old
    scheduler's) ran the night, and it is not run twice."""

    def run() -> object:
        last = None if read_last_run is None else read_last_run()
        if last is not None and missed_run(trigger, last, _wall_now()) is None:
            log.info("the missed run was run since (started %s UTC)", f"{last:%H:%M}")
            return None
        return job()

    return run


def _retried(
    attempt: Callable[[], object],
    scheduler: Any,
    trigger: Any,
    *,
    what: str,
    job_id: str,
    scheduled: bool,
    on_give_up: Callable[[], None] | None = None,
) -> Callable[[], None]:
    """``attempt`` (a missed night's run, or a scheduled one), tried again every
    ``CATCH_UP_RETRY`` while the run lock refuses it, until the schedule's next time is within
    ``CATCH_UP_HORIZON``: then given up (a warning naming the shop and the lock's holder), and
    the next scheduled run reads from where the last run stopped.

    After a reboot the run it killed still holds the lock until its lease lapses (its process
    is of another boot: never presumed gone); a deploy may start this scheduler before the old
    one has exited; a backfill started in the evening may still be reading at 02:00. Tried
    once, the night went without a run, a report or its fixes. ``attempt`` reads the runs table
    again before it runs (``_unless_caught_up``, ``_unless_ran``): a run that ended meanwhile
    ran the night, and it is not run twice. Each retry runs on wake-up however late (no
    misfire grace), as the nightly job does.
    """
    retried = 0
    fired: datetime | None = None  # when the scheduled run first fired (its retries keep it)

    def upcoming_after(now: datetime) -> datetime | None:
        """The schedule's next time after ``now``. A scheduled run passes the time it fired at
        as the trigger's previous fire: in the hour the clocks repeat, the second pass of a
        time that fired at its first is never fired, so it is no "next scheduled run" to
        leave the night to (that was given up at once, and the night had no run)."""
        upcoming: datetime | None = trigger.get_next_fire_time(
            fired if scheduled else None, now + _TICK
        )
        return upcoming

    def give_up(reason: str, now: datetime, upcoming: datetime) -> None:
        when = f"{upcoming.astimezone(UTC):%Y-%m-%d %H:%M}"
        # After a long sleep the next scheduled time may have passed too: it runs on wake-up.
        soon = (
            f"due at {when} UTC, runs now"
            if upcoming <= now
            else f"at {when} UTC, within {(upcoming - now) // timedelta(minutes=1)} minutes"
        )
        log.warning(
            "%s %s and is given up: the next scheduled run (%s) reads from where the last run "
            "stopped",
            what,
            reason,
            soon,
        )
        if on_give_up is not None:
            on_give_up()

    def run(*, retry: bool = False) -> None:
        nonlocal retried, fired
        now = _wall_now()
        if not retry:
            fired = now
        else:
            # A retry the host slept through fires on wake-up (no misfire grace): within the
            # hour of the next scheduled run it is left to that run, as when it was planned;
            # else the night ran twice, minutes apart (two reports).
            upcoming = upcoming_after(now)
            if upcoming is not None and now >= upcoming - CATCH_UP_HORIZON:
                give_up("was due to be tried again while the host slept", now, upcoming)
                return
        try:
            _guarded(attempt, reraise=LockError)()
        except LockError as exc:
            upcoming = upcoming_after(now)
            again = now + CATCH_UP_RETRY
            if upcoming is not None and again >= upcoming - CATCH_UP_HORIZON:
                give_up(f"was refused by the run lock ({exc})", now, upcoming)
                return
            retried += 1  # an id of its own: this one is removed once it has fired
            # The first refusal is a warning; the retries of a long night are not (a backfill
            # may hold the shop for hours): the give-up above is, naming the holder again.
            log.log(
                logging.INFO if retry else logging.WARNING,
                "%s was refused by the run lock (%s); trying again at %s UTC, every %d minutes "
                "until the next scheduled run is within %d minutes",
                what,
                exc,
                f"{again.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                CATCH_UP_RETRY // timedelta(minutes=1),
                CATCH_UP_HORIZON // timedelta(minutes=1),
            )
            scheduler.add_job(
                partial(run, retry=True),
                "date",
                run_date=again,
                id=f"{job_id}-{retried}",
                misfire_grace_time=None,
            )

    return run


def _unless_ran(
    job: Callable[[], object],
    trigger: Any,
    read_last_run: Callable[[], datetime | None] | None,
    *,
    asked_at_start: list[datetime],
) -> Callable[[], object]:
    """``job``, unless the runs table, read again as it fires, says a nightly run started at
    or after the scheduled time it fires for (the first pass of it when the clocks repeated
    it) and ended: that night ran already.

    The trigger's rule for the hour the clocks repeat reads the runs table once, at start: a
    ``schedule`` started between the two passes while another run of that night (cron's, a
    second scheduler's) was still going planned the second pass, and ran the night again once
    that run had ended (a second report). ``asked_at_start`` (``schedule --now``): while it
    holds the moment the run was asked for, a call is that run: run unless a nightly run
    started at or after that moment and ended; emptied once that run has run, or by
    ``_retried`` when it is given up.
    """

    tried: list[bool] = []  # the run asked for at start was called before

    def run() -> object:
        if asked_at_start:
            # The run asked for at start, until it runs: refused by the run lock, its retry is
            # still that run, not the cron's last scheduled one (a night that ran at 02:00 would
            # drop a run asked for at 14:00 after a fix). A run since the ask that ended ran it:
            # this one, taken over part-way (``LockError``, as a refusal), or the one that took
            # the shop over; run again once that one had ended, finance got a second report.
            # Only a retry reads the runs table: the first call always runs (a run dated by
            # another host's clock, a little ahead, would otherwise drop the run asked for).
            # A read that fails gives the ask up as a failed run does: left standing, it would
            # be taken for the next night's scheduled run, and drop that night.
            asked = asked_at_start[0]
            try:
                last = None if not tried or read_last_run is None else read_last_run()
                if last is not None and last >= asked:
                    log.warning(
                        "the run asked for at start (schedule --now, at %s UTC) is not run: a "
                        "nightly run started at %s UTC and ended",
                        f"{asked.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                        f"{last.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                    )
                    asked_at_start.clear()
                    return None
                tried.append(True)
                result = job()
            except LockError:
                raise
            except BaseException:
                asked_at_start.clear()
                raise
            asked_at_start.clear()
            return result
        now = _wall_now()
        due = night_of(trigger, now)
        last = None if due is None or read_last_run is None else read_last_run()
        if due is not None and last is not None and last >= due:
            log.warning(  # the README says the skip is logged: the default level shows WARNING
                "the scheduled run of %s UTC is not run: a nightly run started at %s UTC and "
                "ended (cron, or another scheduler, ran this night)",
                f"{due:%Y-%m-%d %H:%M}",
                f"{last.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            )
            return None
        return job()

    return run


def _guarded(
    job: Callable[[], object], *, reraise: type[ReconError] | None = None
) -> Callable[[], None]:
    """Keep the scheduler alive across a failed run (the failure is logged and recorded), a
    report left in the outbox or a run lock that could not be given up (each logged as such:
    the run itself completed); ``reraise``: errors of that kind are the caller's."""

    def run() -> None:
        try:
            job()
        except ReportNotDeliveredError as exc:
            # Not a failed run: its findings and reports are saved; only the mail waits.
            log.error("scheduled run completed; report not delivered: %s", exc)
        except LockReleaseError as exc:
            # Nor this one: the run is saved, its lease expires by itself (the shop's runs are
            # refused until then), and nothing is to be run again.
            log.error("scheduled run completed; its lock could not be given up: %s", exc)
        except ReconError as exc:
            if reraise is not None and isinstance(exc, reraise):
                raise
            log.error("scheduled run failed: %s", exc)

    return run
