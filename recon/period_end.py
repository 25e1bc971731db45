"""A period's records and findings as they stood at its end, for the month-end workbook.

The mirror keeps the latest copy of each record and finding, and the findings' history (each
change of status, from migration 0008 on); a book built after the period's end must read as
the one built at the close, so what happened since is taken back out here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from recon.models import CLOSED_STATUSES, EventOrigin, Finding, FindingEvent, FindingStatus
from recon.store.snapshot import Snapshot


def at_period_end(
    finding: Finding,
    stored: Finding | None,
    period: tuple[datetime, datetime],
    as_of: datetime,
    events: Sequence[FindingEvent] = (),
) -> Finding:
    """A finding recomputed as of the period's end, with its status at that end.

    The book must read the same whenever it is built, so nothing done since counts. The
    finding's history (``events``, in time order) says how it stood at ``as_of``: acknowledged
    (by whom, why, when), or open since the first sighting of the episode open then (a finding
    fixed and back has several). It is ``new`` when that first sighting is in the period (as
    the Summary counts it), else ``open``: the nightly's ``new`` only says which run saw it
    first. A finding the history has closed by then (the nightly saw it fixed, the book finds
    it) and one no nightly run recorded are first seen by the book, at ``as_of``; one first
    recorded after it is first seen then.

    A store upgraded from before the history (migration 0008) has events from the upgrade
    only: for a period that ended before a finding's first event, its state is rebuilt from
    the finding as the upgrade recorded it (``_reconstructed``; changes since, such as an
    acknowledgement a change cleared or a second episode of a finding fixed and back, are
    not the period's), which cannot know an earlier episode closed before the upgrade.
    """
    state = _from_history(events, as_of) if events else None
    if state is None:
        state = _reconstructed(_as_upgraded(stored, events), as_of)
    first, ack = state
    if ack is not None:
        status, who, note, at = (FindingStatus.ACKNOWLEDGED, ack.acknowledged_by,
                                 ack.acknowledged_note, ack.acknowledged_at)  # fmt: skip
    else:
        new = first is not None and period[0] <= first < period[1]
        status, who, note, at = (FindingStatus.NEW if new else FindingStatus.OPEN), None, "", None
    return finding.model_copy(
        update={
            "status": status,
            "first_seen": first,
            "last_seen": stored.last_seen if stored is not None else as_of,
            "acknowledged_by": who,
            "acknowledged_note": note,
            "acknowledged_at": at,
        }
    )


# (first seen of the episode open at the end, the acknowledgement standing then or None)
_EndState = tuple[datetime | None, Finding | FindingEvent | None]


def _from_history(events: Sequence[FindingEvent], as_of: datetime) -> _EndState | None:
    """The state at ``as_of`` from the history; None when it began after ``as_of`` (the
    finding's first event is the upgrade's)."""
    before = [e for e in events if e.at < as_of]
    if not before:
        if events[0].origin is EventOrigin.UPGRADE:
            return None
        return events[0].first_seen or events[0].at, None  # first recorded after the end
    last = before[-1]
    if last.status in CLOSED_STATUSES:
        return as_of, None
    if last.status is FindingStatus.ACKNOWLEDGED:
        return last.first_seen, last
    return last.first_seen, None


def _as_upgraded(stored: Finding | None, events: Sequence[FindingEvent]) -> Finding | None:
    """The finding as the upgrade event (the first of ``events``) recorded it, when there is
    one: its status, episode first seen and acknowledgement then; the stored finding as it is
    now otherwise. The event keeps no resolution time: the stored one is the same episode's
    only while the finding is still closed in that episode."""
    if stored is None or not events or events[0].origin is not EventOrigin.UPGRADE:
        return stored
    event = events[0]
    same_episode = stored.status in CLOSED_STATUSES and stored.first_seen == event.first_seen
    return stored.model_copy(
        update={
            "status": event.status,
            "first_seen": event.first_seen,
            "resolved_at": stored.resolved_at if same_episode else None,
            "acknowledged_by": event.acknowledged_by,
            "acknowledged_note": event.acknowledged_note,
            "acknowledged_at": event.acknowledged_at,
        }
    )


def _reconstructed(stored: Finding | None, as_of: datetime) -> _EndState:
    """The state at ``as_of`` from the finding as stored now (no history covers it): a break
    resolved since was still open (or acknowledged, if it was by then); one acknowledged since
    (``acknowledged_at`` at or after ``as_of``) was not acknowledged yet. An acknowledgement
    recon did not date (made before it recorded when) shows as stored. A finding no nightly
    run recorded is first seen by the book, at ``as_of``."""
    if stored is None:
        return as_of, None
    return stored.first_seen, stored if _acknowledged_at_end(stored, as_of) else None


def _acknowledged_at_end(stored: Finding, as_of: datetime) -> bool:
    """Whether the stored finding was acknowledged at ``as_of``: acknowledged still (before
    then, or undated), or acknowledged before then and resolved or left out since (closing
    keeps who acknowledged it and when)."""
    at = stored.acknowledged_at
    if stored.status is FindingStatus.ACKNOWLEDGED:
        return at is None or at < as_of
    closed_since = stored.status in CLOSED_STATUSES and (
        stored.resolved_at is None or stored.resolved_at >= as_of
    )
    return closed_since and stored.acknowledged_by is not None and at is not None and at < as_of


def as_it_stood(snapshot: Snapshot, as_of: datetime) -> Snapshot:
    """The period's records as they stood at its end: refunds, settlements and payouts dated at
    or after ``as_of`` had not happened yet.

    The period's snapshot holds every refund of its returns' orders, whatever its date. A return
    closed on 20 October and refunded on 3 November was owed at the close of October, so
    October's workbook lists its ``MISSING_REFUND``, open. A refund of 30 October paid out on
    2 November was in no payout at the close of October: its balance transaction is ``PENDING``
    with no payout, as Shopify showed it then (the mirror keeps its latest status, ``PAID``).
    Loop states and order fields are as mirrored now: the mirror keeps no history of them.
    """
    later = {p.id for p in snapshot.payouts if p.issued_at >= as_of}
    return replace(
        snapshot,
        refunds=tuple(r for r in snapshot.refunds if r.processed_at < as_of),
        balance_transactions=tuple(
            b.model_copy(update={"payout_id": None, "payout_status": "PENDING"})
            if b.payout_id in later
            else b
            for b in snapshot.balance_transactions
            if b.transaction_date < as_of
        ),
        payouts=tuple(p for p in snapshot.payouts if p.issued_at < as_of),
        gift_cards=tuple(g for g in snapshot.gift_cards if g.created_at < as_of),
    )


def carried_at_end(
    stored: Finding,
    period: tuple[datetime, datetime],
    as_of: datetime,
    events: Sequence[FindingEvent],
) -> Finding | None:
    """A stored finding as it stood at the period's end when it was open or acknowledged then
    (``at_period_end``'s status and first seen, the amount at risk and currency of its last
    change before the end); None when it was closed then, or no run had recorded it yet.

    For findings the book does not recompute (their records had no activity in the period):
    the book cannot see them, and only the history says they were open at the close. A store
    upgraded to the history after the end has the upgrade's state (``_as_upgraded``): a finding
    closed then counts only when it was closed in the same episode after the end.
    """
    before = [e for e in events if e.at < as_of]
    if before:
        last = before[-1]
        if last.status in CLOSED_STATUSES:
            return None
        amount, currency = last.amount_at_risk, last.currency
    elif events and events[0].origin is EventOrigin.UPGRADE:
        upgraded = _as_upgraded(stored, events) or stored
        if upgraded.first_seen is None or upgraded.first_seen >= as_of:
            return None
        if upgraded.status in CLOSED_STATUSES and (
            upgraded.resolved_at is None or upgraded.resolved_at < as_of
        ):
            return None  # closed before the end, or when is not known
        amount, currency = events[0].amount_at_risk, events[0].currency
    else:
        return None  # first recorded after the end (or never)
    stood = stored.model_copy(update={"amount_at_risk": amount, "currency": currency})
    return at_period_end(stood, stored, period, as_of, events)
