"""Per-run and month-end deliverables: report data from a run's results, files, and delivery.

The folders a run's report is written into are in ``recon.report_folders``.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from recon.clock import shop_day
from recon.config import Settings
from recon.delivery import (
    REPORTED_AT_HEADER,
    TEAM_HEADER,
    Mailer,
    OutboxMailer,
    SmtpMailer,
    build_messages,
    deliver,
)
from recon.engine import ReconResult
from recon.engine.rma import ascii_digits
from recon.errors import ConfigError, MailLostError, ReportNotDeliveredError
from recon.mail_parked import PARKED_MARK, parked_note
from recon.models import Finding, GiftCardRecord, LoopReturnRecord
from recon.money import quantize, to_minor, tolerance_units
from recon.order_flags import NO_FLAGS, UnknownFlags
from recon.report_folders import day_runs, mark_went_out, unused_name
from recon.reporting.data import ReportData
from recon.reporting.exceptions_xlsx import RunReports, write_run_reports
from recon.reporting.figures import build_report_data
from recon.reporting.monthend import write_monthend_workbook
from recon.smtp import tls_context
from recon.store.snapshot import Snapshot

log = logging.getLogger(__name__)


def nightly_period(as_of: datetime, timezone: str) -> tuple[date, date]:
    """The nightly report's period: the shop's day that ended before the run, ``[start, end)``.

    Days are the shop's (``[shop] timezone``), as month-end periods are: the 02:00 run in Sydney
    on 2 November (15:00 UTC on the 1st) reports on 1 November, not 31 October.
    """
    day = shop_day(as_of, timezone)
    return day - timedelta(days=1), day


def check_output_dirs(settings: Settings, *, outbox: bool = True) -> None:
    """Make sure the shop's folder in ``[reports] dir`` (and ``[delivery] outbox_dir``) can be
    written, before a run syncs or writes anything to Shopify: found after remediation, the
    run's report would be lost and its traceback would be all cron mailed. With the outbox,
    smtp mode's ``ca_file`` is loaded too.

    Raises:
        ConfigError: naming the key, the directory (or file) and what to do.
    """
    # The run writes into the shop's folder, which may exist already and be what is at fault
    # (a link to a share that is not mounted, a folder left by another user).
    checks = [("reports.dir", settings.reports.dir / settings.shop.slug)]
    if outbox:
        checks.append(("delivery.outbox_dir", settings.delivery.outbox_dir))
    for key, directory in checks:
        try:
            if directory.is_symlink() and not directory.exists():
                raise NotADirectoryError(0, "a link to a directory that does not exist")
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as exc:
            raise ConfigError(
                f"{key}: {directory} cannot be written ({exc.strerror or exc}); point {key} at "
                "a directory the user running recon can create and write"
            ) from None
    if outbox:
        _check_ca_file(settings)


def _check_ca_file(settings: Settings) -> None:
    """Load ``[delivery.smtp] ca_file`` now: first opened when the mail goes out, a missing or
    unreadable one kept every night's report unsent (exit 5) after the run had done the rest.

    Raises:
        ConfigError: naming the key, the file and why it cannot be loaded.
    """
    smtp = settings.delivery.smtp
    if settings.delivery.mode != "smtp" or smtp.ca_file is None:
        return
    try:
        tls_context(smtp)
    except OSError as exc:  # ssl.SSLError too: a file that holds no certificate
        raise ConfigError(
            f"delivery.smtp.ca_file: {smtp.ca_file} cannot be loaded ({exc.strerror or exc}); "
            "point it at a PEM file of the CA that signed the relay's certificate"
        ) from None


def store_credit_rows(snapshot: Snapshot, tolerance: Decimal) -> list[dict[str, Any]]:
    """One row per Loop return with store credit, its gift cards and a status that follows the
    ``MISSING_STORE_CREDIT`` rule (docs/findings.md), so the sheet and the findings agree.

    A card counts for a return when its note names the RMA as a whole number, digits in any
    script read as ASCII as the rule reads them (a note typed with fullwidth digits names the
    RMA). ``issued_amount`` adds the cards in the return's currency. Status: ``not due``
    (cancelled or expired), ``due`` (open), ``missing`` (closed, no card), ``short`` (closed,
    cards in its currency fall short by more than ``tolerance``), else ``issued`` (cards in
    another currency count as issued: they cannot be compared).

    A card whose note names two or more of the returns counts for none of them, as in the rule
    (the engine's ``AMBIGUOUS_RMA``): a closed return with no card of its own but such a card
    is ``ambiguous``, and its ``gift_card_id`` names the disputed cards.
    """
    orders = {o.id: o.name for o in snapshot.orders}
    returns = {r.id for r in snapshot.returns}
    by_number: dict[str, list[GiftCardRecord]] = {}
    disputed: dict[str, list[GiftCardRecord]] = {}
    for card in snapshot.gift_cards:
        numbers = set(re.findall(r"\d+", ascii_digits(card.note or "")))
        named = by_number if len(numbers & returns) < 2 else disputed
        for number in numbers:
            named.setdefault(number, []).append(card)
    rows: list[dict[str, Any]] = []
    for ret in snapshot.returns:
        if ret.gift_card <= 0:
            continue
        cards = sorted(by_number.get(ret.id, []), key=lambda g: g.id)
        issued = sum((g.initial_value for g in cards if g.currency == ret.currency), Decimal(0))
        status = _credit_status(ret, bool(cards), issued, tolerance)
        if status == "missing" and ret.id in disputed:
            status, cards = "ambiguous", sorted(disputed[ret.id], key=lambda g: g.id)
        rows.append(
            {
                "rma": ret.id,
                "order_name": orders.get(ret.provider_order_id or "", ret.order_name or ""),
                "gift_card_amount": ret.gift_card,
                "issued_amount": quantize(issued, ret.currency),
                "currency": ret.currency,
                "gift_card_id": ", ".join(g.id for g in cards),
                "status": status,
            }
        )
    return rows


def _credit_status(ret: LoopReturnRecord, carded: bool, issued: Decimal, tol: Decimal) -> str:
    if ret.state in ("cancelled", "expired"):
        return "not due"
    if ret.state != "closed":
        return "due"
    if not carded:
        return "missing"
    short = to_minor(ret.gift_card, ret.currency) - to_minor(issued, ret.currency)
    return "short" if issued > 0 and short > tolerance_units(tol, ret.currency) else "issued"


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
    left_out: tuple[tuple[str, int], ...] = (),
    remediation: tuple[str, ...] = (),
    order_flags: UnknownFlags = NO_FLAGS,
    folder: Path | None = None,
    remediation_held: tuple[str, ...] = (),
    unreported: AbstractSet[str] = frozenset(),
    closed_before: Sequence[Finding] = (),
    failed_writes: AbstractSet[int] = frozenset(),
    done_writes: AbstractSet[int] = frozenset(),
    unknown_writes: AbstractSet[int] = frozenset(),
    held_records: int = 0,
) -> ReportData:
    """Freeze everything the workbook, HTML report and e-mails show (``folder``: the run's
    report folder, whose name and the day's earlier folders say which report of the shop's day
    this is, ``day_runs``; ``unreported``: keys of the findings no report that went
    out has shown as they stand, listed as new; ``closed_before``: findings an earlier run
    closed whose report never went out, listed as resolved or left out; ``failed_writes``: the
    intents this run ended failed, listed with the writes that did not go through;
    ``done_writes``: those it ended done, whose findings' rows say what recon sent;
    ``unknown_writes``: those it sent and ended unknown, counted as sent this run;
    ``held_records``: the records held for review, ``quarantine.held_records``)."""
    day_run, unfinished = day_runs(folder) if folder else (1, 0)
    return build_report_data(
        findings=findings,
        matches=result.matches,
        payout_tieout=result.payout_tieout,
        actions=actions,
        store_credit=store_credit_rows(snapshot, settings.engine.amount_tolerance),
        previous_findings=previous,
        unreported=unreported,
        closed_before=closed_before,
        shop=settings.shop.slug,
        shop_domain=settings.shop.domain,
        period_start=period[0],
        period_end=period[1],
        run_id=run_id,
        as_of=as_of,
        include_customer_pii=settings.reports.include_customer_pii,
        top_n=settings.reports.top_exceptions,
        muted=tuple(result.muted.items()),
        left_out=left_out,
        timezone=settings.shop.timezone,
        remediation=remediation,
        remediation_held=remediation_held,
        order_flags=order_flags,
        day_run=day_run,
        unfinished_runs=unfinished,
        folder=folder.name if folder else "",
        failed_writes=failed_writes,
        done_writes=done_writes,
        unknown_writes=unknown_writes,
        held_records=held_records,
    )


def mailer_for(settings: Settings) -> Mailer:
    """SMTP when configured, else the local outbox (the embedded default)."""
    if settings.delivery.mode == "smtp":
        return SmtpMailer(settings.delivery.smtp, settings.secret)
    return OutboxMailer(settings.delivery.outbox_dir)


def publish(
    settings: Settings,
    data: ReportData,
    folder: Path,
    *,
    went_out: Callable[[bool], None] = lambda told: None,
    unreported: Callable[[datetime], None] = lambda at: None,
) -> tuple[RunReports, list[str], list[str]]:
    """Write the run's workbook and HTML report into ``folder`` (``report_folder``), then
    e-mail each team (outbox on failure).

    Once the report has gone out (``mark_went_out``: its first message sent, waiting in the
    outbox, or parked; that is finance's, the whole report, unless no finance recipient is
    configured), ``went_out`` is called. So it is when a later message was lost: the first has
    the report. Its argument says whether the report reached finance or will (sent, or waiting
    for the next run to resend): only then does the run mark what it showed as reported. A
    message the relay refused for good is parked and resent by no run, so its findings stay
    new for the next report; finance would otherwise never hear of them. So it is for an
    earlier run's report that waited in the outbox (counted as told then) and that the relay
    now refuses for good: ``unreported`` is called with when that run marked it
    (``REPORTED_AT_HEADER``), to undo those marks.

    Returns the files, human-readable delivery notes (what was kept for the next run), and the
    delivery errors themselves, one per message left waiting (empty when all went out).

    Raises:
        MailLostError: a message could be neither sent nor kept in the outbox (after
            ``went_out`` if the report went out all the same).
        OSError: the report's files cannot be written.
    """
    files = write_run_reports(data, folder)
    # In order of priority (``build_messages``): the workbook is the one finance works from.
    messages = build_messages(data, settings.delivery, attachments=[files.exceptions_xlsx])
    recipients = {str(team): people for team, people in settings.delivery.recipients.items()}
    first = str(messages[0][TEAM_HEADER]) if messages else None  # the report's own message
    if messages:
        messages[0][REPORTED_AT_HEADER] = data.as_of.isoformat()
    try:
        result = deliver(
            messages,
            mailer_for(settings),
            settings.delivery.outbox_dir,
            shop=settings.shop.slug,
            recipients=recipients,
        )
    except MailLostError as exc:
        if first in exc.went_out:  # the first has the report; a later team's was lost
            _gone_out(folder, went_out, told=first not in exc.refused)
        raise
    # Sent, or waiting in the outbox for the next run to resend; or parked (refused for good).
    _gone_out(folder, went_out, told=first not in result.refused)
    for stamp in result.unreported:
        unreported(datetime.fromisoformat(stamp))
    outbox = settings.delivery.outbox_dir
    notes = [
        f"delivery: {e}" + ("" if PARKED_MARK in e else f"; the message waits in {outbox}")
        for e in result.errors
    ]
    if result.parked_earlier:  # said every night, but no longer a failed delivery (exit 5)
        notes.append(f"delivery: {parked_note(result.parked_earlier, outbox)}")
    return files, notes, list(result.errors)


def _gone_out(folder: Path, went_out: Callable[[bool], None], *, told: bool) -> None:
    """The report in ``folder`` went out: unmark the folder, then tell the run whether it
    reached finance (``told``: not parked)."""
    mark_went_out(folder)
    went_out(told)


def undelivered_error(
    settings: Settings,
    errors: Sequence[str],
    *,
    lead: str = "the run completed but its report was not delivered",
) -> ReportNotDeliveredError | None:
    """What a completed run ends with when its report waits in the outbox unsent, or the relay
    refused it for good (parked by this run: later runs only note it), else None.

    ``lead`` opens the message: ``outbox retry`` runs no reconciliation, so it says what it did.
    Only in smtp mode: in outbox mode the outbox is the delivery, so nothing is ever waiting.
    """
    if settings.delivery.mode != "smtp" or not errors:
        return None
    outbox = settings.delivery.outbox_dir
    parked = [e for e in errors if PARKED_MARK in e]
    said = []
    if len(parked) < len(errors):
        said.append(
            f"{len(errors) - len(parked)} message(s) wait in {outbox} and the next run resends "
            "them; check [delivery.smtp]"
        )
    if parked:
        # Each says where it is, the relay's answer and what to run once the cause is fixed.
        said.append(f"{len(parked)} message(s) the relay refused for good: " + "; ".join(parked))
    first = next((e for e in errors if PARKED_MARK not in e), None)
    tail = f" (first error: {first})" if first is not None else ""
    return ReportNotDeliveredError(f"{lead}: " + "; ".join(said) + tail)


def write_monthend(data: ReportData, path: Path, *, later_actions: int = 0) -> Path:
    """Write the month-end book at ``path``, keeping a book built there before.

    The book finance closed a month with is its record: a rebuild (a later ``report --month``)
    moves it aside to ``<name>.<built UTC>.xlsx`` first. The new book is written beside and
    renamed into place, so a run that dies mid-write leaves the earlier book, not half a file.

    Raises:
        OSError: the book cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        write_monthend_workbook(data, partial, later_actions=later_actions)
        if path.exists():
            built = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            path.rename(unused_name(path.with_name(f"{path.stem}.{built:%Y%m%dT%H%M%SZ}.xlsx")))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def monthend_path(settings: Settings, start: date, end: date) -> Path:
    """``reports/<shop>/month-end/<YYYY-MM>.xlsx`` for a whole calendar month [start, end),
    else ``<from>_<to>.xlsx`` (a partial month never takes, or overwrites, the month's name)."""
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    whole_month = start.day == 1 and end == following
    name = f"{start:%Y-%m}.xlsx" if whole_month else f"{start.isoformat()}_{end.isoformat()}.xlsx"
    return settings.reports.dir / settings.shop.slug / "month-end" / name
