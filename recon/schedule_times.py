"""The built-in schedule's times: the trigger for a cron expression, a missed night, the night
a firing is for.

Pure questions put to the trigger (``recon.schedule_trigger``), with the moment passed in: the
scheduler (``recon.scheduler``) asks them with the wall clock when it starts and as each job
fires. APScheduler is imported on first use, as in the scheduler.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from recon.crontab import trigger_fields
from recon.errors import ConfigError

_TICK = timedelta(seconds=1)
_ANY_YEAR = datetime(2000, 1, 1, tzinfo=UTC)  # cron's five fields fire every year or never


def cron_trigger(cron: str, timezone: str, *, last_run: datetime | None = None) -> Any:
    """The APScheduler trigger for ``cron`` in ``timezone``: each wall-clock time once, the
    night ``last_run`` started in included (``recon.schedule_trigger``).

    Raises:
        ConfigError: if the cron expression or time zone is invalid.
    """
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    from recon.schedule_trigger import OncePerWallTime, WallClockCron

    try:
        zone = ZoneInfo(timezone)
        # In UTC on the shop's naive wall-clock times: ``WallClockCron`` places them in the zone.
        crons = [CronTrigger(**fields, timezone=UTC) for fields in trigger_fields(cron)]
        # Two when both day fields are restricted: cron fires on days matching either.
        wall = crons[0] if len(crons) == 1 else OrTrigger(crons)
        # Five cron fields repeat every year or never ("0 0 30 2 *": 30 February): a schedule
        # that never fires started, said "scheduled" and ran nothing, night after night.
        if wall.get_next_fire_time(None, _ANY_YEAR) is None:
            raise ConfigError(
                f"schedule: the cron expression {cron!r} never fires (no such date): "
                "check its day-of-month and month fields"
            )
        return OncePerWallTime(WallClockCron(wall, zone), zone, last_run)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"schedule: invalid cron expression {cron!r}: {exc}") from None


def missed_run(trigger: Any, last_run: datetime, now: datetime) -> datetime | None:
    """``now`` when a time of the schedule passed since ``last_run`` (the shop's last nightly run
    that ran to its end) with no run: the scheduler was down then (a reboot, a deploy, a crash;
    or its run was stopped by the restart, which does not count). Else None.

    An in-memory schedule remembers nothing across a restart: started after 02:00, it waited
    for tomorrow's, and the night went without a run, a report or its fixes. A missed time in
    the first pass of the hour the clocks repeat is left to the second pass, due within the
    hour (``OncePerWallTime``).
    """
    missed = trigger.get_next_fire_time(None, last_run + _TICK)
    if missed is None or missed > now:
        return None
    upcoming = trigger.get_next_fire_time(None, now)
    local = None if upcoming is None else upcoming.astimezone(trigger.timezone)
    if local is not None and local.fold == 1:
        first_pass = local.replace(fold=0).astimezone(UTC)
        if last_run < first_pass <= now and first_pass != upcoming:
            return None  # the night runs at the second pass, as a scheduler started then would
    return now


# How far back the job looks for the scheduled time it fires for (``night_of``): a yearly
# schedule's last time. The search starts an hour back and doubles, so a schedule firing every
# minute steps through an hour of times, not a year of them.
_DUE_LOOKBACK = timedelta(days=400)


def night_of(trigger: Any, now: datetime) -> datetime | None:
    """The latest time of the schedule at or before ``now`` (UTC), or its first pass when it
    falls in the second pass of an hour the clocks repeated; None if none within
    ``_DUE_LOOKBACK``.

    A weekly run fired days late (a host asleep from Sunday to Thursday) is Monday's: looking
    back two days found no time, and the job ran without reading the runs table.
    """
    inner = getattr(trigger, "inner", trigger)
    window = timedelta(hours=1)
    due = None
    while due is None and window <= 2 * _DUE_LOOKBACK:
        fire = inner.get_next_fire_time(None, now - min(window, _DUE_LOOKBACK))
        while fire is not None and fire <= now:  # on to the newest time of the window
            due = fire
            fire = inner.get_next_fire_time(fire, fire.astimezone(UTC) + _TICK)
        window *= 2
    if due is None:
        return None
    local: datetime = due.astimezone(trigger.timezone)
    return local.replace(fold=0).astimezone(UTC)
