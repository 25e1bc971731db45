"""Intents as they stood at a past time, and one intent's whole trail, read back from the
ledger's append-only events."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.errors import RemediationError
from recon.remediation.ledger import (
    ActionEventRow,
    ActionRow,
    ActionView,
    decision_events,
    events,
    list_actions,
)
from recon.remediation.planner import ActionState
from recon.remediation.trail import reread_before, sends_write


def actions_as_of(
    session: Session, shop: str, as_of: datetime
) -> tuple[list[ActionView], list[ActionView]]:
    """The shop's intents created before ``as_of``, each in its state at ``as_of``; and those
    created since, as they are now.

    An intent's row holds only its latest state; its events (``action_events``, never updated)
    say what it was when: the state of the last event before ``as_of``, its reason, who had
    approved it by then. Shopify's result is shown only if nothing changed since ``as_of``
    (the executor records it with the intent's last transition, to done or failed).
    """
    views = list_actions(session, shop)
    kept = [view for view in views if view.created_at < as_of]
    ids = select(ActionRow.id).where(ActionRow.shop == shop, ActionRow.created_at < as_of)
    query = select(ActionEventRow).where(ActionEventRow.action_id.in_(ids))
    trail: dict[int, list[ActionEventRow]] = {}
    for event in session.scalars(query.order_by(ActionEventRow.id)):
        trail.setdefault(event.action_id, []).append(event)
    later = [view for view in views if view.created_at >= as_of]
    return [_as_of(view, trail.get(view.id, []), as_of) for view in kept], later


def _as_of(view: ActionView, events: list[ActionEventRow], as_of: datetime) -> ActionView:
    before = [event for event in events if event.at < as_of]
    if not before or len(before) == len(events):
        return view  # nothing happened to it since (or it has no trail to read back)
    # A transition changes the state (or is the first event); ``note`` events keep it and, as
    # in ``transition``, an empty reason leaves the previous one.
    moves = [e for e in before if e.from_state is None or e.from_state != e.to_state]
    reasons = [e.reason for e in moves if e.reason]
    decisions = decision_events(before).get(view.id, [])
    approvals = [e.actor for e in decisions if e.to_state == ActionState.APPROVED.value]
    rejections = [e.actor for e in decisions if e.to_state == ActionState.REJECTED.value]
    return replace(
        view,
        state=before[-1].to_state,
        reason=reasons[-1] if reasons else "",
        result_id=None,
        updated_at=(moves or before)[-1].at,
        approved_by=approvals[-1] if approvals else None,
        rejected_by=rejections[-1] if rejections else None,
        decision_reason=decisions[-1].reason if decisions else "",
        # what was sent, only if it had been by then (one key, one set of variables)
        variables=view.variables if any(e.to_state == "sending" for e in before) else None,
        response=view.response if before[-1].to_state == "done" else None,
    )


def action_trail(
    session: Session, shop: str, action_id: int
) -> tuple[ActionView, list[ActionEventRow]]:
    """One intent of ``shop`` as it is now, and its whole trail, oldest first: who recorded,
    approved, rejected or sent it, when, why, and Shopify's answers (``actions history``).

    Raises:
        RemediationError: no intent of ``shop`` has ``action_id``.
    """
    view = next((v for v in list_actions(session, shop, ids=[action_id])), None)
    if view is None:
        raise RemediationError(f"no action with id {action_id} for shop {shop}")
    return view, events(session, action_id)


@dataclass(frozen=True)
class Send:
    """One send under an intent's key, as the trail records it: ``label`` "first send" or
    "resend <n>", and the variables it carried (None: the intent keeps none)."""

    event: ActionEventRow
    label: str
    variables: dict[str, Any] | None


def is_send(event: ActionEventRow) -> bool:
    """Whether a trail event sent the write: a move to ``sending``, or a resend from it
    (sending → sending with a resend's reason; a note there, as a failed read, sends nothing)."""
    return sends_write(event.from_state, event.to_state, event.reason)


def sends(trail: list[ActionEventRow], variables: dict[str, Any] | None) -> list[Send]:
    """Each send of ``trail`` (oldest first), numbered, with what it carried.

    The intent keeps the variables of its last send; each resend carries the same, but for a
    restock resent with its stock read again, whose reason says the figure the sends before
    it carried (``trail.resend_reason``): read back from the last send to the first.
    """
    events = [event for event in trail if is_send(event)]
    carried: list[dict[str, Any] | None] = []
    current = variables
    for event in reversed(events):
        carried.append(current)
        before = reread_before(event.reason or "")
        if before is not None and current is not None:
            current = _with_compare(current, before)
    carried.reverse()
    labels = [f"resend {n}" if n else "first send" for n in range(len(events))]
    return [Send(e, label, v) for e, label, v in zip(events, labels, carried, strict=True)]


def _with_compare(variables: dict[str, Any], quantity: int) -> dict[str, Any]:
    """A restock's variables with its first change's ``changeFromQuantity`` set to ``quantity``."""
    earlier = copy.deepcopy(variables)
    earlier["input"]["changes"][0]["changeFromQuantity"] = quantity
    return earlier
