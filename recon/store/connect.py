"""Opening the mirror's database: the SQLite file's mode and pragmas, the JSON serializer,
and PostgreSQL's per-shop schema.

Kept apart from ``SqlStore`` (``recon.store.sql``), which only calls these while it opens: how
a connection is made is one concern, what the mirror reads and writes another.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from recon.errors import ConfigError
from recon.store.migrate import create_schema


def prepare_sqlite_file(url: str) -> None:
    """Create the database file with mode 0600 before SQLite does (it would use the umask).

    The mirror holds customer and payment data (DESIGN decision 5).
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        path.chmod(0o600)  # a mirror created by an older version or by hand is tightened too
        return
    os.close(fd)


# How long a SQLite statement waits for another connection's write lock before it fails.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Set each new SQLite connection's journal, lock wait and sync mode (a ``connect`` hook)."""
    cursor = dbapi_connection.cursor()
    # WAL: readers (reports) do not block the nightly writer; busy_timeout rides out short locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_MS)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# JSON text of a NUL character that is not itself an escaped backslash's "u0000".
_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


# JSON text of a UTF-16 surrogate escape, a whole pair or a lone half, not itself escaped.
_SURROGATE = re.compile(
    r"(?<!\\)((?:\\\\)*)(\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}|\\ud[89a-f][0-9a-f]{2})"
)


def _whole_pairs(match: re.Match[str]) -> str:
    escape = match.group(2)
    return match.group(1) + (escape if len(escape) == 12 else "\\ufffd")


def json_text(value: Any) -> str:
    """JSON for the mirror's JSON columns, with NUL characters and lone surrogates as U+FFFD.

    PostgreSQL's ``jsonb`` refuses ``\\u0000`` and half of a UTF-16 pair (``\\ud83d`` alone):
    one payload carrying either (a raw field recon never reads, such as a line title) would
    fail the whole night's transaction and every night after, as the record stays in the
    window. The character is replaced, on every dialect alike.
    """
    text = json.dumps(value)
    # Both patterns need one of these spelled out; without them (nearly every payload) the two
    # scans, a third of a large upsert's time, would change nothing.
    if "\\u0000" not in text and "\\ud" not in text:
        return text
    return _SURROGATE.sub(_whole_pairs, _NUL.sub(r"\1\\ufffd", text))


def create_store_engine(url: str, schema: str | None) -> Engine:
    # hide_parameters: a failed statement's error (``StoreError``, then stderr, cron's log and
    # the runs table) names the SQL but never the row's values: customers' names and addresses
    # ride in the records' JSON.
    if schema is None:
        return create_engine(url, json_serializer=json_text, hide_parameters=True)
    if make_url(url).get_backend_name() != "postgresql":
        raise ConfigError("[store] schema is for PostgreSQL; give each shop its own SQLite file")
    if not schema.replace("_", "").isalnum():
        raise ConfigError(f"[store] schema: letters, digits and underscores only, got {schema!r}")
    engine = create_engine(
        url,
        connect_args={"options": f"-csearch_path={schema}"},
        json_serializer=json_text,
        hide_parameters=True,
    )
    try:
        with engine.begin() as connection:
            # Two processes starting at once (cron and the scheduler after a deploy) would race
            # on CREATE SCHEMA IF NOT EXISTS: one of them fails on the catalog's unique index.
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext(%(key)s))",
                {"key": f"recon-schema:{schema}"},
            )
            create_schema(connection, schema)
    except BaseException:
        engine.dispose()
        raise
    return engine
