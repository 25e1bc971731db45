"""Frozen report data: every number a report shows is computed here once; templates only format.

Built by ``build_report_data`` from the engine's findings and frames, the remediation ledger and
the previous run's findings. Amounts are per currency and never added across currencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import Any

import pandas as pd

from recon.clock import shop_day
from recon.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Category,
    Finding,
    FindingStatus,
    Owner,
    Severity,
)
from recon.money import ZERO, quantize
from recon.order_flags import NO_FLAGS, UnknownFlags
from recon.reporting.links import loop_return_url, shop_handle, shopify_order_url
from recon.reporting.safety import clean_text
from recon.store.snapshot import describe_left_out

# Intent states that wait for a person: to approve, to be sent by the next run, or to review.
WAITING = frozenset({"proposed", "approved", "planned", "needs_review"})

SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}

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


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    """One open finding as the reports show it (text already cleaned, links built by recon)."""

    key: str
    category: str
    severity: str
    owner: str
    status: str
    amount_at_risk: Decimal
    currency: str
    age_days: int
    first_seen: date | None
    rma: str
    order_name: str
    order_id: str
    refund_ids: str
    sku: str
    detail: str
    next_step: str
    shopify_url: str | None
    loop_url: str | None


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount with its currency."""

    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CategoryTotal:
    """Open findings of one category: how many, and money at risk per currency."""

    category: str
    owner: str
    count: int
    amounts: tuple[Amount, ...]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Money at risk of open findings first seen on one day, in one currency."""

    day: date
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Headline:
    """The KPIs at the top of every report: open means new or open. Acknowledged findings
    (checked by someone) are quiet until they change: counted and summed apart, never in the
    open count, the critical count or the money at risk."""

    open_findings: int
    critical: int
    new_since_last_run: int
    resolved_since_last_run: int
    money_at_risk: tuple[Amount, ...]
    acknowledged: int = 0
    acknowledged_amounts: tuple[Amount, ...] = ()


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything the workbook, the HTML report and the e-mails show, computed once."""

    shop: str
    shop_domain: str
    run_id: str
    as_of: datetime
    period_start: date
    period_end: date  # exclusive: October is [10-01, 11-01)
    include_customer_pii: bool
    headline: Headline
    by_category: tuple[CategoryTotal, ...]
    currencies: tuple[str, ...]
    ledger_currencies: tuple[str, ...]
    top_exceptions: tuple[ExceptionRow, ...]
    new_findings: tuple[ExceptionRow, ...]
    resolved_findings: tuple[ExceptionRow, ...]
    trend: tuple[TrendPoint, ...]
    top_n: int
    open_findings: tuple[Finding, ...] = field(repr=False)
    matches: pd.DataFrame = field(repr=False)
    payout_tieout: pd.DataFrame = field(repr=False)
    actions: tuple[Mapping[str, Any], ...] = field(repr=False)
    store_credit: tuple[Mapping[str, Any], ...] = field(repr=False)
    # (category, findings this run) of categories muted by settings: shown, never hidden silently.
    muted: tuple[tuple[str, int], ...] = ()
    # (kind, records) left out as Shopify test orders (engine.include_test_orders = false).
    left_out: tuple[tuple[str, int], ...] = ()
    # The shop's time zone ([shop] timezone): whose days period_start and period_end are.
    timezone: str = "UTC"
    # Earlier findings left out this run because their order turned out to be a test order.
    left_out_findings: tuple[ExceptionRow, ...] = ()
    # Acknowledged findings: listed apart (who and why), in no headline figure.
    acknowledged_findings: tuple[Finding, ...] = field(default=(), repr=False)
    acknowledged_rows: tuple[ExceptionRow, ...] = ()
    # What remediation's limits did this run (held every write, and what to do), or in plan
    # mode would do to an apply run, with the figures; empty when there is nothing to say.
    remediation: tuple[str, ...] = ()
    # The categories of the writes those limits held (or would hold): finance and the teams
    # owning them are told in their e-mails (``for_team``).
    remediation_held: tuple[str, ...] = ()
    # Orders counted as live whose Shopify test flag is unknown, and orders Shopify answers
    # null for, with the open findings naming them (``recon.order_flags``): the figures that
    # hang on them. ``order_flag_lines`` says so.
    order_flags: UnknownFlags = NO_FLAGS
    # Which run of the shop's day this is: 1, or 2 for a later run whose report is in
    # ``<day>-2/`` (``deliverables.report_folder``); the e-mails of a later run say so.
    day_run: int = 1

    @property
    def day_folder(self) -> str:
        """The name of the run's report folder: the shop's day, ``-2``... for a later run."""
        day = self.report_day.isoformat()
        return day if self.day_run == 1 else f"{day}-{self.day_run}"

    @property
    def order_flag_lines(self) -> tuple[tuple[str, str], ...]:
        """(label, text) per kind of such orders there are; none when every flag is known."""
        return self.order_flags.lines()

    @property
    def left_out_text(self) -> str:
        """What the test-order filter left out, as people read it ("" when nothing)."""
        return describe_left_out(self.left_out)

    @property
    def report_day(self) -> date:
        """The shop's day of the run (``timezone``): names the report folder and the e-mail."""
        return shop_day(self.as_of, self.timezone)

    @property
    def period_label(self) -> str:
        """The period's days as people read them: first and last day, both included, joined by
        an en dash (October: 10-01 to 10-31, not 11-01); a one-day period is that day alone."""
        last = max(self.period_end - timedelta(days=1), self.period_start)
        if last == self.period_start:
            return last.isoformat()
        return f"{self.period_start.isoformat()} – {last.isoformat()}"

    @property
    def waiting_actions(self) -> tuple[Mapping[str, Any], ...]:
        """Intents waiting for a person: to approve (proposed), to be sent, or to review."""
        return tuple(a for a in self.actions if a.get("status") in WAITING)

    def exception_rows(self) -> Iterator[ExceptionRow]:
        """Open, then acknowledged findings as rows, lazily (the workbook streams them)."""
        for finding in chain(self.open_findings, self.acknowledged_findings):  # no copy
            yield to_row(
                finding, self.shop_domain, self.as_of, self.include_customer_pii, self.timezone
            )

    def text(self, value: object) -> str:
        """Clean untrusted text the way this report was configured (PII scrubbed unless allowed)."""
        return clean_text(value, include_pii=self.include_customer_pii)


