"""SqlStore: the local mirror on SQLite (0600, WAL) or PostgreSQL, migrated to head on open.

Writes are bulk upserts by natural id (``INSERT ... ON CONFLICT DO UPDATE`` on both dialects);
child rows (lines, transactions) are replaced with their parent. Every write method takes an
optional ``session`` so callers can put rows, watermarks and checkpoints in one transaction.
How the database is opened (file mode, pragmas, JSON, schema) is in ``recon.store.connect``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from recon.clock import Clock, SystemClock
from recon.errors import StoreError
from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    InventoryObservation,
    LoopReturnRecord,
    OrderRecord,
    PayoutRecord,
    Quarantined,
    RefundRecord,
)
from recon.sources.redact import redact_database_url
from recon.store import quarantine, visibility
from recon.store import rows as conv
from recon.store import tables as tbl
from recon.store.bookkeeping import Bookkeeping
from recon.store.bulk import chunks, mirrored_times, replace_children, upsert_rows
from recon.store.connect import create_store_engine, prepare_sqlite_file, sqlite_pragmas
from recon.store.migrate import upgrade_to_head
from recon.store.owner import Ownership
from recon.store.quarantine import QuarantineEntry
from recon.store.queries import SyncQueries
from recon.store.snapshot import Snapshot
from recon.store.snapshot_loader import load_payout_context, load_snapshot
from recon.store.visibility import Visibility

_ID = TypeVar(
    "_ID",
    LoopReturnRecord,
    OrderRecord,
    RefundRecord,
    PayoutRecord,
    BalanceTransactionRecord,
    GiftCardRecord,
)


# A snapshot read: one moment for every statement, and no write slips in (PostgreSQL).
_READ_ONLY = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


def _begin_snapshot(session: Session) -> None:
    """Begin ``session``'s transaction as a snapshot read (``SqlStore._consistent_read``)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options=_READ_ONLY)
    else:  # the driver leaves SQLite in autocommit until a write: begin explicitly
        session.connection().exec_driver_sql("BEGIN")


def latest_by_id(records: Iterable[_ID]) -> list[_ID]:
    """One record per id: the copy with the later ``updated_at``, or on a tie (or a kind
    without one) the last given, the later read.

    A batch holds a record twice when it changed while a list was paged (read again on a later
    page) or when two streams read it (the sweep and the by-id read, a Loop return in two
    states' lists). The later read is not always the newer copy (a search listing can lag),
    so the record's own time decides first.
    """
    kept: dict[str, _ID] = {}
    for record in records:
        held = kept.get(record.id)
        if held is None or not _older(record, held):
            kept[record.id] = record
    return list(kept.values())


def _older(copy: _ID, than: _ID) -> bool:
    """Whether ``copy`` was changed before ``than`` by its own ``updated_at`` (both known)."""
    mine, theirs = getattr(copy, "updated_at", None), getattr(than, "updated_at", None)
    return isinstance(mine, datetime) and isinstance(theirs, datetime) and mine < theirs


# Kinds whose copies carry the API's own ``updated_at``: an older copy never replaces a newer.
_Versioned = TypeVar("_Versioned", LoopReturnRecord, OrderRecord)


def _not_older(
    session: Session, model: type[tbl.Base], records: list[_Versioned]
) -> list[_Versioned]:
    """The copies not older than the mirrored ones (by ``updated_at``, same id).

    Across batches and runs a copy can come after a newer one: a listing page served from a
    search index that lags, a page read later in the night, a backfill window read again after
    the nightly. Written, the mirror went back to the record as it was before its change (a
    refund made looked missing, a restock done undone) and the engine reconciled against that.
    Such a copy is not written, nor are its children (lines, refund ids): they belong to its
    version. An equal ``updated_at`` is written (the same version read again), and so is a copy
    with no mirrored row (``bulk.not_before`` says the same in SQL, for the upsert itself).
    """
    older = _older_ids(session, model, records)
    return [r for r in records if r.id not in older]


def _older_ids(session: Session, model: type[tbl.Base], records: list[_Versioned]) -> set[str]:
    """Ids of ``records`` (one copy per id) older than the mirrored copy (``_not_older``).

    A copy without a time of its own (``_dated``) is never older: it is written, as a later
    read (README "look-back").
    """
    dated = [r for r in records if _dated(r)]
    stored = mirrored_times(session, model, "updated_at", [r.id for r in dated])
    return {r.id for r in dated if r.id in stored and r.updated_at < stored[r.id]}


