"""The reports' figures, computed once from a run's findings: headline, per category, trend,
what changed since the last report; ``build_report_data`` freezes them into ``ReportData`` and
``for_team`` narrows it to one team's categories.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from typing import Any

import pandas as pd

from recon.clock import shop_day
from recon.engine.findings_json import report_order
from recon.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Category,
    Finding,
    FindingStatus,
    Owner,
    Severity,
)
from recon.money import ZERO, MoneyError, parse_amount, quantize, sum_by_currency
from recon.order_flags import NO_FLAGS, UnknownFlags
from recon.remediation.trail import not_run
from recon.reporting.data import (
    UNSETTLED,
    Amount,
    CategoryTotal,
    ExceptionRow,
    Headline,
    ReportData,
    TopGroup,
    TrendPoint,
    sent_by_finding,
    sent_writes,
    to_row,
)
from recon.reporting.links import shop_handle

log = logging.getLogger(__name__)

# Which team's e-mail lists which categories (the assignment's routing; finance gets everything).
TEAM_CATEGORIES: dict[Owner, frozenset[Category]] = {
    Owner.WAREHOUSE: frozenset(
        {Category.MISSING_RESTOCK, Category.GHOST_INVENTORY, Category.SKU_MISMATCH}
    ),
    Owner.CX: frozenset(
        {
            Category.REFUND_FAILED,
            Category.MISSING_STORE_CREDIT,
            Category.STATUS_DRIFT,
            Category.UNMATCHED_REFUND,
            Category.STALE_RETURN,
        }
    ),
    Owner.FINANCE: frozenset(Category),
}


def amounts_at_risk(findings: Iterable[Finding]) -> tuple[Amount, ...]:
    """Σ amount at risk per currency (never added across currencies), sorted by currency."""
    totals: dict[str, Decimal] = {}
    for finding in findings:
        currency = finding.currency or ""
        totals[currency] = totals.get(currency, ZERO) + finding.amount_at_risk
    return tuple(Amount(c, quantize(a, c) if c else a) for c, a in sorted(totals.items()))


def split_quiet(findings: Iterable[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(open, acknowledged) findings, each in report order; resolved and left out are neither.

    Every headline, alarm and subject counts the open ones only (new or open): an acknowledged
    finding stays quiet until it changes, when the lifecycle opens it again."""
    listed = sorted(findings, key=report_order)
    return (
        [f for f in listed if f.status in OPEN_STATUSES],
        [f for f in listed if f.status is FindingStatus.ACKNOWLEDGED],
    )


def sent_at_risk(
    open_findings: Sequence[Finding],
    actions: Iterable[Mapping[str, Any]],
    done: AbstractSet[int],
    unknown: AbstractSet[int] = frozenset(),
) -> tuple[Amount, ...]:
    """What recon's refunds sent to Shopify in this run toward the money at risk, per currency,
    sorted by currency: those it ended done (``sent_writes``) and those it sent with no answer
    (``unknown``: this run's intents ended ``unknown``, the next run reads back whether they
    landed; not one Shopify throttled and ran nothing of, ``NOT_RUN``, nor an earlier run's a
    plan-mode run did not resend). A refund counts in its own amount and currency (Loop's
    figure, the basis of its finding's amount at risk) when it acts on an open finding of that
    currency. Never added across currencies; a ledger amount that does not read as one is left
    out of the figure, and logged naming the action."""
    currencies: dict[str, set[str]] = {}
    for finding in open_findings:
        currencies.setdefault(finding.key, set()).add(finding.currency or "")
    sent: list[tuple[str, Decimal]] = []
    for action in (*sent_writes(actions, done), *_no_answer(actions, unknown)):
        currency = str(action.get("currency") or "")
        keys = action.get("finding_keys", ())
        if action.get("kind") != "refund" or not any(
            currency in currencies.get(k, ()) for k in keys
        ):
            continue
        try:
            sent.append((currency, parse_amount(action.get("amount"))))
        except MoneyError as exc:
            log.warning("action %s: amount %r is not an amount (%s)", action.get("id"),
                        action.get("amount"), exc)  # fmt: skip
    totals = sum_by_currency(sent)
    return tuple(Amount(c, quantize(a, c)) for c, a in sorted(totals.items()))


