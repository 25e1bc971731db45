"""The month-end deliverables: the store-credit sheet's status, the workbook's name and period."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from recon.config import EngineSettings, Settings, ShopSettings
from recon.deliverables import monthend_path, store_credit_rows
from recon.engine import build_frames, reconcile
from recon.models import Category, GiftCardRecord, LoopReturnRecord
from recon.store.snapshot import Snapshot

AS_OF = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
TOL = Decimal("0.01")


def credit_return(rma: str, state: str = "closed", owed: str = "50.00") -> LoopReturnRecord:
    return LoopReturnRecord(
        id=rma,
        state=state,
        outcome="credit",
        created_at=AS_OF,
        updated_at=AS_OF,
        provider_order_id="5001",
        order_name="#1001",
        currency="USD",
        total=Decimal(owed),
        refund=Decimal(0),
        gift_card=Decimal(owed),
    )


def card(gid: str, note: str, value: str, currency: str = "USD") -> GiftCardRecord:
    return GiftCardRecord(
        id=gid, created_at=AS_OF, note=note, initial_value=Decimal(value), currency=currency
    )


# (return state, cards) → (status, issued_amount): the MISSING_STORE_CREDIT rule's verdict.
STATUS_CASES = {
    "closed, card for the full amount": ("closed", [card("g1", "Loop RMA 123456", "50.00")]),
    "closed, two cards add up": (
        "closed",
        [card("g1", "RMA 123456 part 1", "30.00"), card("g2", "RMA 123456 (2)", "20.00")],
    ),
    "closed, a card 45.00 short": ("closed", [card("g1", "Loop RMA 123456", "5.00")]),
    "closed, short by the tolerance only": ("closed", [card("g1", "RMA 123456", "49.99")]),
    "closed, no card": ("closed", []),
    "closed, a card naming a longer number": ("closed", [card("g1", "RMA 1234567", "50.00")]),
    "closed, a card in another currency": ("closed", [card("g1", "RMA 123456", "5", "EUR")]),
    # typed with an IME (fullwidth) or in Arabic-Indic digits: the rule reads them as ASCII
    "closed, a card naming it in fullwidth digits": (
        "closed",
        [card("g1", "Loop RMA \uff11\uff12\uff13\uff14\uff15\uff16", "50.00")],
    ),
    "closed, a card naming it in Arabic-Indic digits": (
        "closed",
        [card("g1", "RMA \u0661\u0662\u0663\u0664\u0665\u0666", "20.00")],
    ),
    "open": ("open", []),
    "cancelled": ("cancelled", []),
}
EXPECTED = {
    "closed, card for the full amount": ("issued", "50.00", "g1"),
    "closed, two cards add up": ("issued", "50.00", "g1, g2"),
    "closed, a card 45.00 short": ("short", "5.00", "g1"),
    "closed, short by the tolerance only": ("issued", "49.99", "g1"),
    "closed, no card": ("missing", "0.00", ""),
    "closed, a card naming a longer number": ("missing", "0.00", ""),
    "closed, a card in another currency": ("issued", "0.00", "g1"),
    "closed, a card naming it in fullwidth digits": ("issued", "50.00", "g1"),
    "closed, a card naming it in Arabic-Indic digits": ("short", "20.00", "g1"),
    "open": ("due", "0.00", ""),
    "cancelled": ("not due", "0.00", ""),
}


@pytest.mark.parametrize("case", list(STATUS_CASES))
def test_store_credit_status_follows_the_missing_store_credit_rule(case: str) -> None:
    state, cards = STATUS_CASES[case]
    snapshot = Snapshot(returns=(credit_return("123456", state),), gift_cards=tuple(cards))
    (row,) = store_credit_rows(snapshot, TOL)
    status, issued, ids = EXPECTED[case]
    assert (row["status"], row["issued_amount"], row["gift_card_id"]) == (
        status,
        Decimal(issued),
        ids,
    )


@pytest.mark.parametrize("case", list(STATUS_CASES))
def test_the_store_credit_sheet_agrees_with_the_findings(case: str) -> None:
    """The month-end Store credit sheet says ``missing`` or ``short`` exactly when the engine
    raises MISSING_STORE_CREDIT for the same records (a card naming the RMA in fullwidth
    digits read as missing, though the findings had none)."""
    state, cards = STATUS_CASES[case]
    snapshot = Snapshot(returns=(credit_return("123456", state),), gift_cards=tuple(cards))
    (row,) = store_credit_rows(snapshot, TOL)
    frames = build_frames(snapshot.returns, (), (), (), (), snapshot.gift_cards)
    result = reconcile(frames, EngineSettings(amount_tolerance=TOL), AS_OF)
    raised = {f.category for f in result.findings} & {Category.MISSING_STORE_CREDIT}
    assert (row["status"] in ("missing", "short")) == bool(raised)


def test_returns_without_store_credit_have_no_row() -> None:
    refund_only = credit_return("123456", owed="0.00")
    assert store_credit_rows(Snapshot(returns=(refund_only,)), TOL) == []


@pytest.mark.parametrize(
    ("start", "end", "name"),
    [
        (date(2026, 10, 1), date(2026, 11, 1), "2026-10.xlsx"),
        (date(2026, 2, 1), date(2026, 3, 1), "2026-02.xlsx"),
        (date(2026, 12, 1), date(2027, 1, 1), "2026-12.xlsx"),
        # a partial month never takes (and overwrites) the month's own workbook
        (date(2026, 10, 1), date(2026, 10, 29), "2026-10-01_2026-10-29.xlsx"),
        (date(2026, 2, 1), date(2026, 3, 4), "2026-02-01_2026-03-04.xlsx"),
        (date(2026, 10, 2), date(2026, 11, 1), "2026-10-02_2026-11-01.xlsx"),
    ],
)
def test_month_end_workbook_name(start: date, end: date, name: str, tmp_path: Path) -> None:
    settings = Settings()
    settings.reports.dir = tmp_path
    assert monthend_path(settings, start, end).name == name


def test_month_end_period_is_cut_at_the_shops_midnight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """October for a Los Angeles shop is Oct 1 07:00 UTC to Nov 1 07:00 UTC (PDT, UTC-7)."""
    from recon.month_end import build_monthend
    from recon.store.sql import SqlStore

    settings = Settings(shop=ShopSettings(timezone="America/Los_Angeles"))
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    asked: list[tuple[datetime | None, datetime | None]] = []
    real = store.load_snapshot

    def spy(start: datetime | None = None, end: datetime | None = None) -> Snapshot:
        asked.append((start, end))
        return real(start, end)

    monkeypatch.setattr(store, "load_snapshot", spy)
    try:
        path = build_monthend(settings, store, AS_OF, date(2026, 10, 1), date(2026, 11, 1))
    finally:
        store.close()
    assert asked == [(datetime(2026, 10, 1, 7, tzinfo=UTC), datetime(2026, 11, 1, 7, tzinfo=UTC))]
    assert path.name == "2026-10.xlsx" and path.exists()


def test_an_unknown_time_zone_is_refused_naming_the_key() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ShopSettings(timezone="Mars/Olympus")


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (date(2026, 10, 1), date(2026, 11, 1), "2026-10-01 – 2026-10-31"),
        (date(2026, 10, 31), date(2026, 11, 1), "2026-10-31"),  # a nightly run's day
    ],
)
def test_reports_show_the_period_with_its_last_day(
    start: date, end: date, label: str, tmp_path: Path
) -> None:
    """The period is [start, end); the workbook and the HTML report show its last day, not end."""
    from openpyxl import load_workbook
    from report_samples import make_data

    from recon.reporting.html import render_report
    from recon.reporting.monthend import write_monthend_workbook

    data = make_data(period_start=start, period_end=end)
    assert data.period_label == label
    assert f"period {label} (days in UTC)</div>" in render_report(data)
    summary = load_workbook(write_monthend_workbook(data, tmp_path / "m.xlsx"))["Summary"]
    periods = [row[1] for row in summary.iter_rows(values_only=True) if row[0] == "Period"]
    assert periods == [label]


def test_a_break_resolved_after_the_month_is_in_that_months_exceptions(tmp_path: Path) -> None:
    """Open on Oct 31, fixed on Nov 3: October's workbook lists it, not resolved: new in the
    month (first seen Oct 20)."""

    from recon.models import Category, Finding, FindingStatus, Owner, Severity
    from recon.month_end import build_monthend
    from recon.store.sql import SqlStore

    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    owed = LoopReturnRecord(
        id="123456",
        state="closed",
        outcome="refund",
        created_at=datetime(2026, 10, 20, tzinfo=UTC),
        updated_at=datetime(2026, 10, 21, tzinfo=UTC),
        provider_order_id="5001",
        order_name="#1001",
        currency="USD",
        total=Decimal("50.00"),
        refund=Decimal("50.00"),
        gift_card=Decimal(0),
    )
    key = "MISSING_REFUND|rma=123456"
    resolved = Finding(
        key=key,
        category=Category.MISSING_REFUND,
        severity=Severity.HIGH,
        owner=Owner.FINANCE,
        status=FindingStatus.RESOLVED,
        first_seen=datetime(2026, 10, 20, 2, tzinfo=UTC),
        last_seen=datetime(2026, 11, 2, 2, tzinfo=UTC),
        resolved_at=datetime(2026, 11, 3, 2, tzinfo=UTC),
    )
    try:
        store.upsert_returns([owed])
        store.save_findings([resolved])
        now = datetime(2026, 11, 5, tzinfo=UTC)
        path = build_monthend(settings, store, now, date(2026, 10, 1), date(2026, 11, 1))
    finally:
        store.close()
    (row,) = [r for r in _exception_rows(path) if r["key"] == key]
    assert row["status"] == "new" and str(row["first_seen (UTC)"]).startswith("2026-10-20")


def test_a_refund_paid_after_the_month_leaves_the_break_open_in_that_month(
    tmp_path: Path,
) -> None:
    """Return 1001 closed on Oct 20; its refund was paid on Nov 3 and is in the mirror. At the
    close of October it was owed: October's workbook lists its MISSING_REFUND, unresolved, and the
    refund is not in October's figures. November's counts the refund."""

    from recon.month_end import build_monthend

    settings, store, _, _ = _closed_in_october_refunded_in_november(tmp_path)
    now = datetime(2026, 12, 5, tzinfo=UTC)

    def missing_refunds(month: date, end: date) -> list[dict[str, object]]:
        rows = _exception_rows(build_monthend(settings, store, now, month, end))
        return [r for r in rows if r["category"] == "MISSING_REFUND" and r["rma"] == "1001"]

    try:
        october = missing_refunds(date(2026, 10, 1), date(2026, 11, 1))
        november = missing_refunds(date(2026, 11, 1), date(2026, 12, 1))
    finally:
        store.close()
    # No nightly run recorded it: the book first sees it, at the period's end (not in it).
    assert [r["status"] for r in october] == ["open"]
    assert november == []


@pytest.mark.parametrize("by_recon", [False, True])
def test_a_refund_restocking_after_the_month_leaves_the_unit_unrestocked_in_that_month(
    tmp_path: Path, by_recon: bool
) -> None:
    """Return 1001 closed on Oct 20; on Nov 3 a refund paid it and put its unit L1 back
    (RETURN), written by CX or by recon's own intent. At the close of October neither had
    happened: October's workbook lists the unit's MISSING_RESTOCK beside the MISSING_REFUND,
    whoever wrote the refund (recon's ledger must not restock it in October either)."""

    from recon.month_end import build_monthend
    from recon.remediation.ledger import ActionRow

    settings, store, closed, refund = _closed_in_october_refunded_in_november(tmp_path)
    paid_on = refund.processed_at
    refund_gid = f"gid://shopify/Refund/{refund.id}"
    line = {"line_item_id": "50011", "restock_type": "RETURN", "units": ["L1"], "quantity": 1}
    try:
        if by_recon:
            with store.session() as session:
                session.add(
                    ActionRow(
                        key="k-1001",
                        shop=settings.shop.slug,
                        rma="1001",
                        kind="refund",
                        subject="",
                        n=1,
                        category="MISSING_REFUND",
                        finding_key="MISSING_REFUND|rma=1001",
                        order_id="50001",
                        amount=str(closed.refund),
                        currency="USD",
                        state="done",
                        details={"lines": [line]},
                        result_id=refund_gid,
                        response={"refund": {"id": refund_gid}},
                        created_at=paid_on,
                        updated_at=paid_on,
                    )
                )
        path = build_monthend(
            settings, store, datetime(2026, 12, 5, tzinfo=UTC), date(2026, 10, 1), date(2026, 11, 1)
        )
    finally:
        store.close()
    assert {r["category"] for r in _exception_rows(path) if r["rma"] == "1001"} == {
        "MISSING_REFUND",
        "MISSING_RESTOCK",
    }


def test_a_payout_issued_in_the_month_ties_out_with_its_refunds_from_the_month_before(
    tmp_path: Path,
) -> None:
    """Payout P1, issued Oct 1 06:00, carries a refund of Sep 28 (-40.00); its summary says
    refunds -40.00. October's Payouts sheet ties it out as Shopify's payout report does: one
    refund row, -40.00, difference 0.00 (not 0 rows and a +40.00 difference)."""
    from datetime import timedelta

    from openpyxl import load_workbook

    from recon.models import PayoutRecord
    from recon.month_end import build_monthend
    from recon.store.sql import SqlStore
    from tests.fakes import balance_for, make_order, make_refund

    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    refunded_on = datetime(2026, 9, 28, 10, tzinfo=UTC)
    refund = make_refund(1, refunded_on, Decimal("40.00"), note="customer service")
    payout = PayoutRecord(
        id="P1",
        issued_at=datetime(2026, 10, 1, 6, tzinfo=UTC),
        status="PAID",
        currency="USD",
        net=Decimal("-40.00"),
        refunds_gross=Decimal("-40.00"),
    )
    try:
        store.upsert_orders([make_order(1, refunded_on + timedelta(hours=1), (refund.id,))])
        store.upsert_refunds([refund])
        store.upsert_balance_transactions([balance_for(1, refund, "P1")])
        store.upsert_payouts([payout])
        path = build_monthend(settings, store, AS_OF, date(2026, 10, 1), date(2026, 11, 1))
    finally:
        store.close()
    sheet = load_workbook(path)["Payouts"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    (row,) = [r for r in rows if r["payout_id"] == "P1"]
    assert (row["refunds_count"], row["refunds_sum"], row["difference"]) == (1, -40, 0)


def test_store_credit_issued_before_the_month_for_a_return_closed_in_it_is_issued(
    tmp_path: Path,
) -> None:
    """Return 123456 was opened on Sep 25 and credited on Sep 28 (card g1); Loop closed it on
    Oct 2. October's workbook shows its credit issued, with no MISSING_STORE_CREDIT."""
    from openpyxl import load_workbook

    from recon.month_end import build_monthend
    from recon.store.sql import SqlStore

    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    credited = credit_return("123456").model_copy(
        update={
            "created_at": datetime(2026, 9, 25, tzinfo=UTC),
            "updated_at": datetime(2026, 10, 2, tzinfo=UTC),
        }
    )
    issued = card("g1", "Loop RMA 123456", "50.00").model_copy(
        update={"created_at": datetime(2026, 9, 28, tzinfo=UTC)}
    )
    try:
        store.upsert_returns([credited])
        store.upsert_gift_cards([issued])
        path = build_monthend(settings, store, AS_OF, date(2026, 10, 1), date(2026, 11, 1))
    finally:
        store.close()
    book = load_workbook(path)
    credit = [r for r in book["Store credit"].iter_rows(min_row=2, values_only=True) if r[0]]
    categories = [r[0] for r in book["Exceptions"].iter_rows(min_row=2, values_only=True)]
    assert [(r[0], r[6]) for r in credit] == [("123456", "issued")]
    assert "MISSING_STORE_CREDIT" not in categories


def _exception_rows(path: Path) -> list[dict[str, object]]:
    """The month-end workbook's Exceptions sheet as one dict per row."""
    from openpyxl import load_workbook

    sheet = load_workbook(path)["Exceptions"]
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]


def _closed_in_october_refunded_in_november(
    tmp_path: Path,
) -> tuple[Settings, Any, LoopReturnRecord, Any]:
    """A mirror holding return 1001 (closed Oct 20) and its refund, paid Nov 3 15:00 UTC."""
    from datetime import timedelta

    from recon.store.sql import SqlStore
    from tests.fakes import make_order, make_refund, make_return

    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    paid_on = datetime(2026, 11, 3, 15, tzinfo=UTC)
    closed = make_return(1, datetime(2026, 10, 20, tzinfo=UTC))
    refund = make_refund(1, paid_on, closed.refund, note="Loop RMA #1001")
    store.upsert_returns([closed])
    store.upsert_orders([make_order(1, paid_on + timedelta(hours=1), (refund.id,))])
    store.upsert_refunds([refund])
    return settings, store, closed, refund
