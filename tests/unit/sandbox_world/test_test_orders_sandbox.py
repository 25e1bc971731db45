"""Returns on Shopify test orders raise nothing and move nothing, over real HTTP.

Dataset: the generated world (seed 1, 200 returns) has three returns on test orders
(``clean_test_order``): closed and never refunded, or refunded with test-mode balance
transactions no payout takes. Read as live orders, they are MISSING_REFUND, MISSING_RESTOCK and
UNSETTLED_REFUND breaks, and apply mode would refund them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from recon.bootstrap import build_app
from recon.config import RemediationMode, Settings, load_settings
from recon.models import FindingStatus
from recon.remediation.ledger import approve
from recon.remediation.runner import action_rows
from recon.sandbox.generator import generate_world
from recon.service import run_nightly, sessions
from recon.store.sql import SqlStore

ROOT = Path(__file__).resolve().parents[3]


def _settings(tmp_path: Path) -> Settings:
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.sandbox.enabled = True
    settings.sandbox.seed = 1
    settings.sandbox.returns = 200
    settings.store.url = f"sqlite:///{tmp_path / 'recon.db'}"
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    settings.remediation.mode = RemediationMode.APPLY
    settings.remediation.auto_apply = ["MISSING_REFUND", "MISSING_RESTOCK"]
    return settings


def _test_order_rmas() -> set[str]:
    world, truth = generate_world(seed=1, returns=200)
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


def _as_mirrored_before_the_flag(store: SqlStore) -> None:
    """Orders as the version before ``Order.test`` stored them: no flag in the record (and the
    column a migration adds to such a mirror is NULL)."""
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE orders SET test = NULL, record = json_remove(record, '$.test')")
        )


@pytest.mark.slow
def test_after_the_upgrade_earlier_test_orders_are_read_again_and_their_findings_left_out(
    tmp_path: Path,
) -> None:
    """Night 1 is the version before ``Order.test``: test orders reconciled as live (as
    ``include_test_orders = true`` does), their breaks reported, the orders mirrored without
    the flag. Night 2 is the upgrade, in apply mode: the sync reads those orders again, so
    nothing is refunded or restocked on a test order, and their breaks close as ``left_out``,
    not ``resolved`` (finance reads that as fixed)."""
    rmas = _test_order_rmas()
    settings = _settings(tmp_path)
    settings.engine.include_test_orders = True
    settings.remediation.mode = RemediationMode.PLAN
    with build_app(settings) as app:
        before = {f.key for f in run_nightly(app).open_findings if f.rma in rmas}
        assert before, "the version before the flag reported the test orders' breaks"
        _as_mirrored_before_the_flag(app.store)
        assert app.store.orders_with_unknown_test_flag()
        app.settings.engine.include_test_orders = False
        app.settings.remediation.mode = RemediationMode.APPLY
        after = run_nightly(app)
        unknown = app.store.orders_with_unknown_test_flag()
    assert unknown == []  # read again by the sync: no backfill needed
    status = {f.key: f.status for f in after.findings if f.key in before}
    assert status == dict.fromkeys(before, FindingStatus.LEFT_OUT)
    assert not [f for f in after.open_findings if f.rma in rmas]
    sent = [a for a in after.actions if a["rma"] in rmas and a["state"] in ("sending", "done")]
    assert sent == []
    done = {a["kind"] for a in after.actions if a["state"] == "done"}
    assert {"refund", "restock"} <= done  # live orders were written to, re-read first
    html = after.files["html"].read_text(encoding="utf-8")
    assert 'id="left-out-findings"' in html


@pytest.mark.slow
def test_a_tag_is_not_written_to_an_order_shopify_now_says_is_a_test_order(tmp_path: Path) -> None:
    """Night 1 (approval mode) proposes the STATUS_DRIFT tag of a live order; finance approves
    it. Before night 2 sends it, Shopify holds the order as a test order. Night 2's sync reads
    the order again (the order of an open STATUS_DRIFT is re-read every night), so the finding
    is left out and the approved tag goes to review unsent; nothing is tagged. (Had the mirror
    still said live, the re-read right before the tag refuses it:
    tests/unit/remediation/test_test_order_writes.py.)"""
    settings = _settings(tmp_path)
    settings.remediation.mode = RemediationMode.APPROVAL
    settings.remediation.auto_apply = []
    with build_app(settings) as app:
        run_nightly(app)
        (tag,) = [a for a in action_rows(sessions(app.store), "sandbox") if a["kind"] == "annotate"]
        assert tag["state"] == "proposed"
        with sessions(app.store)() as session, session.begin():
            approve(session, "sandbox", [tag["id"]], actor="finance", now=app.clock.now())
        assert app.sandbox is not None
        order = app.sandbox.state.orders_by_id[tag["order_id"]]
        order.test = True
        before = list(order.tags)
        app.clock.sleep(60)  # type: ignore[attr-defined]
        run_nightly(app)
        after = {a["id"]: a for a in action_rows(sessions(app.store), "sandbox")}[tag["id"]]
    assert after["state"] == "needs_review"
    assert f"STATUS_DRIFT|order={tag['order_id']} is no longer open" in after["reason"]
    assert order.tags == before


@pytest.mark.slow
def test_an_order_deleted_before_the_upgrade_night_is_recorded_gone_and_its_writes_held(
    tmp_path: Path,
) -> None:
    """Night 1 is the version before ``Order.test`` (plan mode); then an order with a
    MISSING_REFUND is deleted in Shopify. On the upgrade night (apply mode) the sync asks for
    it by id, Shopify answers null: it is recorded as not visible, not as an unknown flag to
    ask for every night; its refund is held for review naming why, and the run's notes and the
    report list it."""
    settings = _settings(tmp_path)
    settings.engine.include_test_orders = True
    settings.remediation.mode = RemediationMode.PLAN
    with build_app(settings) as app:
        first = run_nightly(app)
        live = {o.id for o in app.store.load_snapshot().orders if not o.test}
        gone = sorted(
            f.shopify_order_id
            for f in first.open_findings
            if f.category.value == "MISSING_REFUND" and f.shopify_order_id in live
        )[0]
        _as_mirrored_before_the_flag(app.store)
        assert app.sandbox is not None
        app.sandbox.state.orders_by_id[gone].deleted_at = app.clock.now()
        app.clock.sleep(60)  # type: ignore[attr-defined]
        app.settings.engine.include_test_orders = False
        app.settings.remediation.mode = RemediationMode.APPLY
        after = run_nightly(app)
        assert app.store.orders_with_unknown_test_flag() == []
        assert app.store.orders_not_visible() == [gone]
    (refund,) = [a for a in after.actions if a["order_id"] == gone and a["kind"] == "refund"]
    assert refund["state"] == "needs_review"
    assert f"order {gone} is not visible in Shopify" in refund["reason"]
    (note,) = [n for n in after.notes if n.startswith("Orders not visible in Shopify")]
    assert f"1 ({gone};" in note
    html = after.files["html"].read_text(encoding="utf-8")
    assert 'id="order-flags"' in html and gone in html
