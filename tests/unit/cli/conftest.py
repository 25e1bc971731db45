"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A settings file naming only an SQLite store (relative to the file: var/recon.db)."""
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir()
    path.write_text('[store]\nurl = "sqlite:///var/recon.db"\n', encoding="utf-8")
    return path
