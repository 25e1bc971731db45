"""The findings' history: which saves change a status, appending those events, reading them back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    EventOrigin,
    Finding,
    FindingEvent,
    FindingStatus,
)
from recon.store import tables as tbl
from recon.store.bulk import insert_rows
from recon.store.id_sets import among


def status_changes(
    previous: Iterable[Finding], saved: Iterable[Finding], now: datetime, run_id: str | None = None
) -> list[FindingEvent]:
    """The history events of saving ``saved`` over ``previous``: one per finding whose status
    changed, or whose amount at risk or currency changed while it stayed open (the audit
    trail keeps what it was: ``amount_before``), none for the others (a run over unchanged
    data adds none).

    ``new`` and ``open`` are one state (the nightly's ``new`` only says which run saw it first),
    so a finding seen again unchanged adds no event; an acknowledged finding that changed adds
    ``open`` (reopened), one fixed and back ``new``. Each event is dated by the finding's own
    times: first seen, resolved, acknowledged, or last seen (``now`` when it has none).
    """
    before = {f.key: f for f in previous}
    return [
        _event(f, now, run_id, before.get(f.key))
        for f in saved
        if f.key not in before or _changed(before[f.key], f)
    ]


def to_report(previous: Iterable[Finding], saved: Iterable[Finding]) -> list[str]:
    """The keys of ``saved`` findings the next report that goes out must show as they stand:
    a new episode (first seen, or back after it was closed) or an acknowledged finding that
    changed and reopened (quiet until it changes: then it needs someone again), listed as new;
    or one closed by this save (resolved or left out), listed as such."""
    before = {f.key: f.status for f in previous}
    return [
        f.key
        for f in saved
        if f.status is FindingStatus.NEW
        or (f.status is FindingStatus.OPEN and before.get(f.key) is FindingStatus.ACKNOWLEDGED)
        or (f.status in CLOSED_STATUSES and before.get(f.key) not in CLOSED_STATUSES)
    ]


def _phase(status: FindingStatus) -> FindingStatus:
    return FindingStatus.OPEN if status in OPEN_STATUSES else status


def _changed(prev: Finding, cur: Finding) -> bool:
    if _phase(prev.status) is not _phase(cur.status) or _moved(prev, cur):
        return True
    acknowledged = (cur.acknowledged_by, cur.acknowledged_note, cur.acknowledged_at)
    return cur.status is FindingStatus.ACKNOWLEDGED and acknowledged != (
        prev.acknowledged_by,
        prev.acknowledged_note,
        prev.acknowledged_at,
    )


def _moved(prev: Finding, cur: Finding) -> bool:
    """Whether the amount at risk or its currency changed within one episode (an open or
    acknowledged finding seen again; a finding fixed and back starts afresh)."""
    live = prev.status not in CLOSED_STATUSES and cur.status not in CLOSED_STATUSES
    return live and (prev.amount_at_risk, prev.currency) != (cur.amount_at_risk, cur.currency)


def _event(f: Finding, now: datetime, run_id: str | None, prev: Finding | None) -> FindingEvent:
    at = {
        FindingStatus.NEW: f.first_seen,
        FindingStatus.ACKNOWLEDGED: f.acknowledged_at or f.last_seen,
        FindingStatus.RESOLVED: f.resolved_at,
        FindingStatus.LEFT_OUT: f.resolved_at,
    }.get(f.status, f.last_seen)
    event = finding_event(f, at or now, EventOrigin.RUN, run_id)
    if prev is None or not _moved(prev, f):
        return event
    update = {"amount_before": prev.amount_at_risk, "currency_before": prev.currency}
    return event.model_copy(update=update)


def finding_event(
    f: Finding, at: datetime, origin: EventOrigin, run_id: str | None = None
) -> FindingEvent:
    """The event of ``f`` reaching its status at ``at`` (who acknowledged it, if it is)."""
    acknowledged = f.status is FindingStatus.ACKNOWLEDGED
    return FindingEvent(
        key=f.key,
        at=at,
        status=f.status,
        origin=origin,
        amount_at_risk=f.amount_at_risk,
        currency=f.currency,
        first_seen=f.first_seen,
        run_id=run_id,
        acknowledged_by=f.acknowledged_by if acknowledged else None,
        acknowledged_note=f.acknowledged_note if acknowledged else "",
        acknowledged_at=f.acknowledged_at if acknowledged else None,
    )


def append_events(session: Session, events: Sequence[FindingEvent]) -> None:
    """Append ``events`` in the caller's transaction (one statement per few thousand rows)."""
    if not events:
        return
    owner = session.get(tbl.StoreOwnerRow, 1)
    shop = owner.shop if owner is not None else None
    rows = [
        {
            "shop": shop,
            "key": e.key,
            "run_id": e.run_id,
            "at": e.at,
            "status": e.status.value,
            "origin": e.origin.value,
            "amount_at_risk": str(e.amount_at_risk),
            "currency": e.currency,
            "amount_before": None if e.amount_before is None else str(e.amount_before),
            "currency_before": e.currency_before,
            "first_seen": e.first_seen,
            "acknowledged_by": e.acknowledged_by,
            "acknowledged_note": e.acknowledged_note,
            "acknowledged_at": e.acknowledged_at,
        }
        for e in events
    ]
    insert_rows(session, tbl.FindingEventRow, rows)


def load_events(
    session: Session, keys: Iterable[str] | None = None
) -> dict[str, list[FindingEvent]]:
    """Each finding's events in time order (``keys``: only those findings'; None: all)."""
    table = tbl.FindingEventRow
    query = select(table).order_by(table.key, table.at, table.id)
    if keys is not None:
        query = query.where(among(table.key, keys))  # one statement, however many keys
    events: dict[str, list[FindingEvent]] = defaultdict(list)
    for row in session.scalars(query):
        events[row.key].append(_from_row(row))
    return dict(events)


def _from_row(row: tbl.FindingEventRow) -> FindingEvent:
    return FindingEvent(
        key=row.key,
        at=row.at,
        status=FindingStatus(row.status),
        origin=EventOrigin(row.origin),
        amount_at_risk=Decimal(row.amount_at_risk),
        currency=row.currency,
        amount_before=None if row.amount_before is None else Decimal(row.amount_before),
        currency_before=row.currency_before,
        first_seen=row.first_seen,
        run_id=row.run_id,
        acknowledged_by=row.acknowledged_by,
        acknowledged_note=row.acknowledged_note or "",
        acknowledged_at=row.acknowledged_at,
    )
