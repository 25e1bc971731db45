"""What the intent ledger says for planning and guarding writes: units recon restocked or may
have, each intent's state and write, and recon's own refunds (read-only queries).

Split from ``ledger`` (the ledger's rows and transitions); DESIGN decisions 8 and 9.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.remediation.actions import ActionKind, ActionState, LedgerFacts
from recon.remediation.daily import answer_lost
from recon.remediation.ledger import (
    IN_FLIGHT,
    PLANNER,
    SENT,
    ActionEventRow,
    ActionRow,
    ActionView,
    rows_in,
)
from recon.remediation.trail import NOT_RUN, REFUSED_STALE, STALE_REPLANS, sends_write
from recon.store.id_sets import among

S = ActionState


def restocked_units(
    session: Session,
    shop: str,
    *,
    mirrored_refunds: AbstractSet[str] = frozenset(),
    rma: str | None = None,
    before: datetime | None = None,
) -> dict[tuple[str, str], tuple[str, ...]]:
    """The units recon has restocked per (rma, line item id), as Loop line item ids ("" for a
    unit an intent planned before units were recorded): done restocks and RETURN lines of
    refunds recon's own write created.

    A refund intent marked done because a refund carrying its RMA marker was found (written by
    someone else, or by a write whose answer was lost) does not count: that refund may not have
    restocked; the engine sees its real refund lines (``restocked``) instead. The engine's
    stock rules read this (docs/findings.md "Restocks are counted in units"); for them, refunds
    already in the mirror (``mirrored_refunds``, numeric ids) are left out: the engine counts
    their refund lines, and counting both would cover a unit twice. ``rma`` reads one RMA's
    intents only (the executor's checks before a write). ``before`` counts only intents done
    before then (month-end: the units as they stood at the period's end).
    """
    units: dict[tuple[str, str], list[str]] = {}
    for row in rows_in(session, shop, [S.DONE], rma):
        if before is not None and row.updated_at >= before:
            continue
        if row.kind == ActionKind.RESTOCK:
            writes = [row.details]
        elif (
            row.kind == ActionKind.REFUND
            and _created_by_our_write(row)
            and str(row.result_id).rsplit("/", 1)[-1] not in mirrored_refunds
        ):
            writes = [x for x in row.details.get("lines", []) if x["restock_type"] == "RETURN"]
        else:
            continue
        for write in writes:
            _add_units(units, row.rma, write)
    return {key: tuple(ids) for key, ids in units.items()}


def restocks_in_flight(
    session: Session, shop: str, rma: str | None = None
) -> dict[tuple[str, str], tuple[str, ...]]:
    """Units of restock intents that were sent and may have landed, per (rma, line): still
    in flight (sending, unknown), or ended in review or failed after a send (a lost answer
    then a refused resend: the first write may have gone through). Neither a restock nor a
    refund's RETURN line may put these units back again; a human decides.

    A restock Shopify refused as stale on its only send, below the cap (``planned_again``), is
    known not to have landed: its units are not counted, so the next run plans them again.
    The refusal at the cap is left to a person and still counts: a refund's RETURN line must
    not put back a unit the person was told to restock by hand.
    """
    units: dict[tuple[str, str], list[str]] = {}
    sent = select(ActionEventRow.action_id).where(SENT)
    ended = rows_in(session, shop, [S.NEEDS_REVIEW, S.FAILED], rma)
    was_sent = set(
        session.scalars(sent.where(among(ActionEventRow.action_id, [r.id for r in ended])))
    )
    refused = planned_again(ended, stale_refusals(session, ended))
    for row in [*rows_in(session, shop, list(IN_FLIGHT), rma), *ended]:
        if row.kind != ActionKind.RESTOCK or row.id in refused:
            continue
        if row.state in IN_FLIGHT or row.id in was_sent:
            _add_units(units, row.rma, row.details)
    return {key: tuple(ids) for key, ids in units.items()}


def stale_refusals(session: Session, rows: Sequence[ActionRow | ActionView]) -> dict[int, str]:
    """Of these intents, the restocks that wrote nothing for sure, by id → key: ended in review
    by Shopify's ``CHANGE_FROM_QUANTITY_STALE`` (``trail.REFUSED_STALE``: the compare-and-swap
    failed, shopify-admin-api.md §11) with no send's answer lost before it (``daily.
    answer_lost``: a 502, a timeout, a sender that died). A lost answer may have landed
    whatever a later send was told: the stale refusal of a resend proves nothing about the
    first, and that restock still counts as maybe landed.
    """
    ended = {
        row.id: row.key
        for row in rows
        if row.kind == ActionKind.RESTOCK
        and row.state == S.NEEDS_REVIEW
        and row.reason.startswith(REFUSED_STALE)
    }
    lost = answer_lost(session, sorted(ended))
    return {action_id: key for action_id, key in ended.items() if action_id not in lost}


def planned_again(rows: Sequence[ActionRow | ActionView], refused: Mapping[int, str]) -> set[int]:
    """Of the ``stale_refusals`` (id → key) among ``rows``, those the next run plans again:
    each finding's first ``STALE_REPLANS`` - 1 refusals at a location (``succession.past_held``
    stops at the cap, counting along one subject's keys, ``line@location``: the same units
    unless the finding changed them).
    The refusal at the cap is left in review, to a person."""
    seen: dict[tuple[str, object], int] = {}
    again: set[int] = set()
    for row in sorted((r for r in rows if r.id in refused), key=lambda r: r.id):
        units = (row.finding_key, row.details.get("location_id"))  # one restock per location
        seen[units] = seen.get(units, 0) + 1
        if seen[units] < STALE_REPLANS:
            again.add(row.id)
    return again


def _add_units(units: dict[tuple[str, str], list[str]], rma: str, write: dict[str, Any]) -> None:
    ids = write.get("units") or [""] * int(write["quantity"])
    units.setdefault((rma, str(write["line_item_id"])), []).extend(map(str, ids))


def _created_by_our_write(row: ActionRow) -> bool:
    """Whether the refund of a done intent is the one ``refundCreate`` answered us with."""
    created = ((row.response or {}).get("refund") or {}).get("id")
    return created is not None and created == row.result_id


def ledger_facts(session: Session, shop: str) -> LedgerFacts:
    """What the planner must know from the ledger: restocked units and each intent's state."""
    rows = rows_in(session, shop, list(S))
    states = {row.key: ActionState(row.state) for row in rows}
    ended = {
        row.key: _write_of(row)
        for row in rows
        if row.kind == ActionKind.REFUND.value and row.state in (S.NEEDS_REVIEW, S.FAILED)
    }
    by_plan = select(ActionEventRow.action_id).where(
        ActionEventRow.actor == PLANNER, ActionEventRow.to_state == S.NEEDS_REVIEW.value
    )
    held = set(session.scalars(by_plan))
    sent = set(session.scalars(select(ActionEventRow.action_id).where(SENT)))
    return LedgerFacts(
        restocked_units(session, shop),
        states,
        restocks_in_flight(session, shop),
        ended_refunds=ended,
        held_by_plan=frozenset(row.key for row in rows if row.id in held),
        unsent_restocks={
            row.key: row.details
            for row in rows
            if row.kind == ActionKind.RESTOCK.value
            and row.state == S.NEEDS_REVIEW
            and row.id not in sent
        },
        proposed={row.key: _write_of(row) for row in rows if row.state == S.PROPOSED},
        stale_refused=frozenset(stale_refusals(session, rows).values()),
    )


