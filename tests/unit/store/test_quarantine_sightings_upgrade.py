"""Migration 0013: the "not visible" entries a store piled up before (one a recheck) fold into
one entry per record and episode, counting them; other entries are left one row per time. On
SQLite and PostgreSQL.

Dataset (a store at 0012): order 5001 answered null by runs r1, r2, r3 (days 0, 30, 60), open;
balance transaction 8001 answered null by r1 and r2, then shown (resolved on day 40), then null
again by r3 (open); refund 7001 with a bad amount read by r1 and r2 (two payloads, open).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, create_engine, insert

from recon.clock import VirtualClock
from recon.models import BALANCE_NOT_VISIBLE, ORDER_NOT_VISIBLE
from recon.store import tables as tbl
from recon.store.migrate import alembic_config, upgrade_to_head
from recon.store.quarantine import QuarantineEntry
from recon.store.sql import SqlStore
from tests.fakes import EPOCH

DAY = timedelta(days=1)
# (record kind, id, reason, run, day quarantined, day resolved)
STORED = [
    ("order", "5001", ORDER_NOT_VISIBLE, "r1", 0, None),
    ("balance_transaction", "8001", BALANCE_NOT_VISIBLE, "r1", 0, 40),
    ("refund", "7001", "not a decimal", "r1", 0, None),
    ("order", "5001", ORDER_NOT_VISIBLE, "r2", 30, None),
    ("balance_transaction", "8001", BALANCE_NOT_VISIBLE, "r2", 30, 40),
    ("refund", "7001", "not a decimal", "r2", 30, None),
    ("order", "5001", ORDER_NOT_VISIBLE, "r3", 60, None),
    ("balance_transaction", "8001", BALANCE_NOT_VISIBLE, "r3", 60, None),
]


def _store_at_0012(url: str) -> None:
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0012_closure_reported")
        rows = [
            {"run_id": run, "source": "shopify", "kind": kind, "record_id": record,
             "field": "$" if kind != "refund" else "totalRefundedSet", "reason": reason,
             "raw": {"id": record, "n": n}, "quarantined_at": EPOCH + at * DAY,
             "resolved_at": None if done is None else EPOCH + done * DAY}
            for n, (kind, record, reason, run, at, done) in enumerate(STORED)
        ]  # fmt: skip
        connection.execute(insert(tbl.QuarantineRow.__table__), rows)
    engine.dispose()


def _summary(e: QuarantineEntry) -> tuple[object, ...]:
    return (
        e.entry.kind,
        e.entry.record_id,
        e.times,
        (e.quarantined_at - EPOCH).days,
        (e.last_seen_at - EPOCH).days,
        e.last_run_id,
        None if e.resolved_at is None else (e.resolved_at - EPOCH).days,
    )


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_upgrade_folds_repeat_sightings_and_keeps_rejected_payloads(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    _store_at_0012(url)
    store = SqlStore(url, clock=VirtualClock(EPOCH + 61 * DAY))
    try:
        history = store.quarantine_entries(include_resolved=True)
        assert [_summary(e) for e in history] == [
            ("order", "5001", 3, 0, 60, "r3", None),
            ("balance_transaction", "8001", 2, 0, 30, "r2", 40),
            ("refund", "7001", 1, 0, 0, "r1", None),
            ("refund", "7001", 1, 30, 30, "r2", None),
            ("balance_transaction", "8001", 1, 60, 60, "r3", None),
        ]
        assert [e.entry.raw["n"] for e in history if e.entry.kind == "refund"] == [2, 5]
        assert store.load_snapshot().unreadable == {
            ("order", "5001"),
            ("refund", "7001"),
            ("balance_transaction", "8001"),
        }
        # The next recheck answered null again updates the folded entry.
        store.add_quarantined([q.entry for q in history if q.entry.kind == "order"], "r4")
        (order,) = [e for e in store.quarantine_entries() if e.entry.kind == "order"]
        assert (order.times, order.last_run_id) == (4, "r4")
    finally:
        store.close()


def _only_quarantine(
    obj: object, name: str, type_: str, reflected: bool, compare_to: object
) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table == "quarantine"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migration_matches_the_table(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = (
        f"sqlite:///{tmp_path / 'm.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = create_engine(url)
    upgrade_to_head(engine)
    ours = MetaData()
    tbl.QuarantineRow.__table__.to_metadata(ours)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": _only_quarantine})
        assert compare_metadata(context, ours) == []
    engine.dispose()
