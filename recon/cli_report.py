"""``run_recon.py report``: the month-end workbook for a month or a range of whole days.

Built from the local mirror alone (no API calls); registered on the CLI's ``app`` by
``recon.cli``. The period's options are checked here, before the store is opened.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

from recon.cli_options import ConfigOption
from recon.clock import shop_day
from recon.errors import ConfigError


def report(
    month: Annotated[str | None, typer.Option(help="a calendar month, e.g. 2026-10")] = None,
    start: Annotated[
        datetime | None, typer.Option("--from", help="first day (the shop's time zone)")
    ] = None,
    end: Annotated[
        datetime | None, typer.Option("--to", help="end day, exclusive (the shop's time zone)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Build the month-end workbook from the local mirror (no API calls)."""
    from recon.cli import _settings

    first, last = _period(month, start, end)
    settings = _settings(config)
    now = datetime.now(UTC)
    today = shop_day(now, settings.shop.timezone)
    if first > today:
        raise ConfigError(f"report: the period {first}..{last} has not begun (today is {today})")
    # Loaded once the period and the settings are checked: a bad one is refused at once.
    from recon.bootstrap import open_store
    from recon.month_end import build_monthend

    store = open_store(settings)
    try:
        path = build_monthend(settings, store, now, first, last)
    finally:
        store.close()
    Console().print(f"month-end workbook: {path}")


def _period(month: str | None, start: datetime | None, end: datetime | None) -> tuple[date, date]:
    """[first, last) days from ``--month`` or ``--from``/``--to``."""
    if month is not None and (start is not None or end is not None):
        raise ConfigError("report: give either --month or --from and --to, not both")
    if month is not None:
        try:
            first = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC).date()
        except ValueError:
            raise ConfigError(f"--month: expected YYYY-MM, got {month!r}") from None
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first, following
    if start is None or end is None:
        raise ConfigError("report: give --month, or both --from and --to")
    first, last = _whole_day("--from", start), _whole_day("--to", end)
    if last <= first:
        raise ConfigError(
            f"report: --to {last} must be after --from {first} (end exclusive: "
            f"--from {first} --to {first + timedelta(days=1)} is the one day {first})"
        )
    return first, last


def _whole_day(option: str, moment: datetime) -> date:
    """The day ``moment`` names, for an option of a book of whole days.

    Raises:
        ConfigError: ``moment`` has a time of day: the book would silently drop it (a range
            ``D`` to ``D 12:00`` read as ``D..D``, an empty book).
    """
    if moment.time() != datetime.min.time():
        day = moment.date()
        # The end is exclusive: the day after is what takes in the day the time was on.
        hint = (
            f"{day} to start on it"
            if option == "--from"
            else f"{day + timedelta(1)} to end with {day}"
        )
        raise ConfigError(
            f"report: {option} {moment.isoformat()}: the book covers whole days of the shop; "
            f"give a day, e.g. {option} {hint}"
        )
    return moment.date()
