"""Every command's --help reads as help: no docstring sections meant for developers."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from recon.cli import app

COMMANDS = [
    [],
    ["run"],
    ["demo"],
    ["backfill"],
    ["schedule"],
    ["sandbox"],
    ["generate"],
    ["report"],
    ["actions", "list"],
    ["actions", "approve"],
    ["actions", "reject"],
    ["actions", "history"],
    ["findings", "list"],
    ["findings", "ack"],
    ["quarantine"],
    ["quarantine", "resolve"],
    ["quarantine", "show"],
    ["findings", "history"],
    ["runs"],
    ["outbox", "list"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "recon")
def test_help_shows_no_developer_sections(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    for section in ("Raises:", "Returns:", "Args:", "``"):
        assert section not in result.output
