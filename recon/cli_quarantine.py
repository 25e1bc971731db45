"""``run_recon.py quarantine``: the records recon could not use, still broken first.

An entry is resolved when a later sync read and stored the same record cleanly
(``recon.store.quarantine``); the default listing shows the open ones, ``--all`` the history.
``quarantine show ENTRY...`` prints an entry whole, with the payload kept for review;
``quarantine resolve ENTRY... --note`` resolves entries without a record id by hand.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recon.cli_json import JsonOption, print_document, when
from recon.cli_options import ConfigOption, cli_actor
from recon.errors import ConfigError

if TYPE_CHECKING:
    from recon.store.quarantine import QuarantineEntry

# (source, kind, record id, field, reason, open, entry id if no record id): one listing row.
_Key = tuple[str, str, str | None, str, str, bool, int | None]
# The latest entry id, how many times, when last seen, when last resolved, and by whom and why
# if by hand (None: by a clean read, or open).
_Seen = tuple[int, int, datetime | None, datetime | None, str | None, str | None]

quarantine_app = typer.Typer(
    invoke_without_command=True,
    help="List records that could not be used; resolve entries without a record id by hand.",
)


@quarantine_app.callback()
def quarantine(
    ctx: typer.Context,
    config: ConfigOption = None,
    # At least 1: a negative one was read as a slice (all but the oldest), 0 showed nothing,
    # each under a title counting every entry.
    limit: Annotated[int, typer.Option(min=1, help="show at most this many")] = 200,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="also list resolved entries (by a clean read, or by hand)"),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List records that could not be used and are still broken: kept with their raw payload."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config  # `quarantine --config X resolve ...`: X is the store to resolve in
        return
    from recon.cli import _settings

    settings = _settings(config)  # before the store's modules: a bad config is refused at once
    from recon.bootstrap import open_store

    store = open_store(settings)
    try:
        entries = store.quarantine_entries(include_resolved=show_all)
    finally:
        store.close()
    if as_json:
        rows = [_entry_json(row) for row in _newest(entries)[:limit]]
        print_document("quarantine", settings.shop.slug, "entries", rows)
        return
    # Piped (to grep, a file): full lines, so each entry id can be copied into ``resolve``.
    Console(width=None if sys.stdout.isatty() else 240).print(_table(entries, limit, show_all))


@quarantine_app.command("resolve")
def quarantine_resolve(
    ctx: typer.Context,
    entries: Annotated[list[int], typer.Argument(help="entry ids (the listing's entry column)")],
    note: Annotated[str, typer.Option("--note", help="what was checked (kept with the entry)")],
    config: ConfigOption = None,
) -> None:
    """Resolve entries without a record id (the payload was not an object) after checking them.

    No later read can be matched to such an entry, so none resolves it. An entry that names a
    record is refused: it resolves when a sync reads that record cleanly.
    \f
    Raises:
        ConfigError: ``--config`` given before and after ``resolve``, naming different files.
    """
    from recon.cli import _settings

    # Before the store's modules: a bad config is refused at once.
    settings = _settings(_one_config(config, ctx.obj))
    from recon.bootstrap import open_store

    store = open_store(settings)
    try:
        done = store.resolve_quarantine_by_hand(entries, by=cli_actor(), note=note)
    finally:
        store.close()
    for entry_id in entries:
        state = "resolved" if entry_id in done else "already resolved, left as it was"
        Console().print(f"entry {entry_id}: {state}")


@quarantine_app.command("show")
def quarantine_show(
    ctx: typer.Context,
    entries: Annotated[list[int], typer.Argument(help="entry ids (the listing's entry column)")],
    config: ConfigOption = None,
) -> None:
    """Show entries whole, with the payload kept for review (JSON; may hold customer data).

    The reason in full and the API's payload, to check against the API before resolving.
    \f
    Raises:
        ConfigError: an entry id this shop's store does not hold (exit 2), or ``--config``
            given before and after ``show``, naming different files.
    """
    from recon.cli import _settings

    # Before the store's modules: a bad config is refused at once.
    settings = _settings(_one_config(config, ctx.obj))
    from recon.bootstrap import open_store

    store = open_store(settings)
    try:
        held = {e.entry_id: e for e in store.quarantine_entries(include_resolved=True)}
    finally:
        store.close()
    unknown = [str(i) for i in entries if i not in held]
    if unknown:
        raise ConfigError(f"quarantine show: no entry {', '.join(unknown)} in this shop's store")
    for entry_id in entries:
        e = held[entry_id]
        q = e.entry
        state = "open" if e.resolved_at is None else f"resolved {when(e.resolved_at)}"
        # Plain lines, no markup: a payload's brackets are data, not rich styles.
        print(
            f"entry {entry_id}: {q.source} {q.kind} {q.record_id or '(no record id)'}, "
            f"field {q.field}, {state}, seen {e.times} time(s)"
        )
        print(f"reason: {q.reason}")
        print(json.dumps(q.raw, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def _one_config(after: Path | None, before: Path | None) -> Path | None:
    """The ``--config`` of ``quarantine --config X resolve`` or ``quarantine resolve --config
    X``: an entry id means something only in its own shop's store, so two files are refused.

    Raises:
        ConfigError: both were given and name different files.
    """
    if after is not None and before is not None and after.resolve() != before.resolve():
        raise ConfigError(
            f"quarantine resolve: --config given twice ({before} and {after}): entry ids are "
            "per shop; give one"
        )
    return after or before


def _grouped(entries: Sequence[QuarantineEntry]) -> dict[_Key, _Seen]:
    """Entries of one record, field and reason counted once, the latest last.

    A record re-read every night (an open return) is quarantined every night: listed once,
    with how often, so tonight's new ones are never behind the old ones. A "not visible"
    entry counts its own rechecks (``QuarantineEntry.times``). Entries without a record id
    are each their own row: nothing says two of them are the same item.
    """
    seen: dict[_Key, _Seen] = {}
    for e in entries:
        q = e.entry
        alone = e.entry_id if q.record_id is None else None
        key = (q.source, q.kind, q.record_id, q.field, q.reason, e.resolved_at is None, alone)
        _, times, last, resolved, by, note = seen.pop(key, (0, 0, None, None, None, None))
        moment = e.last_seen_at or e.quarantined_at
        if e.resolved_at is not None and (resolved is None or e.resolved_at >= resolved):
            resolved, by, note = e.resolved_at, e.resolved_by, e.resolved_note
        seen[key] = (e.entry_id, times + e.times, max(moment, last or moment), resolved, by, note)
    return seen


def _newest(entries: Sequence[QuarantineEntry]) -> list[tuple[_Key, _Seen]]:
    """The listing's rows, newest first by the last sighting: a "not visible" entry seen again
    tonight keeps its first entry id, yet is tonight's news, and ``--limit`` must not cut it
    behind older rows."""
    return sorted(_grouped(entries).items(), key=_last_seen, reverse=True)


def _entry_json(row: tuple[_Key, _Seen]) -> dict[str, object]:
    """A listing row for ``--json``: the quarantine table's columns, ``id`` the latest entry's
    (the one ``resolve`` takes), ``times`` and ``last_seen_at`` over the row's entries, the
    reason whole; ``resolved_at`` null while the record is still broken."""
    (source, kind, record_id, field, reason, _, _), seen = row
    entry_id, times, last, resolved, by, note = seen
    return {
        "id": str(entry_id), "source": source, "kind": kind, "record_id": record_id,
        "field": field, "reason": reason, "times": times, "last_seen_at": when(last),
        "resolved_at": when(resolved), "resolved_by": by, "resolved_note": note,
    }  # fmt: skip


def _table(entries: Sequence[QuarantineEntry], limit: int, show_all: bool) -> Table:
    seen = _grouped(entries)
    still_open = sum(1 for key in seen if key[5])
    title = f"quarantined records: {still_open} still broken"
    if show_all:
        title += f", {len(seen) - still_open} resolved"
    times_in_all = sum(e.times for e in entries)
    table = Table(title=f"{title} ({times_in_all} times in all), newest first")
    columns = ["entry", "source", "kind", "record id", "field", "reason", "times", "last seen"]
    for column in [*columns, "status"] if show_all else columns:
        table.add_column(column)
    for key, (entry_id, times, last, resolved, by, note) in _newest(entries)[:limit]:
        source, kind, record_id, field, reason, is_open, _ = key
        why = f" by {by}: {note}" if by else ""
        cells = [str(entry_id), *(escape(v) for v in (source, kind, record_id or "?", field))]
        cells += [escape(reason[:120]), str(times), last.strftime("%Y-%m-%d") if last else ""]
        if show_all:
            at = resolved.strftime("%Y-%m-%d %H:%M UTC") if resolved else ""
            cells.append("open" if is_open else escape(f"resolved {at}{why}"))
        table.add_row(*cells)
    return table


def _last_seen(row: tuple[_Key, _Seen]) -> tuple[float, int]:
    """Sort key of a listing row: when it was last seen, then its entry id."""
    entry_id, _, last, _, _, _ = row[1]
    return (last.timestamp() if last else 0.0, entry_id)
