"""Recipients and sender are checked when the settings load, not by the relay at 02:00."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon.config import load_settings
from recon.errors import ConfigError


def write(tmp_path: Path, finance: list[str], sender: str = "recon@acme.test") -> Path:
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '[delivery]\nmode = "smtp"\n'
        f"[delivery.smtp]\nsender = {json.dumps(sender)}\n"
        f"[delivery.recipients]\nfinance = {json.dumps(finance)}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "address",
    [
        "Doe, Jane <jane@acme.test>",  # the comma makes two addresses, "Doe" one of them
        "fin@acme.test; ap@acme.test",  # two in one entry
        "finance",  # no domain
        "fin@acme.test\nBcc: all@elsewhere.test",  # a header of its own
    ],
    ids=["comma-in-name", "two-in-one", "no-at", "line-break"],
)
def test_a_recipient_that_is_not_one_address_is_refused_naming_the_entry(
    address: str, tmp_path: Path
) -> None:
    """Each entry went into the To header as written. A relay refused what was not one
    address only when the run mailed its report (kept in the outbox, exit 5 every night
    after); a line break raised ValueError building the mail, after the findings were saved,
    and the report went nowhere. Now the file is refused (exit 2) before the run starts."""
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, ["ap@acme.test", address]))
    assert "delivery.recipients.finance.1" in str(refused.value)
    assert "one e-mail address" in str(refused.value)


def test_a_sender_that_is_not_one_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"delivery\.smtp\.sender: .*one e-mail address"):
        load_settings(write(tmp_path, ["ap@acme.test"], sender="recon"))


@pytest.mark.parametrize(
    "address",
    ['"Doe, Jane" <jane@acme.test>', "Jane Doe <jane@acme.test>", "ops@mailhost"],
)
def test_addresses_with_names_or_a_local_domain_are_accepted(address: str, tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, [address], sender="Recon <recon@acme.test>"))
    assert settings.delivery.recipients["finance"] == [address]
