"""The quarantine log: records that could not be used, kept for review, resolved by a clean read.

An entry is a row per time a record was quarantined (or stored with cleaned free text), never
deleted. But a "not visible" entry (a by-id read answered null: nothing but the id to keep) is
one row per episode: a recheck answered null again while it is open updates it (``times``, when
and by which run it was last seen) instead of adding a row a recheck, for ever. So is a Loop
return's unread Get Return Details (``RETURN_DETAILS_UNREAD``), re-asked every night while Loop
fails to answer: one open entry per kind of answer (Loop failing, ``RETURN_DETAILS_FAILING``,
or refusing: a 404), whatever its words (the status, the attempts); the kind that came last
sets the pace of the re-asks (``SyncQueries.returns_details_due``), so the two stay apart.
An entry stays open until a later sync reads the same record (source, kind and id) and
stores it cleanly: then it is resolved with that sync's time, its bad payload kept as history.
An entry without a record id (the payload was not even an object) names nothing a later read
could be matched to, so no read resolves it: someone who checked its payload resolves it by
hand, with a note (``resolve_by_hand``), kept with who did it.
An entry saying a by-id read answered null for the record (not visible) is resolved too by a
read that returns the record, even one that cannot store it: Shopify shows it again; and, for an
order never mirrored, once no Loop return names it (``visibility.forget_unnamed``, by "recon",
with a note): nothing will read it again.
An open entry that rejected its record marks the record unreadable: the mirror may hold an older
copy, but what the vendor holds now is unknown (remediation holds writes on it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from recon.errors import ConfigError
from recon.models import (
    CLEANED,
    NODES_SHAPE_FIELD,
    NOT_VISIBLE_REASONS,
    RETURN_DETAILS_FAILING,
    RETURN_DETAILS_UNREAD,
    Quarantined,
)
from recon.store import tables as tbl
from recon.store.bulk import chunks

_IN_CHUNK = 500
# (source, kind) → ids of the records a sync stored cleanly.
Stored = Mapping[tuple[str, str], Sequence[str]]


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantine row: the entry, when it was written, and when (if) it was resolved;
    ``resolved_by`` and ``resolved_note`` when someone resolved it by hand; how many times it
    was seen, the last when and by which run (a "not visible" entry's rechecks)."""

    entry_id: int
    entry: Quarantined
    run_id: str | None
    quarantined_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None = None
    resolved_note: str | None = None
    times: int = 1
    last_seen_at: datetime | None = None
    last_run_id: str | None = None


# A repeat sighting: (source, kind, record id, what repeats: ``_repeating``).
_Sighting = tuple[str, str, str, str]


def add_entries(
    session: Session, items: Iterable[Quarantined], run_id: str | None, at: datetime
) -> int:
    """Write one open row per entry, except a repeat (a "not visible" one, an unread Loop
    return's details) whose record already has an open entry of the same kind: that one is
    updated (``_seen_again``); returns how many entries there were."""
    items = list(items)
    fresh = [q for q in items if not _is_sighting(q)]
    sightings = Counter(_sighting(q) for q in items if _is_sighting(q))
    known = _seen_again(session, sightings, run_id, at)
    firsts: dict[_Sighting, Quarantined] = {}
    for q in items:
        if _is_sighting(q) and (key := _sighting(q)) not in known:
            firsts.setdefault(key, q)  # the first one's words and payload, as an open entry's
    rows = [_row(q, run_id, at) for q in fresh]
    rows += [_row(q, run_id, at, times=sightings[key]) for key, q in firsts.items()]
    if rows:
        session.execute(insert(tbl.QuarantineRow), rows)
    return len(items)


def _is_sighting(q: Quarantined) -> bool:
    return q.record_id is not None and (q.not_visible or q.reason.startswith(RETURN_DETAILS_UNREAD))


def _sighting(q: Quarantined) -> _Sighting:
    return (q.source, q.kind, q.record_id or "", _repeating(q.reason[:2000]))


def _repeating(reason: str) -> str:
    """What two entries of one record share when the second repeats the first: a "not
    visible" reason as it is; an unread-details one, which kind of answer it was (Loop failing
    or refusing), not its words (status, attempts, timeout), which change from night to night."""
    for prefix in (RETURN_DETAILS_FAILING, RETURN_DETAILS_UNREAD):  # the longer one first
        if reason.startswith(prefix):
            return prefix
    return reason