def _no_answer(
    actions: Iterable[Mapping[str, Any]], unknown: AbstractSet[int]
) -> tuple[Mapping[str, Any], ...]:
    """The intents of ``actions`` this run sent that are still in flight (``unknown``: their
    ids) and that Shopify may have run: not those it throttled until the run gave up."""
    return tuple(
        a
        for a in actions
        if a.get("id") in unknown
        and a.get("status") in UNSETTLED
        and not not_run(a.get("status"), a.get("reason"))
    )


def _headline(
    open_findings: Sequence[Finding],
    quiet: Sequence[Finding],
    new: int,
    resolved: int,
    actions: Iterable[Mapping[str, Any]] = (),
    done: AbstractSet[int] = frozenset(),
    unknown: AbstractSet[int] = frozenset(),
) -> Headline:
    return Headline(
        open_findings=len(open_findings),
        critical=sum(1 for f in open_findings if f.severity == Severity.CRITICAL),
        new_since_last_report=new,
        resolved_since_last_report=resolved,
        money_at_risk=amounts_at_risk(open_findings),
        acknowledged=len(quiet),
        acknowledged_amounts=amounts_at_risk(quiet),
        sent_this_run=sent_at_risk(open_findings, actions, done, unknown),
    )


def _by_category(open_findings: Sequence[Finding]) -> tuple[CategoryTotal, ...]:
    grouped: dict[Category, list[Finding]] = {}
    for finding in open_findings:
        grouped.setdefault(finding.category, []).append(finding)
    totals = [
        CategoryTotal(
            category=category.value,
            owner=items[0].owner.value,
            count=len(items),
            amounts=amounts_at_risk(items),
        )
        for category, items in grouped.items()
    ]
    return tuple(sorted(totals, key=lambda t: (-t.count, t.category)))


def _trend(open_findings: Sequence[Finding], timezone: str) -> tuple[TrendPoint, ...]:
    totals: dict[tuple[date, str], Decimal] = {}
    for finding in open_findings:
        if finding.first_seen is None:
            continue
        key = (shop_day(finding.first_seen, timezone), finding.currency or "")
        totals[key] = totals.get(key, ZERO) + finding.amount_at_risk
    return tuple(TrendPoint(day, cur, amount) for (day, cur), amount in sorted(totals.items()))


def top_groups(
    open_findings: Sequence[Finding], top_n: int, row: Callable[[Finding], ExceptionRow]
) -> tuple[TopGroup, ...]:
    """The top ``top_n`` open findings of each currency, as ``row`` shows them.

    ``open_findings`` are in report order (``report_order``: most severe first, then by
    currency, then most money at risk), and each currency keeps that order among its own:
    amounts are only ever compared within one currency (recon has no FX rates). Groups come
    largest first (most open findings), ties by currency code; findings with no currency last."""
    by_currency: dict[str, list[Finding]] = {}
    for finding in open_findings:
        by_currency.setdefault(finding.currency or "", []).append(finding)
    ordered = sorted(by_currency.items(), key=lambda kv: (not kv[0], -len(kv[1]), kv[0]))
    return tuple(
        TopGroup(currency, tuple(row(f) for f in items[:top_n]), len(items))
        for currency, items in ordered
    )


def _frame_currencies(*frames: pd.DataFrame) -> tuple[str, ...]:
    """Currencies present in the matched and payout frames (computed once, not while writing)."""
    found: set[str] = set()
    for frame in frames:
        if "currency" in frame.columns:
            found.update(str(c) for c in frame["currency"].dropna().unique() if c)
    return tuple(sorted(found))


