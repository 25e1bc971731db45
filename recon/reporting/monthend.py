"""The month-end workbook finance closes the month with: Summary formulas over streamed tables.

Sheets: Summary (KPIs and per-currency totals as real formulas over the tables, two charts),
Exceptions, Carried forward, Matched, Payouts, Actions, Store credit. Every data sheet is
streamed (openpyxl write-only), so memory stays flat in the number of rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.utils import get_column_letter

from recon.clock import shop_day
from recon.remediation.trail import NOT_RUN_STATUS, not_run
from recon.reporting.data import ReportData
from recon.reporting.exceptions_xlsx import (
    CARRIED_TABLE,
    EXCEPTION_COLUMNS,
    write_actions_sheet,
    write_carried_sheet,
    write_exceptions_sheet,
)
from recon.reporting.rows import ACTION_COLUMNS, dict_rows, frame_rows
from recon.reporting.xlsx_writer import EXCEL_ROWS, Column, StreamingBook, money_format

MATCHED_COLUMNS = (
    Column("rma", width=12),
    Column("shopify_order_id", width=16),
    Column("shopify_order_name", width=14),
    Column("state", width=10),
    Column("outcome", width=12),
    Column("currency", width=9),
    Column("loop_refund", "money", 13, currency_column="currency"),
    Column("loop_gift_card", "money", 13, currency_column="currency"),
    Column("refund_ids", width=18),
    Column("refunded_total", "money", 14, currency_column="currency"),
    Column("match_method", width=16),
    Column("match_confidence", "number", 10),
    Column("transaction_ids", width=18),
    Column("payout_ids", width=16),
    Column("payout_statuses", width=14),
)
PAYOUT_COLUMNS = (
    Column("payout_id", width=16),
    Column("issued_at", "datetime", 17),
    Column("status", width=11),
    Column("transaction_type", width=12),
    Column("currency", width=9),
    Column("refunds_count", "int", 10),
    Column("refunds_matched", "int", 10),
    Column("refunds_unmatched", "int", 10),
    Column("refunds_unmatched_sum", "money", 14, currency_column="currency"),
    Column("refunds_sum", "money", 14, currency_column="currency"),
    Column("summary_refunds_gross", "money", 14, currency_column="currency"),
    Column("difference", "money", 13, currency_column="currency"),
    Column("refund_failures_count", "int", 10),
    Column("refund_failures_sum", "money", 14, currency_column="currency"),
)
# The intents' states are as at the period's end, not as now: the header says so.
PERIOD_END_STATUS = "status_at_period_end"
MONTHEND_ACTION_COLUMNS = tuple(
    replace(c, name=PERIOD_END_STATUS) if c.name == "status" else c for c in ACTION_COLUMNS
)
STORE_CREDIT_COLUMNS = (
    Column("rma", width=12),
    Column("order_name", width=14),
    Column("gift_card_amount", "money", 14, currency_column="currency"),
    Column("issued_amount", "money", 14, currency_column="currency"),
    Column("currency", width=9),
    Column("gift_card_id", width=16),
    Column("status", width=12),
)


def write_monthend_workbook(
    data: ReportData, path: Path, *, later_actions: int = 0, rows_per_sheet: int = EXCEL_ROWS
) -> Path:
    """Write the month-end workbook.

    ``data.actions`` are the intents created before the period's end, each in its state at its
    end (``month_end.build_monthend``); ``later_actions`` counts those of the period's returns
    (and of its carried-forward breaks) created since, which the Actions sheet does not list
    (the Summary says how many). A sheet longer than ``rows_per_sheet`` goes on in continuation
    sheets; the Summary sums over all.

    Raises:
        OSError: if the file cannot be written.
    """
    book = StreamingBook(rows_per_sheet=rows_per_sheet, timezone=data.timezone)
    summary = book.workbook.create_sheet("Summary")  # first tab; filled once the tables exist
    exceptions = write_exceptions_sheet(book, data)
    carried = write_carried_sheet(book, data)
    matched = book.sheet("Matched", MATCHED_COLUMNS, table="Matched")
    matched.extend(frame_rows(data, data.matches, MATCHED_COLUMNS))
    payouts = book.sheet("Payouts", PAYOUT_COLUMNS, table="Payouts")
    payouts.extend(frame_rows(data, data.payout_tieout, PAYOUT_COLUMNS))
    write_actions_sheet(book, data, _at_period_end(data.actions), MONTHEND_ACTION_COLUMNS)
    book.sheet("Store credit", STORE_CREDIT_COLUMNS, table="StoreCredit").extend(
        dict_rows(data, data.store_credit, STORE_CREDIT_COLUMNS)
    )
    tables = {
        "Exceptions": exceptions.tables,
        CARRIED_TABLE: carried.tables,
        "Matched": matched.tables,
        "Payouts": payouts.tables,
    }
    layout = write_summary(book, summary, data, summary_currencies(data), tables, later_actions)
    _add_charts(summary, layout)
    book.save(path)
    return path


def _at_period_end(actions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each intent with its state at the period's end; ``not run`` for one Shopify throttled
    and ran nothing of (``trail.not_run``: its ledger state ``unknown`` reads "may have run")."""
    return [
        {**a, PERIOD_END_STATUS: NOT_RUN_STATUS if not_run(s, a.get("reason")) else s}
        for a in actions
        for s in [a.get("status")]
    ]


