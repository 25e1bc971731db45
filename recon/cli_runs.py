"""``run_recon.py runs``: the shop's latest runs from the runs table, newest first (read-only).

What an operator checks after a night: did it run, how did it end (docs/commands.md "The runs
table"), with what exit code, what it read and found, and why it failed.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recon.cli_json import JsonOption, print_document, when
from recon.cli_options import ConfigOption

# The exit code each status stands for when the run did not record its own (docs/commands.md
# "The runs table"); a failed run exits 1 or 3 (4 if recorded before `lease_lost`), an
# interrupted one 130 or 143: left blank for runs recorded before their code was kept.
_STATUS_EXIT = {"ok": 0, "undelivered": 5, "refused": 4, "lease_lost": 4}
# An error is shown up to here on the console; the runs table keeps it whole (2,000 characters).
_ERROR_SHOWN = 200


def runs(
    config: ConfigOption = None,
    # At least 1: 0 would show nothing under a title promising runs.
    limit: Annotated[int, typer.Option(min=1, help="show at most this many")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The shop's latest runs, newest first: kind, status, exit code, times (UTC), figures."""
    from recon.cli import _settings

    settings = _settings(config)  # before the store's modules: a bad config is refused at once
    slug = settings.shop.slug
    missing = _missing_store(settings.store.url, settings.store.schema_)
    if missing is not None:  # read-only: opening it would create, migrate and claim a store
        if as_json:  # no runs: an empty list, as for a store with none (and no store URL)
            print_document("runs", slug, "runs", [])
            return
        Console().print(f"no runs for {escape(slug)}: its store {escape(missing)} does "
                        "not exist yet (no run or backfill has used it)")  # fmt: skip
        return
    from recon.bootstrap import open_store

    store = open_store(settings)
    try:
        rows = store.recent_runs(limit)
    finally:
        store.close()
    if as_json:
        print_document("runs", slug, "runs", [_as_json(row) for row in rows])
        return
    if not rows:
        Console().print(f"no runs recorded for {escape(slug)} yet")
        return
    table = Table(title=f"runs of {escape(slug)}, newest first (times UTC)")
    for column in ("run", "kind", "status", "exit", "started (UTC)", "finished (UTC)",
                   "read / found", "error"):  # fmt: skip
        table.add_column(column)
    for row in rows:
        stats: dict[str, Any] = row["stats"] or {}
        cells = (row["id"], row["kind"], row["status"], _exit(row["status"], stats),
                 _when(row["started_at"]), _when(row["finished_at"]), _figures(stats),
                 _error(stats))  # fmt: skip
        table.add_row(*(escape(c) for c in cells))  # errors quote API text: never markup
    # Piped (to grep, a file): full lines, so a run id can be copied whole.
    Console(width=None if sys.stdout.isatty() else 240).print(table)


def _missing_store(url: str, schema: str | None) -> str | None:
    """The store ``url`` (and ``[store] schema``) names, when it does not exist yet, else None.

    Looked up without opening it: ``open_store`` creates an SQLite file, or a PostgreSQL schema,
    migrates it and claims it for the shop. A server that cannot be reached is left to
    ``open_store``, which says so as every command does.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from recon.sources.redact import redact_database_url

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # open_store names the bad URL
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or Path(database).is_file():
            return None
        return database
    if backend != "postgresql":
        return None
    table = f'"{schema}".runs' if schema else "runs"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    if found is not None:
        return None
    where = redact_database_url(url)
    return f"(schema {schema!r} of {where})" if schema else f"at {where}"


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A run for ``--json``: the runs table's columns (``stats`` whole, its error unshortened)
    and the exit code the table shows (null where it shows none)."""
    stats: dict[str, Any] = row["stats"] or {}
    code = _exit(row["status"], stats)
    return {
        "id": str(row["id"]), "kind": row["kind"], "status": row["status"],
        "exit_code": int(code) if code else None, "started_at": when(row["started_at"]),
        "finished_at": when(row["finished_at"]), "stats": stats,
    }  # fmt: skip


def _exit(status: str, stats: dict[str, Any]) -> str:
    code = stats.get("exit_code", _STATUS_EXIT.get(status))
    return "" if code is None else str(code)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def _figures(stats: dict[str, Any]) -> str:
    """What the run read and found: records stored (and held), windows, open findings."""
    sync = stats.get("sync", stats)  # a nightly nests its sync's figures; a backfill's are flat
    said: list[str] = []
    records = sync.get("records") if isinstance(sync, dict) else None
    if isinstance(records, dict):
        said.append(f"{sum(int(n) for n in records.values()):,} records")
        if sync.get("quarantined"):
            said.append(f"{int(sync['quarantined']):,} held")
    if stats.get("windows"):
        said.append(f"{int(stats['windows']):,} windows")
    if "findings" in stats:
        said.append(f"{int(stats['findings']):,} open findings")
    return ", ".join(said)


def _error(stats: dict[str, Any]) -> str:
    error = " ".join(str(stats.get("error") or "").split())  # one line
    return error if len(error) <= _ERROR_SHOWN else error[: _ERROR_SHOWN - 1] + "…"