def _next_step(finding: Finding) -> str:
    """The next step, or for an acknowledged finding who checked it and why: its usual next
    step ("Restock the returned units.") was taken care of, and must not be done twice."""
    if finding.status is not FindingStatus.ACKNOWLEDGED:
        return finding.next_step
    who = finding.acknowledged_by or "someone"
    why = f": {finding.acknowledged_note}" if finding.acknowledged_note else ""
    return f"Acknowledged by {who}{why} (quiet until it changes)."


def to_row(
    finding: Finding, shop_domain: str, as_of: datetime, include_pii: bool, timezone: str = "UTC"
) -> ExceptionRow:
    """Turn a finding into a report row (age from first_seen, links, cleaned text); its
    first-seen day is the shop's (``timezone``), as the report's period and day are."""
    first_seen = finding.first_seen
    age = max((as_of - first_seen).days, 0) if first_seen else 0
    return ExceptionRow(
        key=clean_text(finding.key, include_pii=True),
        category=finding.category.value,
        severity=finding.severity.value,
        owner=finding.owner.value,
        status=finding.status.value,
        amount_at_risk=finding.amount_at_risk,
        currency=finding.currency or "",
        age_days=age,
        first_seen=shop_day(first_seen, timezone) if first_seen else None,
        rma=clean_text(finding.rma, include_pii=True),
        # Identifiers are never scrubbed: "#1001-2002-3003" or SKU "100-200-300" look like a
        # phone number, and the team could not act on a finding without them.
        order_name=clean_text(finding.shopify_order_name, include_pii=True),
        order_id=clean_text(finding.shopify_order_id, include_pii=True),
        refund_ids=clean_text(", ".join(finding.shopify_refund_ids), include_pii=True),
        sku=clean_text(finding.sku, include_pii=True),
        detail=clean_text(finding.detail, include_pii=include_pii),
        next_step=clean_text(_next_step(finding), include_pii=include_pii),
        shopify_url=shopify_order_url(shop_domain, finding.shopify_order_id),
        loop_url=loop_return_url(finding.rma),
    )


