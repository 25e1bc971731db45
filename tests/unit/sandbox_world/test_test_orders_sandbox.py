"""Returns on Shopify test orders raise nothing and move nothing, over real HTTP.

Dataset: the generated world (seed 1, 300 returns) has four returns on test orders
(``clean_test_order``): closed and never refunded, or refunded with test-mode balance
transactions no payout takes. Read as live orders, they are MISSING_REFUND, MISSING_RESTOCK and
UNSETTLED_REFUND breaks, and apply mode would refund them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.bootstrap import build_app
from recon.config import RemediationMode, Settings, load_settings
from recon.sandbox.generator import generate_world
from recon.service import run_nightly

ROOT = Path(__file__).resolve().parents[3]


def _settings(tmp_path: Path) -> Settings:
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.sandbox.enabled = True
    settings.sandbox.seed = 1
    settings.sandbox.returns = 300
    settings.store.url = f"sqlite:///{tmp_path / 'recon.db'}"
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    settings.remediation.mode = RemediationMode.APPLY
    settings.remediation.auto_apply = ["MISSING_REFUND", "MISSING_RESTOCK"]
    return settings


def _test_order_rmas() -> set[str]:
    world, truth = generate_world(seed=1, returns=300)
    test_orders = {o.id for o in world.orders if o.test}
    assert truth.clean_cases["test_order"] == len(test_orders) > 0
    return {str(r.id) for r in world.loop_returns if str(r.provider_order_id) in test_orders}


@pytest.mark.slow
def test_returns_on_test_orders_are_left_out_and_said_so(tmp_path: Path) -> None:
    rmas = _test_order_rmas()
    with build_app(_settings(tmp_path)) as app:
        outcome = run_nightly(app)
    assert not [f for f in outcome.findings if f.rma in rmas]
    assert not [a for a in outcome.actions if a["rma"] in rmas]
    assert any(a["state"] == "done" for a in outcome.actions)  # apply mode did act elsewhere
    (note,) = [n for n in outcome.notes if n.startswith("Shopify test orders left out")]
    assert f"returns {len(rmas)}" in note
    html = outcome.files["html"].read_text(encoding="utf-8")
    assert 'id="left-out"' in html and f"returns {len(rmas)}" in html


@pytest.mark.slow
def test_a_development_store_can_reconcile_its_test_orders(tmp_path: Path) -> None:
    """``include_test_orders = true``: every order of a development store is a test order."""
    rmas = _test_order_rmas()
    settings = _settings(tmp_path)
    settings.engine.include_test_orders = True
    settings.remediation.mode = RemediationMode.PLAN
    with build_app(settings) as app:
        outcome = run_nightly(app)
    flagged = {f.rma for f in outcome.findings if f.rma in rmas}
    assert flagged, "the test orders' breaks are reported like a live order's"
    assert not [n for n in outcome.notes if n.startswith("Shopify test orders left out")]
