"""Review 22C: a credential pasted into a ``*_env`` key in place of its variable's name.

The README (Configuration) promises that a value that may be a secret, "any ``*_env``" key's
included, is never echoed, and that a ``*_env`` key holding something that is not a variable
name is refused. Only Shopify's prefixed tokens (``shpat_``...) and text that cannot be a
variable name are caught at load. A Loop API key (no prefix, letters and digits) or an SMTP
password made of letters and digits is a valid variable name: it loads, and the first command
that needs the credential fails with ``environment variable <the pasted key> is not set``,
printed to stderr (cron's mail, the job log) in full.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.bootstrap import check_ready
from recon.config import load_settings
from recon.errors import ConfigError
from tests.unit.cli.test_cli import recon

# A Loop API key as the admin hands it out: letters and digits, no prefix (loop-returns-api.md
# §3 gives no format; Loop's keys carry no prefix, recon.sources.redact says).
LOOP_KEY = "b7e3f1a9c2d44e0f8a6b5c3d2e1f0a9b4c7d"
SMTP_PASSWORD = "Winter2026Sunshine"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        '[shop]\nslug = "acme"\ndomain = "acme.myshopify.com"\n'
        '[store]\nurl = "sqlite:///var/recon.db"\n' + text,
        encoding="utf-8",
    )
    return path


def test_a_loop_key_pasted_as_its_variable_name_is_not_printed(tmp_path: Path) -> None:
    """The operator pasted the key where its variable's name belongs; the nightly run fails
    (exit 2, as it should), and the key must not be in what cron mails around."""
    config = _config(tmp_path, f'[loop]\napi_key_env = "{LOOP_KEY}"\n')
    result = recon("run", "--config", str(config), env={"RECON_SHOPIFY_TOKEN": "shpat_fine"})
    assert result.returncode == 2, result.stderr
    assert "api_key_env" in result.stderr, result.stderr
    assert LOOP_KEY not in result.stdout + result.stderr, result.stderr
    assert LOOP_KEY[:12] not in result.stdout + result.stderr, result.stderr


def test_an_smtp_password_pasted_as_its_variable_name_is_not_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``schedule`` checks the credentials when it starts (``check_ready``): the error it
    prints names the key at fault, not the password pasted into it."""
    config = _config(
        tmp_path,
        '[delivery]\nmode = "smtp"\n[delivery.recipients]\nfinance = ["ap@acme.test"]\n'
        '[delivery.smtp]\nhost = "smtp.acme.test"\nusername_env = "RECON_SMTP_USER"\n'
        f'password_env = "{SMTP_PASSWORD}"\n',
    )
    monkeypatch.setenv("RECON_SHOPIFY_TOKEN", "shpat_fine")
    monkeypatch.setenv("RECON_LOOP_API_KEY", "loopkey")
    monkeypatch.setenv("RECON_SMTP_USER", "recon@acme.test")
    monkeypatch.delenv(SMTP_PASSWORD, raising=False)
    with pytest.raises(ConfigError) as info:
        check_ready(load_settings(config))
    message = str(info.value)
    assert "password_env" in message, message
    assert SMTP_PASSWORD not in message, message
