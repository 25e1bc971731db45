"""Fixtures of the store tests: a ``HistoryShop`` on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.store.history_shop import HistoryShop


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryShop]:
    """``history_shop``'s shop on a fresh SQLite file or a private PostgreSQL schema."""
    url = (
        f"sqlite:///{tmp_path / 'recon.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    shop = HistoryShop(url, tmp_path)
    yield shop
    shop.close()