def _dated(record: LoopReturnRecord | OrderRecord) -> bool:
    """Whether the copy carries the API's own ``updated_at``. A Loop return in the 2020
    webhook shape has none and the parser fills in ``created_at`` (``loop_parse``): compared,
    that copy always read as older than the mirrored one, and was never written again. Only
    a payload that says so counts: a record built without one (``raw`` empty) is dated."""
    if not isinstance(record, LoopReturnRecord) or not record.raw:
        return True
    return record.raw.get("updated_at") is not None


def _keep_known_lines(session: Session, orders: list[OrderRecord]) -> list[OrderRecord]:
    lean = [o.id for o in orders if not o.lines]
    if not lean:
        return orders
    known: dict[str, tuple[Any, ...]] = {}
    for chunk in chunks(lean, 500):
        for row_id, record in session.execute(
            select(tbl.OrderRow.id, tbl.OrderRow.record).where(tbl.OrderRow.id.in_(chunk))
        ):
            lines = OrderRecord.model_validate(record).lines
            if lines:
                known[row_id] = lines
    return [o.model_copy(update={"lines": known[o.id]}) if o.id in known else o for o in orders]


class SqlStore(Ownership, SyncQueries, Visibility, Bookkeeping):
    """The mirror. Build one per process with the store URL from settings."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        schema: str | None = None,
        shop: str | None = None,
        domain: str | None = None,
    ) -> None:
        """Open (creating if needed) the database and migrate it to the newest revision.

        ``schema`` (PostgreSQL) keeps one shop's mirror, ledger and watermarks in a schema of its
        own, so many shops (an agency's) share one server without sharing rows; the schema is
        created on first use. SQLite gives each shop its own file instead. ``shop`` claims the
        store for that shop on first open, and refuses it to any other shop afterwards: mirror
        rows, watermarks and findings carry no shop, so two shops in one store would mix.
        ``domain`` (the shop's ``[shop] domain``) is recorded beside it, so a config copied for
        another shop that kept this one's slug is refused too.

        Raises:
            StoreError: the database cannot be opened or migrated.
            ConfigError: a schema given for SQLite or badly named, or the store belongs to
                another shop.
        """
        self.url = url
        self.clock: Clock = clock or SystemClock()
        self._reading: Connection | None = None  # a view's read transaction (``reading``)
        try:
            if url.startswith("sqlite"):
                prepare_sqlite_file(url)
            self.engine: Engine = create_store_engine(url, schema)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", sqlite_pragmas)
            upgrade_to_head(self.engine, self.clock.now())
        except (SQLAlchemyError, OSError) as exc:
            shown = redact_database_url(url)
            raise StoreError(f"cannot open the mirror at {shown}: {exc}") from exc
        if shop is not None:
            try:
                self._claim(shop, domain, url, schema)
            except BaseException:
                self.engine.dispose()  # refused: no pooled connection left open behind it
                raise

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        Raises:
            StoreError: the database refused the transaction (the original error is chained).
        """
        try:
            with Session(self.bind, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"mirror transaction failed: {exc}") from exc

    @contextmanager
    def _consistent_read(self) -> Iterator[Session]:
        """A read-only transaction that sees the mirror as of one moment, whatever commits
        meanwhile.

        A snapshot takes a dozen statements. Read one by one (PostgreSQL's READ COMMITTED,
        SQLite without a transaction until the first write), a month-end report built while a
        nightly run committed its sync read refunds without their orders, or a payout without
        its balance transactions: half of that commit.

        Raises:
            StoreError: the mirror cannot be read.
        """
        with self.session() as session:
            if self._reading is None:  # a view's sessions all join its one read (``reading``)
                _begin_snapshot(session)
            yield session

    @property
    def bind(self) -> Engine | Connection:
        """What sessions on the mirror run on: the engine, or a view's one read transaction."""
        return self.engine if self._reading is None else self._reading

    @contextmanager
    def reading(self) -> Iterator[SqlStore]:
        """A read-only view of the mirror as of one moment: every read through it (records,
        findings, their history, and the ledger through ``recon.run_steps.sessions``) is in one
        transaction, so whatever commits meanwhile is seen by none of them. On PostgreSQL the
        transaction is read only: a write through the view fails (``StoreError``).

        The month-end book reads a dozen things (its period, its payouts' context, the
        findings, their history, the ledger): read each in its own transaction, a backfill
        committing between two reads made the Payouts sheet tie a refund the Exceptions sheet
        said was missing.

        Raises:
            StoreError: the mirror cannot be read.
        """
        try:
            # Closed without a commit: the read ends with a rollback, which keeps nothing.
            with Session(self.engine) as session:
                _begin_snapshot(session)
                view = copy.copy(self)
                # Sessions bound to a connection in a transaction join it and leave it to its
                # owner: their commits do not end it (SQLAlchemy's "conservative_savepoint").
                view._reading = session.connection()
                yield view
        except SQLAlchemyError as exc:
            raise StoreError(f"mirror read failed: {exc}") from exc

    @contextmanager
    def _tx(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
        else:
            with self.session() as own:
                yield own

    # --- bulk primitives ------------------------------------------------------------------

    # --- records --------------------------------------------------------------------------

    def upsert_returns(
        self, records: Iterable[LoopReturnRecord], *, session: Session | None = None
    ) -> int:
        """Insert or update Loop returns and replace their lines; returns the count written.

        A copy older than the mirrored one (``updated_at``) is not written (``_not_older``).
        """
        with self._tx(session) as s:
            unique = _not_older(s, tbl.LoopReturnRow, latest_by_id(records))
            parents, lines = conv.return_rows(unique, self.clock.now())
            undated = {r.id for r in unique if not _dated(r)}  # written whatever the times
            upsert_rows(
                s,
                tbl.LoopReturnRow,
                [p for p in parents if p["id"] not in undated],
                newer_by="updated_at",
            )
            upsert_rows(s, tbl.LoopReturnRow, [p for p in parents if p["id"] in undated])
            replace_children(s, tbl.LoopReturnLineRow, "return_id", [r.id for r in unique], lines)
        return len(unique)

    def upsert_orders(
        self, records: Iterable[OrderRecord], *, session: Session | None = None
    ) -> int:
        """Insert or update orders and replace their lines and refund ids.

        An order always has line items, so a record without any was read by a lean query (the
        refunded-orders sweep) that did not ask for them: the lines already mirrored are kept.
        A copy older than the mirrored one (``updated_at``) is not written, nor are its lines
        and refund ids (``_not_older``); the order is visible all the same.
        """
        batch = list(records)
        in_batch = {o.id: o.lines for o in batch if o.lines}
        unique = [
            o.model_copy(update={"lines": in_batch[o.id]})
            if not o.lines and o.id in in_batch
            else o
            for o in latest_by_id(batch)
        ]
        read = [o.id for o in unique]
        with self._tx(session) as s:
            unique = _keep_known_lines(s, _not_older(s, tbl.OrderRow, unique))
            ids = [o.id for o in unique]
            parents, lines, refund_ids = conv.order_rows(unique, self.clock.now())
            upsert_rows(s, tbl.OrderRow, parents, newer_by="updated_at")
            replace_children(s, tbl.OrderLineRow, "order_id", ids, lines)
            replace_children(s, tbl.OrderRefundIdRow, "order_id", ids, refund_ids)
            visibility.clear(s, read)  # read (it is here): visible again, whichever copy
        return len(unique)

    def upsert_refunds(
        self, records: Iterable[RefundRecord], *, session: Session | None = None
    ) -> int:
        """Insert or update refunds and replace their lines and transactions."""
        unique = latest_by_id(records)
        parents, lines, transactions = conv.refund_rows(unique, self.clock.now())
        ids = [f.id for f in unique]
        with self._tx(session) as s:
            upsert_rows(s, tbl.RefundRow, parents)
            replace_children(s, tbl.RefundLineRow, "refund_id", ids, lines)
            replace_children(s, tbl.TransactionRow, "refund_id", ids, transactions)
        return len(unique)

    def older_copies(
        self,
        returns: Iterable[LoopReturnRecord],
        orders: Iterable[OrderRecord],
        *,
        session: Session | None = None,
    ) -> dict[tuple[str, str], list[str]]:
        """Ids of the returns and orders ``upsert_returns`` and ``upsert_orders`` would not
        write, by (source, kind): older than the mirrored copy (``_not_older``)."""
        with self._tx(session) as s:
            return {
                ("loop", "return"): sorted(_older_ids(s, tbl.LoopReturnRow, latest_by_id(returns))),
                ("shopify", "order"): sorted(_older_ids(s, tbl.OrderRow, latest_by_id(orders))),
            }

    def upsert_payouts(
        self, records: Iterable[PayoutRecord], *, session: Session | None = None
    ) -> int:
        """Insert or update Shopify Payments payouts."""
        unique = latest_by_id(records)
        with self._tx(session) as s:
            upsert_rows(s, tbl.PayoutRow, conv.payout_rows(unique, self.clock.now()))
        return len(unique)

    def upsert_balance_transactions(
        self, records: Iterable[BalanceTransactionRecord], *, session: Session | None = None
    ) -> int:
        """Insert or update Shopify Payments balance transactions."""
        unique = latest_by_id(records)
        with self._tx(session) as s:
            rows = conv.balance_rows(unique, self.clock.now())
            upsert_rows(s, tbl.BalanceTransactionRow, rows)
        return len(unique)

    def upsert_gift_cards(
        self, records: Iterable[GiftCardRecord], *, session: Session | None = None
    ) -> int:
        """Insert or update gift cards (Loop's store credit)."""
        unique = latest_by_id(records)
        with self._tx(session) as s:
            upsert_rows(s, tbl.GiftCardRow, conv.gift_card_rows(unique, self.clock.now()))
        return len(unique)

    def add_inventory_observations(
        self, observations: Iterable[InventoryObservation], *, session: Session | None = None
    ) -> None:
        """Record available quantities as read (keyed by item, location and time)."""
        rows = [
            {
                "inventory_item_id": o.inventory_item_id,
                "location_id": o.location_id,
                "observed_at": o.observed_at,
                "available": o.available,
                "record": conv.record_json(o),
            }
            for o in observations
        ]
        with self._tx(session) as s:
            upsert_rows(s, tbl.InventoryObservationRow, rows)

    def load_inventory_observations(self) -> list[InventoryObservation]:
        """Every observation, oldest first."""
        with self.session() as s:
            found = s.scalars(
                select(tbl.InventoryObservationRow.record).order_by(
                    tbl.InventoryObservationRow.observed_at
                )
            ).all()
        return [InventoryObservation.model_validate(r) for r in found]

    def load_snapshot(self, start: datetime | None = None, end: datetime | None = None) -> Snapshot:
        """The mirrored records for [start, end) (everything when both are None), the
        records an open quarantine entry says cannot be read now (``Snapshot.unreadable``), and
        the orders Shopify answered null for before ``end`` (``Snapshot.not_visible``).

        See ``recon.store.snapshot_loader`` for which records a window includes.

        Raises:
            StoreError: the mirror cannot be read.
        """
        with self._consistent_read() as s:
            return replace(
                load_snapshot(s, start, end),
                unreadable=quarantine.unreadable(s),
                not_visible=visibility.marked(s, end),
            )

    def load_payout_context(
        self, payout_ids: Iterable[str], end: datetime, rma_patterns: Sequence[str] | None = None
    ) -> Snapshot:
        """The records that tie these payouts' refunds to their RMAs, created before ``end``
        (``recon.store.snapshot_loader.load_payout_context``; ``rma_patterns``: the engine's).

        Raises:
            StoreError: the mirror cannot be read.
        """
        with self._consistent_read() as s:
            return load_payout_context(s, payout_ids, end, rma_patterns)

    # --- quarantine (recon.store.quarantine) -----------------------------------------------

    def add_quarantined(
        self, items: Iterable[Quarantined], run_id: str | None, *, session: Session | None = None
    ) -> int:
        """Keep records that could not be parsed, with their raw payload, for review."""
        with self._tx(session) as s:
            return quarantine.add_entries(s, items, run_id, self.clock.now())

    def resolve_quarantined(
        self,
        stored: quarantine.Stored,
        tonight: Sequence[Quarantined],
        *,
        shown: quarantine.Stored | None = None,
        session: Session | None = None,
    ) -> int:
        """Resolve the open entries of records a sync stored cleanly (see ``resolve_read``)."""
        with self._tx(session) as s:
            return quarantine.resolve_read(s, stored, tonight, self.clock.now(), shown)

    def quarantine_entries(
        self, *, include_resolved: bool = False, run_id: str | None = None
    ) -> list[QuarantineEntry]:
        """Quarantine entries oldest first: the open ones, or all with ``include_resolved``."""
        with self.session() as s:
            return quarantine.list_entries(s, include_resolved=include_resolved, run_id=run_id)

    def resolve_quarantine_by_hand(
        self, entry_ids: Sequence[int], *, by: str, note: str
    ) -> list[int]:
        """Resolve entries without a record id, with who and why (see ``resolve_by_hand``).

        Raises:
            ConfigError: an empty note, an unknown entry, or one that names a record.
        """
        with self.session() as s:
            return quarantine.resolve_by_hand(s, entry_ids, by, note, self.clock.now())

    def list_quarantined(self, run_id: str | None = None) -> list[Quarantined]:
        """Every quarantined record, open or resolved, oldest first (one run's with ``run_id``)."""
        entries = self.quarantine_entries(include_resolved=True, run_id=run_id)
        return [e.entry for e in entries]

    def count_rows(self, table: str) -> int:
        """Rows in one mirror table (for stats and tests)."""
        with self.session() as s:
            return int(
                s.scalar(select(func.count()).select_from(tbl.Base.metadata.tables[table])) or 0
            )
