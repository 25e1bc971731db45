"""SqlStore: file mode, migrations, idempotent upserts, exact round trips, bookkeeping."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from recon.clock import VirtualClock
from recon.models import (
    Category,
    Finding,
    FindingStatus,
    OrderLine,
    Owner,
    Quarantined,
    Record,
    Severity,
)
from recon.store import tables as tbl
from recon.store.migrate import alembic_config, current_revision
from recon.store.sql import SqlStore
from tests.fakes import EPOCH, dump_mirror, make_order, make_refund, sample_dataset


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    mirror = SqlStore(f"sqlite:///{tmp_path / 'var' / 'recon.db'}", clock=VirtualClock(EPOCH))
    yield mirror
    mirror.close()


def _fill(store: SqlStore) -> None:
    data = sample_dataset(returns=30)
    store.upsert_returns(data.returns)
    store.upsert_orders(data.orders)
    store.upsert_refunds(data.refunds)
    store.upsert_payouts(data.payouts)
    store.upsert_balance_transactions(data.balance_transactions)
    store.upsert_gift_cards(data.gift_cards)


def test_new_database_file_is_private_to_its_owner(store: SqlStore, tmp_path: Path) -> None:
    mode = stat.S_IMODE((tmp_path / "var" / "recon.db").stat().st_mode)
    assert mode == 0o600


def test_sqlite_runs_in_wal_mode(store: SqlStore) -> None:
    with store.session() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_migrations_create_schema_then_are_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    first = SqlStore(url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(first.engine) == head
    assert {"loop_returns", "findings", "sync_watermarks"} <= set(
        inspect(first.engine).get_table_names()
    )
    first.upsert_orders([make_order(1, EPOCH)])
    first.close()
    again = SqlStore(url)
    with again.session() as s:
        versions = s.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [head]
    assert again.count_rows("orders") == 1  # reopening kept the data
    again.close()


def test_upserting_twice_leaves_the_same_rows(store: SqlStore) -> None:
    _fill(store)
    before = dump_mirror(store)
    _fill(store)
    assert dump_mirror(store) == before
    assert len(before["loop_returns"]) == 30
    assert len(before["transactions"]) == len(before["refunds"])


def test_records_round_trip_exactly(store: SqlStore) -> None:
    data = sample_dataset(returns=30)
    _fill(store)
    snap = store.load_snapshot()
    assert list(snap.returns) == sorted(data.returns, key=lambda r: r.id)
    assert list(snap.orders) == sorted(data.orders, key=lambda r: r.id)
    assert list(snap.refunds) == sorted(data.refunds, key=lambda r: r.id)
    assert list(snap.payouts) == sorted(data.payouts, key=lambda r: r.id)
    assert list(snap.balance_transactions) == sorted(data.balance_transactions, key=lambda r: r.id)
    assert list(snap.gift_cards) == sorted(data.gift_cards, key=lambda r: r.id)
    refund = snap.refunds[0]
    assert refund.raw == {"id": f"gid://shopify/Refund/{refund.id}"}
    assert refund.created_at is not None and refund.created_at.utcoffset() == timedelta(0)


def test_money_keeps_its_exact_digits(store: SqlStore) -> None:
    store.upsert_refunds([make_refund(1, EPOCH, Decimal("10.10"))])
    (refund,) = store.load_snapshot().refunds
    assert str(refund.total) == "10.10"
    with store.session() as s:
        assert s.scalar(select(tbl.RefundRow.total)) == "10.10"


def test_a_new_version_replaces_the_child_rows(store: SqlStore) -> None:
    order = make_order(1, EPOCH, ("71", "72"))
    store.upsert_orders([order])
    line = OrderLine(id="99", sku="NEW", quantity=1)
    store.upsert_orders([order.model_copy(update={"refund_ids": ("72",), "lines": (line,)})])
    assert store.count_rows("order_refund_ids") == 1
    assert store.count_rows("order_lines") == 1
    (mirrored,) = store.load_snapshot().orders
    assert mirrored.refund_ids == ("72",)
    assert mirrored.lines == (line,)


def test_a_lean_order_without_lines_keeps_the_mirrored_lines(store: SqlStore) -> None:
    """The refunded-orders sweep reads orders without line items; it must not erase them."""
    order = make_order(1, EPOCH, ("71",))
    store.upsert_orders([order])
    lean = order.model_copy(update={"refund_ids": ("71", "72"), "lines": ()})
    store.upsert_orders([lean])
    (mirrored,) = store.load_snapshot().orders
    assert mirrored.refund_ids == ("71", "72")
    assert mirrored.lines == order.lines
    assert store.count_rows("order_lines") == 1


def test_lean_and_full_versions_in_one_batch_keep_the_lines(store: SqlStore) -> None:
    order = make_order(2, EPOCH, ("81",))
    store.upsert_orders([order, order.model_copy(update={"lines": ()})])
    assert store.load_snapshot().orders[0].lines == order.lines


def test_a_failed_write_names_the_sql_not_the_values(store: SqlStore) -> None:
    """The error goes to stderr, cron's log and the runs table: a customer's details in the
    failed row must not (records carry names and addresses in their JSON)."""
    from recon.errors import StoreError

    with pytest.raises(StoreError) as failed, store.session() as session:
        session.execute(
            text("INSERT INTO no_such_table (email) VALUES (:email)"),
            {"email": "jane.doe@example.com"},
        )
    assert "no_such_table" in str(failed.value)
    assert "jane.doe@example.com" not in str(failed.value)


def test_watermarks_keep_utc(store: SqlStore) -> None:
    assert store.get_watermark("shopify.payouts") is None
    at = datetime(2026, 10, 1, 12, 30, tzinfo=UTC)
    store.set_watermark("shopify.payouts", at)
    store.set_watermark("shopify.payouts", at + timedelta(days=1))
    got = store.get_watermark("shopify.payouts")
    assert got == at + timedelta(days=1) and got.utcoffset() == timedelta(0)


def test_quarantined_records_are_listed_with_their_payload(store: SqlStore) -> None:
    run = store.start_run("sync")
    bad = Quarantined(
        source="loop",
        kind="return",
        record_id="77",
        field="total",
        reason="expected a decimal amount, got '1,000.00'",
        raw={"total": "1,000.00"},
    )
    store.add_quarantined([bad], run)
    assert store.list_quarantined() == [bad]
    assert store.list_quarantined(run_id="other") == []


def test_runs_record_their_outcome(store: SqlStore) -> None:
    run = store.start_run("backfill")
    store.finish_run(run, "ok", {"records": {"orders": 3}})
    row = store.get_run(run)
    assert row is not None
    assert (row["kind"], row["status"], row["stats"]) == (
        "backfill",
        "ok",
        {"records": {"orders": 3}},
    )


def test_findings_are_upserted_by_key(store: SqlStore) -> None:
    finding = Finding(
        key="MISSING_REFUND:rma=1001",
        category=Category.MISSING_REFUND,
        severity=Severity.HIGH,
        owner=Owner.FINANCE,
        rma="1001",
        amount_at_risk=Decimal("12.30"),
        currency="USD",
        first_seen=EPOCH,
        last_seen=EPOCH,
    )
    store.save_findings([finding])
    later = finding.model_copy(
        update={"status": FindingStatus.ACKNOWLEDGED, "last_seen": EPOCH + timedelta(days=1)}
    )
    store.save_findings([later])
    assert store.load_findings() == [later]
    with store.session() as s:
        assert s.scalar(select(tbl.FindingRow.acknowledged)) is True


def test_sync_gaps_are_reported(store: SqlStore) -> None:
    data = sample_dataset(returns=10)
    store.upsert_returns(data.returns)
    closed_orders = [o for o in data.orders if o.refund_ids]
    store.upsert_orders(closed_orders)
    referenced = {r.provider_order_id for r in data.returns}
    assert set(store.order_ids_missing()) == referenced - {o.id for o in closed_orders}
    assert store.refund_ids_missing_details() == sorted(
        r for o in closed_orders for r in o.refund_ids
    )
    store.upsert_refunds([make_refund(2, EPOCH, Decimal("3.00"), status="PENDING")])
    assert store.orders_with_pending_refunds() == ["5002"]


def test_snapshot_of_a_period_brings_what_its_returns_need(store: SqlStore) -> None:
    _fill(store)
    start, end = EPOCH + timedelta(days=3), EPOCH + timedelta(days=6)
    snap = store.load_snapshot(start, end)
    assert snap.returns and all(r.updated_at >= start and r.created_at < end for r in snap.returns)
    order_ids = {o.id for o in snap.orders}
    assert {r.provider_order_id for r in snap.returns} <= order_ids
    settled = {b.source_order_transaction_id for b in snap.balance_transactions}
    in_period = [f for f in snap.refunds if f.order_id in order_ids]
    assert {t.id for f in in_period for t in f.transactions} <= settled | {
        t.id for f in in_period for t in f.transactions if t.status != "SUCCESS"
    }
    assert {b.payout_id for b in snap.balance_transactions} <= {p.id for p in snap.payouts}
    assert len(snap.returns) < len(store.load_snapshot().returns)


def test_a_period_brings_a_later_bounce_named_only_by_source_id(store: SqlStore) -> None:
    """A REFUND_FAILURE outside the window that names its refund transaction by ``sourceId``
    only is still loaded: without it the bounced refund would count as paid."""
    _fill(store)
    start, end = EPOCH + timedelta(days=3), EPOCH + timedelta(days=6)
    refund = next(f for f in store.load_snapshot(start, end).refunds if f.transactions)
    txn = refund.transactions[0]
    template = store.load_snapshot().balance_transactions[0]
    bounce = template.model_copy(
        update={
            "id": "99990001",
            "type": "REFUND_FAILURE",
            "source_id": txn.id,
            "source_order_transaction_id": None,
            "order_id": refund.order_id,
            "amount": txn.amount,
            "net": txn.amount,
            "transaction_date": EPOCH + timedelta(days=60),
        }
    )
    store.upsert_balance_transactions([bounce])
    loaded = {b.id: b for b in store.load_snapshot(start, end).balance_transactions}
    assert loaded["99990001"].source_id == txn.id


@pytest.mark.parametrize("tied", [True, False])
def test_a_period_brings_the_refund_its_bounce_undoes(store: SqlStore, tied: bool) -> None:
    """A refund that bounces in a later period: that period's snapshot holds the refund, its
    order and the return on it, so the month-end report shows the REFUND_FAILED."""
    _fill(store)
    refund = next(
        f
        for f in store.load_snapshot(EPOCH + timedelta(days=3), EPOCH + timedelta(days=6)).refunds
        if f.transactions
    )
    txn = refund.transactions[0]
    bounce = (
        store.load_snapshot()
        .balance_transactions[0]
        .model_copy(
            update={
                "id": "99990002",
                "type": "REFUND_FAILURE",
                "source_id": txn.id,
                "source_order_transaction_id": txn.id if tied else None,
                "order_id": refund.order_id,
                "amount": txn.amount,
                "net": txn.amount,
                "transaction_date": EPOCH + timedelta(days=65),
            }
        )
    )
    store.upsert_balance_transactions([bounce])
    later = store.load_snapshot(EPOCH + timedelta(days=60), EPOCH + timedelta(days=70))
    assert refund.id in {f.id for f in later.refunds}
    assert refund.order_id in {o.id for o in later.orders}
    assert refund.order_id in {r.provider_order_id for r in later.returns}
    assert "99990002" in {b.id for b in later.balance_transactions}


def test_postgresql_mirror_matches_sqlite(postgres_url: str, store: SqlStore) -> None:
    pg = SqlStore(postgres_url, clock=VirtualClock(EPOCH))
    try:
        _fill(pg)
        _fill(pg)
        _fill(store)
        assert dump_mirror(pg) == dump_mirror(store)
        assert pg.load_snapshot() == store.load_snapshot()
        window = (EPOCH, EPOCH + timedelta(days=3))
        assert pg.load_snapshot(*window) == store.load_snapshot(*window)
    finally:
        pg.close()


def test_runs_left_running_by_a_killed_process_are_marked_abandoned(store: SqlStore) -> None:
    killed = store.start_run("nightly")
    finished = store.start_run("nightly")
    store.finish_run(finished, "ok", {})
    assert store.abandon_unfinished_runs() == 1
    assert (store.get_run(killed) or {})["status"] == "abandoned"
    assert (store.get_run(finished) or {})["status"] == "ok"


def _nul_records(store: SqlStore) -> None:
    """A return whose raw payload holds NUL characters (a line title recon never reads), an
    ordinary return beside it, and a quarantined record whose raw payload holds one too."""
    data = sample_dataset(returns=2)
    odd = data.returns[0]
    raw = {**odd.raw, "line_items": [{"title": "Tee\x00 shirt"}], "k\x00": "literal \\u0000",
           "half": "cut \ud83d", "emoji": "\U0001f600", "spelled": "literal \\ud83d"}  # fmt: skip
    store.upsert_returns([odd.model_copy(update={"raw": raw}), data.returns[1]])
    bad = Quarantined(
        source="loop", kind="return", record_id="9", field="id", reason="bad", raw={"x": "a\x00"}
    )
    store.add_quarantined([bad], run_id=None)


def _check_nul_records(store: SqlStore) -> None:
    returns = store.load_snapshot().returns
    assert len(returns) == 2
    raw = returns[0].raw
    assert raw["line_items"] == [{"title": "Tee\ufffd shirt"}]
    assert raw["k\ufffd"] == "literal \\u0000"  # text that only spells the escape is kept
    # Half of a UTF-16 pair (jsonb refuses it too) is replaced; a whole pair, or text that only
    # spells the escape, is kept.
    assert (raw["half"], raw["emoji"], raw["spelled"]) == (
        "cut \ufffd",
        "\U0001f600",
        "literal \\ud83d",
    )
    assert [q.raw for q in store.list_quarantined()] == [{"x": "a\ufffd"}]


def test_a_nul_character_in_a_raw_payload_is_stored_as_a_replacement(store: SqlStore) -> None:
    _nul_records(store)
    _check_nul_records(store)


def test_postgresql_stores_payloads_with_nul_characters(postgres_url: str) -> None:
    """jsonb refuses \\u0000: one such payload used to fail the whole night, every night."""
    pg = SqlStore(postgres_url, clock=VirtualClock(EPOCH))
    try:
        _nul_records(pg)
        _check_nul_records(pg)
    finally:
        pg.close()


def test_a_store_belongs_to_the_first_shop_that_opens_it(tmp_path: Path) -> None:
    """Mirror rows, watermarks and findings carry no shop: a second shop is refused, by name."""
    from recon.errors import ConfigError

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    SqlStore(url, shop="acme").close()
    SqlStore(url, shop="acme").close()  # its own shop, again: fine
    with pytest.raises(ConfigError, match="belongs to shop 'acme', not 'beta'"):
        SqlStore(url, shop="beta")
    SqlStore(url).close()  # tools and tests that name no shop are not refused


def test_a_store_refuses_the_same_slug_for_another_shop_domain(tmp_path: Path) -> None:
    """A config copied for a second shop that kept the first one's slug pointed both shops at
    one store: the second shop's orders mixed into the first's mirror and findings. The store
    records the shop's domain too and refuses another, naming both."""
    from recon.errors import ConfigError

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    SqlStore(url, shop="acme", domain="acme.myshopify.com").close()
    SqlStore(url, shop="acme", domain="acme.myshopify.com").close()  # the same shop: fine
    with pytest.raises(ConfigError, match=r"acme\.myshopify\.com.*beta\.myshopify\.com"):
        SqlStore(url, shop="acme", domain="beta.myshopify.com")
    SqlStore(url, shop="acme").close()  # a tool naming the slug only is not refused


