"""Migration 0012: a finding closed (resolved or left out) by a run whose report never went
out is left for the next report to list as such; every other closure stored before it counts
as reported, so nothing already mailed is announced again; on SQLite and PostgreSQL.

Dataset: a store at revision 0011; nightly run ``ok1`` finished ``ok``, the last one, ``bad``,
``failed`` after saving its findings. Findings, by RMA:
1: resolved by ``ok1``, its episode reported (mailed as resolved by ``ok1``);
2: resolved by ``bad``; 3: left out by ``bad`` (neither ever mailed as closed);
4: first seen by an earlier failed run and resolved by ``ok1`` (``reported_at`` NULL, yet
``ok1``'s mail listed it as resolved); 5: open, reported; 6: resolved before the history
began (its only event is the upgrade's, with no run); 7: resolved by ``old``, a run that
failed before ``ok1`` (never mailed, but old news: not announced a month late).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, select

from recon.clock import VirtualClock
from recon.models import Category, Finding, FindingStatus, Owner, Severity
from recon.store import tables as tbl
from recon.store.migrate import alembic_config
from recon.store.sql import SqlStore
from tests.unit.store.history_shop import day

RESOLVED, LEFT_OUT, OPEN = FindingStatus.RESOLVED, FindingStatus.LEFT_OUT, FindingStatus.OPEN
# rma: (status, reported_at, the run of its last event)
STORED = {
    "1": (RESOLVED, day(9, 20, 2), "ok1"),
    "2": (RESOLVED, day(9, 20, 2), "bad"),
    "3": (LEFT_OUT, day(9, 20, 2), "bad"),
    "4": (RESOLVED, None, "ok1"),
    "5": (OPEN, day(9, 20, 2), "bad"),
    "6": (RESOLVED, day(9, 20, 2), None),
    "7": (RESOLVED, day(9, 20, 2), "old"),
}
_CLOSED_AT = {"bad": day(10, 21, 2), "old": day(10, 19, 2)}


def _store_at_0011(url: str) -> None:
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0011_unseen_orders")
        owner = {"id": 1, "shop": "hist", "domain": None, "claimed_at": day(9, 1)}
        connection.execute(insert(tbl.StoreOwnerRow.__table__), [owner])
        runs = [{"id": "old", "kind": "nightly", "status": "failed",
                 "started_at": day(10, 19, 2)},
                {"id": "ok1", "kind": "nightly", "status": "ok", "started_at": day(10, 20, 2)},
                {"id": "bad", "kind": "nightly", "status": "failed",
                 "started_at": day(10, 21, 2)}]  # fmt: skip
        connection.execute(insert(tbl.RunRow.__table__), runs)
        findings, events = [], []
        for rma, (status, reported, run) in STORED.items():
            closed = _CLOSED_AT.get(run or "", day(10, 20, 2))
            f = Finding(key=f"MISSING_REFUND|rma={rma}", category=Category.MISSING_REFUND,
                        severity=Severity.HIGH, owner=Owner.FINANCE, currency="USD",
                        amount_at_risk=Decimal("5.00"), status=status, first_seen=day(9, 20, 2),
                        last_seen=day(10, 19, 2),
                        resolved_at=None if status is OPEN else closed)  # fmt: skip
            findings.append({"key": f.key, "category": f.category.value, "status": status.value,
                             "first_seen": f.first_seen, "last_seen": f.last_seen,
                             "resolved_at": f.resolved_at, "acknowledged": False,
                             "payload": f.model_dump(mode="json"),
                             "reported_at": reported})  # fmt: skip
            events.append({"shop": "hist", "key": f.key, "run_id": run, "at": closed,
                           "status": status.value, "origin": "run" if run else "upgrade",
                           "amount_at_risk": "5.00", "currency": "USD",
                           "first_seen": f.first_seen, "acknowledged_note": ""})  # fmt: skip
        connection.execute(insert(tbl.FindingRow.__table__), findings)
        connection.execute(insert(tbl.FindingEventRow.__table__), events)
    engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_only_closures_by_a_run_that_did_not_finish_are_left_to_the_next_report(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    _store_at_0011(url)
    store = SqlStore(url, clock=VirtualClock(day(10, 23)), shop="hist")
    try:
        assert store.unreported_closed_keys() == {"MISSING_REFUND|rma=2", "MISSING_REFUND|rma=3"}
        assert store.unreported_keys() == set()
        reported = _reported(store)
        assert reported["1"] == reported["5"] == reported["6"] == day(9, 20, 2)  # as they were
        assert reported["7"] == day(9, 20, 2)  # closed by a run before the last good one
        assert reported["4"] == day(10, 20, 2)  # its resolution, mailed by ok1
        config = alembic_config()
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0011_unseen_orders")
            command.upgrade(config, "head")
        assert store.unreported_closed_keys() == {"MISSING_REFUND|rma=2", "MISSING_REFUND|rma=3"}
    finally:
        store.close()


def _reported(store: SqlStore) -> dict[str, datetime | None]:
    table = tbl.FindingRow
    with store.session() as s:
        return {k.split("=")[1]: at for k, at in s.execute(select(table.key, table.reported_at))}
