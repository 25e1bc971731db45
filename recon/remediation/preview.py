"""Plan mode's preview of the remediation limits: would an apply run now be held, and by what.

A run in plan mode sends nothing, so neither the per-run circuit breaker (``max_run_total``,
``max_run_count``) nor the daily limits (``max_daily_total``, ``max_daily_count``, per shop day)
ever hold it; the preview says what they would do to the writes an apply run would send now,
with the figures: what the shop's day moved so far, what tonight's plan asks, each limit.

An apply run first resends the intents a run left in flight (``sending``, ``unknown``) whose
write its re-read does not find, and a resend is a send of the day it goes out: the preview
counts each one tonight's plan still calls for toward the day's limits (as the apply run would
once it resent them), unless it was sent on the same day already. It cannot re-read Shopify, so
it assumes none of them landed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.config import RemediationSettings
from recon.money import format_amount, sum_by_currency
from recon.remediation.actions import (
    ActionState,
    Disposition,
    LedgerFacts,
    Plan,
    PlannedAction,
)
from recon.remediation.daily import day_bounds, moved_rows
from recon.remediation.guards import no_longer_called_for, stale_reason
from recon.remediation.ledger import IN_FLIGHT, ActionRow, rows_in
from recon.remediation.limits import Write, check_breaker, check_daily
from recon.remediation.verdicts import Intent, categories
from recon.store.id_sets import among

S = ActionState
# An auto-applied write is sent unless a human or an earlier run settled its key already.
_SENDABLE = frozenset({None, S.PROPOSED, S.PLANNED, S.APPROVED})


def apply_writes(session: Session, plan: Plan, ledger: LedgerFacts) -> list[PlannedAction]:
    """What an apply run would send of ``plan``: its auto-applied writes not yet sent, decided
    or ended, and the writes a human approved that it still calls for. Writes held for review
    are never sent, nor is an intent recorded as planned or approved whose recorded write
    tonight's plan no longer calls for as it stands (Loop changed the amount since the breaker
    held it): the apply run withdraws it unsent (``stale_reason``).
    """
    withdrawn = _withdrawn(session, plan, ledger)
    sendable: list[PlannedAction] = []
    for action in plan.actions:
        state = ledger.states.get(action.key)
        auto = action.disposition is Disposition.AUTO and state in _SENDABLE
        approved = action.disposition is Disposition.APPROVAL and state is S.APPROVED
        if (auto or approved) and action.key not in withdrawn:
            sendable.append(action)
    return sendable


def _withdrawn(session: Session, plan: Plan, ledger: LedgerFacts) -> set[str]:
    """Keys of the plan recorded as planned or approved (an apply run sends them as recorded)
    that tonight's plan calls for no more: the apply run withdraws them instead."""
    recorded = [a.key for a in plan.actions if ledger.states.get(a.key) in (S.PLANNED, S.APPROVED)]
    if not recorded:
        return set()
    rows = session.scalars(select(ActionRow).where(among(ActionRow.key, recorded)))
    return {row.key for row in rows if stale_reason(Intent.of(row), plan) is not None}


@dataclass(frozen=True)
class LimitsPreview:
    """What plan mode says of the limits (``lines``), and the categories of the writes they
    would hold (``held``: none when within every limit), whose teams are told."""

    lines: tuple[str, ...] = ()
    held: tuple[str, ...] = ()


def limits_preview(
    session: Session,
    plan: Plan,
    ledger: LedgerFacts,
    settings: RemediationSettings,
    *,
    shop: str,
    now: datetime,
    timezone: str,
) -> LimitsPreview:
    """Whether the limits would hold an apply run now, with the figures, and whose writes;
    with nothing new to send, the writes left in flight it would resend first (if any)."""
    sendable = apply_writes(session, plan, ledger)
    if not sendable:
        return LimitsPreview(_only_resends(resends(session, plan, shop, already=set())))
    asked: list[Write] = [(action.amount, action.currency) for action in sendable]
    day, start, end = day_bounds(now, timezone)
    label = f"{day.isoformat()} ({timezone})"
    rows = moved_rows(session, shop, start, end)
    moved = [_write(row) for row in rows]
    resent = resends(session, plan, shop, already={row.id for row in rows})
    held = check_breaker(asked, settings) or check_daily([*moved, *resent], asked, settings, label)
    verdict = f"the limits would hold all of them: {held}" if held else "within every limit"
    lines = (
        f"plan only, nothing sent: an apply run now would send {_writes(asked)}"
        + (f" after resending {_writes(resent, 'left in flight ')}" if resent else "")
        + f"; {verdict}",
        _per_run(asked, settings),
        _per_day(moved, resent, asked, settings, label),
    )
    return LimitsPreview(lines, categories(a.category.value for a in sendable) if held else ())


