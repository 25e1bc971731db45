"""The sync tests' mirror: a SQLite file on the test's own clock (each module sets ``clock``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recon.clock import VirtualClock
from recon.store.sql import SqlStore


@pytest.fixture
def store(tmp_path: Path, clock: VirtualClock) -> Iterator[SqlStore]:
    mirror = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    yield mirror
    mirror.close()