def _changes(
    findings: Sequence[Finding],
    previous: Sequence[Finding] | None,
    unreported: AbstractSet[str] = frozenset(),
    closed_before: Sequence[Finding] = (),
) -> tuple[list[Finding], list[Finding]]:
    """New and resolved findings: the lifecycle status, completed by a diff with the last run.

    New also takes the new or open findings of ``unreported`` keys: no report that went out
    showed them as they stand (a run that saved them failed before its report went out, or an
    acknowledged finding changed and reopened). Resolved also takes the resolved ones of
    ``closed_before``: an earlier run resolved them and failed before its report went out. A
    finding left out (its order turned out to be a Shopify test order) is neither: nothing was
    fixed (``left_out_findings``)."""
    current_open = {f.key: f for f in findings if f.status not in CLOSED_STATUSES}
    previous_open = (
        {f.key: f for f in previous if f.status not in CLOSED_STATUSES} if previous else {}
    )
    left_out = {f.key for f in findings if f.status is FindingStatus.LEFT_OUT}
    new = [
        f
        for f in current_open.values()
        if f.status == FindingStatus.NEW
        or (f.key in unreported and f.status in OPEN_STATUSES)
        or (
            previous is not None
            and f.key not in previous_open
            and f.status is not FindingStatus.ACKNOWLEDGED
        )
    ]
    resolved = {
        f.key: f
        for f in chain(closed_before, findings)
        if f.status == FindingStatus.RESOLVED and f.key not in current_open
    }
    for key, finding in previous_open.items():
        if key not in current_open and key not in resolved and key not in left_out:
            resolved[key] = finding  # gone from this run: the break was fixed
    return sorted(new, key=report_order), sorted(resolved.values(), key=report_order)


