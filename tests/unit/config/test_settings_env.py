"""Settings from the environment: a variable that looks like a setting but is not read is
refused, naming the spelling recon reads."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from recon.config import load_settings
from recon.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "value", "meant"),
    [
        ("RECON_STORE_URL", "postgresql+psycopg://recon@db/recon", "RECON_STORE__URL"),
        ("RECON_REMEDIATION_MODE", "plan", "RECON_REMEDIATION__MODE"),
        ("RECON_DELIVERY_OUTBOX_DIR", "/srv/outbox", "RECON_DELIVERY__OUTBOX_DIR"),
    ],
)
def test_a_setting_with_one_underscore_after_its_section_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, meant: str
) -> None:
    """`RECON_STORE_URL` (one underscore) was ignored without a word: the run used the file's
    SQLite store, or mode, instead of the one the operator set. Refused, naming the spelling."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}: .*{meant}"):
        load_settings(write(tmp_path, '[store]\nurl = "sqlite:///var/x.db"\n'))


def test_the_secrets_variables_are_not_mistaken_for_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variables the example names for the secrets start like sections (RECON_LOOP_...) but
    name no key: they are left alone."""
    for name in ("RECON_LOOP_API_KEY", "RECON_SHOPIFY_TOKEN", "RECON_SMTP_PASSWORD"):
        monkeypatch.setenv(name, "secret")
    monkeypatch.setenv("RECON_CONFIG", str(write(tmp_path, "")))
    assert load_settings().loop.api_key_env == "RECON_LOOP_API_KEY"


@pytest.mark.parametrize(
    "name",
    ["RECON_REMEDIATION__MAX_REFUND_AMOUNT__EUR", "RECON_REMEDIATION__MAX_REFUND_AMOUNT"],
)
def test_one_currencys_limit_from_the_environment_keeps_the_default_currencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A file that sets no refund limit, and the EUR one from the environment (by key, or as a
    JSON table): the USD default (500.00) was dropped, so every USD refund went to review, the
    night's fixes silently not applied. The environment's key is added to the defaults, as it
    is to a file's table; the other tables keep theirs."""
    value = "450.00" if name.endswith("__EUR") else '{"EUR": "450.00"}'
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("RECON_REMEDIATION__MAX_RUN_TOTAL__USD", "7000.00")
    remediation = load_settings(write(tmp_path, '[shop]\nslug = "acme"\n')).remediation
    assert remediation.max_refund_amount == {"USD": Decimal("500.00"), "EUR": Decimal("450.00")}
    assert remediation.max_run_total == {"USD": Decimal("7000.00")}
    assert remediation.max_daily_total == {}


def test_a_currency_table_in_the_file_still_replaces_the_default(tmp_path: Path) -> None:
    """The file states its table whole (the example: "Unset, each is USD only ... set your
    currencies"): a file naming EUR alone has no USD limit, so USD refunds go to review."""
    text = '[remediation]\nmax_refund_amount = { EUR = "450.00" }\n'
    remediation = load_settings(write(tmp_path, text)).remediation
    assert remediation.max_refund_amount == {"EUR": Decimal("450.00")}


@pytest.mark.parametrize(
    "file",
    ["", '[remediation]\nmax_refund_amount = { USD = "500.00", EUR = "450.00" }\n'],
    ids=["defaults", "file's table"],
)
def test_an_empty_table_from_the_environment_clears_the_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str
) -> None:
    """A merchant who wants no automatic refund in any currency sets
    RECON_REMEDIATION__MAX_REFUND_AMOUNT='{}': the empty table was merged into the USD default
    (or the file's table) and changed nothing, so refunds up to 500.00 USD were still sent. An
    empty table is no limit in any currency: every refund goes to review. The other tables
    keep theirs."""
    monkeypatch.setenv("RECON_REMEDIATION__MAX_REFUND_AMOUNT", " {} ")
    remediation = load_settings(write(tmp_path, file)).remediation
    assert remediation.max_refund_amount == {}
    assert remediation.max_run_total == {"USD": Decimal("5000.00")}


def test_an_empty_table_then_one_currency_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The empty table clears the defaults, and a currency set beside it by key is the only
    limit: EUR refunds up to 450.00 go out automatically, USD ones to review."""
    monkeypatch.setenv("RECON_REMEDIATION__MAX_REFUND_AMOUNT", "{}")
    monkeypatch.setenv("RECON_REMEDIATION__MAX_REFUND_AMOUNT__EUR", "450.00")
    remediation = load_settings(write(tmp_path, "")).remediation
    assert remediation.max_refund_amount == {"EUR": Decimal("450.00")}


def test_an_empty_table_in_the_file_clears_the_default(tmp_path: Path) -> None:
    """The file's `max_refund_amount = {}` is no limit in any currency, as documented in
    config/recon.example.toml: every refund goes to review."""
    text = "[remediation]\nmax_refund_amount = {}\n"
    assert load_settings(write(tmp_path, text)).remediation.max_refund_amount == {}


def test_an_empty_table_inside_the_sections_json_clears_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECON_REMEDIATION", '{"max_refund_amount": {}}')
    remediation = load_settings(write(tmp_path, "")).remediation
    assert remediation.max_refund_amount == {}
    assert remediation.max_run_total == {"USD": Decimal("5000.00")}
