"""``schedule`` refuses a bad ``--cron`` before anything touches the store: the settings are
read, then the expression (and the shop's zone) checked, before ``check_ready`` and before the
store is opened (a new shop's store created and claimed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.cli import schedule
from recon.errors import ConfigError, exit_code_of


def _config(tmp_path: Path, store: Path, extra: str = "") -> Path:
    config = tmp_path / "recon.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{store}"\n[sandbox]\nenabled = true\nreturns = 20\n{extra}',
        encoding="utf-8",
    )
    return config


def test_a_bad_cron_is_refused_before_the_store_is_created(tmp_path: Path) -> None:
    """A minute of 61: exit 2 naming the expression, and no store file left behind (before,
    the store was created and claimed for the shop, then the expression refused)."""
    store = tmp_path / "var" / "recon.db"
    with pytest.raises(ConfigError, match="invalid cron expression '61 2 \\* \\* \\*'") as bad:
        schedule(cron="61 2 * * *", now=False, config=_config(tmp_path, store))
    assert exit_code_of(bad.value) == 2
    assert not store.exists(), "the store was created for a schedule that never started"


def test_a_bad_cron_is_named_before_what_check_ready_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real shop whose token's variable is unset and a bad ``--cron``: the error is the
    cron's, the first thing wrong on the command line (before, ``check_ready`` named the token
    first, and the cron was refused only on the next try)."""
    store = tmp_path / "var" / "recon.db"
    extra = '[shop]\nslug = "acme"\ndomain = "acme.myshopify.com"\ntoken_env = "ACME_TOKEN_UNSET"\n'
    config = _config(tmp_path, store).read_text(encoding="utf-8")
    config = config.replace("enabled = true", "enabled = false") + extra
    (tmp_path / "recon.toml").write_text(config, encoding="utf-8")
    monkeypatch.delenv("ACME_TOKEN_UNSET", raising=False)
    with pytest.raises(ConfigError, match="invalid cron expression"):
        schedule(cron="0 2 * * 8", now=False, config=tmp_path / "recon.toml")
    assert not store.exists()
