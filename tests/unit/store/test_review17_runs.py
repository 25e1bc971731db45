"""Review 17: a nightly the run lock refuses exits 4, whether or not its ``refused`` row can be
written.

SQLite has one writer. When the lock holder's sync holds the write lock past the busy timeout,
``RunLock.acquire`` says so as a ``LockError`` (exit 4: cron's loop and ``schedule`` try the
night again). ``service._acquire`` then records the ``refused`` row, which needs the same
write lock: it fails too, and the guard meant for that ("SQLite's writer may be the very run
holding it") catches ``SQLAlchemyError``, but ``SqlStore.session`` has already turned it into
``StoreError``. The run ends with that StoreError (exit 1, "scheduled run failed", no retry)
instead of the lock's refusal.

Dataset: ``history_shop`` on SQLite; another connection holds the write lock (``BEGIN
IMMEDIATE``: the holder's sync committing), with the busy timeout cut to 0.2 s so the test
does not wait 30 s twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from recon.errors import LockError
from recon.store import connect
from tests.unit.store.history_shop import HistoryShop, day


@pytest.fixture
def sqlite_shop(tmp_path: Path) -> Iterator[HistoryShop]:
    """``history_shop``'s shop on a fresh SQLite file (its single writer is the point)."""
    shop = HistoryShop(f"sqlite:///{tmp_path / 'recon.db'}", tmp_path)
    yield shop
    shop.close()


def test_a_night_refused_while_the_holder_writes_still_exits_as_refused(
    sqlite_shop: HistoryShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = sqlite_shop
    monkeypatch.setattr(connect, "SQLITE_BUSY_TIMEOUT_MS", 200)
    shop.store.engine.dispose()  # new connections take the short busy timeout
    writer = create_engine(shop.store.url)
    try:
        with writer.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the holder's sync, committing
            try:
                with pytest.raises(LockError, match="another run is writing"):
                    shop.night(day(10, 21, 2))
            finally:
                connection.exec_driver_sql("ROLLBACK")
    finally:
        writer.dispose()
