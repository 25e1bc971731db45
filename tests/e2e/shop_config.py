"""The settings file of a real shop pointed at a sandbox served from the test: recon runs in a
child process as in production (secrets only by environment variable name), applying refunds,
restocks and tags with limits no planted amount reaches."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def real_shop_config(tmp: Path, server: Any, shop: str) -> Path:
    """Write ``tmp/recon.toml`` for ``shop`` on ``server`` (a ``SandboxServer``); its path."""
    text = f"""
[shop]
slug = "{shop}"
base_url = "{server.shopify_base_url}"
token_env = "RECON_SHOPIFY_TOKEN"

[loop]
base_url = "{server.loop_base_url}"
api_key_env = "RECON_LOOP_API_KEY"

[sandbox]
enabled = false

[store]
url = "sqlite:///{tmp / "recon.db"}"

[sync]
initial_days = 150
http_timeout_seconds = 20

[remediation]
mode = "apply"
# STATUS_DRIFT too, so that no intent is left waiting for approval: every one must settle.
auto_apply = ["MISSING_REFUND", "MISSING_RESTOCK", "STATUS_DRIFT"]
max_refund_amount = {{ USD = "100000", EUR = "100000", CAD = "100000" }}
max_run_total = {{ USD = "1000000", EUR = "1000000", CAD = "1000000" }}
max_run_count = 500

[reports]
dir = "{tmp / "reports"}"

[delivery]
outbox_dir = "{tmp / "outbox"}"
"""
    path = tmp / "recon.toml"
    path.write_text(text, encoding="utf-8")
    return path
