"""The nightly job end to end over real HTTP against the sandbox, scored against ground truth."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from stock import units_to_restock

from recon.bootstrap import build_app
from recon.config import RemediationMode, Settings, load_settings
from recon.delivery import read_eml
from recon.engine.findings_json import read_findings_json
from recon.errors import LockError
from recon.lock import RunLock
from recon.models import Category, FindingStatus
from recon.sandbox.scoring import score
from recon.service import RUN_LEASE, run_nightly, sessions

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def sandbox_settings(tmp_path: Path, seed: int, returns: int = 300) -> Settings:
    """The embedded default, pointed at a private mirror and report folder."""
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.sandbox.enabled = True
    settings.sandbox.seed = seed
    settings.sandbox.returns = returns
    settings.store.url = f"sqlite:///{tmp_path / 'recon.db'}"
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    return settings


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_findings_match_the_planted_discrepancies(tmp_path: Path, seed: int) -> None:
    """Precision and recall are 1.0 for every category; amounts at risk equal the truth's."""
    with build_app(sandbox_settings(tmp_path, seed)) as app:
        outcome = run_nightly(app)
        assert app.truth is not None
        result = score(outcome.findings, app.truth)
    assert not result.missed, sorted(result.missed)
    assert not result.unexpected, sorted(result.unexpected)
    assert not result.amount_mismatches, result.amount_mismatches
    for name, category in result.categories.items():
        assert (category.precision, category.recall) == (1.0, 1.0), name
    header, written = read_findings_json(outcome.files["findings"])
    assert header["shop"] == "sandbox"
    assert {f.key for f in written} == {f.key for f in outcome.open_findings}


def test_every_category_is_planted_and_found(tmp_path: Path) -> None:
    with build_app(sandbox_settings(tmp_path, seed=11, returns=600)) as app:
        outcome = run_nightly(app)
    found = {f.category for f in outcome.open_findings}
    assert found == set(Category)


def test_second_night_on_unchanged_data_opens_only_what_crossed_a_limit(tmp_path: Path) -> None:
    """A minute later nothing resolves, and only the clean cases that sat exactly at a time limit
    open (the truth's ``at_limit``): their refund is now pending or unpaid, or their return
    open, for longer than the limit."""
    with build_app(sandbox_settings(tmp_path, seed=3)) as app:
        first = run_nightly(app)
        app.clock.sleep(60)  # type: ignore[attr-defined]
        second = run_nightly(app)
        assert app.truth is not None
        crossed = set(app.truth.at_limit)
    statuses = Counter(f.status for f in second.findings)
    assert {f.key for f in second.findings if f.status == FindingStatus.NEW} == crossed
    assert len(crossed) == 3
    assert statuses[FindingStatus.RESOLVED] == 0
    assert {f.key for f in second.open_findings} == {f.key for f in first.open_findings} | crossed


def test_an_acknowledged_finding_stays_acknowledged_and_out_of_remediation(
    tmp_path: Path,
) -> None:
    """Finance checks a finding and acknowledges it (`findings ack`): the next nights keep it
    acknowledged, with who and why, in findings.json too, and quiet: out of finance's e-mail's
    open count (its subject) and money at risk, counted apart."""
    with build_app(sandbox_settings(tmp_path, seed=2, returns=60)) as app:
        first = run_nightly(app)
        key = next(f.key for f in first.open_findings if f.category == Category.UNMATCHED_REFUND)
        app.store.acknowledge_findings([key], by="cli:ana", note="paid by hand in the shop")
        app.clock.sleep(60)  # type: ignore[attr-defined]
        second = run_nightly(app)
    (acked,) = [f for f in second.findings if f.key == key]
    assert (acked.status, acked.acknowledged_by) == (FindingStatus.ACKNOWLEDGED, "cli:ana")
    _, written = read_findings_json(second.files["findings"])
    assert next(f for f in written if f.key == key).acknowledged_note == "paid by hand in the shop"
    loud = [f for f in written if f.status in (FindingStatus.NEW, FindingStatus.OPEN)]
    mails = [read_eml(p) for p in (tmp_path / "outbox").glob("*.eml")]
    (mail,) = [
        m for m in mails if (m["X-Recon-Run"], m["X-Recon-Team"]) == (second.run_id, "finance")
    ]
    assert str(mail["Subject"]).endswith(f": {len(loud)} open findings (finance)")
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"Acknowledged: 1, {acked.amount_at_risk:,} {acked.currency}" in body.get_content()


