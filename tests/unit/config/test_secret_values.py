"""A credential's variable holding a line break or another control character is refused at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.bootstrap import check_ready
from recon.config import load_settings
from recon.errors import ConfigError

KEY = "loopkey-7Hq2Zr9Wm4"


def real_shop(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[shop]\nslug = "acme"\ndomain = "acme.myshopify.com"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "value",
    [f"{KEY}\n", f"{KEY}\r\n", f"\t{KEY}", f"{KEY}\u200b"],
    ids=["newline", "crlf", "tab", "zero-width-space"],
)
def test_a_key_with_a_control_character_fails_before_the_run_naming_the_variable(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key file's newline (``kubectl create secret --from-file``), or a character pasted
    with the key, cannot be sent in a header: the run used to try, retry every request until
    its attempts ran out and fail (exit 1) on "Illegal header value". It is a
    setting at fault: exit 2 when the run (or ``schedule``) starts, naming the variable and
    the key that names it, never the value."""
    settings = load_settings(real_shop(tmp_path))
    monkeypatch.setenv("RECON_SHOPIFY_TOKEN", "shpat_fine")
    monkeypatch.setenv("RECON_LOOP_API_KEY", value)
    with pytest.raises(ConfigError) as refused:
        check_ready(settings)
    said = str(refused.value)
    assert "RECON_LOOP_API_KEY" in said and "[loop] api_key_env" in said
    assert KEY not in said and refused.value.exit_code == 2


def test_a_password_with_spaces_and_letters_beyond_ascii_is_read_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(real_shop(tmp_path))
    monkeypatch.setenv("SMTP_PASSWORD", " Grüße aus Köln ")
    assert settings.secret("SMTP_PASSWORD") == " Grüße aus Köln "


@pytest.mark.parametrize("variable", ["RECON_SHOPIFY_TOKEN", "RECON_LOOP_API_KEY"])
def test_an_api_credential_beyond_ascii_fails_before_the_run_naming_the_variable(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key pasted with a typographic quote (U+2019) cannot go in an HTTP header: the run
    crashed on its first request with a bare ``UnicodeEncodeError`` traceback (exit 1)."""
    settings = load_settings(real_shop(tmp_path))
    monkeypatch.setenv("RECON_SHOPIFY_TOKEN", "shpat_fine")
    monkeypatch.setenv("RECON_LOOP_API_KEY", "loop-fine")
    monkeypatch.setenv(variable, f"{KEY}’")
    with pytest.raises(ConfigError) as refused:
        check_ready(settings)
    assert variable in str(refused.value) and "ASCII" in str(refused.value)
    assert KEY not in str(refused.value)
