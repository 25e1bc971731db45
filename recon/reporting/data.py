"""Frozen report data: the rows and figures every report shows; templates only format.

``ReportData`` is built once by ``recon.reporting.figures.build_report_data`` from the engine's
findings and frames, the remediation ledger and the previous run's findings. Amounts are per
currency and never added across currencies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import chain
from typing import Any

import pandas as pd

from recon.clock import shop_day
from recon.models import OPEN_STATUSES, Category, Finding, FindingStatus
from recon.order_flags import NO_FLAGS, UnknownFlags
from recon.remediation.trail import NOT_RUN_STATUS, PLANNED_AGAIN_STATUS, not_run
from recon.reporting.links import loop_return_url, shopify_order_url
from recon.reporting.safety import clean_text
from recon.store.snapshot import describe_left_out

# Intent states that wait for a person: to approve, to be sent by the next run, or to review.
WAITING = frozenset({"proposed", "approved", "planned", "needs_review"})
# Intents sent whose outcome is not known yet (no answer): the next run re-reads Shopify first.
UNSETTLED = frozenset({"sending", "unknown"})


def waiting(
    actions: Iterable[Mapping[str, Any]], open_keys: AbstractSet[str]
) -> tuple[Mapping[str, Any], ...]:
    """Intents waiting for a person: to approve (proposed), to be sent (approved, planned), or
    to review (needs_review). Review is a state no intent leaves, so one in review waits only
    while the break it was planned for is still open (not fixed by hand, not acknowledged) and
    no later intent for the same break replaced it (superseded: Loop's amount changed): else
    every review since the first night was listed as waiting, night after night, beside its
    replacement. ``actions list`` keeps them all. An intent that names no finding (planned
    before recon recorded it) still waits.
    """
    actions = list(actions)
    current = _current(actions, open_keys)

    def waits(a: Mapping[str, Any]) -> bool:
        if a.get("status") != "needs_review" or not a.get("finding_key"):
            return a.get("status") in WAITING
        return current(a)

    return tuple(a for a in actions if waits(a))


def planned_again(
    actions: Iterable[Mapping[str, Any]], open_keys: AbstractSet[str]
) -> tuple[Mapping[str, Any], ...]:
    """Restocks Shopify refused as stale that the next run plans again under a new key
    (``PLANNED_AGAIN_STATUS``: nothing was written), while their break is open and no later
    intent replaced them: listed apart from those waiting for a person, who would restock by
    hand what recon then restocks too."""
    actions = list(actions)
    current = _current(actions, open_keys)
    return tuple(a for a in actions if a.get("status") == PLANNED_AGAIN_STATUS and current(a))


def _current(
    actions: list[Mapping[str, Any]], open_keys: AbstractSet[str]
) -> Callable[[Mapping[str, Any]], bool]:
    """Whether an intent is its break's latest while the break is open (``waiting``).

    A restock is its break's latest at its location: a finding's units may go back to two
    locations, one restock each, and the one done at B did not replace the one in review at
    A (whose unit stayed off the shelf, and nobody was asked to put it back). A restock
    replaced with fewer units, at the same location, still is replaced.
    """

    def at(a: Mapping[str, Any]) -> tuple[object, ...]:
        return (a.get("rma"), a.get("kind"), a.get("finding_key"), a.get("location_id"))

    latest: dict[tuple[object, ...], int] = {}
    for a in actions:
        latest[at(a)] = max(latest.get(at(a), -1), int(a.get("id") or 0))

    def current(a: Mapping[str, Any]) -> bool:
        replaced = latest[at(a)] > int(a["id"])
        return not replaced and a.get("finding_key") in open_keys

    return current


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
class TopGroup:
    """The top open findings of one currency ("" for findings with no amount in any).

    recon has no FX rates: amounts of different currencies are never ranked against each
    other, so each currency has its own list, most severe first, then most money at risk.
    ``total`` counts the currency's open findings, of which ``rows`` shows the first few."""

    currency: str
    rows: tuple[ExceptionRow, ...]
    total: int

    @property
    def heading(self) -> str:
        """ "JPY: 20 of 134 open findings": a list that is partial says so, per currency."""
        return f"{self.currency or 'No currency'}: {len(self.rows)} of {self.total} open findings"

    @property
    def not_shown(self) -> int:
        """How many of the currency's open findings the list leaves out."""
        return self.total - len(self.rows)


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
    # What no report that went out has shown so (not "since the last run": a run that failed
    # sent nothing), new or resolved.
    new_since_last_report: int
    resolved_since_last_report: int
    money_at_risk: tuple[Amount, ...]
    acknowledged: int = 0
    acknowledged_amounts: tuple[Amount, ...] = ()
    # Of the money at risk, what recon's refunds sent to Shopify in this run, per currency
    # (``figures.sent_at_risk``): answered, or with no answer yet (their outcome unknown).
    # Their findings stay open, and counted above as findings.json counts them, until the
    # next run reads the refunds back; finance must not pay them again.
    sent_this_run: tuple[Amount, ...] = ()

    def sent_in(self, currency: str) -> Amount | None:
        """What recon sent this run of the money at risk in ``currency`` (None: nothing)."""
        return next((a for a in self.sent_this_run if a.currency == currency), None)


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
    # The top ``top_n`` open findings of each currency (``figures.top_groups``).
    top_groups: tuple[TopGroup, ...]
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
    # Which report of the shop's day that goes out this is: 1, or 2 for a later run after one
    # whose report went out (``report_folders.day_runs``); the e-mails of a later run say so.
    day_run: int = 1
    # Earlier runs of the shop's day that began a report folder and did not finish (their
    # report never went out): said beside the folder, which is not the day's first.
    unfinished_runs: int = 0
    # The run's report folder (``report_folders.report_folder``); "" for the day's name.
    folder: str = ""
    # Month-end only: findings open or acknowledged at the period's end (read from the history)
    # that the book did not recompute, their records having no activity in the period
    # (``month_end.carried_forward``): the Carried forward sheet.
    carried_forward: tuple[Finding, ...] = field(default=(), repr=False)
    # Month-end only: the earliest and latest of the period's payouts' last reads, whose status
    # the sheets show (None: no payout in the period).
    payouts_read: tuple[datetime, datetime] | None = None
    # Ids of the intents this run's remediation ended ``failed`` (Shopify refused the write:
    # a userError, or a request it rejected before running it): ``write_failures``.
    failed_writes: frozenset[int] = frozenset()
    # Ids of the intents this run's remediation ended ``done`` (``sent_writes``): their
    # findings stay open until the next run reads the writes back, so their rows say so.
    done_writes: frozenset[int] = frozenset()
    # Ids of the intents this run sent (or resent) and ended ``unknown`` (no answer came, or
    # throttled until the run gave up): ``Headline.sent_this_run`` counts the refunds among
    # them Shopify may have run.
    unknown_writes: frozenset[int] = frozenset()
    # Records the mirror holds for review (open quarantine entries, cleaning notes aside): what
    # they say is reconciled by no one until they are read cleanly, so every report counts them.
    held_records: int = 0
    # What those writes (and any whose outcome is unknown) sent, by finding key
    # (``sent_by_finding``): worked out once, when the data is frozen, and read by every row.
    sent: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @property
    def rest_of_top(self) -> str:
        """Where a partial top list's other findings are: every open finding is a row of the
        workbook's Exceptions sheet and an entry of ``findings.json``, both in the run's
        report folder (``<shop>/<folder>`` under ``[reports] dir``)."""
        return "exceptions.xlsx (sheet Exceptions) and findings.json"

    @property
    def top_exceptions(self) -> tuple[ExceptionRow, ...]:
        """Every currency's top findings, group after group (``top_groups``)."""
        return tuple(chain.from_iterable(group.rows for group in self.top_groups))

    @property
    def day_folder(self) -> str:
        """The name of the run's report folder: the shop's day, ``-2``... for a later run."""
        return self.folder or self.report_day.isoformat()

    @property
    def run_label(self) -> str:
        """Which run of the day this is, as the e-mails and ``report.html`` say it: "" for the
        day's first report in the day's folder; else its run among the day's reports that went
        out and its folder, and how many earlier runs of the day did not finish."""
        details = [f"folder {self.day_folder}"]
        if self.unfinished_runs:
            n = self.unfinished_runs
            details.append(
                "1 earlier run of the day did not finish; its report did not go out"
                if n == 1
                else f"{n} earlier runs of the day did not finish; their reports did not go out"
            )
        if self.day_run > 1:
            return f"run {self.day_run} of the day ({'; '.join(details)})"
        if self.unfinished_runs:
            return f"{details[0]} ({details[1]})"
        return ""

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
        """Intents waiting for a person (``waiting``)."""
        return waiting(self.actions, {f.key for f in self.open_findings})

    @property
    def planned_again_writes(self) -> tuple[Mapping[str, Any], ...]:
        """Restocks refused as stale that the next run plans again (``planned_again``)."""
        return planned_again(self.actions, {f.key for f in self.open_findings})

    @property
    def write_failures(self) -> tuple[Mapping[str, Any], ...]:
        """recon's writes that did not go through: those Shopify refused in this run (never
        retried: someone must act, shopify-admin-api.md §17), those it did not run (throttled:
        the next run sends them again) and those whose outcome is still unknown (the next run
        re-reads Shopify before any resend). An earlier run's refusal was in its report."""
        return tuple(
            a
            for a in self.actions
            if a.get("status") in UNSETTLED
            or (a.get("status") == "failed" and a.get("id") in self.failed_writes)
        )

    @property
    def refused_writes(self) -> tuple[Mapping[str, Any], ...]:
        """The ``write_failures`` Shopify refused this run: not done, and never retried."""
        return tuple(a for a in self.write_failures if a.get("status") not in UNSETTLED)

    @property
    def unknown_outcome_writes(self) -> tuple[Mapping[str, Any], ...]:
        """The ``write_failures`` with no answer yet: they may well have gone through (the
        next run re-reads Shopify before any resend), so they are not listed as not done."""
        return tuple(a for a in self.write_failures if a.get("status") in UNSETTLED
                     and not not_run(a.get("status"), a.get("reason")))  # fmt: skip

    @property
    def not_run_writes(self) -> tuple[Mapping[str, Any], ...]:
        """The ``write_failures`` Shopify throttled and ran nothing of (``not_run``), their
        status ``NOT_RUN_STATUS``: not done, and the next run sends them again."""
        return tuple({**a, "status": NOT_RUN_STATUS} for a in self.write_failures
                     if not_run(a.get("status"), a.get("reason")))  # fmt: skip

    @property
    def sent_writes(self) -> tuple[Mapping[str, Any], ...]:
        """recon's writes this run ended done (sent and answered, or an earlier run's found
        landed): the findings they fix are still open until the next run reads them back."""
        return sent_writes(self.actions, self.done_writes)

    def row(self, finding: Finding) -> ExceptionRow:
        """One finding as the reports show it (``to_row`` with this report's settings)."""
        return to_row(
            finding,
            self.shop_domain,
            self.as_of,
            self.include_customer_pii,
            self.timezone,
            self.sent.get(finding.key, ()),
        )

    def exception_rows(self) -> Iterator[ExceptionRow]:
        """Open, then acknowledged findings as rows, lazily (the workbook streams them)."""
        for finding in chain(self.open_findings, self.acknowledged_findings):  # no copy
            yield self.row(finding)

    def carried_rows(self) -> Iterator[ExceptionRow]:
        """The carried-forward findings as rows, lazily, as ``exception_rows``."""
        for finding in self.carried_forward:
            yield self.row(finding)

    def text(self, value: object) -> str:
        """Clean untrusted text the way this report was configured (PII scrubbed unless allowed)."""
        return clean_text(value, include_pii=self.include_customer_pii)


def sent_writes(
    actions: Iterable[Mapping[str, Any]], done: AbstractSet[int]
) -> tuple[Mapping[str, Any], ...]:
    """The intents of ``actions`` this run ended done (``done``: their ids)."""
    return tuple(a for a in actions if a.get("status") == "done" and a.get("id") in done)


def sent_by_finding(
    actions: Iterable[Mapping[str, Any]],
    done: AbstractSet[int],
    first_seen: Mapping[str, datetime | None] | None = None,
) -> dict[str, tuple[str, ...]]:
    """What recon's writes sent, by the key of each finding they act on
    (``views.finding_keys``): those this run ended done ("refund 48.60 USD, no restock (action
    7) in this run"), and those of any run whose outcome is not known yet (no answer: the next
    run re-reads Shopify, and resends only what did not land; or throttled until the run gave
    up, ``NOT_RUN``: Shopify wrote nothing, and the next run sends it again); and a refund an
    earlier run ended done on the finding it was planned for, when that finding's current
    occurrence (``first_seen``: its key's first-seen time) began before it: a refund stays
    unread until a run reads it back. Not a tag (it fixes no status), not a restock (the engine
    counts recon's done restocks itself), not a write older than the finding's occurrence (a
    unit received since)."""
    sent: dict[str, list[str]] = {}
    for action in actions:
        what = f"{action.get('what')} (action {action.get('id')})"
        if not_run(action.get("status"), action.get("reason")):
            # Throttled until the run gave up: Shopify answered, and ran nothing of it.
            what += "; Shopify throttled it and wrote nothing: the next run re-reads and resends it"
        elif action.get("status") in UNSETTLED:
            what += "; no answer came: the next run re-reads Shopify before anything else"
        elif action.get("status") == "done" and action.get("id") in done:
            what += " in this run"
        elif _earlier_refund_unread(action, first_seen or {}):
            # Its finding still open: Shopify's copy is not read back yet (a second run the same
            # day, a lagging read). "Create the refund" would have a person pay it again.
            what += " in an earlier run, done by Shopify's answer; check the order in Shopify"
            sent.setdefault(str(action.get("finding_key")), []).append(what)
            continue
        else:
            continue
        for key in action.get("finding_keys", ()):
            sent.setdefault(key, []).append(what)
    return {key: tuple(what) for key, what in sent.items()}


def _earlier_refund_unread(action: Mapping[str, Any], first_seen: Mapping[str, Any]) -> bool:
    """A refund an earlier run ended done, on a finding open since before it was done."""
    if action.get("status") != "done" or action.get("kind") != "refund":
        return False
    since, done_at = first_seen.get(str(action.get("finding_key"))), action.get("updated_at")
    return isinstance(since, datetime) and isinstance(done_at, datetime) and since <= done_at


def _next_step(finding: Finding, sent: Sequence[str] = ()) -> str:
    """The next step, or for an acknowledged finding who checked it and why: its usual next
    step ("Restock the returned units.") was taken care of, and must not be done twice.

    A finding one of recon's writes fixed in this run is open until the next run reads the
    write back from Shopify, as is one whose write got no answer; its usual next step ("Create
    the refund in Shopify.") would have a person pay the customer a second time, so it says
    what recon sent instead (``sent_by_finding``)."""
    if finding.status is not FindingStatus.ACKNOWLEDGED:
        if sent and finding.status in OPEN_STATUSES:
            return (
                f"recon sent {' / '.join(sent)}; do not redo it by hand: the finding resolves "
                "when a run reads the write back from Shopify."
            )
        return finding.next_step
    who = finding.acknowledged_by or "someone"
    why = f": {finding.acknowledged_note}" if finding.acknowledged_note else ""
    return f"Acknowledged by {who}{why} (quiet until it changes)."


def to_row(
    finding: Finding,
    shop_domain: str,
    as_of: datetime,
    include_pii: bool,
    timezone: str = "UTC",
    sent: Sequence[str] = (),
) -> ExceptionRow:
    """Turn a finding into a report row (age from first_seen, links, cleaned text); its
    first-seen day is the shop's (``timezone``), as the report's period and day are.
    ``sent``: what recon's writes of this run sent for it (``sent_by_finding``)."""
    first_seen = finding.first_seen
    # Shop days, as the row's first-seen day: counting 24-hour spans made a finding first seen
    # by a run that started a few seconds later last night 0 days old tonight.
    # The instant before ``as_of``: a month-end book is as of the next month's first moment,
    # and its last day is the period's (a finding first seen on it is 0 days old, not 1).
    today = shop_day(as_of - timedelta(microseconds=1), timezone)
    age = max((today - shop_day(first_seen, timezone)).days, 0) if first_seen else 0
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
        next_step=clean_text(_next_step(finding, sent), include_pii=include_pii),
        shopify_url=shopify_order_url(shop_domain, finding.shopify_order_id),
        # UNKNOWN_RMA names an RMA Loop does not have: a link would open no return.
        loop_url=None if finding.category is Category.UNKNOWN_RMA else loop_return_url(finding.rma),
    )
