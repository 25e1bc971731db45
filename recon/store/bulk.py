"""Bulk writes shared by the store: chunked upserts by primary key and child-row replacement."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, delete, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from recon.errors import StoreError
from recon.store import tables as tbl
from recon.store.rows import Row

# SQLite allows 32766 bound parameters per statement (3.32+), PostgreSQL 65535.
MAX_PARAMS = 30_000


def table_of(model: type[tbl.Base]) -> Table:
    """The Table a declarative class maps."""
    table = model.__table__
    assert isinstance(table, Table)  # declarative classes map one Table each
    return table


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert_rows(
    session: Session,
    model: type[tbl.Base],
    rows: Sequence[Row],
    *,
    keep: Collection[str] = (),
    newer_by: str | None = None,
) -> None:
    """Insert or update ``rows`` by primary key, in chunks, on SQLite or PostgreSQL; the
    columns named in ``keep`` keep their stored value on update (a new row gets the row's).
    With ``newer_by`` (a time column) a stored row whose time is after the incoming row's is
    left as it is (``ON CONFLICT ... DO UPDATE ... WHERE``); see ``not_before``.

    Raises:
        StoreError: the database is neither SQLite nor PostgreSQL.
    """
    if not rows:
        return
    table = table_of(model)
    keys = [c.name for c in table.primary_key.columns]
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        stmt: Any = sqlite.insert(table)
    elif dialect == "postgresql":
        stmt = postgresql.insert(table)
    else:
        raise StoreError(f"unsupported database dialect {dialect!r} (sqlite or postgresql)")
    fixed = {*keys, *keep}
    changes = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in fixed}
    rows = _fit_text(table, keys, rows)
    if changes:
        where = not_before(stmt.excluded[newer_by], table.c[newer_by]) if newer_by else None
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changes, where=where)
    else:  # a table of keys only (order_refund_ids): nothing to update
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    # ON CONFLICT cannot touch one row twice in a statement: keep the last row per key.
    unique = list({tuple(r[k] for k in keys): r for r in rows}.values())
    for chunk in chunks(unique, max(1, MAX_PARAMS // len(table.columns))):
        session.execute(stmt, list(chunk))


def not_before(incoming: Any, stored: Any) -> Any:
    """SQL for "the incoming copy is not older than the stored one" by their own times.

    An equal time is the same version read again: it is written (it may carry a field an older
    parser dropped). A time missing on either side (the columns are NOT NULL today; a record
    kind read without one) cannot say which copy is older: the incoming one is written, as
    before this check. SQLite keeps times as naive UTC text of one width, which compares in
    time order (``tables.UTCDateTime``); PostgreSQL compares ``timestamptz``.
    """
    return or_(incoming.is_(None), stored.is_(None), incoming >= stored)


def mirrored_times(
    session: Session, model: type[tbl.Base], column: str, ids: Sequence[str]
) -> dict[str, datetime]:
    """``column`` (a time) of the stored rows among ``ids`` (by ``id``); absent ids are left out."""
    table = table_of(model)
    found: dict[str, datetime] = {}
    for chunk in chunks(list(dict.fromkeys(ids)), 500):
        query = select(table.c.id, table.c[column]).where(table.c.id.in_(chunk))
        for row_id, moment in session.execute(query):
            if moment is not None:
                found[str(row_id)] = moment
    return found


def insert_rows(session: Session, model: type[tbl.Base], rows: Sequence[Row]) -> None:
    """Insert ``rows`` (an append-only table: no conflicts), in chunks, text cut to fit."""
    if not rows:
        return
    table = table_of(model)
    keys = [c.name for c in table.primary_key.columns]
    rows = _fit_text(table, keys, rows)
    for chunk in chunks(rows, max(1, MAX_PARAMS // len(table.columns))):
        session.execute(insert(table), list(chunk))


def _fit_text(table: Table, keys: list[str], rows: Sequence[Row]) -> Sequence[Row]:
    """Rows with text cut to its column's width (PostgreSQL refuses longer text).

    These columns only index or filter; the record itself is kept whole in ``record``. The
    parsers keep free text up to 10,000 characters and states as open strings, so without this
    one long order name or SKU failed the night's whole transaction, and every night after.
    Keys are never cut (two ids would become one): the parsers refuse ids longer than 64.
    """
    widths = {
        c.name: c.type.length
        for c in table.columns
        if c.name not in keys and isinstance(c.type, String) and c.type.length
    }
    if not any(
        isinstance(row.get(name), str) and len(row[name]) > width
        for row in rows
        for name, width in widths.items()
    ):
        return rows
    return [
        {
            name: value[: widths[name]] if name in widths and isinstance(value, str) else value
            for name, value in row.items()
        }
        for row in rows
    ]


def replace_children(
    session: Session,
    model: type[tbl.Base],
    parent_col: str,
    parent_ids: Sequence[str],
    rows: Sequence[Row],
) -> None:
    """Replace the child rows of ``parent_ids`` (lines go with their parent's new version)."""
    table = table_of(model)
    for chunk in chunks(parent_ids, 500):
        session.execute(delete(table).where(table.c[parent_col].in_(chunk)))
    upsert_rows(session, model, rows)
