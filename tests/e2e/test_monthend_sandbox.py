"""The month-end workbook over a mirror the nightly job filled from the sandbox over real HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_nightly_sandbox import sandbox_settings

from recon.bootstrap import build_app
from recon.month_end import build_monthend
from recon.period_end import as_it_stood
from recon.service import live_only, reconcile_snapshot, run_nightly

pytestmark = pytest.mark.e2e


def test_octobers_payouts_tie_every_refund_to_its_rma_as_the_full_history_does(
    tmp_path: Path,
) -> None:
    """Payouts issued early in October carry September's refunds. October's Payouts sheet
    counts each payout's refunds tied to an RMA as the whole mirror does (payout …3788 said 1
    of 13: 12 refunds nobody could explain, whose returns were September's)."""
    with build_app(sandbox_settings(tmp_path, seed=7)) as app:
        run_nightly(app)
        store = app.store
        path = build_monthend(app.settings, store, app.clock.now(), date(2026, 10, 1),
                              date(2026, 11, 1))  # fmt: skip
        whole = reconcile_snapshot(
            app.settings, store, store.load_snapshot(), datetime(2026, 11, 1, tzinfo=UTC)
        ).payout_tieout
    sheet = load_workbook(path)["Payouts"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    october = {str(r["payout_id"]): (r["refunds_count"], r["refunds_matched"]) for r in rows}
    expected = {
        str(p): (int(n), int(m))
        for p, n, m in zip(
            whole["payout_id"], whole["refunds_count"], whole["refunds_matched"], strict=True
        )
        if str(p) in october
    }
    assert len(october) >= 10 and october == expected
    assert any(n >= 10 and m == n for n, m in october.values())  # a full early payout
    # Shopify's payout transactionType, as the sandbox serves it (a negative net: WITHDRAWAL)
    assert {r["transaction_type"] for r in rows} <= {"DEPOSIT", "WITHDRAWAL"}
    assert "DEPOSIT" in {r["transaction_type"] for r in rows}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6, 7, 8])
def test_octobers_book_raises_no_break_the_full_history_does_not(tmp_path: Path, seed: int) -> None:
    """Every break in October's Exceptions is one the whole mirror, as it stood at October's
    end, also has. A September 30 refund on an order with an October return was read without
    its September return, so October's book listed it as a refund nobody could explain."""
    end = datetime(2026, 11, 1, tzinfo=UTC)
    with build_app(sandbox_settings(tmp_path, seed=seed)) as app:
        run_nightly(app)
        store, settings = app.store, app.settings
        path = build_monthend(settings, store, app.clock.now(), date(2026, 10, 1), end.date())
        whole, _ = live_only(settings, as_it_stood(store.load_snapshot(), end))
        truth = {
            f.key
            for f in reconcile_snapshot(settings, store, whole, end, ledger_before=end).findings
        }
    sheet = load_workbook(path)["Exceptions"]
    header = [c.value for c in sheet[1]]
    keys = {r[header.index("key")] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert keys and sorted(keys - truth) == []
