"""Money limits of remediation, per currency: the per-refund cap, the per-run circuit breaker
and the per-shop-day limit.

Limits are ``{currency: amount}`` tables (``[remediation]`` in the settings); amounts in different
currencies are never compared or added, and a currency without a limit is never auto-applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from recon.config import RemediationSettings
from recon.money import format_amount, sum_by_currency


def check_breaker(
    amounts: Sequence[tuple[Decimal | None, str | None]], settings: RemediationSettings
) -> str | None:
    """Why one run's actions, given as (amount, currency) pairs, exceed the per-run limits.

    Past either limit nothing is applied at all (the circuit breaker); None means within limits.
    Totals are per currency, each against its own ``max_run_total`` entry: amounts in different
    currencies are never added, and a currency without a limit trips the breaker.
    """
    if len(amounts) > settings.max_run_count:
        return (
            f"circuit breaker: {len(amounts)} actions exceed max_run_count {settings.max_run_count}"
            + _held_until("run", "max_run_count is raised")
        )
    totals = sum_by_currency(
        (currency, amount) for amount, currency in amounts if amount is not None and currency
    )
    for currency, total in sorted(totals.items()):
        limit = settings.max_run_total.get(currency)
        if limit is None:
            return (
                f"circuit breaker: refunds in {currency} but no max_run_total for {currency}"
                + _held_until("run", f"max_run_total names {currency}")
            )
        if total > limit:
            return (
                f"circuit breaker: refunds of {format_amount(total, currency)} {currency} exceed "
                f"max_run_total {format_amount(limit, currency)} {currency}"
                + _held_until("run", "max_run_total is raised")
            )
    return None


# Held writes are planned or approved: `actions reject` cancels them (`approve` only decides
# proposals), and the rest go out on the next run once within the limits.
_REJECT = "run_recon.py actions list, then run_recon.py actions reject ID... --reason TEXT"


def _held_until(every: str, fix: str, *, alone: bool = True, setting: str = "") -> str:
    """What follows a hold reason: the limits hold every write or none (no run sends part of
    a night), and what releases them. Writes over a limit on their own are held on every run
    (``every``: run or day) until some are rejected or the setting changes (``fix``); writes
    over the daily limit only with what the day moved go out on the shop's next day."""
    if not alone:
        return (
            "; all or nothing, none of them was sent: the shop's next day sends them, or "
            f"sooner once some are rejected ({_REJECT}) or [remediation] {fix}"
        )
    over = f"these writes alone exceed {setting}, so " if setting else ""
    return (
        f"; all or nothing, none of them was sent: {over}every {every} holds them until some "
        f"are rejected ({_REJECT}) or [remediation] {fix}"
    )


Write = tuple[Decimal | None, str | None]  # (amount, currency); a restock or tag has no amount


def check_daily(
    moved: Sequence[Write], asked: Sequence[Write], settings: RemediationSettings, day: str
) -> str | None:
    """Why tonight's writes (``asked``), on top of what the shop's day already ``moved``, exceed
    ``max_daily_count`` or ``max_daily_total``; None means within limits (or none set).

    ``day`` names the shop day in the reason. Totals are per currency and only for the
    currencies asked for: amounts in different currencies are never added. Once any daily
    total is set, a currency asked for without one is held, as ``max_run_total`` does.
    """
    limit = settings.max_daily_count
    if asked and limit is not None and len(moved) + len(asked) > limit:
        return (
            f"daily limit: {len(moved)} writes sent on {day} and {len(asked)} asked exceed "
            f"max_daily_count {limit}" + _over_daily("max_daily_count", len(asked) > limit)
        )
    if not settings.max_daily_total:
        return None
    before, tonight = _totals(moved), _totals(asked)
    for currency, total in sorted(tonight.items()):
        cap = settings.max_daily_total.get(currency)
        if cap is None:
            return (
                f"daily limit: refunds in {currency} but no max_daily_total for {currency}"
                + _held_until("day", f"max_daily_total names {currency}")
            )
        done = before.get(currency, Decimal(0))
        if done + total > cap:
            return (
                f"daily limit: {format_amount(done, currency)} {currency} moved on {day} and "
                f"{format_amount(total, currency)} {currency} asked exceed max_daily_total "
                f"{format_amount(cap, currency)} {currency}"
                + _over_daily("max_daily_total", total > cap)
            )
    return None


def _over_daily(setting: str, alone: bool) -> str:
    return _held_until("day", f"{setting} is raised", alone=alone, setting=setting)


def _totals(writes: Sequence[Write]) -> dict[str, Decimal]:
    return sum_by_currency(
        (currency, amount) for amount, currency in writes if amount is not None and currency
    )


def refund_cap_reason(amount: Decimal, currency: str, settings: RemediationSettings) -> str | None:
    """Why one refund is over its currency's ``max_refund_amount`` (or has no cap); None if fine.

    Checked when planning and again right before sending (the settings may have changed).
    """
    cap = settings.max_refund_amount.get(currency)
    if cap is None:
        return f"no max_refund_amount for {currency}"
    if amount > cap:
        return (
            f"amount {format_amount(amount, currency)} {currency} exceeds max_refund_amount "
            f"{format_amount(cap, currency)} {currency}"
        )
    return None
