"""Running a list command with ``--json`` as a monitoring script does, and reading it back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from recon.cli import app

# What a table prints and a script must never have to strip: colour codes, box drawing.
TABLE_MARKS = ("\x1b[", "┃", "│", "━", "─", "┏", "╇")


def listed(
    monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """``run_recon.py args`` in-process through typer's runner, without the caller's ``RECON_``
    variables, plus ``env``, with colours forced on (rich honours ``FORCE_COLOR``): any colour
    code in the output is the command's. Returns the exit code, stdout and stderr."""
    for name in [n for n in os.environ if n.startswith("RECON_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, list(args), env={"FORCE_COLOR": "1", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def document(
    monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The one JSON document ``args --json`` prints (exit 0), with nothing else on stdout."""
    code, out, err = listed(monkeypatch, *args, "--json", env=env)
    assert code == 0, (out, err)
    for mark in TABLE_MARKS:
        assert mark not in out, out
    assert out.endswith("\n") and out.count("\n") == 1, out  # one line: `| jq` or `read`
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def store_env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings' store for ``backend``: the config's SQLite file, or a private PostgreSQL
    schema (skipped without RECON_TEST_POSTGRES_URL)."""
    if backend == "sqlite":
        return {}
    return {"RECON_STORE__URL": request.getfixturevalue("postgres_url")}


def in_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Set ``env`` for the seeding code, which reads the settings as the command does."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def db_file(config: Path) -> Path:
    """The SQLite store the ``config`` fixture names."""
    return config.parent.parent / "var" / "recon.db"
