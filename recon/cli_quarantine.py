"""``run_recon.py quarantine``: the records recon could not use, still broken first.

An entry is resolved when a later sync read and stored the same record cleanly
(``recon.store.quarantine``); the default listing shows the open ones, ``--all`` the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from recon.store.quarantine import QuarantineEntry

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (default config/recon.toml)"),
]
# (source, kind, record id, field, reason, open): one listing row.
_Key = tuple[str, str, str | None, str, str, bool]


def quarantine(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="show at most this many")] = 200,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="also list entries resolved since by a clean read"),
    ] = False,
) -> None:
    """List records that could not be used and are still broken: kept with their raw payload."""
    from recon.bootstrap import open_store
    from recon.cli import _settings

    store = open_store(_settings(config))
    try:
        entries = store.quarantine_entries(include_resolved=show_all)
    finally:
        store.close()
    Console().print(_table(entries, limit, show_all))


def _grouped(entries: Sequence[QuarantineEntry]) -> dict[_Key, tuple[int, datetime | None]]:
    """Entries of one record, field and reason counted once, the latest last.

    A record re-read every night (an open return) is quarantined every night: listed once,
    with how often, so tonight's new ones are never behind the old ones.
    """
    seen: dict[_Key, tuple[int, datetime | None]] = {}
    for e in entries:
        q = e.entry
        key = (q.source, q.kind, q.record_id, q.field, q.reason, e.resolved_at is None)
        times, resolved = seen.pop(key, (0, None))
        latest = max((t for t in (resolved, e.resolved_at) if t is not None), default=None)
        seen[key] = (times + 1, latest)
    return seen


def _table(entries: Sequence[QuarantineEntry], limit: int, show_all: bool) -> Table:
    seen = _grouped(entries)
    still_open = sum(1 for key in seen if key[5])
    title = f"quarantined records: {still_open} still broken"
    if show_all:
        title += f", {len(seen) - still_open} resolved"
    table = Table(title=f"{title} ({len(entries)} times in all), newest first")
    columns = ["source", "kind", "record id", "field", "reason", "times"]
    for column in [*columns, "status"] if show_all else columns:
        table.add_column(column)
    for (source, kind, record_id, field, reason, is_open), (times, resolved) in list(
        reversed(seen.items())
    )[:limit]:
        cells = [*(escape(v) for v in (source, kind, record_id or "?", field))]
        cells += [escape(reason[:120]), str(times)]
        if show_all:
            when = resolved.strftime("%Y-%m-%d %H:%M UTC") if resolved else ""
            cells.append("open" if is_open else f"resolved {when}")
        table.add_row(*cells)
    return table
