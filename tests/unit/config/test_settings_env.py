"""Settings from the environment: a variable that looks like a setting but is not read is
refused, naming the spelling recon reads."""

from __future__ import annotations

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
