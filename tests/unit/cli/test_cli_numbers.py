"""Numeric options out of their range are refused (exit 2), a usage error naming the option and
its bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.test_cli import recon


@pytest.mark.parametrize("limit", ["-1", "0"])
def test_a_quarantine_limit_below_one_exits_2(config: Path, limit: str) -> None:
    """`--limit -1` listed every entry but the oldest (a Python slice), `--limit 0` none, each
    under a title counting them all and exit 0: the listing looked complete and was not."""
    result = recon("quarantine", "--limit", limit, "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "--limit" in result.stderr and "1" in result.stderr  # the least it takes
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "bound"),
    [("--shopify-port", "-1", "0"), ("--loop-port", "70000", "65535"), ("--returns", "-3", "0")],
)
def test_a_sandbox_port_or_size_out_of_range_exits_2(option: str, value: str, bound: str) -> None:
    """A port out of 0..65535 failed in the socket's bind with a traceback and exit 1."""
    ports = {"--shopify-port": "0", "--loop-port": "0"}
    ports.pop(option, None)
    args = [part for pair in ports.items() for part in pair]
    result = recon("sandbox", *args, option, value)
    assert result.returncode == 2, result.stderr
    assert option in result.stderr and bound in result.stderr
    assert "Traceback" not in result.stderr
