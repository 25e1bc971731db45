"""The built-in scheduler: run the nightly job on a cron expression with APScheduler.

Cron users do not need this: ``run_recon.py run`` from crontab does the same, and the run lock
(``recon.lock``) keeps two runs of one shop from overlapping whichever way they were started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from recon.errors import ConfigError, ReconError, ReportNotDeliveredError

log = logging.getLogger(__name__)


def build_scheduler(cron: str, job: Callable[[], object], *, timezone: str = "UTC") -> object:
    """A BlockingScheduler that calls ``job`` on ``cron`` (five fields, crontab syntax).

    A run still going when the next is due is not started twice (``max_instances=1``); runs missed
    while the machine slept or the scheduler was down start once on wake-up, however late
    (``coalesce``, no grace limit): a late nightly run beats a skipped one, and the next one reads
    from the watermarks either way.

    Raises:
        ConfigError: if the cron expression or time zone is invalid.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger(**_crontab_fields(cron), timezone=timezone)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"schedule: invalid cron expression {cron!r}: {exc}") from None
    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(
        _guarded(job, timezone),
        trigger,
        id="recon-nightly",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    return scheduler


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's 0..6 (7 is Sunday too)


def _crontab_fields(cron: str) -> dict[str, str]:
    """CronTrigger's fields from five crontab fields, the days of the week as crontab counts them.

    ``CronTrigger.from_crontab`` passes the day-of-week field as it is, but APScheduler 3 counts
    0 as Monday where crontab counts 0 (and 7) as Sunday (apscheduler issue 286): weeknights,
    ``1-5``, ran Tuesday to Saturday. Days are passed by name instead.

    Raises:
        ValueError: not five fields, a bad day of the week, or a day of the month and a day of
            the week together (crontab runs on either, APScheduler only on both).
    """
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(
            f"expected 5 fields (minute hour day month day-of-week), got {len(fields)}"
        )
    minute, hour, day, month, day_of_week = fields
    if day != "*" and day_of_week != "*":
        raise ValueError("give a day of the month or a day of the week, not both")
    return {
        "minute": minute,
        "hour": hour,
        "day": day,
        "month": month,
        "day_of_week": _weekday_names(day_of_week),
    }


def _weekday_names(field: str) -> str:
    """A crontab day-of-week field as APScheduler day names (``1-5`` → ``mon,tue,...,fri``)."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        span, slash, step = part.partition("/")
        if span == "*":
            first, last = 0, 6
        else:
            low, dash, high = span.partition("-")
            first = _weekday(low)
            last = _weekday(high) if dash else (6 if slash else first)
        every = int(step) if step.isdigit() else 0 if slash else 1
        if every < 1 or last < first:
            raise ValueError(f"bad day of the week {part!r}")
        days |= {d % 7 for d in range(first, last + 1, every)}
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def _weekday(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token in _WEEKDAYS:
        return _WEEKDAYS.index(token)
    raise ValueError(f"bad day of the week {token!r} (0-7 or sun..sat)")


def _guarded(
    job: Callable[[], object],
    timezone: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[], None]:
    """Keep the scheduler alive across a failed run (the failure is logged and recorded) or a
    report left in the outbox (logged as such: the run itself completed), and
    run once per wall-clock time: when the clocks go back, a time in the repeated hour (01:30
    in New York on the first Sunday of November) comes twice, and the trigger fires at both.
    """
    zone = ZoneInfo(timezone)
    ran: dict[datetime, datetime] = {}  # wall-clock minute → when (UTC) it ran, last 25 hours

    def run() -> None:
        at = now()
        wall = at.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
        for old in [w for w, when in ran.items() if at - when > timedelta(hours=25)]:
            del ran[old]
        if wall in ran:
            log.info("skipped: %s %s already ran (the clocks went back)", wall, timezone)
            return
        ran[wall] = at
        try:
            job()
        except ReportNotDeliveredError as exc:
            # Not a failed run: its findings and reports are saved; only the mail waits.
            log.error("scheduled run completed; report not delivered: %s", exc)
        except ReconError as exc:
            log.error("scheduled run failed: %s", exc)

    return run