def _row(q: Quarantined, run_id: str | None, at: datetime, times: int = 1) -> dict[str, object]:
    return {
        "run_id": run_id,
        "source": q.source,
        "kind": q.kind,
        "record_id": q.record_id,
        "field": q.field[:255],  # a path through a payload's own keys can be long
        "reason": q.reason[:2000],
        "raw": dict(q.raw),
        "quarantined_at": at,
        "times": times,
        "last_seen_at": at,
        "last_run_id": run_id,
    }


def _seen_again(
    session: Session, sightings: Counter[_Sighting], run_id: str | None, at: datetime
) -> set[_Sighting]:
    """Count ``sightings`` into the open entries already holding them; returns those found."""
    row = tbl.QuarantineRow
    found: dict[_Sighting, int] = {}
    ids = sorted({key[2] for key in sightings})
    for chunk in chunks(ids, _IN_CHUNK):
        open_rows = session.execute(
            select(row.id, row.source, row.kind, row.record_id, row.reason)
            .where(
                row.record_id.in_(chunk),
                or_(
                    row.reason.in_(sorted(NOT_VISIBLE_REASONS)),
                    row.reason.startswith(RETURN_DETAILS_UNREAD, autoescape=True),
                ),
                row.resolved_at.is_(None),
            )
            .order_by(row.id)
        )
        for entry_id, source, kind, record_id, reason in open_rows:
            sighting = (source, kind, record_id or "", _repeating(reason))
            if sighting in sightings:
                # One open entry, or (left by an older recon) several: counted into the first.
                found.setdefault(sighting, entry_id)
    by_times: dict[int, list[int]] = {}
    for sighting, entry_id in found.items():
        by_times.setdefault(sightings[sighting], []).append(entry_id)
    for times, entry_ids in by_times.items():
        for chunk_ids in chunks(sorted(entry_ids), _IN_CHUNK):
            session.execute(
                update(row)
                .where(row.id.in_(chunk_ids))
                .values(times=row.times + times, last_seen_at=at, last_run_id=run_id)
                .execution_options(synchronize_session=False)
            )
    return set(found)


def resolve_read(
    session: Session,
    stored: Stored,
    tonight: Sequence[Quarantined],
    at: datetime,
    shown: Stored | None = None,
) -> int:
    """Resolve the open entries of records stored cleanly in this sync; returns how many.

    A record also rejected in the same sync (two copies, one bad) is not readable now: its
    entries stay open. A cleaning note stays open while the same field was cleaned again.
    ``shown``: records read cleanly but not stored (a copy older than the mirror's): only
    their "not visible" entries are resolved (Shopify shows them; ``_shown_again``).
    """
    rejected = {(q.source, q.kind, q.record_id) for q in tonight if not q.usable}
    cleaned = {(q.source, q.kind, q.record_id, q.field) for q in tonight if q.usable}
    row = tbl.QuarantineRow
    done: list[int] = []
    for (source, kind), ids in stored.items():
        readable = sorted({i for i in ids if (source, kind, i) not in rejected})
        for chunk in chunks(readable, _IN_CHUNK):
            found = session.execute(
                select(row.id, row.record_id, row.field, row.reason).where(
                    row.source == source,
                    row.kind == kind,
                    row.record_id.in_(chunk),
                    row.resolved_at.is_(None),
                )
            )
            done += [
                row_id
                for row_id, record_id, field, reason in found
                if not (reason.startswith(CLEANED) and (source, kind, record_id, field) in cleaned)
            ]
    done += _shapes_answered(session, tonight)
    done += _shown_again(session, tonight, shown or {})
    for chunk in chunks(done, _IN_CHUNK):
        session.execute(update(row).where(row.id.in_(chunk)).values(resolved_at=at))
    return len(done)


def _shapes_answered(session: Session, tonight: Sequence[Quarantined]) -> list[int]:
    """Open ``nodes`` shape entries (a malformed answer: the id is asked again) of records a
    well-formed answer named tonight, though it did not store them (null: not visible; or read
    in part): the shape question is settled, and that answer's own entry stands for the record.
    Left open, the id was asked again every night and no one could resolve the entry."""
    answered = {
        (q.source, q.kind, q.record_id)
        for q in tonight
        if q.field != NODES_SHAPE_FIELD and q.record_id is not None
    }
    row = tbl.QuarantineRow
    shapes = session.execute(
        select(row.id, row.source, row.kind, row.record_id).where(
            row.field == NODES_SHAPE_FIELD, row.resolved_at.is_(None)
        )
    )
    return [i for i, source, kind, record in shapes if (source, kind, record) in answered]


