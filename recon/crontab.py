"""Crontab's five time fields read as cron(8) reads them, for the built-in scheduler.

The grammar and its meaning follow cronie / Vixie cron (``entry.c``, ``get_list`` /
``get_range`` / ``get_number``), not APScheduler's own cron syntax, which differs where it
matters:

- ``*`` is the field's whole range; ``N/S`` is ``N-<max>/S`` (cronie); ``A-B`` must not run
  backwards; a step ``/S`` is a number of at least 1 (it may pass the range: ``*/8`` is the first
  value only); every value must lie in the field's range.
- Day-of-week runs 0..7, both 0 and 7 Sunday, so its ``<max>`` is 7: ``1/2`` is 1,3,5,7, Monday,
  Wednesday, Friday *and Sunday*. APScheduler 3 counts 0 as Monday (apscheduler issue 286).
- Names are the three-letter ones (any case), in the month and day-of-week fields only, also in
  ranges (``MON-FRI``, ``jan-mar``); ``monday``, ``L``, ``last``, ``5#3`` and ``?`` are refused.
- The nicknames ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
  (``@midnight``) and ``@hourly`` stand for their five fields; ``@reboot`` is refused.
- A day of the month and a day of the week, when neither field starts with ``*``, fire on days
  matching *either* (cron's DOM_STAR / DOW_STAR rule). APScheduler's cron trigger fires only on
  days matching both, so that form becomes two field sets, one per day field (the other left
  whole), and the scheduler fires at the earlier of the two. When one of them starts with ``*``
  (even ``*/2``) cron, like APScheduler, fires on days matching both: one field set.

Every field is expanded to its explicit values here and handed to APScheduler as a plain list,
so APScheduler's reading of the text never comes into it.
"""

from __future__ import annotations

from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's 0..6 (7 is Sunday too)


@dataclass(frozen=True)
class CronField:
    """One crontab field: its name in errors, its range, and the names it accepts."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def number(self, token: str) -> int:
        """A value or a name as cron's ``get_number`` reads it (not yet range-checked).

        Raises:
            ValueError: neither digits nor one of the field's names.
        """
        if token.isascii() and token.isdigit():
            return int(token)
        if token.lower() in self.names:
            return self.names.index(token.lower()) + self.low
        expected = f"{self.low}-{self.high}"
        if self.names:
            expected += f" or {self.names[0]}..{self.names[-1]}"
        raise ValueError(f"{token!r} is not a number or name ({expected})")


MINUTE = CronField("minute", 0, 59)
HOUR = CronField("hour", 0, 23)
DAY = CronField("day of the month", 1, 31)
MONTH = CronField("month", 1, 12, _MONTHS)
DAY_OF_WEEK = CronField("day of the week", 0, 7, WEEKDAYS)


def field_values(text: str, field: CronField) -> set[int]:
    """The values a crontab field fires on: a list of ranges, each ``*``, ``N``, ``A-B``,
    ``*/S``, ``N/S`` or ``A-B/S``.

    Raises:
        ValueError: a form cron refuses; the message names the field and the part at fault.
    """
    values: set[int] = set()
    for part in text.split(","):
        try:
            values |= _range_values(part, field)
        except ValueError as exc:
            raise ValueError(f"{field.name} field {text!r}: {exc}") from None
    return values


def _range_values(part: str, field: CronField) -> set[int]:
    span, slash, step_text = part.partition("/")
    if span == "*":
        first, last = field.low, field.high
    else:
        low, dash, high = span.partition("-")
        first = field.number(low)
        last = field.number(high) if dash else (field.high if slash else first)
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()) or int(step_text) < 1:
            raise ValueError(f"{part!r}: the step after '/' must be a number of at least 1")
        step = int(step_text)
    for value in (first, last):
        if not field.low <= value <= field.high:
            raise ValueError(f"{part!r}: {value} is outside {field.low}-{field.high}")
    if last < first:
        raise ValueError(f"{part!r}: the range runs backwards")
    return set(range(first, last + 1, step))


def trigger_fields(cron: str) -> list[dict[str, str]]:
    """APScheduler ``CronTrigger`` keyword arguments for five crontab fields (or a nickname such
    as ``@daily``), as cron reads them: one set, or two when the day of the month and the day
    of the week are both restricted (cron fires on days matching either; fire at the earlier).

    Raises:
        ValueError: not five fields nor a nickname (``@reboot`` included), or a form cron
            refuses (naming the field).
    """
    fields = _unnicknamed(cron).split()
    if len(fields) != 5:
        raise ValueError(
            f"expected 5 fields (minute hour day month day-of-week), got {len(fields)}"
        )
    minute, hour, day, month, day_of_week = fields
    weekdays = {d % 7 for d in field_values(day_of_week, DAY_OF_WEEK)}
    out = {
        "minute": _listed(field_values(minute, MINUTE)),
        "hour": _listed(field_values(hour, HOUR)),
        "day": _listed(field_values(day, DAY)),
        "month": _listed(field_values(month, MONTH)),
        "day_of_week": ",".join(WEEKDAYS[d] for d in sorted(weekdays)),
    }
    if day.startswith("*") or day_of_week.startswith("*"):
        return [out]
    return [out | {"day_of_week": "*"}, out | {"day": "*"}]


# crontab(5)'s nicknames (cronie ``entry.c``; lower case only, as cron compares them).
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _unnicknamed(cron: str) -> str:
    """The five fields a nickname (``@daily``...) stands for; other text as it is.

    Raises:
        ValueError: ``@reboot`` (once at start-up, not a time), or an unknown nickname.
    """
    text = cron.strip()
    if not text.startswith("@"):
        return text
    if text == "@reboot":
        raise ValueError(
            "@reboot runs once at start-up, which is not a time of day: start the scheduler "
            "from your init system (or cron's @reboot) and give it a time here"
        )
    if text not in NICKNAMES:
        raise ValueError(f"unknown nickname {text!r} (cron knows {', '.join(NICKNAMES)})")
    return NICKNAMES[text]


def _listed(values: set[int]) -> str:
    return ",".join(str(v) for v in sorted(values))
