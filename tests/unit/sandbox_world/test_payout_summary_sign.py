"""The payout tie-out reads ``summary.refundsFeeGross`` with either sign (its sign is unverified).

Dataset: the generated world (seed 3, 60 returns) served twice, once with the summary negative
(money out, as refund balance transactions are) and once with the sandbox's
``payout_refunds_positive`` switch. Finance must see the same tie-out either way.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recon.bootstrap import build_app
from recon.config import load_settings
from recon.service import run_nightly

ROOT = Path(__file__).resolve().parents[3]


def _tieout(tmp_path: Path, positive: bool) -> pd.DataFrame:
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.sandbox.enabled = True
    settings.sandbox.seed = 3
    settings.sandbox.returns = 60
    settings.sandbox.faults.payout_refunds_positive = positive
    settings.store.url = f"sqlite:///{tmp_path / 'recon.db'}"
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    with build_app(settings) as app:
        return run_nightly(app).result.payout_tieout


@pytest.mark.slow
def test_tieout_is_the_same_whichever_sign_shopify_sends(tmp_path: Path) -> None:
    negative = _tieout(tmp_path / "negative", positive=False)
    positive = _tieout(tmp_path / "positive", positive=True)
    assert (negative["summary_refunds_gross"] < 0).any()  # the world has refunds paid out
    assert (negative["summary_refunds_gross"] <= 0).all()
    pd.testing.assert_frame_equal(negative, positive)