def _only_resends(resent: Sequence[Write]) -> tuple[str, ...]:
    """The preview of an apply run with nothing new to send: the writes in flight it would
    resend first (``Executor.apply`` resends before any limit is checked), if any."""
    if not resent:
        return ()
    it = "its re-read finds it" if len(resent) == 1 else "their re-reads find them"
    return (
        "plan only, nothing sent: an apply run now would send nothing new; it would first "
        f"resend {_writes(resent, 'left in flight ')} unless {it} in Shopify (no limit holds "
        "a resend)",
    )


def resends(session: Session, plan: Plan, shop: str, *, already: set[int]) -> list[Write]:
    """The writes an apply run would resend before anything new (``Executor._resolve``): the
    shop's intents in flight that tonight's plan still calls for, assuming the re-read finds
    none of them in Shopify; those in ``already`` (ids sent on the day) are counted there."""
    return [
        _write(row)
        for row in rows_in(session, shop, IN_FLIGHT)
        if row.id not in already
        and row.variables is not None
        and no_longer_called_for(Intent.of(row), plan) is None
    ]


def _write(row: ActionRow) -> Write:
    return (None if row.amount is None else Decimal(str(row.amount)), row.currency)


def _writes(writes: Sequence[Write], what: str = "write(s) ") -> str:
    money = _money(_totals(writes))
    return f"{len(writes)} {what}".rstrip() + (f" (refunds {money})" if money else "")


def _per_run(asked: Sequence[Write], settings: RemediationSettings) -> str:
    parts = [f"{len(asked)} write(s) of max_run_count {settings.max_run_count}"]
    for currency, total in sorted(_totals(asked).items()):
        parts.append(
            f"{_amount(total, currency)} planned of max_run_total "
            f"{_limit(settings.max_run_total, currency)}"
        )
    return "per run: " + "; ".join(parts)


def _per_day(
    moved: Sequence[Write],
    resent: Sequence[Write],
    asked: Sequence[Write],
    settings: RemediationSettings,
    day: str,
) -> str:
    """The day's figures: sent so far, to resend (only when any), planned, each limit."""
    if settings.max_daily_count is None and not settings.max_daily_total:
        return f"per day {day}: no daily limit set ([remediation] max_daily_total, max_daily_count)"
    count = settings.max_daily_count
    again = f" + {len(resent)} to resend" if resent else ""
    parts = [
        f"{len(moved)} write(s) sent so far{again} + {len(asked)} planned of max_daily_count "
        + ("(none)" if count is None else str(count))
    ]
    before, redo, tonight = _totals(moved), _totals(resent), _totals(asked)
    zero = Decimal(0)
    for currency in sorted(before.keys() | redo.keys() | tonight.keys()):
        done, planned = before.get(currency, zero), tonight.get(currency, zero)
        resend = redo.get(currency, zero)
        again = f" + {_amount(resend, currency)} to resend" if resent else ""
        parts.append(
            f"{_amount(done, currency)} moved so far{again} + {_amount(planned, currency)} "
            f"planned = {_amount(done + resend + planned, currency)} of max_daily_total "
            f"{_limit(settings.max_daily_total, currency)}"
        )
    return f"per day {day}: " + "; ".join(parts)


def _totals(writes: Sequence[Write]) -> dict[str, Decimal]:
    return sum_by_currency(
        (currency, amount) for amount, currency in writes if amount is not None and currency
    )


def _money(totals: dict[str, Decimal]) -> str:
    return ", ".join(_amount(total, currency) for currency, total in sorted(totals.items()))


def _amount(amount: Decimal, currency: str) -> str:
    return f"{format_amount(amount, currency)} {currency}"


def _limit(limits: Mapping[str, Decimal], currency: str) -> str:
    """A currency's limit; once a table names any currency, one it does not name is held."""
    if not limits:
        return "(not set)"
    limit = limits.get(currency)
    return f"(none for {currency}: held)" if limit is None else _amount(limit, currency)
