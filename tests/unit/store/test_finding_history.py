"""The findings' history: one event per status change, written by the nightly run and by
``findings ack``, none when nothing changed; on SQLite and PostgreSQL.

Dataset: ``history_shop`` (1002 under-refunded on Sep 19, 1003 never refunded). Nights: Sep 20
(1002 seen), Oct 5 (a pending second refund of 1002 settles the mismatch), Oct 21 (1003 seen),
Oct 22 finance acknowledges 1003, Oct 25 (the second refund failed: 1002's mismatch is back),
Nov 3 (Loop changed what 1003 is owed: the acknowledgement no longer holds).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, insert

from recon.clock import VirtualClock
from recon.models import Category, EventOrigin, Finding, FindingStatus, Owner, Severity
from recon.store import tables as tbl
from recon.store.migrate import alembic_config
from recon.store.sql import SqlStore
from tests.unit.store.history_shop import MISMATCH, MISSING, HistoryShop, day


def _timeline(shop: HistoryShop, key: str) -> list[tuple[object, ...]]:
    return [
        (e.at, e.status, e.amount_at_risk, e.currency, e.first_seen, e.acknowledged_by)
        for e in shop.events(key)
    ]


def test_each_status_change_is_one_event_with_its_time_amount_and_who(shop: HistoryShop) -> None:
    runs = {}
    runs["sep20"] = shop.night(day(9, 20, 2)).run_id
    shop.refund_the_rest_of_1002(day(10, 4), "PENDING", seen=day(10, 4))
    runs["oct5"] = shop.night(day(10, 5, 2)).run_id
    runs["oct21"] = shop.night(day(10, 21, 2)).run_id
    shop.ack(MISSING, "cli:bob", "refunding by hand", day(10, 22))
    shop.refund_the_rest_of_1002(day(10, 4), "FAILURE", seen=day(10, 24))
    runs["oct25"] = shop.night(day(10, 25, 2)).run_id
    shop.loop_changes_1003(day(11, 2), owed="15.00")
    runs["nov3"] = shop.night(day(11, 3, 2)).run_id

    usd, s, ack = "USD", FindingStatus, FindingStatus.ACKNOWLEDGED
    assert _timeline(shop, MISMATCH) == [
        (day(9, 20, 2), s.NEW, Decimal("2.02"), usd, day(9, 20, 2), None),
        (day(10, 5, 2), s.RESOLVED, Decimal("2.02"), usd, day(9, 20, 2), None),
        (day(10, 25, 2), s.NEW, Decimal("2.02"), usd, day(10, 25, 2), None),
    ]
    assert _timeline(shop, MISSING) == [
        (day(10, 21, 2), s.NEW, Decimal("13.03"), usd, day(10, 21, 2), None),
        (day(10, 22), ack, Decimal("13.03"), usd, day(10, 21, 2), "cli:bob"),
        (day(11, 3, 2), s.OPEN, Decimal("15.00"), usd, day(10, 21, 2), None),
    ]
    missing = shop.events(MISSING)
    assert [e.run_id for e in missing] == [runs["oct21"], None, runs["nov3"]]
    assert [e.origin for e in missing] == [EventOrigin.RUN, EventOrigin.ACK, EventOrigin.RUN]
    assert missing[1].acknowledged_note == "refunding by hand"
    assert [e.run_id for e in shop.events(MISMATCH)] == [runs["sep20"], runs["oct5"], runs["oct25"]]
    with shop.store.session() as s:
        assert {row.shop for row in s.query(tbl.FindingEventRow)} == {"hist"}


def test_a_run_over_unchanged_data_adds_no_events(shop: HistoryShop) -> None:
    shop.night(day(9, 20, 2))
    first = shop.store.finding_events()
    assert first  # 1002's mismatch at least
    shop.night(day(9, 21, 2))
    assert shop.store.finding_events() == first


def test_acknowledging_again_keeps_the_first_acknowledgement_and_adds_no_event(
    shop: HistoryShop,
) -> None:
    """The audit trail keeps when a finding was first acknowledged, by whom and why: a
    second acknowledgement (another reason, another person) changes nothing; the night after,
    unchanged, the acknowledgement stands and nothing is added."""
    shop.night(day(9, 20, 2))
    shop.ack(MISMATCH, "cli:bob", "asked the customer", day(9, 21))
    shop.ack(MISMATCH, "cli:ana", "customer agreed to 10.00", day(9, 22))
    shop.night(day(9, 23, 2))
    assert [(e.status, e.acknowledged_by, e.acknowledged_note, e.acknowledged_at)
            for e in shop.events(MISMATCH)] == [
        (FindingStatus.NEW, None, "", None),
        (FindingStatus.ACKNOWLEDGED, "cli:bob", "asked the customer", day(9, 21)),
    ]  # fmt: skip
    stored = {f.key: f for f in shop.store.load_findings()}[MISMATCH]
    assert (stored.status, stored.acknowledged_by, stored.acknowledged_at) == (
        FindingStatus.ACKNOWLEDGED, "cli:bob", day(9, 21)
    )  # fmt: skip


def _old_mirror(url: str, findings: list[Finding]) -> None:
    """A mirror at revision 0007 (before the history) claimed by "hist", holding ``findings``."""
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007_order_test_flag")
        owner = {"id": 1, "shop": "hist", "domain": None, "claimed_at": day(9, 1)}
        connection.execute(insert(tbl.StoreOwnerRow.__table__), [owner])
        rows = [
            {"key": f.key, "category": f.category.value, "status": f.status.value,
             "first_seen": f.first_seen, "last_seen": f.last_seen, "resolved_at": f.resolved_at,
             "acknowledged": f.status is FindingStatus.ACKNOWLEDGED,
             "payload": f.model_dump(mode="json")}
            for f in findings
        ]  # fmt: skip
        connection.execute(insert(tbl.FindingRow.__table__), rows)
    engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_an_upgraded_store_begins_each_findings_history_with_its_state_then(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Dataset: a store of the version before the history with three findings: one open
    (first seen Sep 20), one acknowledged by bob on Oct 22, one resolved on Oct 5. Upgraded on
    Oct 23, each gets one event dated then, saying how it stood; later changes add to it."""
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    base: dict[str, Any] = {"category": Category.MISSING_REFUND, "severity": Severity.HIGH,
                            "owner": Owner.FINANCE, "currency": "USD"}  # fmt: skip
    base["amount_at_risk"] = Decimal("5.00")
    findings = [
        Finding(key="MISSING_REFUND|rma=1", first_seen=day(9, 20), last_seen=day(10, 21),
                status=FindingStatus.OPEN, **base),
        Finding(key="MISSING_REFUND|rma=2", first_seen=day(10, 2), last_seen=day(10, 21),
                status=FindingStatus.ACKNOWLEDGED, acknowledged_by="cli:bob",
                acknowledged_note="refunding by hand", acknowledged_at=day(10, 22), **base),
        Finding(key="MISSING_REFUND|rma=3", first_seen=day(9, 2), last_seen=day(10, 4),
                resolved_at=day(10, 5), status=FindingStatus.RESOLVED, **base),
    ]  # fmt: skip
    _old_mirror(url, findings)
    store = SqlStore(url, clock=VirtualClock(day(10, 23)), shop="hist")
    try:
        events = store.finding_events()
        assert {k: [(e.at, e.origin, e.status) for e in v] for k, v in events.items()} == {
            f.key: [(day(10, 23), EventOrigin.UPGRADE, f.status)] for f in findings
        }
        (acked,) = events["MISSING_REFUND|rma=2"]
        assert (acked.acknowledged_by, acked.acknowledged_note, acked.acknowledged_at) == (
            "cli:bob", "refunding by hand", day(10, 22)
        )  # fmt: skip
        assert [e.first_seen for e in events["MISSING_REFUND|rma=1"]] == [day(9, 20)]
        assert [e.amount_at_risk for e in events["MISSING_REFUND|rma=3"]] == [Decimal("5.00")]
        store.acknowledge_findings(
            ["MISSING_REFUND|rma=1"], by="cli:ana", note="ok", at=day(10, 24)
        )
        assert [e.origin for e in store.finding_events()["MISSING_REFUND|rma=1"]] == [
            EventOrigin.UPGRADE, EventOrigin.ACK
        ]  # fmt: skip
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": _history})
            ours = MetaData()
            tbl.FindingEventRow.__table__.to_metadata(ours)
            assert compare_metadata(context, ours) == []
    finally:
        store.close()