def test_an_acknowledgement_made_while_the_run_saves_its_findings_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An acknowledgement written to the store while the nightly run merges its findings (the
    CLI's `findings ack` takes the run lock first, so only another path could): the run saved
    over it with the copy it had loaded. It now reads and saves its findings in one
    transaction that the acknowledgement waits for."""
    import threading

    import recon.service as service
    from recon.store.sql import SqlStore

    real_merge = service.merge
    ackers: list[threading.Thread] = []

    def merge_while_finance_acks(previous, current, now, **options):  # type: ignore[no-untyped-def]
        other = SqlStore(settings.store.url)  # finance's own process and connection
        acker = threading.Thread(
            target=lambda: other.acknowledge_findings([key], by="cli:ana", note="checked")
        )
        acker.start()
        acker.join(timeout=1)  # done at once, unless it waits for the run's transaction
        ackers.append(acker)
        return real_merge(previous, current, now, **options)

    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    with build_app(settings) as app:
        first = run_nightly(app)
        key = next(f.key for f in first.open_findings if f.category == Category.UNMATCHED_REFUND)
        monkeypatch.setattr(service, "merge", merge_while_finance_acks)
        app.clock.sleep(60)  # type: ignore[attr-defined]
        run_nightly(app)
        ackers[0].join()
        stored = {f.key: f for f in app.store.load_findings()}
    assert (stored[key].status, stored[key].acknowledged_by) == (
        FindingStatus.ACKNOWLEDGED,
        "cli:ana",
    )


def test_a_second_run_while_one_holds_the_lock_refuses(tmp_path: Path) -> None:
    with build_app(sandbox_settings(tmp_path, seed=2, returns=60)) as app:
        lease = RunLock(sessions(app.store), app.clock).acquire(
            "sandbox", "other-host:1", RUN_LEASE
        )
        with pytest.raises(LockError, match="holds the run lock"):
            run_nightly(app)
        RunLock(sessions(app.store), app.clock).release(lease)
        assert run_nightly(app).findings


def test_a_sync_longer_than_the_lease_keeps_its_work_unless_another_run_took_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody else runs: a sync past the 4-hour lease still commits and the night goes on
    (throwing it away made every later, longer night fail too). A run that took the lease
    meanwhile keeps the shop: the slow run's sync is rolled back."""
    import recon.sync as sync_mod
    from recon.sync import all_streams

    settings = sandbox_settings(tmp_path, seed=4, returns=30)
    with build_app(settings) as app:
        real_fetch = sync_mod.fetch
        takeover: list[bool] = []

        def slow_fetch(*args: object, **kwargs: object) -> object:
            out = real_fetch(*args, **kwargs)  # type: ignore[arg-type]
            app.clock.advance(RUN_LEASE + timedelta(minutes=1))
            if takeover:
                RunLock(sessions(app.store), app.clock).acquire("sandbox", "other", RUN_LEASE)
            return out

        monkeypatch.setattr(sync_mod, "fetch", slow_fetch)
        outcome = run_nightly(app)
        assert score(outcome.findings, app.truth).perfect  # type: ignore[arg-type]
        marks = {app.store.get_watermark(s) for s in all_streams()}
        assert marks == {outcome.as_of}
        takeover.append(True)
        app.clock.advance(timedelta(days=1))
        with pytest.raises(LockError, match="taken over"):
            run_nightly(app)
        assert {app.store.get_watermark(s) for s in all_streams()} == marks  # not moved


def test_apply_fixes_missing_refunds_and_restocks_once(tmp_path: Path) -> None:
    """After one apply run the sandbox holds the refunds and stock Loop says it should."""
    settings = sandbox_settings(tmp_path, seed=4)
    settings.remediation.mode = RemediationMode.APPLY
    settings.remediation.auto_apply = ["MISSING_REFUND", "MISSING_RESTOCK", "STATUS_DRIFT"]
    with build_app(settings) as app:
        assert app.truth is not None and app.sandbox is not None
        state = app.sandbox.state  # type: ignore[attr-defined]
        planted = [p for p in app.truth.findings if p.category == "MISSING_REFUND"]
        restocks = [p for p in app.truth.findings if p.category == "MISSING_RESTOCK"]
        stock_before = _stock(state)
        first = run_nightly(app)
        app.clock.sleep(3600)  # type: ignore[attr-defined]
        second = run_nightly(app)
        app.clock.sleep(3600)  # type: ignore[attr-defined]
        third = run_nightly(app)
        stock_after = _stock(state)
    done = [a for a in first.actions if a["state"] == "done"]
    assert {a["rma"] for a in done if a["kind"] == "refund"} == {p.rma for p in planted}
    for finding in planted:
        order = state.orders_by_id[finding.shopify_order_id]
        notes = [r for r in order.refunds if r.note and finding.rma in r.note]
        assert len(notes) == 1, finding.key  # exactly one refund per intended action
        paid = sum(t.amount for t in order.transactions if t.refund_id == notes[0].id)
        assert paid == finding.amount_at_risk
    moved = sum(stock_after.values()) - sum(stock_before.values())
    assert moved == sum(
        units_to_restock(state, p.rma or "", p.key.split("line=")[1]) for p in restocks
    )
    for night in (second, third):
        left = {f.category for f in night.open_findings}
        assert Category.MISSING_REFUND not in left
        assert Category.MISSING_RESTOCK not in left
    assert len([a for a in third.actions if a["state"] == "done"]) == len(done)


def _stock(state: object) -> dict[tuple[str, str], int]:
    world = state.world  # type: ignore[attr-defined]
    return {
        (item.id, location): qty
        for item in world.inventory
        for location, qty in item.available.items()
    }


def test_two_shops_share_one_postgresql_server_in_their_own_schemas(tmp_path: Path) -> None:
    """An agency's shops on one PostgreSQL: mirror, ledger and lock kept apart by schema.
    Worlds of 60 returns: what is checked is the separation (both nights of each shop score
    perfectly and see only their own findings), not the engine at scale (the tests above)."""
    url = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    suffix = uuid.uuid4().hex[:8]
    shops = {f"shop_a_{suffix}": 2, f"shop_b_{suffix}": 3}
    admin = create_engine(url)
    try:
        keys = {}
        for schema, seed in shops.items():
            settings = sandbox_settings(tmp_path / schema, seed=seed, returns=60)
            settings.store.url = url
            settings.store.schema_ = schema
            settings.shop.slug = schema.replace("_", "-")
            # Two shops, two Shopify shops: one domain under two slugs is refused.
            settings.shop.domain = f"{settings.shop.slug}.myshopify.com"
            with build_app(settings) as app:
                first = run_nightly(app)
                app.clock.sleep(60)  # type: ignore[attr-defined]
                second = run_nightly(app)
                assert app.truth is not None
                assert score(first.findings, app.truth).perfect
                crossed = set(app.truth.at_limit)  # clean cases at a time limit, a minute on
            assert {f.key for f in second.open_findings} == {
                f.key for f in first.open_findings
            } | crossed
            keys[schema] = {f.key for f in second.open_findings}
        a, b = shops
        with admin.connect() as conn:
            count_a = conn.execute(text(f'SELECT count(*) FROM "{a}".findings')).scalar_one()
            count_b = conn.execute(text(f'SELECT count(*) FROM "{b}".findings')).scalar_one()
        assert (count_a, count_b) == (len(keys[a]), len(keys[b]))
    finally:
        with admin.begin() as conn:
            for schema in shops:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_a_run_through_sandbox_faults_still_scores_perfectly(tmp_path: Path) -> None:
    """5xx answers, THROTTLED as HTTP 429 and a skewed cost model: the retries absorb them."""
    settings = sandbox_settings(tmp_path, seed=6, returns=120)
    settings.sandbox.faults.error_rate = 0.1
    settings.sandbox.faults.throttled_status = 429
    settings.sandbox.faults.cost_multiplier = 1.3
    settings.sandbox.faults.seed = 6
    with build_app(settings) as app:
        outcome = run_nightly(app)
        assert app.truth is not None
        assert score(outcome.findings, app.truth).perfect
