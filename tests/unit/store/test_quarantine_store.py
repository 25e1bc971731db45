"""The quarantine table on both dialects: its migration, resolution and what stays unreadable."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, create_engine, insert

from recon.clock import VirtualClock
from recon.errors import ConfigError
from recon.models import Quarantined
from recon.store import rows
from recon.store import tables as tbl
from recon.store.migrate import alembic_config, upgrade_to_head
from recon.store.sql import SqlStore
from tests.fakes import EPOCH, make_refund


def entry(record_id: str, kind: str = "refund", reason: str = "bad amount") -> Quarantined:
    return Quarantined(
        source="shopify", kind=kind, record_id=record_id, field="totalRefundedSet", reason=reason
    )


def check_resolution(store: SqlStore, clock: VirtualClock) -> None:
    store.add_quarantined(
        [entry("1"), entry("2"), entry("3", reason="kept after cleaning: x")], "r1"
    )
    assert store.load_snapshot().unreadable == {("refund", "1"), ("refund", "2")}
    clock.advance(timedelta(days=1))
    resolved = store.resolve_quarantined({("shopify", "refund"): ["1", "3"]}, [])
    assert resolved == 2
    assert store.load_snapshot().unreadable == {("refund", "2")}
    assert [e.entry.record_id for e in store.quarantine_entries()] == ["2"]
    history = store.quarantine_entries(include_resolved=True)
    assert [(e.entry.record_id, e.resolved_at) for e in history] == [
        ("1", clock.now()),
        ("2", None),
        ("3", clock.now()),
    ]
    # The same id of another kind is another record: nothing of it is resolved.
    assert store.resolve_quarantined({("shopify", "order"): ["2"]}, []) == 0


def test_a_clean_read_resolves_only_that_records_entries(tmp_path: Path) -> None:
    clock = VirtualClock(EPOCH)
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    try:
        check_resolution(store, clock)
    finally:
        store.close()


def test_a_clean_read_resolves_only_that_records_entries_on_postgresql(postgres_url: str) -> None:
    clock = VirtualClock(EPOCH)
    store = SqlStore(postgres_url, clock=clock)
    try:
        check_resolution(store, clock)
    finally:
        store.close()


def _only_quarantine(
    obj: object, name: str, type_: str, reflected: bool, compare_to: object
) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table == "quarantine"


def _migration_matches_the_table(url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(url)
    upgrade_to_head(engine)
    ours = MetaData()
    tbl.QuarantineRow.__table__.to_metadata(ours)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": _only_quarantine})
        assert compare_metadata(context, ours) == []
    engine.dispose()


def test_the_migration_matches_the_table_on_sqlite(tmp_path: Path) -> None:
    _migration_matches_the_table(f"sqlite:///{tmp_path / 'm.db'}")


def test_the_migration_matches_the_table_on_postgresql(postgres_url: str) -> None:
    _migration_matches_the_table(postgres_url)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_entries_written_before_the_upgrade_stay_open(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A mirror of the previous version keeps its entries, open, and lists them after upgrade."""
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003_store_owner")
        connection.execute(
            insert(tbl.QuarantineRow.__table__).values(
                source="loop",
                kind="return",
                record_id="9",
                field="total",
                reason="bad",
                raw={},
                quarantined_at=EPOCH,
            )
        )
    engine.dispose()
    store = SqlStore(url, clock=VirtualClock(EPOCH))
    try:
        (old,) = store.quarantine_entries()
        assert (old.entry.record_id, old.resolved_at) == ("9", None)
        assert store.load_snapshot().unreadable == {("return", "9")}
    finally:
        store.close()