def summary_currencies(data: ReportData) -> tuple[str, ...]:
    """Currencies the Summary shows a row for: open, acknowledged and carried-forward findings,
    matched refunds and payouts."""
    quiet = {a.currency for a in data.headline.acknowledged_amounts}
    carried = {f.currency for f in data.carried_forward if f.currency}
    return tuple(sorted(set(data.currencies) | quiet | carried | set(data.ledger_currencies)))


def _add_charts(summary: Any, layout: Mapping[str, tuple[int, int, int]]) -> None:
    # Right of the currency table, one empty column between.
    column = get_column_letter(layout["currencies"][2] + 2)
    first, last, width = layout["categories"]
    if last >= first:
        bar = BarChart()
        bar.title = "Open exceptions by category"
        bar.y_axis.title = "findings"
        bar.add_data(
            Reference(summary, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True
        )
        bar.set_categories(Reference(summary, min_col=1, min_row=first, max_row=last))
        bar.width, bar.height = 18, 9
        summary.add_chart(bar, f"{column}2")
    first, last, width = layout["trend"]
    if last >= first and width > 0:
        line = LineChart()
        line.title = "Value at risk by first-seen date"
        line.add_data(
            Reference(summary, min_col=2, max_col=1 + width, min_row=first - 1, max_row=last),
            titles_from_data=True,
        )
        line.set_categories(Reference(summary, min_col=1, min_row=first, max_row=last))
        line.width, line.height = 18, 9
        summary.add_chart(line, f"{column}22")


_CURRENCY = re.compile(r"^[A-Z]{3}$")
Layout = dict[str, tuple[int, int, int]]


# Formulas name a table "{t}": ``_SummaryRows.over`` writes one call per part of the sheet (a
# sheet past Excel's rows goes on in another, ``xlsx_writer.EXCEL_ROWS``) and adds them up.
# Acknowledged findings are listed in Exceptions but quiet: no open count or money at risk.
# "<>acknowledged" alone would count the blank row an empty table keeps (Excel matches blanks).
_OPEN = '{t}[key],"<>",{t}[status],"<>acknowledged"'
_ACKNOWLEDGED = '{t}[status],"acknowledged"'
_PAYOUT = '{t}[payout_id],"<>"'  # a payout row, not an empty table's blank row


def _q(text: str) -> str:
    """A string literal inside a formula (criteria are enum values and ISO codes only)."""
    return '"' + text.replace('"', '""') + '"'


# Payouts that reached no bank (Shopify's ShopifyPaymentsPayoutStatus: the bank declined it, or
# Shopify cancelled it) are no money paid: on the Payouts sheet, apart on the Summary.
UNPAID_PAYOUTS = ("FAILED", "CANCELED")
_PAID = ",".join(f"{{t}}[status],{_q('<>' + status)}" for status in UNPAID_PAYOUTS)


class _SummaryRows:
    """Builds the Summary sheet's rows in memory (a few dozen: one per currency/category/day)."""

    def __init__(self, book: StreamingBook, ws: Any, tables: Mapping[str, Sequence[str]]) -> None:
        self.book, self.ws, self.tables = book, ws, tables
        self.rows: list[list[object]] = []

    def over(self, table: str, call: str) -> str:
        """``=call+call…``: ``call`` (naming its table ``{t}``) over every part of ``table``."""
        parts = self.tables.get(table) or [table]
        return "=" + "+".join(call.replace("{t}", name) for name in parts)

    def exceptions(self, call: str) -> str:
        return self.over("Exceptions", call)

    def sum_of(self, table: str, column: str, *criteria: str, currency: str) -> object:
        """A money cell: ``SUMIFS`` of ``table[column]`` where every criterion holds."""
        call = f"SUMIFS({{t}}[{column}],{','.join(criteria)})"
        return self.money(self.over(table, call), currency)

    def header(self, *titles: str) -> None:
        self.rows.append([_bold(self.ws, t, self.book.bold) for t in titles])

    def money(self, formula: str, currency: str) -> object:
        return self.book.styled(self.ws, formula, money_format(currency))

    def add(self, *row: object) -> int:
        """Append a row; return its 1-based row number."""
        self.rows.append(list(row))
        return len(self.rows)

    def head(self, data: ReportData, later_actions: int) -> None:
        self.header("recon month-end workbook")
        self.add("Shop", data.shop)
        self.add("Period", data.period_label)
        self.add("Days (period)", data.timezone)  # the shop's days: its own midnight cuts them
        self.add("Run", data.run_id)
        as_of = data.as_of.astimezone(UTC).replace(tzinfo=None)  # Excel has no time zones
        self.add("As of (UTC)", self.book.styled(self.ws, as_of, "yyyy-mm-dd hh:mm"))
        self.add("Times in the sheets", "UTC")
        self.add()
        self.header("KPI", "Value")
        self.add("Open findings", self.exceptions(f"COUNTIFS({_OPEN})"))
        self.add(
            "Critical findings", self.exceptions(f'COUNTIFS({{t}}[severity],"critical",{_OPEN})')
        )
        self.add("Acknowledged findings", self.exceptions(f"COUNTIFS({_ACKNOWLEDGED})"))
        # The book has no "last run" to compare with: it counts the open breaks that first
        # appeared in its period (first seen on one of the shop's days in it), those carried
        # over from before it, and those recon first saw after its end (a first run, or a
        # backfill, after the month). Breaks resolved since the period's end are in it, open.
        before, within, after = _first_seen_counts(data)
        self.add("New in the period (first seen in it)", within)
        self.add("Carried over from before the period", before)
        if after:
            self.add("First seen after the period's end", after)
        # Breaks open at the close whose records had no activity in the period: in no
        # Exceptions row, still owed (a refund owed is a liability at the close).
        carried = self.over(CARRIED_TABLE, f"COUNTIFS({_OPEN})")
        self.add("Carried forward (open at the end, no activity in the period)", carried)
        # "Critical findings" above counts the Exceptions sheet: a critical break carried
        # forward (a refund paid twice in an earlier month, still open) is counted here, so
        # the book's critical figures add up to the last nightly's.
        self.add(
            "Carried forward, critical",
            self.over(CARRIED_TABLE, f'COUNTIFS({{t}}[severity],"critical",{_OPEN})'),
        )
        self.add(
            "Carried forward, acknowledged", self.over(CARRIED_TABLE, f"COUNTIFS({_ACKNOWLEDGED})")
        )
        if data.muted:  # muted findings are in no sheet: say so, as the HTML report does
            muted = ", ".join(f"{category} ({count})" for category, count in data.muted)
            self.add("Not reported (engine.muted_categories)", muted)
        if data.left_out:  # as muted: nothing leaves the book unsaid
            self.add(
                "Shopify test orders left out (engine.include_test_orders)", data.left_out_text
            )
        for label, text in data.order_flag_lines:  # figures that may hang on test orders
            self.add(label, text)
        self.add("Actions", _actions_note(later_actions))
        self.add("Payout statuses", _payout_status_note(data.payouts_read))
        self.add()

    def currencies(self, currencies: Sequence[str]) -> int:
        """The per-currency table; returns its number of columns."""
        titles = ("Currency", "Money at risk", "Open findings", "Carried forward at risk",
                  "Carried forward findings", "Carried forward acknowledged amount",
                  "Carried forward acknowledged findings", "Money at risk at the period's end",
                  "Matched refunds", "Payout refunds", "Unmatched payout refunds",
                  "Payout difference (signed net)", "Payouts not tied out", "Bounced refunds",
                  "Failed or cancelled payouts", "Refunds in failed or cancelled payouts",
                  "Acknowledged amount", "Acknowledged findings")  # fmt: skip
        self.header(*titles)
        for cur in currencies:
            at = f"{{t}}[currency],{_q(cur)}"
            risk = f"SUMIFS({{t}}[amount_at_risk],{at},{_OPEN})"
            both = self.over("Exceptions", risk) + "+" + self.over(CARRIED_TABLE, risk)[1:]
            self.add(
                cur,
                self.money(self.over("Exceptions", risk), cur),
                self.exceptions(f"COUNTIFS({at},{_OPEN})"),
                self.money(self.over(CARRIED_TABLE, risk), cur),
                self.over(CARRIED_TABLE, f"COUNTIFS({at},{_OPEN})"),
                # Carried acknowledged: quiet, out of the money at risk, but finance closing
                # the month sums them too (the KPI block only counts them).
                self.sum_of(CARRIED_TABLE, "amount_at_risk", at, _ACKNOWLEDGED, currency=cur),
                self.over(CARRIED_TABLE, f"COUNTIFS({at},{_ACKNOWLEDGED})"),
                self.money(both, cur),
                self.sum_of("Matched", "refunded_total", at, currency=cur),
                self.sum_of("Payouts", "refunds_sum", at, _PAID, currency=cur),
                self.sum_of("Payouts", "refunds_unmatched_sum", at, _PAID, currency=cur),
                self.sum_of("Payouts", "difference", at, _PAID, currency=cur),
                # +7.00 and -7.00 net to 0.00: the signed sum alone reads as tied out
                self.over("Payouts", f'COUNTIFS({at},{_PAYOUT},{_PAID},{{t}}[difference],"<>0")'),
                self.sum_of("Payouts", "refund_failures_sum", at, _PAID, currency=cur),
                self.over("Payouts", _unpaid(f"COUNTIFS({at},{_PAYOUT},{{status}})")),
                self.money(
                    self.over("Payouts", _unpaid(f"SUMIFS({{t}}[refunds_sum],{at},{{status}})")),
                    cur,
                ),
                self.sum_of("Exceptions", "amount_at_risk", at, _ACKNOWLEDGED, currency=cur),
                self.exceptions(f"COUNTIFS({at},{_ACKNOWLEDGED})"),
            )
        self.add()
        return len(titles)

    def categories(self, data: ReportData, currencies: Sequence[str]) -> tuple[int, int, int]:
        self.header("Category", "Open findings", *currencies)
        first = len(self.rows) + 1
        for total in data.by_category:
            crit = f"{{t}}[category],{_q(total.category)}"
            amounts = [
                self.sum_of(
                    "Exceptions", "amount_at_risk", crit, f"{{t}}[currency],{_q(cur)}", _OPEN,
                    currency=cur,
                )
                for cur in currencies
            ]  # fmt: skip
            self.add(total.category, self.exceptions(f"COUNTIFS({crit},{_OPEN})"), *amounts)
        block = (first, len(self.rows), 1)
        self.add()
        return block

    def trend(self, data: ReportData, currencies: Sequence[str]) -> tuple[int, int, int]:
        # The shop's days, as the Exceptions' first_seen column (its header names the zone: a
        # name with a space or "/" is written in double brackets in a structured reference).
        self.header(f"First seen ({data.timezone})", *currencies)
        first = len(self.rows) + 1
        first_seen = next(c for c in EXCEPTION_COLUMNS if c.name == "first_seen")
        for day in sorted({point.day for point in data.trend}):
            row_no = len(self.rows) + 1
            seen = f"{{t}}[[{first_seen.header(data.timezone)}]],A{row_no}"
            amounts = [
                self.sum_of(
                    "Exceptions", "amount_at_risk", seen, f"{{t}}[currency],{_q(cur)}", _OPEN,
                    currency=cur,
                )
                for cur in currencies
            ]  # fmt: skip
            self.add(self.book.styled(self.ws, day, "yyyy-mm-dd"), *amounts)
        return (first, len(self.rows), len(currencies))


def _unpaid(call: str) -> str:
    """``call`` once per status of a payout that reached no bank (``{status}``: the criterion),
    added up."""
    return "+".join(call.replace("{status}", f"{{t}}[status],{_q(s)}") for s in UNPAID_PAYOUTS)


def _actions_note(later: int) -> str:
    """What the Actions sheet lists: the ledger as it stood at the period's end."""
    note = "intents created before the period's end, each in its state at its end"
    return f"{note}; {later} intent(s) created since are not listed" if later else note


def _payout_status_note(read: tuple[datetime, datetime] | None) -> str:
    """Whose payout statuses the Payouts and Matched sheets show: the last read, not the close.

    The mirror keeps each payout's latest status, no history of it: a payout PAID at the close
    and returned by the bank since (FAILED) shows FAILED, and its refunds read unsettled. ``read``
    is the earliest and the latest of the period's payouts' last reads: the nightly re-reads
    only recent and open payouts, so an older one's status may be weeks old.
    """
    if read is None:
        return "as recon last read them from Shopify, not at the period's end"
    first, last = (f"{t.astimezone(UTC):%Y-%m-%d %H:%M}" for t in read)
    when = f"{first} UTC" if first == last else f"between {first} and {last} UTC"
    return f"as recon last read them from Shopify ({when}), not at the period's end"


def _first_seen_counts(data: ReportData) -> tuple[int, int, int]:
    """Open findings first seen before, in and after the period, in the shop's days (a finding
    with no first-seen time counts as carried over)."""
    counts = [0, 0, 0]
    for finding in data.open_findings:
        day = shop_day(finding.first_seen, data.timezone) if finding.first_seen else None
        if day is None or day < data.period_start:
            counts[0] += 1
        elif day < data.period_end:
            counts[1] += 1
        else:
            counts[2] += 1
    return counts[0], counts[1], counts[2]


def write_summary(
    book: StreamingBook,
    ws: Any,
    data: ReportData,
    currencies: Sequence[str],
    tables: Mapping[str, Sequence[str]],
    later_actions: int = 0,
) -> Layout:
    """Fill the Summary sheet; return where the chart data blocks are (first, last row, width).

    Each KPI and total is a formula over the tables (``tables``: per sheet, the table of each
    of its parts), so the workbook re-computes what it claims after anyone filters or edits the
    data sheets.
    """
    valid = [c for c in currencies if _CURRENCY.match(c)]
    summary = _SummaryRows(book, ws, tables)
    summary.head(data, later_actions)
    columns = summary.currencies(valid)
    layout: Layout = {
        "categories": summary.categories(data, valid),
        "trend": summary.trend(data, valid),
        "currencies": (0, 0, columns),
    }
    ws.column_dimensions["A"].width = 28
    for index in range(2, max(columns, 2 + len(valid)) + 1):
        ws.column_dimensions[get_column_letter(index)].width = 18
    for row in summary.rows:
        ws.append(row)
    return layout


def _bold(ws: Any, text: str, font: Any) -> object:
    cell = WriteOnlyCell(ws, text)
    cell.font = font
    return cell
