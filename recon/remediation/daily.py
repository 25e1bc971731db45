"""The shop day's remediation so far, read from the ledger, against the daily limits.

recon runs nightly and on demand: ``max_run_total`` bounds each run, ``max_daily_total`` and
``max_daily_count`` the shop's day (``[shop] timezone``) over all its runs. The executor checks
them right after the per-run circuit breaker, with the same effect: past either, nothing is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from recon.clock import day_start, shop_day
from recon.config import RemediationSettings
from recon.remediation.actions import ActionState
from recon.remediation.ledger import SENT, ActionEventRow, ActionRow
from recon.remediation.limits import Write, check_daily
from recon.remediation.trail import NOT_RUN, RESENDING, RESENDING_REREAD, sends_write
from recon.store.id_sets import among

S = ActionState
# Ended without a known write: moved only if an earlier send's answer may have been lost.
_ENDED = (S.FAILED.value, S.NEEDS_REVIEW.value)


def daily_limit_reason(
    session: Session,
    shop: str,
    asked: Sequence[Write],
    settings: RemediationSettings,
    now: datetime,
    timezone: str,
) -> str | None:
    """Why tonight's writes (``asked``, as (amount, currency)) would take the shop's day at
    ``now`` past ``max_daily_total`` or ``max_daily_count``; None if within (or unset)."""
    if settings.max_daily_count is None and not settings.max_daily_total:
        return None
    day, start, end = day_bounds(now, timezone)
    moved = moved_between(session, shop, start, end)
    return check_daily(moved, asked, settings, f"{day.isoformat()} ({timezone})")


def day_bounds(now: datetime, timezone: str) -> tuple[date, datetime, datetime]:
    """The shop's day at ``now`` and its first and next day's first moment, in UTC (a day
    with a clock change is 23 or 25 hours long)."""
    day = shop_day(now, timezone)
    return day, day_start(day, timezone), day_start(day + timedelta(days=1), timezone)


def moved_between(session: Session, shop: str, start: datetime, end: datetime) -> list[Write]:
    """The writes of ``shop``'s intents sent (or resent) in [start, end) that moved or may have.

    Done, sending and unknown count (an unknown outcome is assumed paid), and so does an
    unknown whose every send Shopify ran nothing of (``NOT_RUN``: a throttle outlasted): the
    next run resends it before its new writes are checked against the limits, with no check
    of its own, so it is counted on the day it was first sent, as a write that may move. A
    send Shopify
    refused (or rejected unrun), or one sent to review, counts only after an earlier answer
    was lost (the first send may have landed). An intent done without a send (the re-read
    found the write) moved nothing of recon's.
    """
    return [(_amount(row), row.currency) for row in moved_rows(session, shop, start, end)]


def moved_rows(session: Session, shop: str, start: datetime, end: datetime) -> list[ActionRow]:
    """The intent rows behind ``moved_between``, oldest first."""
    # A note on an in-flight intent (sending → sending, e.g. its re-read failed) sent nothing.
    event = ActionEventRow
    sent_now = or_(  # ``trail.sends_write`` in SQL
        event.from_state.is_(None),
        event.from_state != S.SENDING.value,
        event.reason == RESENDING,
        event.reason.startswith(RESENDING_REREAD, autoescape=True),
    )
    sent = select(event.action_id).where(SENT, sent_now, event.at >= start, event.at < end)
    query = select(ActionRow).where(ActionRow.shop == shop, ActionRow.id.in_(sent))
    rows = list(session.scalars(query.order_by(ActionRow.id)))
    lost = answer_lost(session, [row.id for row in rows if row.state in _ENDED])
    return [row for row in rows if row.state not in _ENDED or row.id in lost]


def _amount(row: ActionRow) -> Decimal | None:
    return None if row.amount is None else Decimal(str(row.amount))


def answer_lost(session: Session, ids: Sequence[int], until: datetime | None = None) -> set[int]:
    """Of these intents (ended: failed, needs_review), those whose answer to a send was lost:
    sent again before an answer (a resend after the sender died), left unknown once (a 5xx, a
    timeout), or ended from ``sending`` by a run other than the one that sent it (the sender
    died before recording Shopify's answer, and the next run ended it without resending: a
    restock or tag it could not re-read, say). A send Shopify ran nothing of (``NOT_RUN``) is
    answered; it does not answer a send before it: a dead run's send resent and throttled
    still counts as lost (it was counted as one send too many, then one less).

    A send refused by Shopify is ended by the run that sent it, with the answer; the same
    lost answer counts whether a 502 (``unknown``) or the sender's death (``sending``) lost it.
    ``until``: the trail as it stood then (a report as of a past date).
    """
    if not ids:
        return set()
    event = ActionEventRow
    trail = select(
        event.action_id, event.from_state, event.to_state, event.run_id, event.reason
    ).where(
        among(event.action_id, ids),
        or_(
            event.to_state.in_([S.SENDING.value, S.UNKNOWN.value]),
            event.from_state == S.SENDING.value,
        ),
    )
    if until is not None:
        trail = trail.where(event.at < until)
    unanswered: dict[int, str | None] = {}  # a send with no answer yet → the run that sent it
    lost: set[int] = set()
    for action_id, before, after, run_id, reason in session.execute(trail.order_by(event.id)):
        if sends_write(before, after, reason):
            if action_id in unanswered:  # sent again before an answer: the first may have run
                lost.add(action_id)
            unanswered[action_id] = run_id
        elif before == after:
            continue  # a note that keeps the state (a failed re-read): nothing sent or answered
        elif after == S.UNKNOWN.value and not (reason or "").startswith(NOT_RUN):
            lost.add(action_id)  # no answer (a 5xx, a timeout): it may have run
            unanswered.pop(action_id, None)
        elif before == S.SENDING.value and unanswered.pop(action_id, run_id) != run_id:
            lost.add(action_id)  # its sender died; another run ended it without an answer
    return lost
