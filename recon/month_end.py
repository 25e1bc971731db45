"""The month-end workbook from the mirror alone: the period's records as they stood at its end,
their findings with the lifecycle the nightly runs recorded, and its payouts tied out whole."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from recon.clock import day_start
from recon.config import Settings
from recon.deliverables import check_output_dirs, monthend_path, report_data, write_monthend
from recon.engine import build_frames, tie_out_payouts
from recon.models import CLOSED_STATUSES, Finding, FindingEvent, FindingStatus
from recon.period_end import as_it_stood, at_period_end, carried_at_end
from recon.remediation.runner import action_rows_as_of
from recon.reporting.data import ReportData
from recon.run_steps import live_only, order_flags, reconcile_snapshot, sessions
from recon.store.snapshot import Snapshot
from recon.store.sql import SqlStore


def _payout_tieout(
    settings: Settings, store: SqlStore, payouts: Snapshot, since: datetime, as_of: datetime
) -> pd.DataFrame:
    """The period's payouts tied out whole, each refund tied to its RMA whatever its month.

    A payout issued on 4 October carries refunds of late September, whose Loop returns are
    September's records, not October's: a controller reads an unmatched refund as one nobody
    can explain, so every refund the mirror can tie to its RMA is tied. Those returns are read
    as context for this sheet only: October's findings and Matched sheet stay its own.

    Only payouts issued in the period are its payouts. The period's snapshot also holds older
    ones: an order with activity in it comes in whole, with the settlements of its earlier
    refunds, and a payout of September in October's sheet would be counted in both books.
    """
    issued = [p.id for p in payouts.payouts if since <= p.issued_at < as_of]
    context = store.load_payout_context(issued, as_of, settings.engine.rma_patterns)
    snapshot, _ = live_only(settings, as_it_stood(context, as_of))  # as the period's
    frames = build_frames(
        snapshot.returns, snapshot.orders, snapshot.refunds, snapshot.payouts,
        snapshot.balance_transactions, snapshot.gift_cards,
    )  # fmt: skip
    return tie_out_payouts(frames, settings.engine, as_of)


def build_monthend(
    settings: Settings, store: SqlStore, now: datetime, start: date, end: date
) -> Path:
    """The month-end workbook for [start, end) from the mirror alone (no API calls).

    Days are the shop's (``[shop] timezone``): a refund at 18:00 in Los Angeles on the 31st
    belongs to that month, as in Shopify's own figures, though it is the 1st in UTC. Findings
    are recomputed over the period's records as of its end (or now, if earlier), and keep the
    lifecycle (first seen, status) the nightly runs and acknowledgements recorded for the same
    keys, as it stood at that end (the findings' history: ``recon.period_end``). Everything
    the book shows is read in one read-only transaction (``SqlStore.reading``).

    Raises:
        ConfigError: ``[reports] dir`` cannot be written.
        StoreError: the mirror cannot be read.
    """
    check_output_dirs(settings, outbox=False)
    # Every sheet from the mirror as of one moment: a nightly run or a backfill committing
    # while the book reads must not make the Payouts sheet tie a refund Exceptions says is
    # missing, nor count a finding in one sheet that it resolved before another was read.
    with store.reading() as view:
        data, later = _read_book(settings, view, now, start, end)
    return write_monthend(data, monthend_path(settings, start, end), later_actions=later)


def _read_book(
    settings: Settings, store: SqlStore, now: datetime, start: date, end: date
) -> tuple[ReportData, int]:
    """What the book shows for [start, end), from ``store`` (a view as of one moment), and how
    many intents of its returns were created since its end."""
    since = day_start(start, settings.shop.timezone)
    until = day_start(end, settings.shop.timezone)
    as_of = min(until, now)
    period = as_it_stood(store.load_snapshot(since, until), as_of)
    snapshot, left_out = live_only(settings, period)
    result = reconcile_snapshot(settings, store, snapshot, as_of, ledger_before=as_of)
    result = replace(result, payout_tieout=_payout_tieout(settings, store, snapshot, since, as_of))
    known = {f.key: f for f in store.load_findings()}
    unseen = _not_recomputed(settings, known.values(), {f.key for f in result.findings}, period,
                             as_of)  # fmt: skip
    history = store.finding_events([*(f.key for f in result.findings), *(f.key for f in unseen)])
    findings = [
        at_period_end(f, known.get(f.key), (since, until), as_of, history.get(f.key, ()))
        for f in result.findings
    ]
    carried = carried_forward(unseen, history, (since, until), as_of)
    # The intents of the period's returns, and of the breaks carried forward into it: recon's
    # refund for a return closed in an earlier month may still wait for approval at the close,
    # and a controller reading only the carried break's next step would refund it by hand.
    rmas = {r.id for r in snapshot.returns} | {f.rma for f in carried if f.rma}
    # As the ledger stood at the period's end: a book re-built later reads as the one built then.
    actions, created_since = action_rows_as_of(sessions(store), settings.shop.slug, as_of)
    actions = [a for a in actions if a["rma"] in rmas]
    later = sum(1 for a in created_since if a["rma"] in rmas)
    data = report_data(
        settings,
        findings=findings,
        previous=None,
        result=result,
        snapshot=snapshot,
        actions=actions,
        run_id=f"month-end {start}..{end}",
        as_of=as_of,
        period=(start, end),
        left_out=left_out,
        # Counted as live, and said so (Summary, and a warning for ``run_recon.py report``).
        order_flags=order_flags(settings, period, findings),
    )
    # The mirror keeps a payout's latest status only: the book says when the period's payouts
    # were read. Each one's own last read, not the payouts watermark: the nightly re-reads only
    # recent and open payouts, so an older PAID one was last read weeks before it.
    read = store.payouts_read_between([p.id for p in snapshot.payouts])
    return replace(data, carried_forward=carried, payouts_read=read), later


def _not_recomputed(
    settings: Settings,
    stored: Iterable[Finding],
    found: set[str],
    period: Snapshot,
    as_of: datetime,
) -> list[Finding]:
    """Stored findings the book did not recompute and whose records are none of the period's
    (the book read those and found them fixed by its end), that may have been open at its end.

    A finding closed before the end and still closed was closed at the end (no episode since);
    one left out as a test order and one of a muted category are in no sheet of the book.
    """
    returns = {r.id for r in period.returns}
    orders = {o.id for o in period.orders}
    muted = set(settings.engine.muted_categories)
    return [
        f
        for f in stored
        if f.key not in found
        and f.category not in muted
        and f.status is not FindingStatus.LEFT_OUT
        and not (
            f.status in CLOSED_STATUSES and f.resolved_at is not None and f.resolved_at < as_of
        )
        and f.rma not in returns
        and f.shopify_order_id not in orders
    ]


def carried_forward(
    unseen: Iterable[Finding],
    history: Mapping[str, list[FindingEvent]],
    period: tuple[datetime, datetime],
    as_of: datetime,
) -> tuple[Finding, ...]:
    """The breaks open (or acknowledged) at the period's end that the book did not recompute,
    as the findings' history says they stood then: open first, oldest first.

    A return closed on 11 September and never refunded has no record in October: October's
    Exceptions cannot list its ``MISSING_REFUND``, yet the refund was owed at October's close.
    """
    stood = (carried_at_end(f, period, as_of, history.get(f.key, ())) for f in unseen)
    kept = [f for f in stood if f is not None]
    return tuple(
        sorted(
            kept,
            key=lambda f: (f.status is FindingStatus.ACKNOWLEDGED, f.first_seen or as_of, f.key),
        )
    )
