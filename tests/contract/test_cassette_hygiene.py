"""Every recorded cassette is free of credentials and of the recording machine's address."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recon.sandbox.state import LOOP_API_KEY, SHOPIFY_TOKEN

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
FORBIDDEN = {
    "the sandbox Shopify token": re.escape(SHOPIFY_TOKEN),
    "the sandbox Loop key": re.escape(LOOP_API_KEY),
    "a Shopify token": r"shp(?:at|ca|pa|ss|ua)_[A-Za-z0-9_]+",
    "a Shopify token header": r"(?i)x-shopify-access-token",
    "a Loop key header": r"(?i)x-authorization",
    "an Authorization header": r"(?i)\bauthorization:\s*\S",
    "a bearer token": r"(?i)bearer\s+[A-Za-z0-9._-]{8,}",
    "a token in a query string": r"(?i)[?&](?:access_token|api_key|apikey|token|key)=[^&\s]+",
    "the recording host": r"127\.0\.0\.1|localhost:\d+|\[::1\]",
    "a customer e-mail address": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
}


def _cassettes() -> list[Path]:
    return sorted(CASSETTES.glob("*.yaml"))


def test_there_are_cassettes_to_check() -> None:
    names = {path.name for path in _cassettes()}
    assert {"loop_returns_list.yaml", "shopify_graphql.yaml"} <= names


@pytest.mark.parametrize("path", _cassettes(), ids=lambda p: p.name)
def test_cassette_holds_no_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [what for what, pattern in FORBIDDEN.items() if re.search(pattern, text)]
    assert found == [], f"{path.name} contains {', '.join(found)}: re-record with RECON_RECORD=1"