def _refund_row(i: int, synced_at: datetime) -> dict[str, object]:
    """The mirror's row of refund ``7000 + i`` stored by a sync at ``synced_at``."""
    (parent,), _, _ = rows.refund_rows([make_refund(i, EPOCH, Decimal("10.00"))], synced_at)
    return parent


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_entries_the_mirror_read_cleanly_since_are_resolved_by_the_upgrade(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Before the upgrade nothing resolved an entry: refund 7001 was quarantined, then read and
    stored cleanly the next night. It must not hold its order's writes after the upgrade (it
    may never be read again); refund 7002, quarantined after its last clean read, still does."""
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    day = timedelta(days=1)
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003_store_owner")
        for record_id, at in (("7001", EPOCH), ("7002", EPOCH + day)):
            connection.execute(
                insert(tbl.QuarantineRow.__table__).values(
                    source="shopify",
                    kind="refund",
                    record_id=record_id,
                    field="amount",
                    reason="bad amount",
                    raw={},
                    quarantined_at=at,
                )
            )
        connection.execute(
            insert(tbl.RefundRow.__table__),
            [_refund_row(1, EPOCH + day), _refund_row(2, EPOCH)],
        )
    engine.dispose()
    store = SqlStore(url, clock=VirtualClock(EPOCH + 2 * day))
    try:
        assert store.load_snapshot().unreadable == {("refund", "7002")}
        history = store.quarantine_entries(include_resolved=True)
        assert [(e.entry.record_id, e.resolved_at) for e in history] == [
            ("7001", EPOCH + day),
            ("7002", None),
        ]
    finally:
        store.close()


def check_resolving_by_hand(store: SqlStore, clock: VirtualClock) -> None:
    """A Loop list item that was not even an object (no id to read) and a refund with a bad
    amount: the first can only be resolved by someone, with a note; the second resolves by a
    clean read of refund 7001 and is refused here (it holds writes on its order)."""
    garbage = Quarantined(
        source="loop",
        kind="return",
        record_id=None,
        field="$",
        reason="expected an object, got str",
        raw={"value": "'oops'"},
    )
    store.add_quarantined([garbage, entry("7001")], "r1")
    idless, refund = store.quarantine_entries()
    assert idless.entry.record_id is None and refund.entry.record_id == "7001"
    clock.advance(timedelta(hours=3))
    with pytest.raises(ConfigError, match=rf"entry {refund.entry_id}.*refund 7001.*clean"):
        store.resolve_quarantine_by_hand([refund.entry_id], by="cli:ann", note="looked at it")
    with pytest.raises(ConfigError, match="no quarantine entry 999"):
        store.resolve_quarantine_by_hand([999], by="cli:ann", note="looked at it")
    with pytest.raises(ConfigError, match="--note"):
        store.resolve_quarantine_by_hand([idless.entry_id], by="cli:ann", note="  ")
    assert len(store.quarantine_entries()) == 2  # nothing resolved by the refused calls

    done = store.resolve_quarantine_by_hand(
        [idless.entry_id], by="cli:ann", note="Loop test webhook"
    )
    assert done == [idless.entry_id]
    assert [e.entry.record_id for e in store.quarantine_entries()] == ["7001"]
    history = {e.entry_id: e for e in store.quarantine_entries(include_resolved=True)}
    resolved = history[idless.entry_id]
    assert (resolved.resolved_at, resolved.resolved_by, resolved.resolved_note) == (
        clock.now(),
        "cli:ann",
        "Loop test webhook",
    )
    assert history[refund.entry_id].resolved_by is None
    assert store.load_snapshot().unreadable == {("refund", "7001")}
    # Resolving it again changes nothing: the first who and why stay.
    clock.advance(timedelta(hours=1))
    assert store.resolve_quarantine_by_hand([idless.entry_id], by="cli:bob", note="again") == []
    again = {e.entry_id: e for e in store.quarantine_entries(include_resolved=True)}
    assert again[idless.entry_id] == resolved


def test_an_entry_without_a_record_id_is_resolved_by_hand_with_a_note(tmp_path: Path) -> None:
    clock = VirtualClock(EPOCH)
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    try:
        check_resolving_by_hand(store, clock)
    finally:
        store.close()


def test_an_entry_without_a_record_id_is_resolved_by_hand_on_postgresql(
    postgres_url: str,
) -> None:
    clock = VirtualClock(EPOCH)
    store = SqlStore(postgres_url, clock=clock)
    try:
        check_resolving_by_hand(store, clock)
    finally:
        store.close()


def test_a_well_formed_answer_settles_a_malformed_one_even_when_it_is_null(tmp_path: Path) -> None:
    """A malformed ``nodes(ids:)`` answer left refund 77 open with field ``nodes``: asked again
    every night until it is stored. The next answer is well formed and null (the refund is out
    of sight): that entry stays open as not visible, but the shape entry is settled. It stayed
    open for good (no read stores the refund; ``quarantine resolve`` refuses an entry naming a
    record), and the id was asked again every night."""
    from recon.models import NODES_SHAPE_FIELD
    from recon.sources.shopify_unread import REFUND_NOT_VISIBLE, not_visible

    clock = VirtualClock(EPOCH)
    store = SqlStore(f"sqlite:///{tmp_path / 'q.db'}", clock=clock)
    shape = Quarantined(
        source="shopify", kind="refund", record_id="77", field=NODES_SHAPE_FIELD,
        reason="RefundsById answered 1 entries for 2 ids",
    )  # fmt: skip
    store.add_quarantined([shape], "r1")
    assert store.ids_to_ask_again("refund") == ["77"]
    clock.advance(timedelta(days=1))
    null = not_visible("refund", "gid://shopify/Refund/77", REFUND_NOT_VISIBLE)
    store.add_quarantined([null], "r2")
    store.resolve_quarantined({}, [null])

    assert store.ids_to_ask_again("refund") == []
    assert [e.entry.field for e in store.quarantine_entries()] == ["$"]
    store.close()
