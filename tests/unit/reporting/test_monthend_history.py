"""Month-end books rebuilt after the close read from the findings' history, not their state now.

Dataset: ``history_shop``, run night by night through ``run_nightly``. Return 1002 (12.02 USD
owed) was refunded 10.00 on Sep 19: the Sep 20 night sees its ``AMOUNT_MISMATCH``. A pending
second refund of 2.02 (Oct 4) settles it on Oct 5; it fails, and on Oct 25 the mismatch is back
(a new episode, first seen Oct 25). Return 1003 (13.03 owed, closed Oct 20) is first seen on
Oct 21 (``MISSING_REFUND``), acknowledged by bob on Oct 22, and on Nov 3 Loop's change of what
it is owed (15.00) reopens it. Both books are built on Nov 4.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
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

SEPTEMBER = (date(2026, 9, 1), date(2026, 10, 1))
OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))


def _october_nights(shop: HistoryShop, *, upgrade_at: Any = None) -> None:
    """The nights and the acknowledgement the module docstring describes, up to Nov 3;
    ``upgrade_at``: the store is upgraded to the history then (it had none before)."""
    shop.night(day(9, 20, 2))
    shop.refund_the_rest_of_1002(day(10, 4), "PENDING", seen=day(10, 4))
    shop.night(day(10, 5, 2))
    shop.night(day(10, 21, 2))
    shop.ack(MISSING, "cli:bob", "refunding by hand", day(10, 22))
    if upgrade_at is not None:
        upgrade_to_the_history(shop.store, upgrade_at)
    shop.refund_the_rest_of_1002(day(10, 4), "FAILURE", seen=day(10, 24))
    shop.night(day(10, 25, 2))
    shop.loop_changes_1003(day(11, 2), owed="15.00")
    shop.night(day(11, 3, 2))


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[HistoryShop]:
    shop = HistoryShop(f"sqlite:///{tmp_path / 'recon.db'}", tmp_path)
    yield shop
    shop.close()


def _book(shop: HistoryShop, period: tuple[date, date]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The book built on Nov 4: its Exceptions rows by key, and its Summary's figures."""
    path = build_monthend(shop.settings, shop.store, day(11, 4), *period)
    rows = {r["key"]: r for r in sheet_rows(path, "Exceptions")}
    book = load_workbook(path)
    summary, tables = book["Summary"], table_columns(book)
    figures: dict[str, Any] = {
        str(row[0]): row[1] for row in summary.iter_rows(values_only=True) if row and row[0]
    }
    for (label, column), formula in summary_formulas(summary).items():
        if column == "Value":
            figures[label] = evaluate(summary, formula, tables)
    return rows, figures


def test_septembers_book_shows_the_first_episode_of_a_finding_fixed_and_back(
    shop: HistoryShop,
) -> None:
    """At September's close 1002's mismatch was open, first seen Sep 20: new in September.
    The findings keep only its second episode (first seen Oct 25), so the book said it was
    first seen after the month, and counted nothing new in it."""
    _october_nights(shop)
    rows, summary = _book(shop, SEPTEMBER)
    mismatch = rows[MISMATCH]
    assert (mismatch["status"], mismatch["first_seen (UTC)"].date()) == ("new", date(2026, 9, 20))
    assert summary["New in the period (first seen in it)"] == 1
    # 1002's first refund, unpaid out since Sep 19, was first recorded on Oct 5: after the month.
    unsettled = rows["UNSETTLED_REFUND|transaction=9002"]
    assert (unsettled["status"], unsettled["first_seen (UTC)"].date()) == (
        "open",
        date(2026, 10, 5),
    )
    assert summary["First seen after the period's end"] == 1
    assert summary["Open findings"] == len(
        [r for r in rows.values() if r["status"] in ("new", "open")]
    )


def test_octobers_book_shows_a_finding_acknowledged_at_the_close_and_reopened_since(
    shop: HistoryShop,
) -> None:
    """1003 was acknowledged by bob on Oct 22, at October's close; reopening it on Nov 3
    cleared the acknowledgement, so the book rebuilt on Nov 4 showed it new and counted it
    open. It is acknowledged, by bob and why, and counted apart."""
    _october_nights(shop)
    rows, summary = _book(shop, OCTOBER)
    missing = rows[MISSING]
    assert missing["status"] == "acknowledged"
    assert "cli:bob" in missing["next_step"] and "refunding by hand" in missing["next_step"]
    assert summary["Acknowledged findings"] == 1
    assert summary["Open findings"] == len(
        [r for r in rows.values() if r["status"] != "acknowledged"]
    )


def test_a_store_upgraded_during_the_month_reads_its_state_at_the_upgrade(
    shop: HistoryShop,
) -> None:
    """The store got the history on Oct 23, after bob's acknowledgement: the history begins
    with each finding's state then, so October's book shows 1003 acknowledged."""
    _october_nights(shop, upgrade_at=day(10, 23))
    october, _ = _book(shop, OCTOBER)
    assert october[MISSING]["status"] == "acknowledged"
    assert "cli:bob" in october[MISSING]["next_step"]


def test_a_period_ended_before_the_upgrade_reads_the_state_the_upgrade_recorded(
    shop: HistoryShop,
) -> None:
    """September ended before the history began (Oct 23). At the upgrade 1002's mismatch was
    resolved, its episode first seen Sep 20, and the upgrade event says so; the book read the
    finding as stored now instead (its second episode, first seen Oct 25), so September's
    book rebuilt on Nov 4 said it was first seen after the month and nothing was new in it,
    where the book built at the close said new on Sep 20."""
    _october_nights(shop, upgrade_at=day(10, 23))
    september, summary = _book(shop, SEPTEMBER)
    mismatch = september[MISMATCH]
    assert (mismatch["status"], mismatch["first_seen (UTC)"].date()) == ("new", date(2026, 9, 20))
    assert summary["New in the period (first seen in it)"] == 1


def test_an_acknowledgement_standing_at_the_upgrade_holds_for_a_period_before_it(
    shop: HistoryShop,
) -> None:
    """bob acknowledged 1003 on Oct 22; the store got the history on Oct 24 (its upgrade event
    says acknowledged by bob), and Loop's change reopened it on Nov 3. A book for Oct 1..Oct 23
    (ended before the upgrade) rebuilt on Nov 4 read the finding as stored now, open with no
    acknowledgement, where the book built on Oct 23 showed it acknowledged by bob."""
    _october_nights(shop, upgrade_at=day(10, 24))
    rows, summary = _book(shop, (date(2026, 10, 1), date(2026, 10, 23)))
    assert rows[MISSING]["status"] == "acknowledged"
    assert "cli:bob" in rows[MISSING]["next_step"]
    assert summary["Acknowledged findings"] == 1
