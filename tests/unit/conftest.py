"""Fixtures shared by the unit tests: a store on each dialect for modules that define their own
``clock`` (its PostgreSQL schema from ``postgres_url``, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from recon.clock import VirtualClock
    from recon.store.sql import SqlStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: VirtualClock
) -> Iterator[SqlStore]:
    """A fresh store on SQLite, then on PostgreSQL (skipped without a test server), read by the
    module's own ``clock`` fixture. A module that defines ``store`` itself keeps its own."""
    from recon.store.sql import SqlStore

    url = (
        f"sqlite:///{tmp_path / 'recon.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    mirror = SqlStore(url, clock=clock)
    yield mirror
    mirror.close()
