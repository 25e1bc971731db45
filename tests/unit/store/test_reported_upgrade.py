"""Migration 0010: findings stored before it are taken as reported (the reports listed them
as new when they were first seen), except the ``new`` ones of a last nightly run that did not
finish; the columns match the tables; it downgrades; on SQLite and PostgreSQL.

Dataset: a store at revision 0009 with three findings: one ``open`` (first seen Sep 20, last
seen Oct 21), one ``new`` (first and last seen Oct 21) and one acknowledged; the last nightly
run (Oct 21) finished ``ok`` or ``failed``, the ``new`` one seen by it or, when it failed before
saving anything, by the run before (Oct 20).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, insert, select

from recon.clock import VirtualClock
from recon.models import Category, Finding, FindingStatus, Owner, Severity
from recon.store import tables as tbl
from recon.store.migrate import alembic_config
from recon.store.sql import SqlStore
from tests.unit.store.history_shop import day

STATUSES = {"rma=1": FindingStatus.OPEN, "rma=2": FindingStatus.NEW,
            "rma=3": FindingStatus.ACKNOWLEDGED}  # fmt: skip


def _store_at_0009(url: str, last_run: str, new_seen: datetime) -> None:
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009_order_not_visible")
        owner = {"id": 1, "shop": "hist", "domain": None, "claimed_at": day(9, 1)}
        connection.execute(insert(tbl.StoreOwnerRow.__table__), [owner])
        runs = [{"id": "r1", "kind": "nightly", "status": "ok", "started_at": day(10, 20, 2)},
                {"id": "r2", "kind": "nightly", "status": last_run,
                 "started_at": day(10, 21, 2)}]  # fmt: skip
        connection.execute(insert(tbl.RunRow.__table__), runs)
        rows = []
        for scope, status in STATUSES.items():
            first = new_seen if status is FindingStatus.NEW else day(9, 20, 2)
            last = new_seen if status is FindingStatus.NEW else day(10, 21, 2)
            f = Finding(key=f"MISSING_REFUND|{scope}", category=Category.MISSING_REFUND,
                        severity=Severity.HIGH, owner=Owner.FINANCE, currency="USD",
                        amount_at_risk=Decimal("5.00"), status=status, first_seen=first,
                        last_seen=last)  # fmt: skip
            rows.append({"key": f.key, "category": f.category.value, "status": status.value,
                         "first_seen": first, "last_seen": f.last_seen, "resolved_at": None,
                         "acknowledged": status is FindingStatus.ACKNOWLEDGED,
                         "payload": f.model_dump(mode="json")})  # fmt: skip
        connection.execute(insert(tbl.FindingRow.__table__), rows)
    engine.dispose()


def _reported(store: SqlStore) -> dict[str, datetime | None]:
    table = tbl.FindingRow
    with store.session() as s:
        return {k.split("|")[1]: at for k, at in s.execute(select(table.key, table.reported_at))}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("last_run", "new_seen", "expected"),
    [
        ("ok", day(10, 21, 2),
         {"rma=1": day(10, 21, 2), "rma=2": day(10, 21, 2), "rma=3": day(10, 21, 2)}),
        ("failed", day(10, 21, 2),
         {"rma=1": day(10, 21, 2), "rma=2": None, "rma=3": day(10, 21, 2)}),
        # The last run failed before it saved any finding (an API down in its sync): the new
        # finding is the run before's, which finished and mailed it; not listed as new again.
        ("failed", day(10, 20, 2),
         {"rma=1": day(10, 21, 2), "rma=2": day(10, 20, 2), "rma=3": day(10, 21, 2)}),
    ],
    ids=["last-run-ok", "failed-after-saving", "failed-before-saving"],
)  # fmt: skip
def test_stored_findings_are_reported_unless_new_in_a_run_that_did_not_finish(
    dialect: str,
    last_run: str,
    new_seen: datetime,
    expected: dict[str, datetime | None],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    _store_at_0009(url, last_run, new_seen)
    store = SqlStore(url, clock=VirtualClock(day(10, 23)), shop="hist")
    try:
        assert _reported(store) == expected
        assert store.unreported_keys() == {
            f"MISSING_REFUND|{scope}" for scope, at in expected.items() if at is None
        }
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": _ours})
            ours = MetaData()
            for table in (tbl.FindingRow, tbl.FindingEventRow):
                table.__table__.to_metadata(ours)  # type: ignore[attr-defined]
            assert compare_metadata(context, ours) == []
        config = alembic_config()
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0009_order_not_visible")
            command.upgrade(config, "head")
    finally:
        store.close()


def _ours(obj: object, name: str, type_: str, reflected: bool, compare_to: object) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in ("findings", "finding_events")
