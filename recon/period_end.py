"""A period's records and findings as they stood at its end, for the month-end workbook.

The mirror keeps the latest copy of each record and finding; a book built after the period's
end must read as the one built at the close, so what happened since is taken back out here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from recon.models import Finding, FindingStatus
from recon.store.snapshot import Snapshot


def at_period_end(
    finding: Finding, stored: Finding | None, period: tuple[datetime, datetime], as_of: datetime
) -> Finding:
    """A finding recomputed as of the period's end, with its status at that end.

    The book must read the same whenever it is built, so nothing done since counts: a break
    resolved since was still open; one acknowledged since (``acknowledged_at`` at or after
    ``as_of``) was not acknowledged yet. It is ``new`` when first seen in the period (as the
    Summary counts it), else ``open``: the nightly's ``new`` only says which run saw it first.
    An acknowledgement recon did not date (made before it recorded when) shows as stored. A
    finding no nightly run recorded is first seen by the book, at ``as_of``.
    """
    if stored is None:
        stored = finding.model_copy(update={"first_seen": as_of, "last_seen": as_of})
    acked = stored.status is FindingStatus.ACKNOWLEDGED and (
        stored.acknowledged_at is None or stored.acknowledged_at < as_of
    )
    if acked:
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