def _sort_key(finding: Finding) -> tuple[int, Decimal, str]:
    # Amounts in different currencies are only compared for ordering, never added.
    return (SEVERITY_RANK[finding.severity], -finding.amount_at_risk, finding.key)


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
    listed = sorted(findings, key=_sort_key)
    return (
        [f for f in listed if f.status in OPEN_STATUSES],
        [f for f in listed if f.status is FindingStatus.ACKNOWLEDGED],
    )


def _headline(
    open_findings: Sequence[Finding], quiet: Sequence[Finding], new: int, resolved: int
) -> Headline:
    return Headline(
        open_findings=len(open_findings),
        critical=sum(1 for f in open_findings if f.severity == Severity.CRITICAL),
        new_since_last_run=new,
        resolved_since_last_run=resolved,
        money_at_risk=amounts_at_risk(open_findings),
        acknowledged=len(quiet),
        acknowledged_amounts=amounts_at_risk(quiet),
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
) -> tuple[list[Finding], list[Finding]]:
    """New and resolved findings: the lifecycle status, completed by a diff with the last run.

    New also takes the new or open findings of ``unreported`` keys: no report that went out
    showed them as they stand (a run that saved them failed before its report went out, or an
    acknowledged finding changed and reopened). A finding left out (its order turned out to be
    a Shopify test order) is neither: nothing was fixed (``left_out_findings``)."""
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
    resolved = {f.key: f for f in findings if f.status == FindingStatus.RESOLVED}
    for key, finding in previous_open.items():
        if key not in current_open and key not in resolved and key not in left_out:
            resolved[key] = finding  # gone from this run: the break was fixed
    return sorted(new, key=_sort_key), sorted(resolved.values(), key=_sort_key)


def build_report_data(
    *,
    findings: Sequence[Finding],
    matches: pd.DataFrame,
    payout_tieout: pd.DataFrame,
    actions: Sequence[Mapping[str, Any]],
    store_credit: Sequence[Mapping[str, Any]],
    previous_findings: Sequence[Finding] | None,
    unreported: AbstractSet[str] = frozenset(),
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
    remediation_held: tuple[str, ...] = (),
) -> ReportData:
    """Compute every figure the reports show, once.

    Raises:
        ValueError: if ``as_of`` is naive or the shop domain gives no admin handle.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be tz-aware UTC")
    shop_handle(shop_domain)  # fail early rather than in the middle of a workbook
    open_findings, quiet = split_quiet(findings)
    new, resolved = _changes(findings, previous_findings, unreported)
    left_out_findings = sorted(
        (f for f in findings if f.status is FindingStatus.LEFT_OUT), key=_sort_key
    )

    def rows(items: Iterable[Finding]) -> tuple[ExceptionRow, ...]:
        return tuple(to_row(f, shop_domain, as_of, include_customer_pii, timezone) for f in items)

    headline = _headline(open_findings, quiet, len(new), len(resolved))
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
        top_exceptions=rows(open_findings[:top_n]),
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
    headline = _headline(findings, quiet, len(new_keys), len(resolved))
    return ReportData(
        **{
            **_fields(data),
            "headline": headline,
            "by_category": _by_category(findings),
            "currencies": tuple(a.currency for a in headline.money_at_risk),
            "top_exceptions": tuple(
                to_row(f, data.shop_domain, data.as_of, data.include_customer_pii, data.timezone)
                for f in findings[: data.top_n]
            ),
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
            "actions": tuple(a for a in data.actions if a.get("category") in wanted),
            # the limits' hold, when it fell on the team's writes (finance hears of every one)
            "remediation": data.remediation if wanted & set(data.remediation_held) else (),
        }
    )


def _fields(data: ReportData) -> dict[str, Any]:
    return {name: getattr(data, name) for name in data.__dataclass_fields__}