def _history(obj: object, name: str, type_: str, reflected: bool, compare_to: object) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table == "finding_events"


def test_an_open_findings_amount_change_is_an_event_with_the_amount_before(
    shop: HistoryShop,
) -> None:
    """Loop changes what 1003 is owed while its MISSING_REFUND is open: its status stays
    open, and the history keeps when the amount at risk moved, from what to what."""
    shop.night(day(10, 21, 2))
    shop.loop_changes_1003(day(10, 22), owed="15.00")
    run = shop.night(day(10, 23, 2)).run_id
    shop.night(day(10, 24, 2))  # unchanged: nothing more
    events = shop.events(MISSING)
    assert [(e.at, e.status, e.amount_at_risk, e.amount_before, e.currency_before)
            for e in events] == [
        (day(10, 21, 2), FindingStatus.NEW, Decimal("13.03"), None, None),
        (day(10, 23, 2), FindingStatus.OPEN, Decimal("15.00"), Decimal("13.03"), "USD"),
    ]  # fmt: skip
    assert (events[1].run_id, events[1].first_seen) == (run, day(10, 21, 2))


def test_an_acknowledged_finding_whose_amount_changes_is_reopened_recorded_and_new_again(
    shop: HistoryShop,
) -> None:
    """Acknowledged findings stay quiet until they change: then the history says it reopened
    with the amount before and after, and the next report lists it new again, once."""
    shop.night(day(10, 21, 2))
    shop.ack(MISSING, "cli:bob", "refunding by hand", day(10, 22))
    quiet = shop.night(day(10, 22, 2))
    assert MISSING not in {f.key for f in quiet.open_findings}
    shop.loop_changes_1003(day(10, 22, 12), owed="15.00")
    changed = shop.night(day(10, 23, 2))
    reopened = shop.events(MISSING)[-1]
    assert (reopened.status, reopened.amount_at_risk, reopened.amount_before) == (
        FindingStatus.OPEN, Decimal("15.00"), Decimal("13.03")
    )  # fmt: skip
    html = changed.files["html"].read_text("utf-8")
    new = html.split("<h3>New</h3>", 1)[1].split("</ul>", 1)[0] if "<h3>New</h3>" in html else ""
    assert "MISSING_REFUND · RMA 1003" in new
    after = shop.night(day(10, 24, 2)).files["html"].read_text("utf-8")
    assert "<h3>New</h3>" not in after
