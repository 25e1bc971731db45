"""Breaks still open at a period's close whose records had no activity in it: the book's
"Carried forward" sheet, read from the findings' history.

Dataset: ``history_shop``, run night by night. Return 1002 (12.02 USD owed, closed Sep 18) was
refunded 10.00 on Sep 19 and nothing since: its ``AMOUNT_MISMATCH`` (2.02) is first seen on the
Sep 20 night, its refund's ``UNSETTLED_REFUND`` (10.00) on the Oct 5 night (a time limit, no
record changed). Return 1003 (13.03 owed) closed on Oct 20: October's own records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from formula_check import evaluate, table_columns
from openpyxl import load_workbook
from report_samples import sheet_rows
from test_workbook import summary_formulas

from recon.month_end import build_monthend
from tests.unit.store.history_shop import (
    MISMATCH,
    MISSING,
    HistoryShop,
    day,
    upgrade_to_the_history,
)

OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
UNSETTLED = "UNSETTLED_REFUND|transaction=9002"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[HistoryShop]:
    shop = HistoryShop(f"sqlite:///{tmp_path / 'recon.db'}", tmp_path)
    yield shop
    shop.close()


def _nights(shop: HistoryShop) -> None:
    for at in (day(9, 20, 2), day(10, 5, 2), day(10, 21, 2)):
        shop.night(at)


def _book(shop: HistoryShop, period: tuple[date, date] = OCTOBER) -> tuple[Path, dict[Any, Any]]:
    """The book built on Nov 4, and its Summary's figures: (label, column) → value."""
    path = build_monthend(shop.settings, shop.store, day(11, 4), *period)
    book = load_workbook(path)
    summary, tables = book["Summary"], table_columns(book)
    figures = {
        key: evaluate(summary, formula, tables)
        for key, formula in summary_formulas(summary).items()
    }
    return path, figures


def test_octobers_book_lists_the_breaks_open_at_its_close_with_no_activity_in_it(
    shop: HistoryShop,
) -> None:
    """At October's close 1002's mismatch (2.02, open since Sep 20) and its unsettled refund
    (10.00, first seen Oct 5) were open: the Oct 31 nightly counted 25.05 USD at risk with
    1003's 13.03. The book read October's records only and left both out: its money at risk
    was 13.03 + 13.03 (1003's refund and restock), below the nightly's."""
    _nights(shop)
    shop.night(day(11, 3, 2))  # nothing changed: both still open now
    path, figures = _book(shop)
    carried = {r["key"]: r for r in sheet_rows(path, "Carried forward")}
    assert set(carried) == {MISMATCH, UNSETTLED}
    mismatch, unsettled = carried[MISMATCH], carried[UNSETTLED]
    assert (mismatch["status"], mismatch["first_seen (UTC)"].date()) == ("open", date(2026, 9, 20))
    assert (mismatch["amount_at_risk"], mismatch["currency"]) == (2.02, "USD")
    assert mismatch["rma"] == "1002" and mismatch["category"] == "AMOUNT_MISMATCH"
    assert (unsettled["status"], unsettled["first_seen (UTC)"].date()) == ("new", date(2026, 10, 5))
    # The month's own Exceptions stay its own records' findings.
    exceptions = {r["key"] for r in sheet_rows(path, "Exceptions")}
    assert MISSING in exceptions and not exceptions & set(carried)
    assert figures[("Carried forward (open at the end, no activity in the period)", "Value")] == 2
    assert figures[("USD", "Carried forward findings")] == 2
    assert figures[("USD", "Carried forward at risk")] == Decimal("12.02")
    at_end = figures[("USD", "Money at risk at the period's end")]
    assert at_end == figures[("USD", "Money at risk")] + Decimal("12.02") == Decimal("38.08")


def test_a_break_acknowledged_by_the_close_is_carried_acknowledged_not_at_risk(
    shop: HistoryShop,
) -> None:
    """bob acknowledged 1002's mismatch on Oct 10: the book carries it acknowledged, with who
    and why, and counts it apart from the money at risk."""
    _nights(shop)
    shop.ack(MISMATCH, "cli:bob", "customer keeps the 2.02", day(10, 10))
    path, figures = _book(shop)
    carried = {r["key"]: r for r in sheet_rows(path, "Carried forward")}
    assert carried[MISMATCH]["status"] == "acknowledged"
    assert "cli:bob" in carried[MISMATCH]["next_step"]
    assert figures[("Carried forward, acknowledged", "Value")] == 1
    assert figures[("USD", "Carried forward findings")] == 1
    assert figures[("USD", "Carried forward at risk")] == Decimal("10.00")


def test_the_carried_acknowledged_breaks_are_summed_per_currency_not_only_counted(
    shop: HistoryShop,
) -> None:
    """The Summary counted the carried breaks acknowledged by the close ("Carried forward,
    acknowledged": 1) but summed them nowhere: finance, closing the month, could not say what
    the acknowledged 2.02 USD was worth without opening the sheet. Per currency, beside the
    carried open ones: their amount and count, which the money at risk still leaves out."""
    _nights(shop)
    shop.ack(MISMATCH, "cli:bob", "customer keeps the 2.02", day(10, 10))
    _, figures = _book(shop)
    assert figures[("Carried forward, acknowledged", "Value")] == 1
    assert figures[("USD", "Carried forward acknowledged amount")] == Decimal("2.02")
    assert figures[("USD", "Carried forward acknowledged findings")] == 1
    assert figures[("USD", "Carried forward at risk")] == Decimal("10.00")  # not in it


def test_a_break_fixed_before_the_close_is_not_carried_one_fixed_since_is(
    shop: HistoryShop,
) -> None:
    """1002's rest (2.02) was refunded on Sep 25: the mismatch was resolved before October and
    is not carried. Its unsettled refund, paid out... never: open at the close, carried though
    acknowledged on Nov 2 (after the close)."""
    shop.night(day(9, 20, 2))
    shop.refund_the_rest_of_1002(day(9, 25), "SUCCESS", seen=day(9, 25))
    shop.night(day(9, 26, 2))
    for at in (day(10, 5, 2), day(10, 21, 2)):
        shop.night(at)
    assert MISMATCH not in {f.key for f in shop.night(day(10, 22, 2)).open_findings}
    shop.ack(UNSETTLED, "cli:bob", "later", day(11, 2))
    path, _ = _book(shop)
    carried = {r["key"]: r for r in sheet_rows(path, "Carried forward")}
    assert MISMATCH not in carried
    assert carried[UNSETTLED]["status"] == "new"


def test_a_store_upgraded_to_the_history_after_the_close_reads_the_upgrades_state(
    shop: HistoryShop,
) -> None:
    """The store got the history on Nov 2: its events begin then, with each finding's state.
    1002's mismatch, open since Sep 20 at the upgrade, was open at October's close; its
    unsettled refund too. One resolved before the close in the same episode is not carried."""
    shop.night(day(9, 20, 2))
    shop.refund_the_rest_of_1002(day(9, 25), "SUCCESS", seen=day(9, 25))
    for at in (day(9, 26, 2), day(10, 5, 2), day(10, 21, 2)):
        shop.night(at)
    upgrade_to_the_history(shop.store, day(11, 2))
    path, _ = _book(shop)
    carried = {r["key"]: r for r in sheet_rows(path, "Carried forward")}
    assert MISMATCH not in carried  # resolved on Sep 26, as the upgrade recorded
    assert (carried[UNSETTLED]["status"], carried[UNSETTLED]["amount_at_risk"]) == ("new", 10)
