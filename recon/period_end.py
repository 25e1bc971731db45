"""A period's records and findings as they stood at its end, for the month-end workbook.

The mirror keeps the latest copy of each record and finding; a book built after the period's
end must read as the one built at the close, so what happened since is taken back out here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from recon.models import CLOSED_STATUSES, Finding, FindingStatus
from recon.store.snapshot import Snapshot


def at_period_end(
    finding: Finding, stored: Finding | None, period: tuple[datetime, datetime], as_of: datetime
) -> Finding:
    """A finding recomputed as of the period's end, with its status at that end.

    The book must read the same whenever it is built, so nothing done since counts: a break
    resolved since was still open (or acknowledged, if it was by then); one acknowledged since
    (``acknowledged_at`` at or after ``as_of``) was not acknowledged yet. It is ``new`` when
    first seen in the period (as the Summary counts it), else ``open``: the nightly's ``new``
    only says which run saw it first.
    An acknowledgement recon did not date (made before it recorded when) shows as stored. A
    finding no nightly run recorded is first seen by the book, at ``as_of``.
    """
    if stored is None:
        stored = finding.model_copy(update={"first_seen": as_of, "last_seen": as_of})
    if _acknowledged_at_end(stored, as_of):
        status, who, note, at = (FindingStatus.ACKNOWLEDGED, stored.acknowledged_by,
                                 stored.acknowledged_note, stored.acknowledged_at)  # fmt: skip
    else:
        first = stored.first_seen
        new = first is not None and period[0] <= first < period[1]
        status, who, note, at = (FindingStatus.NEW if new else FindingStatus.OPEN), None, "", None
    return finding.model_copy(
        update={
            "status": status,
            "first_seen": stored.first_seen,
            "last_seen": stored.last_seen,
            "acknowledged_by": who,
            "acknowledged_note": note,
            "acknowledged_at": at,
        }
    )


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
