"""The intent ledger: one row per remediation action, committed before any write, and its audit.

States: proposed → approved | rejected (approval), planned → sending → done | failed | unknown |
needs_review. Every transition appends an ``action_events`` row with when, who, why and Shopify's
response; events are never updated or deleted (no retention cap). DESIGN decision 8.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from recon.config import RemediationMode
from recon.errors import RemediationError
from recon.remediation.planner import (
    ActionKind,
    ActionState,
    Disposition,
    LedgerFacts,
    PlannedAction,
)
from recon.store.tables import MONEY, Base, JsonType

S = ActionState
_ALLOWED: dict[ActionState, frozenset[ActionState]] = {
    S.PROPOSED: frozenset({S.APPROVED, S.REJECTED, S.PLANNED, S.NEEDS_REVIEW}),
    # approved/planned → rejected: a human cancels an intent before it is sent (e.g. one the
    # circuit breaker holds back).
    S.APPROVED: frozenset({S.SENDING, S.DONE, S.FAILED, S.NEEDS_REVIEW, S.REJECTED}),
    # planned → proposed: policy no longer applies it unattended (approval mode, or its category
    # left auto_apply) before it was sent: it waits for approval like any proposal.
    S.PLANNED: frozenset({S.SENDING, S.DONE, S.FAILED, S.NEEDS_REVIEW, S.REJECTED, S.PROPOSED}),
    # sending → sending: a resend of an in-flight intent with the same key and variables (§17).
    S.SENDING: frozenset({S.SENDING, S.DONE, S.FAILED, S.UNKNOWN, S.NEEDS_REVIEW}),
    S.UNKNOWN: frozenset({S.SENDING, S.DONE, S.FAILED, S.NEEDS_REVIEW}),
}
EXECUTABLE = (S.PLANNED, S.APPROVED)
# The actor of the plan's own decisions: an intent it sends to review unsent (held) is
# released (a new key) once a later plan holds it no more (``ledger_facts``).
PLANNER = "planner"
IN_FLIGHT = (S.SENDING, S.UNKNOWN)
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id for an unbounded log.
_EventId = BigInteger().with_variant(Integer(), "sqlite")


class ActionRow(Base):
    """One remediation intent; ``variables`` are exactly what is (re)sent under ``key``."""

    __tablename__ = "remediation_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(36), unique=True)
    shop: Mapped[str] = mapped_column(String(64), index=True)
    rma: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    n: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(64))
    finding_key: Mapped[str] = mapped_column(String(255), index=True)
    order_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[str | None] = mapped_column(MONEY, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JsonType)
    variables: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    result_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ActionEventRow(Base):
    """One transition of one intent: the append-only audit trail."""

    __tablename__ = "action_events"
    id: Mapped[int] = mapped_column(_EventId, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("remediation_actions.id"), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


# An intent that ever reached ``sending`` may have been written (its answer may be lost).
_SENT = ActionEventRow.to_state == S.SENDING.value


@dataclass(frozen=True)
class ActionView:
    """An intent as the CLI lists it."""

    id: int
    key: str
    kind: str
    category: str
    rma: str
    order_id: str
    amount: str | None
    currency: str | None
    state: str
    reason: str
    result_id: str | None
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    approved_by: str | None = None


def _view(row: ActionRow, approved_by: str | None = None) -> ActionView:
    names = [f.name for f in fields(ActionView) if f.name != "approved_by"]
    return ActionView(**{name: getattr(row, name) for name in names}, approved_by=approved_by)


def transition(
    session: Session,
    row: ActionRow,
    to_state: ActionState,
    *,
    actor: str,
    now: datetime,
    reason: str = "",
    response: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    """Move an intent to a new state and append the audit event (in the caller's transaction).

    Raises:
        RemediationError: the move is not allowed (e.g. out of a terminal state).
    """
    current = ActionState(row.state)
    if to_state not in _ALLOWED.get(current, frozenset()):
        raise RemediationError(f"action {row.id} cannot go from {current} to {to_state}")
    row.state = to_state.value
    row.updated_at = now
    if reason:
        row.reason = reason
    if response is not None:
        row.response = response
    session.add(
        ActionEventRow(
            action_id=row.id,
            at=now,
            from_state=current.value,
            to_state=to_state.value,
            actor=actor,
            reason=reason,
            response=response,
            run_id=run_id,
        )
    )


def _initial_state(action: PlannedAction, mode: RemediationMode) -> ActionState:
    if action.disposition is Disposition.REVIEW:
        return S.NEEDS_REVIEW
    if action.disposition is Disposition.AUTO and mode is RemediationMode.APPLY:
        return S.PLANNED
    return S.PROPOSED


def record_plan(
    session: Session,
    actions: Iterable[PlannedAction],
    *,
    mode: RemediationMode,
    now: datetime,
    run_id: str | None = None,
    actor: str = PLANNER,
) -> list[int]:
    """Insert intents for actions whose key is new; promote proposed ones policy now auto-applies,
    and demote planned ones it no longer does.

    An existing key keeps its row: the same intent is never recorded twice. A planned intent
    not sent yet (the circuit breaker held it) goes back to proposed in approval mode, or in
    apply mode once its category left ``auto_apply``: only the policy of the run that sends may
    send it unattended. Returns the ids of the rows inserted, promoted or demoted.
    """
    touched: list[int] = []
    for action in actions:
        row = session.scalar(select(ActionRow).where(ActionRow.key == action.key))
        state = _initial_state(action, mode)
        if row is not None:
            # Under its row lock: a human's reject since the read must stand, not be promoted.
            (row,) = claim(session, [row.id])
            if row.state == S.PROPOSED and state is S.PLANNED:
                _promote(session, row, now, run_id)
                touched.append(row.id)
            elif (
                row.state == S.PLANNED and state is S.PROPOSED and mode is not RemediationMode.PLAN
            ):
                _demote(session, row, mode, now, run_id)
                touched.append(row.id)
            continue
        row = _new_row(action, state, now, run_id)
        session.add(row)
        session.flush()
        session.add(
            ActionEventRow(
                action_id=row.id,
                at=now,
                from_state=None,
                to_state=state.value,
                actor=actor,
                reason=action.reason,
                run_id=run_id,
            )
        )
        touched.append(row.id)
    return touched


def _promote(session: Session, row: ActionRow, now: datetime, run_id: str | None) -> None:
    reason = "category is in auto_apply"
    transition(
        session, row, S.PLANNED, actor="policy:auto_apply", now=now, reason=reason, run_id=run_id
    )


def _demote(
    session: Session, row: ActionRow, mode: RemediationMode, now: datetime, run_id: str | None
) -> None:
    reason = (
        "approval mode sends only approved intents: waiting for approval"
        if mode is RemediationMode.APPROVAL
        else "category is no longer in auto_apply: waiting for approval"
    )
    transition(session, row, S.PROPOSED, actor="policy", now=now, reason=reason, run_id=run_id)


def _new_row(
    action: PlannedAction, state: ActionState, now: datetime, run_id: str | None
) -> ActionRow:
    return ActionRow(
        key=action.key,
        shop=action.shop,
        rma=action.rma,
        kind=action.kind.value,
        subject=action.subject,
        n=action.n,
        category=action.category.value,
        finding_key=action.finding_key,
        order_id=action.order_id,
        amount=None if action.amount is None else str(action.amount),
        currency=action.currency,
        state=state.value,
        reason=action.reason,
        details=action.details,
        run_id=run_id,
        created_at=now,
        updated_at=now,
    )


def list_actions(
    session: Session, shop: str, states: Sequence[ActionState] | None = None
) -> list[ActionView]:
    """Intents of one shop, oldest first, optionally only in the given states."""
    query = select(ActionRow).where(ActionRow.shop == shop).order_by(ActionRow.id)
    if states:
        query = query.where(ActionRow.state.in_([s.value for s in states]))
    rows = list(session.scalars(query))
    mine = select(ActionRow.id).where(ActionRow.shop == shop)  # a subquery: no id list to bind
    approvals = select(ActionEventRow.action_id, ActionEventRow.actor).where(
        ActionEventRow.action_id.in_(mine), ActionEventRow.to_state == S.APPROVED.value
    )
    approved_by = dict(session.execute(approvals.order_by(ActionEventRow.id)).all())
    return [_view(row, approved_by.get(row.id)) for row in rows]


def claim(session: Session, ids: Sequence[int]) -> list[ActionRow]:
    """Intent rows read afresh under their write lock (a no-op UPDATE takes it on SQLite and
    PostgreSQL alike): a run marking one sending and a human deciding it go one after the
    other, each seeing the other's state, never both from the same stale one."""
    if not ids:
        return []
    session.execute(update(ActionRow).where(ActionRow.id.in_(ids)).values(state=ActionRow.state))
    query = select(ActionRow).where(ActionRow.id.in_(ids)).order_by(ActionRow.id)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def _decide(
    session: Session,
    shop: str,
    ids: Sequence[int],
    to_state: ActionState,
    actor: str,
    now: datetime,
    reason: str,
    from_states: frozenset[ActionState] = frozenset({S.PROPOSED}),
) -> list[ActionView]:
    rows = [row for row in claim(session, ids) if row.shop == shop]
    found = {row.id for row in rows}
    missing = sorted(set(ids) - found)
    if missing:
        raise RemediationError(f"no action with id {', '.join(map(str, missing))} for shop {shop}")
    for row in rows:
        if row.state not in from_states:
            allowed = ", ".join(sorted(from_states))
            raise RemediationError(f"action {row.id} is {row.state}; only {allowed} can be decided")
        transition(session, row, to_state, actor=actor, now=now, reason=reason)
    return [_view(row) for row in rows]


def approve(
    session: Session, shop: str, ids: Sequence[int], *, actor: str, now: datetime, reason: str = ""
) -> list[ActionView]:
    """Approve proposed intents (the next apply run sends them); records who approved and why.

    Raises:
        RemediationError: an id is unknown or its intent is not ``proposed``.
    """
    return _decide(session, shop, ids, S.APPROVED, actor, now, reason or "approved")


def reject(
    session: Session, shop: str, ids: Sequence[int], *, actor: str, now: datetime, reason: str = ""
) -> list[ActionView]:
    """Reject intents not sent yet (proposed, planned or approved); they are never sent.

    Planned and approved intents can be rejected too: the circuit breaker holds them back, and a
    human must be able to cancel them rather than have the next run send them.

    Raises:
        RemediationError: an id is unknown or its intent is not proposed, planned or approved.
    """
    cancellable = frozenset({S.PROPOSED, S.PLANNED, S.APPROVED})
    return _decide(session, shop, ids, S.REJECTED, actor, now, reason or "rejected", cancellable)


def rows_in(
    session: Session, shop: str, states: Sequence[ActionState], rma: str | None = None
) -> list[ActionRow]:
    """Intent rows of one shop in the given states (of one RMA if given), oldest first."""
    query = select(ActionRow).where(
        ActionRow.shop == shop, ActionRow.state.in_([s.value for s in states])
    )
    if rma is not None:
        query = query.where(ActionRow.rma == rma)
    return list(session.scalars(query.order_by(ActionRow.id)))


def events(session: Session, action_id: int) -> list[ActionEventRow]:
    """The audit trail of one intent, in order."""
    query = select(ActionEventRow).where(ActionEventRow.action_id == action_id)
    return list(session.scalars(query.order_by(ActionEventRow.id)))


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
    """
    units: dict[tuple[str, str], list[str]] = {}
    sent = select(ActionEventRow.action_id).where(_SENT)
    ended = rows_in(session, shop, [S.NEEDS_REVIEW, S.FAILED], rma)
    was_sent = set(session.scalars(sent.where(ActionEventRow.action_id.in_([r.id for r in ended]))))
    for row in [*rows_in(session, shop, list(IN_FLIGHT), rma), *ended]:
        if row.kind == ActionKind.RESTOCK and (row.state in IN_FLIGHT or row.id in was_sent):
            _add_units(units, row.rma, row.details)
    return {key: tuple(ids) for key, ids in units.items()}


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
    sent = set(session.scalars(select(ActionEventRow.action_id).where(_SENT)))
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
    )


def _write_of(row: ActionRow) -> tuple[Decimal | None, str | None, dict[str, Any]]:
    """What an intent writes: its amount, currency and details."""
    return (None if row.amount is None else Decimal(row.amount), row.currency, row.details)


def recon_refund_ids(session: Session, shop: str, order_id: str) -> set[str]:
    """Numeric ids of the refunds recon's intents ended with on one order (its own refunds)."""
    query = select(ActionRow.result_id).where(
        ActionRow.shop == shop,
        ActionRow.order_id == order_id,
        ActionRow.kind == ActionKind.REFUND.value,
        ActionRow.result_id.is_not(None),
    )
    return {str(rid).rsplit("/", 1)[-1] for rid in session.scalars(query)}


def note(
    session: Session,
    row: ActionRow,
    *,
    actor: str,
    now: datetime,
    reason: str,
    run_id: str | None = None,
) -> None:
    """Append an event that changes no state (e.g. held back by the circuit breaker)."""
    session.add(
        ActionEventRow(
            action_id=row.id,
            at=now,
            from_state=row.state,
            to_state=row.state,
            actor=actor,
            reason=reason,
            run_id=run_id,
        )
    )