def test_a_store_opened_with_its_domain_in_other_letter_case_is_the_same_shop(
    tmp_path: Path,
) -> None:
    """Host names ignore letter case: ``[shop] domain`` corrected from ``Acme.myshopify.com``
    to ``acme.myshopify.com`` names the same shop, and its store still opens."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    SqlStore(url, shop="acme", domain="Acme.myshopify.com").close()
    SqlStore(url, shop="acme", domain="acme.myshopify.com").close()
    SqlStore(url, shop="acme", domain="ACME.MYSHOPIFY.COM").close()


def test_a_store_claimed_before_domains_were_recorded_adopts_the_first_domain(
    tmp_path: Path,
) -> None:
    """A store claimed by slug alone (before the upgrade) records the next domain that opens
    it, then holds every later opener to it."""
    from recon.errors import ConfigError

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    SqlStore(url, shop="acme").close()
    SqlStore(url, shop="acme", domain="acme.myshopify.com").close()
    with pytest.raises(ConfigError, match=r"belongs to shop 'acme' at 'acme\.myshopify\.com'"):
        SqlStore(url, shop="acme", domain="beta.myshopify.com")


def test_two_processes_opening_a_new_postgresql_schema_at_once_both_succeed(
    postgres_url: str,
) -> None:
    """cron and the scheduler start together after a deploy: both create and migrate the
    schema; neither may fail on the catalog (they take turns on an advisory lock)."""
    from concurrent.futures import ThreadPoolExecutor

    base = make_url(postgres_url).difference_update_query(["options"])
    schema = f"recon_race_{uuid.uuid4().hex[:10]}"

    def open_one(_: int) -> str | None:
        store = SqlStore(base.render_as_string(hide_password=False), schema=schema, shop="acme")
        try:
            return current_revision(store.engine)
        finally:
            store.close()

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            revisions = list(pool.map(open_one, range(4)))
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert revisions == [head] * 4
    finally:
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def _wide_text_records(store: SqlStore) -> list[Record]:
    """Text longer than its column in every text column, beside ordinary records: each value
    was accepted by the parsers (free text is kept up to 10,000 characters; states and statuses
    are open strings), so the mirror must keep it too."""
    data = sample_dataset(returns=4)
    ret = data.returns[0]
    ret = ret.model_copy(
        update={
            "state": "s" * 40,
            "outcome": "o" * 70,
            "lines": tuple(line.model_copy(update={"sku": "K" * 300}) for line in ret.lines),
        }
    )
    order = data.orders[0]
    order = order.model_copy(
        update={
            "name": "#" + "9" * 100,
            "financial_status": "f" * 40,
            "return_status": "r" * 40,
            "lines": tuple(line.model_copy(update={"sku": "K" * 300}) for line in order.lines),
        }
    )
    refund = data.refunds[0]
    refund = refund.model_copy(
        update={
            "lines": tuple(
                line.model_copy(update={"sku": "K" * 300, "restock_type": "t" * 40})
                for line in refund.lines
            ),
            "transactions": tuple(
                t.model_copy(update={"kind": "k" * 40, "status": "u" * 40, "gateway": "g" * 100})
                for t in refund.transactions
            ),
        }
    )
    payout = data.payouts[0].model_copy(update={"status": "p" * 40})
    balance = data.balance_transactions[0].model_copy(
        update={"type": "y" * 70, "payout_status": "q" * 40}
    )
    store.upsert_returns([ret, *data.returns[1:]])
    store.upsert_orders([order, *data.orders[1:]])
    store.upsert_refunds([refund, *data.refunds[1:]])
    store.upsert_payouts([payout, *data.payouts[1:]])
    store.upsert_balance_transactions([balance, *data.balance_transactions[1:]])
    bad = Quarantined(
        source="loop", kind="return", record_id="9", field="x" * 300, reason="bad", raw={}
    )
    store.add_quarantined([bad], run_id=None)
    return [ret, order, refund, payout, balance]


def test_postgresql_keeps_text_longer_than_its_columns(postgres_url: str) -> None:
    """A varchar overflow used to fail the whole night's transaction, and every night after."""
    pg = SqlStore(postgres_url, clock=VirtualClock(EPOCH))
    try:
        wide = _wide_text_records(pg)
        snapshot = pg.load_snapshot()
        mirrored = [
            *snapshot.returns,
            *snapshot.orders,
            *snapshot.refunds,
            *snapshot.payouts,
            *snapshot.balance_transactions,
        ]
        for record in wide:
            assert record in mirrored
        assert [q.field for q in pg.list_quarantined()] == ["x" * 255]
    finally:
        pg.close()
