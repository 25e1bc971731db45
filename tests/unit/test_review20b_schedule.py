"""Review 20b (scheduling): the built-in schedule's times worked out on the shop's wall clock
(``recon.schedule_trigger.WallClockCron``), asked as the scheduler asks them.

A schedule that fires often (every minute, every five minutes) is asked for its times at each
firing: the job first works out which scheduled time it fires for (``night_of``, stepping
through the last two days of the schedule) before it reads the runs table and runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from recon.scheduler import build_scheduler


@pytest.mark.timeout(3)  # as it was before the wall-clock trigger: under half a second
@pytest.mark.parametrize("cron", ["* * * * *", "*/5 * * * *"])
def test_a_frequent_schedule_starts_its_run_when_it_fires(cron: str) -> None:
    """Each call of the trigger walks every time of the schedule from three hours before to
    three hours after the answer (~360 calendar steps a minute apart, each placed on the
    shop's clock), and ``night_of`` asks it up to 3000 times: an every-minute schedule's run
    started ~2.5 minutes after it fired (so every firing was late and the next ones coalesced),
    an every-five-minutes one ~6 s; before, under half a second."""
    ran: list[bool] = []
    scheduler: Any = build_scheduler(
        cron,
        lambda: ran.append(True),
        timezone="America/New_York",
        read_last_run=lambda: None,  # the runs table: no nightly run recorded yet
    )
    scheduler.get_job("recon-nightly").func()  # as the scheduler calls it when it fires
    assert ran == [True]