def _write_of(row: ActionRow) -> tuple[Decimal | None, str | None, dict[str, Any]]:
    """What an intent writes: its amount, currency and details."""
    return (None if row.amount is None else Decimal(row.amount), row.currency, row.details)


def recon_refund_ids(session: Session, shop: str, order_id: str) -> dict[str, str]:
    """The refunds recon's intents ended with on one order (its own refunds): numeric id → RMA."""
    query = select(ActionRow.result_id, ActionRow.rma).where(
        ActionRow.shop == shop,
        ActionRow.order_id == order_id,
        ActionRow.kind == ActionKind.REFUND.value,
        ActionRow.result_id.is_not(None),
    )
    return {str(rid).rsplit("/", 1)[-1]: rma for rid, rma in session.execute(query)}


def refund_rmas_in_flight(session: Session, shop: str, order_id: str) -> set[str]:
    """RMAs whose refund intent on one order was sent and has no answer yet (sending, unknown).

    A refund on the order carrying one's marker is recon's own write whose answer was lost
    (the next run's re-read marks that intent done by it), not a refund someone else made.
    """
    query = select(ActionRow.rma).where(
        ActionRow.shop == shop,
        ActionRow.order_id == order_id,
        ActionRow.kind == ActionKind.REFUND.value,
        ActionRow.state.in_([s.value for s in IN_FLIGHT]),
    )
    return set(session.scalars(query))


def finding_taken_over(session: Session, key: str) -> str | None:
    """Why the finding an intent was planned for is no longer recon's to act on, or None.

    The plan is made from the findings as the run computed them; ``findings ack`` (finance
    refunded by hand, say) may land while the run applies it. Read inside the transaction that
    marks the intent sending, ``FOR SHARE`` on PostgreSQL, so an acknowledgement either lands
    first and is seen here, or waits until the intent is marked. No stored finding (a ledger
    used without the mirror) is no objection.
    """
    from recon.store.tables import FindingRow  # the mirror's table; remediation reads only it

    row = session.execute(
        select(FindingRow.status, FindingRow.payload)
        .where(FindingRow.key == key)
        .with_for_update(read=True)
    ).first()
    if row is None or row.status not in ("acknowledged", "resolved", "left_out"):
        return None
    by = (row.payload or {}).get("acknowledged_by")
    who = f" by {by}" if row.status == "acknowledged" and by else ""
    return f"not sent: its finding was {row.status}{who} after this run planned it"


def never_run(session: Session, action_id: int, until: datetime | None = None) -> bool:
    """Whether the intent was sent and Shopify ran none of its sends: each was answered
    THROTTLED until its attempts ran out (``NOT_RUN``; the cost check comes before execution,
    shopify-admin-api.md §15, §17), so nothing of it was written, not even its key. With
    ``until``, as its trail stood then (the month-end book's state at the close).

    False after any send with no such answer: an outcome unknown (5xx, a lost answer), a run
    that died mid-send (the next run's resend from ``sending``), a refusal; or with none sent.
    """
    event = ActionEventRow
    query = select(event.from_state, event.to_state, event.reason).where(
        event.action_id == action_id
    )
    if until is not None:
        query = query.where(event.at < until)
    trail = session.execute(query.order_by(event.id))
    sent = unanswered = False
    for before, after, reason in trail:
        why = reason or ""
        if sends_write(before, after, reason):
            if unanswered:  # the send before it got no answer: it may have run
                return False
            sent = unanswered = True
        elif before == S.SENDING.value and after != S.SENDING.value:
            if not (after == S.UNKNOWN.value and why.startswith(NOT_RUN)):
                return False  # answered, or its outcome unknown
            unanswered = False
    return sent and not unanswered
