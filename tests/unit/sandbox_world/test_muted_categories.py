"""Muting a category (``engine.muted_categories``) hides it from reports without resolving it.

Dataset: the generated world (seed 4, 80 returns), which plants MISSING_RESTOCK findings. The
first nightly run reports them; a second run with MISSING_RESTOCK muted must neither report nor
resolve them, must say how many it left out, and must not restock them (auto-apply is on).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.bootstrap import build_app
from recon.config import RemediationMode, load_settings
from recon.models import Category, FindingStatus
from recon.service import run_nightly

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_muted_category_is_left_out_not_resolved(tmp_path: Path) -> None:
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.sandbox.enabled = True
    settings.sandbox.seed = 4
    settings.sandbox.returns = 80
    settings.store.url = f"sqlite:///{tmp_path / 'recon.db'}"
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    with build_app(settings) as app:
        first = run_nightly(app)
        restocks = [f for f in first.open_findings if f.category == Category.MISSING_RESTOCK]
        assert restocks  # the world plants some
        app.settings.engine.muted_categories = [Category.MISSING_RESTOCK]
        app.settings.remediation.mode = RemediationMode.APPLY
        app.settings.remediation.auto_apply = ["MISSING_RESTOCK"]
        second = run_nightly(app)
        stored = {f.key: f for f in app.store.load_findings()}
    assert not [f for f in second.findings if f.category == Category.MISSING_RESTOCK]
    assert all(stored[f.key].status != FindingStatus.RESOLVED for f in restocks)
    assert f"MISSING_RESTOCK: {len(restocks)} finding(s) not reported" in " ".join(second.notes)
    applied = [
        a
        for a in second.actions
        if a["category"] == "MISSING_RESTOCK" and a["state"] in ("sending", "done")
    ]
    assert not applied, applied
    html = second.files["html"].read_text(encoding="utf-8")
    assert 'id="muted"' in html and f"MISSING_RESTOCK ({len(restocks)})" in html