def _shown_again(session: Session, tonight: Sequence[Quarantined], not_stored: Stored) -> list[int]:
    """Open "not visible" entries (a by-id read answered null) of records a read returned
    tonight but could not store (read in part, a field unreadable; or ``not_stored``, a copy
    older than the mirror's): Shopify shows them, so the record's mark is cleared
    (``recon.sync``) and so is this entry; tonight's own entry, if any, stays open and holds
    the record's writes. Left open, the record read as gone in the quarantine list while the
    reports no longer said so."""
    shown = {(q.source, q.kind, q.record_id) for q in tonight if q.read_not_stored}
    shown |= {(source, kind, i) for (source, kind), ids in not_stored.items() for i in ids}
    if not shown:
        return []
    row = tbl.QuarantineRow
    nulls = session.execute(
        select(row.id, row.source, row.kind, row.record_id).where(
            row.reason.in_(sorted(NOT_VISIBLE_REASONS)), row.resolved_at.is_(None)
        )
    )
    return [i for i, source, kind, record in nulls if (source, kind, record) in shown]


def list_entries(
    session: Session, *, include_resolved: bool = False, run_id: str | None = None
) -> list[QuarantineEntry]:
    """Entries oldest first: the open ones, or every one with ``include_resolved``; with
    ``run_id``, those that run wrote or (a repeat sighting) last saw."""
    row = tbl.QuarantineRow
    query = select(row).order_by(row.id)
    if not include_resolved:
        query = query.where(row.resolved_at.is_(None))
    if run_id is not None:
        query = query.where(or_(row.run_id == run_id, row.last_run_id == run_id))
    return [
        QuarantineEntry(
            entry_id=q.id,
            entry=Quarantined(
                source=q.source,
                kind=q.kind,
                record_id=q.record_id,
                field=q.field,
                reason=q.reason,
                raw=q.raw or {},
            ),
            run_id=q.run_id,
            quarantined_at=q.quarantined_at,
            resolved_at=q.resolved_at,
            resolved_by=q.resolved_by,
            resolved_note=q.resolved_note,
            times=q.times,
            last_seen_at=q.last_seen_at,
            last_run_id=q.last_run_id,
        )
        for q in session.scalars(query)
    ]


def resolve_by_hand(
    session: Session, entry_ids: Sequence[int], by: str, note: str, at: datetime
) -> list[int]:
    """Resolve open entries without a record id, recording who and why; returns those resolved.

    Entries already resolved are left as they are (their first who and why stay).

    Raises:
        ConfigError: the note is empty, an id names no entry, or an entry names a record (it
            resolves when a sync reads that record cleanly, and holds writes on it until then).
    """
    if not note.strip():
        raise ConfigError("quarantine resolve: --note must say what was checked")
    row = tbl.QuarantineRow
    wanted = sorted(set(entry_ids))
    # Ids no row can have (SQLite refuses a bound integer past 64 bits with an OverflowError).
    asked = [i for i in wanted if 0 < i < 2**63]
    found = {q.id: q for q in session.scalars(select(row).where(row.id.in_(asked)))}
    for entry_id in wanted:
        q = found.get(entry_id)
        if q is None:
            raise ConfigError(f"quarantine resolve: no quarantine entry {entry_id}")
        if q.record_id is not None:
            raise ConfigError(
                f"quarantine resolve: entry {entry_id} names {q.source} {q.kind} {q.record_id}: "
                "it resolves when a sync reads that record cleanly (recon holds its writes on "
                "it until then), not by hand"
            )
    todo = [i for i in wanted if found[i].resolved_at is None]
    if todo:
        session.execute(
            update(row)
            .where(row.id.in_(todo), row.resolved_at.is_(None))
            .values(resolved_at=at, resolved_by=by[:255], resolved_note=note.strip()[:2000])
        )
    return todo


def unreadable(session: Session) -> frozenset[tuple[str, str]]:
    """(kind, record id) of every record an open entry rejected (cleaning notes excluded)."""
    row = tbl.QuarantineRow
    found = session.execute(
        select(row.kind, row.record_id)
        .where(
            row.resolved_at.is_(None),
            row.record_id.is_not(None),
            ~row.reason.startswith(CLEANED, autoescape=True),
        )
        .distinct()
    )
    return frozenset((kind, record_id) for kind, record_id in found if record_id is not None)


def held_records(entries: Iterable[QuarantineEntry]) -> int:
    """How many records open entries hold for review: one per record (an entry without a
    record id is one), leaving out cleaning notes (``CLEANED``: the record was stored)."""
    return len({
        (e.entry.source, e.entry.kind, e.entry.record_id or f"entry {e.entry_id}")
        for e in entries
        if e.resolved_at is None and not e.entry.reason.startswith(CLEANED)
    })  # fmt: skip
