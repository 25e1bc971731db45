"""Superseded intents: unsent intents in review that a later intent for the same break replaced.

Review is a state no intent leaves (``ledger``). An intent withdrawn unsent because tonight's
plan called for another write (Loop's amount changed; the units or location of a restock; a hold
lifted) stays there beside the intent that replaced it, which has the next key (``succession``).
It waits for no one: ``actions list`` marks it superseded, naming its replacement, and deciding
it is refused naming the intent to decide instead. It is the reports' rule (``reporting.data.
waiting``): a later intent of the same RMA, kind and finding replaced it. One that was ever
marked sending (it may have been written) is never called superseded: review is its answer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.money import display_amount
from recon.remediation.actions import write_details
from recon.remediation.ledger import SENT, ActionEventRow, ActionRow
from recon.remediation.planner import ActionState
from recon.store.id_sets import among

# The prefixes of a withdrawal's reason (``Executor.record``, ``guards.stale_reason``): the
# refusal says what changed without them.
_PREFIXES = ("superseded: ", "not sent: ")


@dataclass(frozen=True)
class Supersession:
    """Which intent replaced an unsent one in review, and the intent to act on now."""

    id: int
    by: int  # the next intent for the same break: the one that replaced it
    by_state: str
    latest: int  # the newest intent for the break (``by`` unless that was replaced in turn)
    latest_state: str
    at: datetime  # when it went to review
    why: str  # its reason, as the ledger recorded it
    changes: tuple[str, ...] = ()  # how its replacement's write differs from its own

    @property
    def change(self) -> str:
        """What changed: how the replacement's write differs, else the reason it was
        withdrawn (a hold lifted: the same write under a new key), without its prefix."""
        if self.changes:
            return "; ".join(self.changes)
        for prefix in _PREFIXES:
            if self.why.startswith(prefix):
                return self.why.removeprefix(prefix)
        return self.why


def superseded_by(
    session: Session, shop: str, ids: Collection[int] | None = None
) -> dict[int, Supersession]:
    """The shop's superseded intents (only those of ``ids`` when given), by id."""
    query = select(ActionRow).where(ActionRow.shop == shop)
    if ids is not None:
        wanted = select(ActionRow.rma).where(among(ActionRow.id, sorted(ids)))
        query = query.where(ActionRow.rma.in_(wanted))  # their breaks' intents only
    groups: dict[tuple[str, str, str], list[ActionRow]] = {}
    for row in session.scalars(query.order_by(ActionRow.id)):
        if row.finding_key:  # one planned before recon recorded its finding names no break
            groups.setdefault((row.rma, row.kind, row.finding_key), []).append(row)
    replaced: dict[int, tuple[ActionRow, ActionRow, ActionRow]] = {}
    for rows in groups.values():
        for row, following in pairwise(rows):
            if row.state == ActionState.NEEDS_REVIEW and (ids is None or row.id in ids):
                replaced[row.id] = (row, following, rows[-1])
    if not replaced:
        return {}
    sent = set(
        session.scalars(
            select(ActionEventRow.action_id).where(among(ActionEventRow.action_id, replaced), SENT)
        )
    )
    return {
        row.id: Supersession(
            id=row.id,
            by=following.id,
            by_state=following.state,
            latest=latest.id,
            latest_state=latest.state,
            at=row.updated_at,
            why=row.reason,
            changes=_changes(row, following),
        )
        for row, following, latest in replaced.values()
        if row.id not in sent
    }


def _changes(before: ActionRow, after: ActionRow) -> tuple[str, ...]:
    """How ``after``'s write differs from ``before``'s: amount, order, and the write's details
    (plan-time context left out, as ``guards.stale_reason`` compares them)."""
    changes = []
    if (before.amount, before.currency) != (after.amount, after.currency):
        was, now = _money(before.amount, before.currency), _money(after.amount, after.currency)
        changes.append(f"amount {was} → {now}")
    if before.order_id != after.order_id:
        changes.append(f"order {before.order_id} → {after.order_id}")
    old, new = write_details(before.details), write_details(after.details)
    said = {"amount"} if changes else set()  # the details' copy of the amount, said above
    for name in sorted((set(old) | set(new)) - said):
        if old.get(name) != new.get(name):
            changes.append(f"{name} {old.get(name)!r} → {new.get(name)!r}")
    return tuple(changes)


def refusal(session: Session, row: ActionRow, decidable: Collection[ActionState], verb: str) -> str:
    """Why ``verb`` (approve, reject) is refused for ``row``, not in one of ``decidable``
    states: for a superseded intent, the intent that replaced it, what changed and the intent
    to ``verb`` instead."""
    allowed = ", ".join(sorted(decidable))
    said = f"action {row.id} is {row.state}; only {allowed} can be decided"
    found = superseded_by(session, row.shop, [row.id]).get(row.id)
    if found is None:
        return said
    said = (
        f"action {row.id} was superseded by action {found.by} ({found.by_state}) on "
        f"{found.at:%Y-%m-%d %H:%M} UTC: {found.change}"
    )
    if found.latest_state in decidable:
        return f"{said}; {verb} {found.latest} instead"
    if found.latest != found.by:
        return f"{said}; the latest intent for it is action {found.latest} ({found.latest_state})"
    return said


def _money(amount: object, currency: str | None) -> str:
    """``1,048.60 USD``, as the listing and the reports print money; as stored if unreadable."""
    try:
        return display_amount(Decimal(str(amount)), currency or "")
    except (InvalidOperation, ValueError):
        return f"{amount} {currency}"
