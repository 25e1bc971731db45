"""The month-end book is read from the mirror as of one moment: a backfill (or a nightly run)
committing while the book reads never makes its sheets disagree with each other.

The mirror holds, in USD, for October:

- return 1001, closed Oct 3, refunded Oct 4, paid out in payout P1 (issued Oct 6);
- return 1002, closed Oct 10, and payout P2 (issued Oct 13) carrying the balance transaction
  of 1002's refund, read by the payouts sync; the refund and its order's refund list are not
  mirrored yet (the orders sync of that night failed).

While the book reads, a backfill over October commits 1002's refund (Oct 11) and its order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from report_samples import sheet_rows
from sqlalchemy import delete, event

from recon.config import Settings
from recon.models import PayoutRecord, RefundRecord
from recon.month_end import build_monthend
from recon.store import tables as tbl
from recon.store.sql import SqlStore
from tests.fakes import balance_for, make_order, make_refund, make_return

NOW = datetime(2026, 11, 4, tzinfo=UTC)
OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
CLOSED = {1: datetime(2026, 10, 3, tzinfo=UTC), 2: datetime(2026, 10, 10, tzinfo=UTC)}
REFUNDED = {1: datetime(2026, 10, 4, tzinfo=UTC), 2: datetime(2026, 10, 11, tzinfo=UTC)}


def _refund(i: int) -> RefundRecord:
    return make_refund(i, REFUNDED[i], make_return(i, CLOSED[i]).refund)


def _payout(payout_id: str, issued_at: datetime, refund: RefundRecord) -> PayoutRecord:
    return PayoutRecord(
        id=payout_id,
        issued_at=issued_at,
        status="PAID",
        currency="USD",
        net=-refund.total,
        refunds_gross=-refund.total,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'recon.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def mirror(url: str, tmp_path: Path) -> Iterator[tuple[Settings, SqlStore, SqlStore]]:
    """The mirror the module docstring describes; the book's store and the backfill's."""
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    book, backfill = SqlStore(url), SqlStore(url)
    book.upsert_returns([make_return(i, at) for i, at in CLOSED.items()])
    book.upsert_orders([make_order(1, REFUNDED[1], ("7001",)), make_order(2, CLOSED[2])])
    book.upsert_refunds([_refund(1)])
    book.upsert_balance_transactions([balance_for(i, _refund(i), f"P{i}") for i in (1, 2)])
    book.upsert_payouts(
        [
            _payout("P1", datetime(2026, 10, 6, tzinfo=UTC), _refund(1)),
            _payout("P2", datetime(2026, 10, 13, tzinfo=UTC), _refund(2)),
        ]
    )
    yield settings, book, backfill
    book.close()
    backfill.close()


def _backfill_lands_1002s_refund(store: SqlStore) -> None:
    with store.session() as session:
        store.upsert_orders([make_order(2, REFUNDED[2], ("7002",))], session=session)
        store.upsert_refunds([_refund(2)], session=session)


def _undo_backfill(store: SqlStore) -> None:
    """The mirror as it was before the backfill (the next try commits it again)."""
    with store.session() as session:
        store.upsert_orders([make_order(2, CLOSED[2])], session=session)
        session.execute(delete(tbl.RefundRow).where(tbl.RefundRow.id == "7002"))
        for child in (tbl.RefundLineRow, tbl.TransactionRow):
            session.execute(delete(child).where(child.refund_id == "7002"))


def _sheets(path: Path) -> dict[str, list[dict[str, Any]]]:
    names = ("Exceptions", "Carried forward", "Matched", "Payouts", "Actions")
    return {name: sheet_rows(path, name) for name in names}


def _disagreements(sheets: dict[str, list[dict[str, Any]]]) -> list[str]:
    """What a controller ticking the book off finds: each payout's refunds tied to an RMA are
    the Matched sheet's refunds paid out in it (all the period's own here), and an RMA whose
    refund is matched is not missing its refund in Exceptions."""
    found = []
    for payout in sheets["Payouts"]:
        pid = payout["payout_id"]
        listed = [m for m in sheets["Matched"] if pid in str(m["payout_ids"] or "").split(",")]
        if payout["refunds_matched"] != len(listed):
            found.append(f"{pid}: Payouts ties {payout['refunds_matched']}, Matched {len(listed)}")
    matched = {str(m["rma"]) for m in sheets["Matched"] if m["refund_ids"]}
    missing = {str(e["rma"]) for e in sheets["Exceptions"] if e["category"] == "MISSING_REFUND"}
    found += [f"{rma}: refund matched and missing" for rma in sorted(matched & missing)]
    return found


@pytest.mark.slow  # a book per statement it reads, on each dialect
def test_a_backfill_committing_while_the_book_reads_is_in_every_sheet_or_in_none(
    mirror: tuple[Settings, SqlStore, SqlStore],
) -> None:
    """The backfill commits after the book's 1st statement, then its 2nd, ...: each time the
    book is the one built before that commit, or the one built after it, and its sheets agree
    (it tied P2's refund to RMA 1002 on Payouts while Exceptions said 1002's refund missing)."""
    settings, store, backfill = mirror
    statements: list[str] = []
    commit_after: list[int] = []

    def commit_between_reads(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)
        if commit_after and len(statements) == commit_after[0]:
            _backfill_lands_1002s_refund(backfill)

    before = _sheets(build_monthend(settings, store, NOW, *OCTOBER))
    event.listen(store.engine, "after_cursor_execute", commit_between_reads)
    build_monthend(settings, store, NOW, *OCTOBER)
    reads = len(statements)
    assert reads > 3
    # The backfill's commit is the same whenever it lands: the book without it, then with it.
    _backfill_lands_1002s_refund(backfill)
    after = _sheets(build_monthend(settings, store, NOW, *OCTOBER))
    assert [r["rma"] for r in before["Exceptions"] if r["category"] == "MISSING_REFUND"] == ["1002"]
    assert _disagreements(before) == [] and _disagreements(after) == []
    assert before != after
    for k in range(1, reads):
        _undo_backfill(backfill)
        statements.clear()
        commit_after[:] = [k]
        book = _sheets(build_monthend(settings, store, NOW, *OCTOBER))
        commit_after.clear()
        assert _disagreements(book) == [], f"after statement {k}: {statements[k - 1][:80]}"
        assert book in (before, after), f"torn after statement {k}: {statements[k - 1][:80]}"
