"""The month-end Exceptions sheet's lifecycle columns as they stood at the period's end.

The mirror holds three USD returns, each closed and never refunded (a MISSING_REFUND each):
1002 created Sep 30, 1003 created Oct 18, 1004 created Oct 29. Nightly runs (the engine over
the mirror as it was at each night, merged with the stored findings as ``run_nightly`` does)
on Oct 3, Oct 21 and Nov 1 first see 1002, 1003 and 1004. Finance acknowledges 1003 on Oct 22
and 1004 on Nov 3.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from recon.config import Settings
from recon.engine.lifecycle import merge
from recon.models import FindingStatus
from recon.month_end import build_monthend
from recon.service import reconcile_snapshot
from recon.store.sql import SqlStore
from tests.fakes import make_order, make_refund, make_return
from tests.unit.store.history_shop import upgrade_to_the_history

OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
KEY = {rma: f"MISSING_REFUND|rma={rma}" for rma in ("1002", "1003", "1004")}


def _nightly(settings: Settings, store: SqlStore, at: datetime) -> None:
    """The engine over the mirror as it was at ``at``, merged into the stored findings."""
    result = reconcile_snapshot(settings, store, store.load_snapshot(None, at), at)
    store.save_findings(merge(store.load_findings(), result.findings, at))


@pytest.fixture
def mirror(tmp_path: Path) -> Any:
    """The mirror, nightly runs and acknowledgements the module docstring describes, up to
    Nov 1 (Nov 3's acknowledgement is the tests' to make)."""
    settings = Settings()
    settings.reports.dir = tmp_path / "reports"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    closed = {2: datetime(2026, 10, 2, tzinfo=UTC), 3: datetime(2026, 10, 20, tzinfo=UTC),
              4: datetime(2026, 10, 31, tzinfo=UTC)}  # fmt: skip
    store.upsert_returns([make_return(i, at) for i, at in closed.items()])
    store.upsert_orders([make_order(i, at) for i, at in closed.items()])
    _nightly(settings, store, datetime(2026, 10, 3, 2, tzinfo=UTC))
    _nightly(settings, store, datetime(2026, 10, 21, 2, tzinfo=UTC))
    store.acknowledge_findings(
        [KEY["1003"]], by="cli:bob", note="refunding by hand", at=datetime(2026, 10, 22, tzinfo=UTC)
    )
    _nightly(settings, store, datetime(2026, 11, 1, 2, tzinfo=UTC))
    yield settings, store
    store.close()


def _exceptions(path: Path) -> dict[str, dict[str, Any]]:
    sheet = load_workbook(path)["Exceptions"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    return {str(r["rma"]): r for r in rows if r["category"] == "MISSING_REFUND"}


def test_octobers_book_shows_each_finding_with_its_status_at_octobers_end(mirror: Any) -> None:
    """Built on Nov 4, after 1004 was acknowledged on Nov 3: 1003 is acknowledged (Oct 22),
    saying by whom and why; 1004 is open, as at the close (it said acknowledged, by
    "someone"); 1002, first seen in October, is new in the month."""
    settings, store = mirror
    store.acknowledge_findings(
        [KEY["1004"]], by="cli:ana", note="checked", at=datetime(2026, 11, 3, tzinfo=UTC)
    )
    rows = _exceptions(build_monthend(settings, store, datetime(2026, 11, 4, tzinfo=UTC), *OCTOBER))
    assert {rma: row["status"] for rma, row in rows.items()} == {
        "1002": "new",
        "1003": "acknowledged",
        "1004": "open",
    }
    assert (
        "cli:bob" in rows["1003"]["next_step"] and "refunding by hand" in rows["1003"]["next_step"]
    )
    assert "cli:ana" not in rows["1004"]["next_step"]


def test_octobers_book_rebuilt_after_more_nights_and_acks_reads_the_same(mirror: Any) -> None:
    """The book built on Nov 2, and again on Nov 6 after Nov 3's acknowledgement and two more
    nights (1002 and 1003 no longer "new" in the nightly findings), lists the same findings
    with the same lifecycle columns."""
    settings, store = mirror
    columns = ("status", "first_seen (UTC)", "next_step", "amount_at_risk", "detail")

    def book(now: datetime) -> dict[str, tuple[Any, ...]]:
        rows = _exceptions(build_monthend(settings, store, now, *OCTOBER))
        return {rma: tuple(row[c] for c in columns) for rma, row in rows.items()}

    at_close = book(datetime(2026, 11, 2, tzinfo=UTC))
    store.acknowledge_findings(
        [KEY["1004"]], by="cli:ana", note="checked", at=datetime(2026, 11, 3, tzinfo=UTC)
    )
    _nightly(settings, store, datetime(2026, 11, 4, 2, tzinfo=UTC))
    _nightly(settings, store, datetime(2026, 11, 5, 2, tzinfo=UTC))
    assert {f.key: f.status for f in store.load_findings()}[KEY["1004"]] is (
        FindingStatus.ACKNOWLEDGED
    )
    assert book(datetime(2026, 11, 6, tzinfo=UTC)) == at_close


def test_an_acknowledgement_recon_did_not_date_shows_as_it_is(mirror: Any) -> None:
    """A finding acknowledged before recon recorded when (no ``acknowledged_at``: a store from
    before the findings' history, upgraded on Nov 4) cannot be placed before or after the
    period's end: it shows acknowledged, as stored."""
    settings, store = mirror
    (stored,) = [f for f in store.load_findings() if f.key == KEY["1004"]]
    undated = {"status": FindingStatus.ACKNOWLEDGED, "acknowledged_by": "cli:old"}
    store.save_findings([stored.model_copy(update=undated)])
    upgrade_to_the_history(store, datetime(2026, 11, 4, tzinfo=UTC))
    rows = _exceptions(build_monthend(settings, store, datetime(2026, 11, 4, tzinfo=UTC), *OCTOBER))
    assert rows["1004"]["status"] == "acknowledged" and "cli:old" in rows["1004"]["next_step"]


def test_a_finding_acknowledged_in_the_period_and_fixed_since_stays_acknowledged(
    mirror: Any,
) -> None:
    """1003, acknowledged on Oct 22 ("refunding by hand"), is refunded on Nov 4 and the
    nightly run resolves it. October's book re-built on Nov 6 still shows it acknowledged, by
    bob, as the book built at the close did: resolving it kept who acknowledged it and when."""
    settings, store = mirror
    at_close = _exceptions(
        build_monthend(settings, store, datetime(2026, 11, 2, tzinfo=UTC), *OCTOBER)
    )
    assert at_close["1003"]["status"] == "acknowledged"
    refunded = datetime(2026, 11, 4, tzinfo=UTC)
    owed = make_return(3, datetime(2026, 10, 20, tzinfo=UTC)).refund
    store.upsert_refunds([make_refund(3, refunded, owed)])
    store.upsert_orders([make_order(3, datetime(2026, 10, 20, tzinfo=UTC), refund_ids=("7003",))])
    _nightly(settings, store, datetime(2026, 11, 5, 2, tzinfo=UTC))
    assert {f.key: f.status for f in store.load_findings()}[KEY["1003"]] is FindingStatus.RESOLVED
    rebuilt = _exceptions(
        build_monthend(settings, store, datetime(2026, 11, 6, tzinfo=UTC), *OCTOBER)
    )
    assert rebuilt["1003"]["status"] == "acknowledged"
    assert rebuilt["1003"]["next_step"] == at_close["1003"]["next_step"]