def build_report_data(
    *,
    findings: Sequence[Finding],
    matches: pd.DataFrame,
    payout_tieout: pd.DataFrame,
    actions: Sequence[Mapping[str, Any]],
    store_credit: Sequence[Mapping[str, Any]],
    previous_findings: Sequence[Finding] | None,
    unreported: AbstractSet[str] = frozenset(),
    closed_before: Sequence[Finding] = (),
    shop: str,
    shop_domain: str,
    period_start: date,
    period_end: date,
    run_id: str,
    as_of: datetime,
    include_customer_pii: bool = False,
    top_n: int = 20,
    muted: tuple[tuple[str, int], ...] = (),
    left_out: tuple[tuple[str, int], ...] = (),
    timezone: str = "UTC",
    remediation: tuple[str, ...] = (),
    order_flags: UnknownFlags = NO_FLAGS,
    day_run: int = 1,
    unfinished_runs: int = 0,
    folder: str = "",
    remediation_held: tuple[str, ...] = (),
    failed_writes: AbstractSet[int] = frozenset(),
    done_writes: AbstractSet[int] = frozenset(),
    unknown_writes: AbstractSet[int] = frozenset(),
    held_records: int = 0,
) -> ReportData:
    """Compute every figure the reports show, once.

    ``unreported``: the keys of the findings no report that went out has shown as they stand,
    listed as new when open; ``closed_before``: the findings an earlier run resolved or left out
    whose report never went out, listed as resolved or left out (``findings`` no longer has them).
    ``failed_writes``: the ids of the intents this run ended failed (``write_failures``);
    ``done_writes``: those it ended done (``sent_writes``: their findings' rows say so);
    ``unknown_writes``: those it sent and ended ``unknown`` (counted as sent this run).

    Raises:
        ValueError: if ``as_of`` is naive or the shop domain gives no admin handle.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be tz-aware UTC")
    shop_handle(shop_domain)  # fail early rather than in the middle of a workbook
    open_findings, quiet = split_quiet(findings)
    present = {f.key for f in findings}
    closed_before = [
        f for f in closed_before if f.status in CLOSED_STATUSES and f.key not in present
    ]
    new, resolved = _changes(findings, previous_findings, unreported, closed_before)
    left_out_findings = sorted(
        (f for f in chain(closed_before, findings) if f.status is FindingStatus.LEFT_OUT),
        key=report_order,
    )

    sent = sent_by_finding(actions, done_writes, {f.key: f.first_seen for f in findings})

    def row(f: Finding) -> ExceptionRow:
        return to_row(f, shop_domain, as_of, include_customer_pii, timezone, sent.get(f.key, ()))

    def rows(items: Iterable[Finding]) -> tuple[ExceptionRow, ...]:
        return tuple(row(f) for f in items)

    headline = _headline(
        open_findings, quiet, len(new), len(resolved), actions, done_writes, unknown_writes
    )
    return ReportData(
        shop=shop,
        shop_domain=shop_domain,
        run_id=run_id,
        as_of=as_of,
        period_start=period_start,
        period_end=period_end,
        include_customer_pii=include_customer_pii,
        headline=headline,
        by_category=_by_category(open_findings),
        currencies=tuple(a.currency for a in headline.money_at_risk),
        ledger_currencies=_frame_currencies(matches, payout_tieout),
        top_groups=top_groups(open_findings, top_n, row),
        new_findings=rows(new),
        resolved_findings=rows(resolved),
        left_out_findings=rows(left_out_findings),
        acknowledged_findings=tuple(quiet),
        acknowledged_rows=rows(quiet),
        trend=_trend(open_findings, timezone),
        top_n=top_n,
        open_findings=tuple(open_findings),
        matches=matches,
        payout_tieout=payout_tieout,
        actions=tuple(actions),
        store_credit=tuple(store_credit),
        muted=muted,
        left_out=left_out,
        timezone=timezone,
        remediation=remediation,
        remediation_held=remediation_held,
        order_flags=order_flags,
        day_run=day_run,
        unfinished_runs=unfinished_runs,
        folder=folder,
        failed_writes=frozenset(failed_writes),
        done_writes=frozenset(done_writes),
        unknown_writes=frozenset(unknown_writes),
        held_records=held_records,
        sent=sent,
    )


def for_team(data: ReportData, team: Owner) -> ReportData:
    """The same report limited to the categories one team acts on (finance: everything); the
    remediation limits' lines only when they held (or would hold) writes of its categories."""
    if team == Owner.FINANCE:
        return data
    wanted = TEAM_CATEGORIES[team]
    findings = [f for f in data.open_findings if f.category in wanted]
    quiet = [f for f in data.acknowledged_findings if f.category in wanted]
    new_keys = {r.key for r in data.new_findings if r.category in wanted}
    resolved = tuple(r for r in data.resolved_findings if r.category in wanted)
    actions = tuple(a for a in data.actions if a.get("category") in wanted)
    headline = _headline(
        findings, quiet, len(new_keys), len(resolved), actions, data.done_writes,
        data.unknown_writes,
    )  # fmt: skip
    return ReportData(
        **{
            **_fields(data),
            "headline": headline,
            "by_category": _by_category(findings),
            "currencies": tuple(a.currency for a in headline.money_at_risk),
            "top_groups": top_groups(findings, data.top_n, data.row),
            "new_findings": tuple(r for r in data.new_findings if r.key in new_keys),
            "resolved_findings": resolved,
            "left_out_findings": tuple(r for r in data.left_out_findings if r.category in wanted),
            "trend": _trend(findings, data.timezone),
            "open_findings": tuple(findings),
            # the open findings on unknown orders its mail lists, not every team's
            "order_flags": data.order_flags.among({f.key for f in findings}),
            "acknowledged_findings": tuple(quiet),
            "acknowledged_rows": tuple(r for r in data.acknowledged_rows if r.category in wanted),
            # the team's own intents: a restock is the warehouse's, a refund finance's
            "actions": actions,
            # the limits' hold, when it fell on the team's writes (finance hears of every one)
            "remediation": data.remediation if wanted & set(data.remediation_held) else (),
        }
    )


def _fields(data: ReportData) -> dict[str, Any]:
    return {name: getattr(data, name) for name in data.__dataclass_fields__}
