"""The intent ledger: one row per remediation action, committed before any write, and its audit.

States: proposed → approved | rejected (approval), planned → sending → done | failed | unknown |
needs_review. Every transition appends an ``action_events`` row with when, who, why and Shopify's
response; events are never updated or deleted (no retention cap). DESIGN decision 8.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from recon.config import RemediationMode
from recon.errors import RemediationError
from recon.remediation.planner import (
    ActionState,
    Disposition,
    PlannedAction,
)
from recon.store.id_sets import among
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
SENT = ActionEventRow.to_state == S.SENDING.value


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
    # What was (or is being) sent under the key, once it was marked sending: what went out.
    variables: dict[str, Any] | None = None
    # Shopify's answer to the write, as stored (a refund's transactions and their statuses).
    response: dict[str, Any] | None = None
    # The finding the intent was planned for (``PlannedAction.finding_key``).
    finding_key: str = ""
    # Who rejected it, and the reason given with its latest approval or rejection (``reason``
    # is its latest transition's: once sent, Shopify's answer).
    rejected_by: str | None = None
    decision_reason: str = ""


_DECISION = frozenset({"approved_by", "rejected_by", "decision_reason"})


def _view(row: ActionRow, decisions: Sequence[ActionEventRow] = ()) -> ActionView:
    """``row`` as a view; ``decisions``: its approval and rejection events, oldest first."""
    names = [f.name for f in fields(ActionView) if f.name not in _DECISION]
    approved = [e for e in decisions if e.to_state == S.APPROVED.value]
    rejected = [e for e in decisions if e.to_state == S.REJECTED.value]
    return ActionView(
        **{name: getattr(row, name) for name in names},
        approved_by=approved[-1].actor if approved else None,
        rejected_by=rejected[-1].actor if rejected else None,
        decision_reason=decisions[-1].reason if decisions else "",
    )


def decision_events(events: Iterable[ActionEventRow]) -> dict[int, list[ActionEventRow]]:
    """The approval and rejection events among ``events``, per intent, in their order."""
    decided: dict[int, list[ActionEventRow]] = {}
    for event in events:
        if (
            event.to_state in (S.APPROVED.value, S.REJECTED.value)
            and event.from_state != event.to_state
        ):
            decided.setdefault(event.action_id, []).append(event)
    return decided


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
    actions = list(actions)
    # Under their row locks, all taken at once and by id: a human's reject since the read
    # must stand, not be promoted; one by one in plan order could deadlock with ``approve``.
    existing = {row.key: row for row in claim_keys(session, (action.key for action in actions))}
    for action in actions:
        row = existing.get(action.key)
        state = _initial_state(action, mode)
        if row is not None:
            if row.state == S.PROPOSED and state is S.PLANNED:
                _promote(session, row, now, run_id)
                touched.append(row.id)
            elif (
                row.state == S.PLANNED and state is S.PROPOSED and mode is not RemediationMode.PLAN
            ):
                _demote(session, row, mode, now, run_id)
                touched.append(row.id)
            continue
        row = existing[action.key] = _new_row(action, state, now, run_id)
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
    session: Session,
    shop: str,
    states: Sequence[ActionState] | None = None,
    *,
    ids: Sequence[int] | None = None,
) -> list[ActionView]:
    """Intents of one shop, oldest first, optionally only in the given states (or ``ids``)."""
    query = select(ActionRow).where(ActionRow.shop == shop).order_by(ActionRow.id)
    mine = select(ActionRow.id).where(ActionRow.shop == shop)  # a subquery: no id list to bind
    if ids is not None:
        query, mine = query.where(among(ActionRow.id, ids)), mine.where(among(ActionRow.id, ids))
    if states:
        query = query.where(ActionRow.state.in_([s.value for s in states]))
    rows = list(session.scalars(query))
    decisions = select(ActionEventRow).where(
        ActionEventRow.action_id.in_(mine),
        ActionEventRow.to_state.in_([S.APPROVED.value, S.REJECTED.value]),
    )
    decided = decision_events(session.scalars(decisions.order_by(ActionEventRow.id)))
    return [_view(row, decided.get(row.id, ())) for row in rows]


def claim(session: Session, ids: Iterable[int]) -> list[ActionRow]:
    """Intent rows read afresh under their write lock, by id: a run marking one sending and a
    human deciding it go one after the other, each seeing the other's state, never both from
    the same stale one.

    One statement locks every row, in id order (PostgreSQL: ``ORDER BY id FOR NO KEY UPDATE``,
    the lock an UPDATE takes), so two transactions claiming overlapping rows, asked in any
    order, never each hold a row the other waits for (a deadlock: PostgreSQL aborts one, a
    run recording its plan or a human's ``actions approve``). A transaction claiming more
    rows later must claim them all up front. SQLite has no row locks: a no-op UPDATE takes
    its database write lock.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return []
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(ActionRow).where(among(ActionRow.id, wanted)).values(state=ActionRow.state)
        )
    query = (
        select(ActionRow)
        .where(among(ActionRow.id, wanted))
        .order_by(ActionRow.id)
        .with_for_update(key_share=True)
    )
    return list(session.scalars(query.execution_options(populate_existing=True)))


def claim_keys(session: Session, keys: Iterable[str], ids: Iterable[int] = ()) -> list[ActionRow]:
    """Lock, in one ``claim``, the intents of ``keys`` that exist and the rows ``ids``; return
    the rows read afresh under their locks."""
    wanted = sorted(set(keys))
    existing = session.scalars(select(ActionRow.id).where(among(ActionRow.key, wanted)))
    return claim(session, [*existing, *ids])


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
            # A superseded intent's refusal names the intent that replaced it.
            from recon.remediation.supersession import refusal

            verb = "approve" if to_state is S.APPROVED else "reject"
            raise RemediationError(refusal(session, row, from_states, verb))
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
