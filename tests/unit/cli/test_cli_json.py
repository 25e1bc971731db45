"""``--json`` on ``runs``, ``findings list`` and ``findings history``: what a monitoring check
or a shell script reads, without scraping a table (widths, grouped thousands, words).

Datasets:
- runs: ``test_cli_runs``'s four (a backfill, an ``ok`` nightly with 7 open findings, a nightly
  refused by the run lock, a nightly failed on refused credentials, exit 3), a day apart.
- findings: ``MISSING_REFUND|rma=12345701`` (1048.6 USD, new, first seen three days ago),
  ``UNKNOWN_RMA|refund=9`` (15 EUR, acknowledged by cli:<user> "mistyped RMA, checked"), and
  ``AMOUNT_MISMATCH|rma=12345702`` (2.5 USD, resolved); then the first one seen again at
  12500 (its history: new at 1048.60, open at 12500.00 was 1048.60).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from recon.bootstrap import open_store
from recon.config import load_settings
from recon.models import Category, Finding, FindingStatus, Owner, Severity
from tests.unit.cli.json_output import db_file, document, in_env, listed, store_env
from tests.unit.cli.test_cli_runs import _record_runs

BACKENDS = ["sqlite", "postgresql"]
KEY = "MISSING_REFUND|rma=12345701"
SEEN = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_json_gives_each_runs_status_exit_code_times_and_figures(
    config: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = store_env(backend, request)
    ids = _record_runs(config, env)
    doc = document(monkeypatch, "runs", "--config", str(config), env=env)
    assert doc["format"] == "recon-runs" and doc["version"] == 1 and doc["shop"] == "sandbox"
    failed, refused, nightly, backfill = doc["runs"]  # newest first, as the table
    assert [r["id"] for r in doc["runs"]] == ids[::-1]
    assert (failed["kind"], failed["status"], failed["exit_code"]) == ("nightly", "failed", 3)
    assert failed["started_at"] == "2026-11-04T02:43:00Z"
    assert failed["finished_at"] == "2026-11-04T02:43:05Z"
    assert failed["stats"]["error"] == "AuthError: Shopify refused the token (401)"
    assert (refused["status"], refused["exit_code"]) == ("refused", 4)
    assert "the run lock is held by backfill@host" in refused["stats"]["error"]
    assert (nightly["status"], nightly["exit_code"]) == ("ok", 0)
    assert nightly["stats"]["findings"] == 7  # numbers as numbers: no "1,200" to parse
    assert nightly["stats"]["sync"]["records"] == {"order": 300, "return": 10}
    assert (backfill["kind"], backfill["exit_code"]) == ("backfill", 0)
    assert backfill["stats"]["windows"] == 4
    # The store URL (and its password) never shows: only the rows.
    url = env.get("RECON_STORE__URL", "sqlite:///var/recon.db")
    assert url not in str(doc) and ":recon@" not in str(doc)


def test_runs_json_keeps_the_limit_and_the_order(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _record_runs(config, {})
    doc = document(monkeypatch, "runs", "--limit", "2", "-c", str(config))
    assert [r["id"] for r in doc["runs"]] == [ids[3], ids[2]]


def test_runs_json_before_any_store_is_an_empty_list_and_creates_nothing(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = document(monkeypatch, "runs", "-c", str(config))
    assert doc["runs"] == [] and doc["shop"] == "sandbox"
    assert not db_file(config).exists()


def test_runs_json_on_a_postgresql_schema_not_created_yet_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import uuid

    from sqlalchemy import create_engine, text

    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    schema = f"newshop_{uuid.uuid4().hex[:10]}"
    config = tmp_path / "recon.toml"
    config.write_text(f'[store]\nurl = "{base}"\nschema = "{schema}"\n', encoding="utf-8")
    admin = create_engine(base)
    exists = text("SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = :name")
    try:
        doc = document(monkeypatch, "runs", "--config", str(config))
        assert doc["runs"] == []
        with admin.begin() as conn:
            assert conn.execute(exists, {"name": schema}).scalar_one() == 0
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _finding(key: str, amount: str, currency: str, **more: object) -> Finding:
    category = Category(key.split("|")[0])
    return Finding(key=key, category=category, severity=Severity.HIGH, owner=Owner.FINANCE,
                   amount_at_risk=Decimal(amount), currency=currency, first_seen=SEEN,
                   last_seen=SEEN, **more)  # fmt: skip


def _seed_findings(config: Path) -> None:
    store = open_store(load_settings(config))
    try:
        store.save_findings([
            _finding(KEY, "1048.6", "USD", rma="12345701", shopify_order_id="5444175757553"),
            _finding("UNKNOWN_RMA|refund=9", "15", "EUR"),
            _finding("AMOUNT_MISMATCH|rma=12345702", "2.5", "USD", status=FindingStatus.RESOLVED,
                     resolved_at=SEEN),
        ])  # fmt: skip
        store.acknowledge_findings(["UNKNOWN_RMA|refund=9"], by="cli:ops", note="mistyped RMA")
    finally:
        store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_findings_list_json_is_the_findings_json_contract_in_the_tables_order(
    config: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = store_env(backend, request)
    in_env(env, monkeypatch)
    _seed_findings(config)
    doc = document(monkeypatch, "findings", "list", "-c", str(config), env=env)
    assert doc["format"] == "recon-findings-list" and doc["shop"] == "sandbox"
    missing, unknown = doc["findings"]  # by key, as the table; resolved left out by default
    assert missing["key"] == KEY and missing["status"] == "new"
    assert (missing["amount_at_risk"], missing["currency"]) == ("1048.60", "USD")
    assert missing["rma"] == "12345701" and missing["shopify_order_id"] == "5444175757553"
    assert missing["first_seen"] == SEEN.isoformat().replace("+00:00", "Z")
    assert missing["shopify_refund_ids"] == [] and missing["acknowledged_by"] is None
    assert (unknown["amount_at_risk"], unknown["currency"]) == ("15.00", "EUR")
    assert unknown["status"] == "acknowledged" and unknown["acknowledged_by"] == "cli:ops"
    assert unknown["acknowledged_note"] == "mistyped RMA" and unknown["acknowledged_at"]
    from recon.engine.findings_json import _FIELDS

    assert list(missing) == list(_FIELDS)  # every findings.json field, nothing else

    resolved = document(monkeypatch, "findings", "list", "--status", "resolved", "-c",
                        str(config), env=env)  # fmt: skip
    (only,) = resolved["findings"]
    assert only["key"] == "AMOUNT_MISMATCH|rma=12345702" and only["amount_at_risk"] == "2.50"
    none = document(monkeypatch, "findings", "list", "--status", "left_out", "-c", str(config),
                    env=env)  # fmt: skip
    assert none["findings"] == []


def test_findings_list_json_of_an_empty_store_is_an_empty_list(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert document(monkeypatch, "findings", "list", "-c", str(config))["findings"] == []


def test_findings_list_json_refuses_a_bad_status_as_the_table_does(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recon.errors import ConfigError

    with pytest.raises(ConfigError, match="--status"):  # exit 2 through main()
        listed(monkeypatch, "findings", "list", "--status", "Open", "--json", "-c", str(config))


@pytest.mark.parametrize("backend", BACKENDS)
def test_findings_history_json_gives_each_change_with_exact_amounts(
    config: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = store_env(backend, request)
    in_env(env, monkeypatch)
    _seed_findings(config)
    store = open_store(load_settings(config))
    try:
        (stored,) = [f for f in store.load_findings() if f.key == KEY]
        later = SEEN + timedelta(days=1)
        again = {"status": FindingStatus.OPEN, "last_seen": later, "amount_at_risk": Decimal(12500)}
        store.save_findings([stored.model_copy(update=again)], run_id="night-2")
    finally:
        store.close()
    doc = document(monkeypatch, "findings", "history", KEY, "-c", str(config), env=env)
    assert doc["format"] == "recon-finding-history" and doc["key"] == KEY
    first, second = doc["events"]  # oldest first
    assert (first["status"], first["origin"]) == ("new", "run")
    assert (first["amount_at_risk"], first["currency"]) == ("1048.60", "USD")
    assert first["amount_before"] is None and first["first_seen"].endswith("Z")
    assert (second["status"], second["run_id"]) == ("open", "night-2")
    assert (second["amount_at_risk"], second["amount_before"]) == ("12500.00", "1048.60")
    assert second["currency_before"] == "USD"
    ack = document(monkeypatch, "findings", "history", "UNKNOWN_RMA|refund=9", "-c", str(config),
                   env=env)["events"][-1]  # fmt: skip
    assert ack["status"] == "acknowledged" and ack["origin"] == "ack"
    assert ack["acknowledged_by"] == "cli:ops" and ack["acknowledged_note"] == "mistyped RMA"


def test_findings_history_json_of_an_unknown_key_fails_as_the_table_does(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recon.errors import ConfigError

    with pytest.raises(ConfigError, match="NOPE"):  # exit 2 through main(), nothing on stdout
        listed(monkeypatch, "findings", "history", "NOPE|x", "--json", "-c", str(config))
