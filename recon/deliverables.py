"""Per-run and month-end deliverables: report data from a run's results, files, and delivery."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from recon.config import Settings
from recon.delivery import Mailer, OutboxMailer, SmtpMailer, build_messages, deliver
from recon.engine import ReconResult
from recon.models import Finding
from recon.reporting.data import ReportData, build_report_data
from recon.reporting.exceptions_xlsx import RunReports, write_run_reports
from recon.store.snapshot import Snapshot


def store_credit_rows(snapshot: Snapshot) -> list[dict[str, Any]]:
    """One row per Loop return with store credit: the gift card carrying its RMA, or none."""
    orders = {o.id: o.name for o in snapshot.orders}
    rows: list[dict[str, Any]] = []
    for ret in snapshot.returns:
        if ret.gift_card <= 0:
            continue
        pattern = re.compile(rf"(?<!\d){re.escape(ret.id)}(?!\d)")
        card = next((g for g in snapshot.gift_cards if g.note and pattern.search(g.note)), None)
        rows.append(
            {
                "rma": ret.id,
                "order_name": orders.get(ret.provider_order_id or "", ret.order_name or ""),
                "gift_card_amount": ret.gift_card,
                "currency": ret.currency,
                "gift_card_id": card.id if card else "",
                "status": "issued" if card else ("missing" if ret.state == "closed" else "due"),
            }
        )
    return rows


def report_data(
    settings: Settings,
    *,
    findings: Sequence[Finding],
    previous: Sequence[Finding] | None,
    result: ReconResult,
    snapshot: Snapshot,
    actions: Sequence[dict[str, Any]],
    run_id: str,
    as_of: datetime,
    period: tuple[date, date],
) -> ReportData:
    """Freeze everything the workbook, HTML report and e-mails show."""
    return build_report_data(
        findings=findings,
        matches=result.matches,
        payout_tieout=result.payout_tieout,
        actions=actions,
        store_credit=store_credit_rows(snapshot),
        previous_findings=previous,
        shop=settings.shop.slug,
        shop_domain=settings.shop.domain,
        period_start=period[0],
        period_end=period[1],
        run_id=run_id,
        as_of=as_of,
        include_customer_pii=settings.reports.include_customer_pii,
        top_n=settings.reports.top_exceptions,
        muted=tuple(result.muted.items()),
    )


def mailer_for(settings: Settings) -> Mailer:
    """SMTP when configured, else the local outbox (the embedded default)."""
    if settings.delivery.mode == "smtp":
        return SmtpMailer(settings.delivery.smtp, settings.secret)
    return OutboxMailer(settings.delivery.outbox_dir)


def publish(settings: Settings, data: ReportData) -> tuple[RunReports, list[str]]:
    """Write the run's workbook and HTML report, then e-mail each team (outbox on failure).

    Returns the files and human-readable delivery notes (what was kept for the next run).
    """
    files = write_run_reports(data, settings.reports.dir)
    messages = build_messages(data, settings.delivery, attachments=[files.exceptions_xlsx])
    result = deliver(messages, mailer_for(settings), settings.delivery.outbox_dir)
    notes = [
        f"delivery: {e}; the message waits in {settings.delivery.outbox_dir}" for e in result.errors
    ]
    return files, notes


def monthend_path(settings: Settings, start: date, end: date) -> Path:
    """``reports/<shop>/month-end/<YYYY-MM>.xlsx`` (or ``<from>_<to>.xlsx`` for a range)."""
    name = (
        f"{start:%Y-%m}.xlsx"
        if start.day == 1 and (end - start).days in range(27, 32)
        else f"{start.isoformat()}_{end.isoformat()}.xlsx"
    )
    return settings.reports.dir / settings.shop.slug / "month-end" / name
