"""Fixtures for remediation tests: a SQLite ledger file, a virtual clock, a FakeGateway, a lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from remediation_world import T0, FakeGateway, sessions_for
from sqlalchemy.orm import Session

from recon.clock import VirtualClock
from recon.lock import RunLock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Callable[[], Session]]:
    factory = sessions_for(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield factory
    factory.kw["bind"].dispose()  # type: ignore[attr-defined]


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def run_lock(sessions: Callable[[], Session], clock: VirtualClock) -> RunLock:
    return RunLock(sessions, clock)
