"""The month-end book built before the first nightly run after the ``Order.test`` upgrade.

The mirror holds three USD returns closed in October and never refunded (a MISSING_REFUND
each, RMAs 1002-1004): order 5002 was mirrored before recon read the test flag (unknown), 5003
is a live order read since, and 5004 is unknown and Shopify answered null for it by id
(deleted). Finance must
see every break (the unknown ones may be live: leaving them out would hide real money) and be
told which figures hang on orders whose test flag is not known.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from recon.clock import VirtualClock
from recon.config import Settings
from recon.month_end import build_monthend
from recon.store.sql import SqlStore
from tests.fakes import make_order, make_return

OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
NOW = datetime(2026, 11, 4, tzinfo=UTC)


@pytest.fixture
def mirror(tmp_path: Path) -> Any:
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    # Shopify answered null for 5004 on Oct 25, before October's close.
    clock = VirtualClock(datetime(2026, 10, 25, tzinfo=UTC))
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    at = datetime(2026, 10, 20, tzinfo=UTC)
    store.upsert_returns([make_return(i, at) for i in (2, 3, 4)])
    orders = [make_order(i, at) for i in (2, 3, 4)]
    unknown = {"5002", "5004"}
    store.upsert_orders(
        [o.model_copy(update={"test": None}) if o.id in unknown else o for o in orders]
    )
    store.mark_orders_not_visible(["5004"])
    yield settings, store
    store.close()


def _summary(path: Path) -> dict[str, Any]:
    sheet = load_workbook(path)["Summary"]
    return {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}


def _exceptions(path: Path) -> list[dict[str, Any]]:
    sheet = load_workbook(path)["Exceptions"]
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]


def _open_on(rows: list[dict[str, Any]], rma: str) -> int:
    return sum(1 for r in rows if str(r["rma"]) == rma and r["status"] in ("new", "open"))


def test_orders_whose_flag_is_unknown_are_counted_live_and_said_so(
    mirror: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings, store = mirror
    with caplog.at_level(logging.WARNING):
        path = build_monthend(settings, store, NOW, *OCTOBER)
    rows = _exceptions(path)
    missing = {str(r["rma"]) for r in rows if r["category"] == "MISSING_REFUND"}
    assert missing == {"1002", "1003", "1004"}  # none hidden: they may be live orders
    summary = _summary(path)
    unknown = summary["Orders whose Shopify test flag is not known yet"]
    assert unknown.startswith(f"1 ({_open_on(rows, '1002')} open finding(s) on them)")
    assert "may be on test orders" in unknown
    gone = summary["Orders not visible in Shopify"]
    assert gone.startswith(f"1 (5004; {_open_on(rows, '1004')} open finding(s) on them)")
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "test flag is not known yet: 1" in logged and "not visible in Shopify: 1" in logged


def test_a_book_with_every_flag_known_says_nothing_of_it(mirror: Any) -> None:
    settings, store = mirror
    store.upsert_orders([make_order(i, datetime(2026, 10, 20, tzinfo=UTC)) for i in (2, 4)])
    summary = _summary(build_monthend(settings, store, NOW, *OCTOBER))
    assert "Orders whose Shopify test flag is not known yet" not in summary
    assert "Orders not visible in Shopify" not in summary


def test_an_order_gone_from_shopify_after_the_close_is_not_said_gone_in_that_book(
    tmp_path: Path,
) -> None:
    """5002 (flag unknown) was visible at October's close; Shopify answered null for it on
    Nov 15. October's book rebuilt on Dec 1 listed it as not visible in Shopify, where the book
    built at the close counted it with the orders whose flag is not known yet: it reads as
    then."""
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    clock = VirtualClock(datetime(2026, 11, 15, tzinfo=UTC))
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    at = datetime(2026, 10, 20, tzinfo=UTC)
    store.upsert_returns([make_return(2, at)])
    store.upsert_orders([make_order(2, at).model_copy(update={"test": None})])
    store.mark_orders_not_visible(["5002"])
    try:
        october = _summary(build_monthend(settings, store, datetime(2026, 12, 1, tzinfo=UTC),
                                          *OCTOBER))  # fmt: skip
    finally:
        store.close()
    assert "Orders not visible in Shopify" not in october
    assert october["Orders whose Shopify test flag is not known yet"].startswith("1 (")
