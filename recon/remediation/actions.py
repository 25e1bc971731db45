"""The remediation vocabulary: action kinds and states, dispositions, keys, plans and contexts.

Shared by the planner, the ledger, the executor and the views; nothing here does I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from recon.models import Category, LoopReturnRecord, OrderRecord

# Fixed forever: changing it would give every intent a new key, i.e. a second refund (§10).
KEY_NAMESPACE = uuid.UUID("0b6f3c5e-7d2a-5f4e-9c1b-8a4d2e6f1c30")


class ActionKind(StrEnum):
    REFUND = "refund"
    RESTOCK = "restock"
    ANNOTATE = "annotate"


class ActionState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    PLANNED = "planned"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NEEDS_REVIEW = "needs_review"


TERMINAL_STATES = frozenset(
    {ActionState.DONE, ActionState.FAILED, ActionState.NEEDS_REVIEW, ActionState.REJECTED}
)
# Ended without writing: an intent in one of these states never restocks anything.
NEVER_SENT = frozenset({ActionState.FAILED, ActionState.NEEDS_REVIEW, ActionState.REJECTED})


class Disposition(StrEnum):
    """What policy allows for one action: apply it unattended, wait for approval, or a human."""

    AUTO = "auto"
    APPROVAL = "approval"
    REVIEW = "review"


# Plan-time context, not part of the write: a change in it alone does not make a write differ.
# ``presentment_currency``: the order's, which a refund goes out in (shown to whoever approves).
_CONTEXT_DETAILS = frozenset({"refund_ids", "presentment_currency"})


def write_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """An intent's details without plan-time context: what the write itself sends."""
    return {k: v for k, v in details.items() if k not in _CONTEXT_DETAILS}


def idempotency_key(shop: str, rma: str, kind: ActionKind, n: int, subject: str = "") -> str:
    """The deterministic ``@idempotent`` key of the n-th intent of one kind for one RMA.

    ``subject`` separates intents of one kind on one RMA that are genuinely different writes (the
    line and location of a restock). uuid5 of a fixed namespace: the same intent gets the same key
    in every process, so a resend can never become a second refund (shopify-admin-api.md §10, §17).
    """
    return str(uuid.uuid5(KEY_NAMESPACE, f"{shop}|{rma}|{kind.value}|{subject}|{n}"))


@dataclass(frozen=True)
class PlannedAction:
    """One proposed write; ``details`` is JSON-ready (amounts as strings), stored on the intent."""

    key: str
    kind: ActionKind
    category: Category
    finding_key: str
    shop: str
    rma: str
    n: int
    subject: str
    order_id: str
    amount: Decimal | None
    currency: str | None
    details: dict[str, Any]
    disposition: Disposition
    reason: str = ""


@dataclass(frozen=True)
class RmaContext:
    """What the planner needs to know about one RMA: the Loop return and its Shopify order.

    ``refund_ids`` are the order's refunds the mirror knows (beside ``order.refund_ids``): the
    executor sends the refund to review if any other refund appears on the order before it is sent.
    """

    loop_return: LoopReturnRecord
    order: OrderRecord | None
    refund_ids: tuple[str, ...] = ()
    # The order has an open quarantine entry: the mirror's copy may lack refunds Shopify has.
    order_unreadable: bool = False
    # The mirror's order predates recon reading ``Order.test`` (it may be a test order) and test
    # orders are left out: nothing is written to it until the sync has read it again.
    order_test_unknown: bool = False
    # Shopify answered null for the order by id (deleted, or out of sight): nothing is written.
    order_not_visible: bool = False
    # The Loop return has an open quarantine entry (its Get Return Details unread: the refund
    # link unknown): a refund Loop made may be the one its findings call missing.
    return_unreadable: bool = False


@dataclass(frozen=True)
class LedgerFacts:
    """What the ledger knows: units recon restocked per (rma, line item), each intent's state."""

    restocked: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)
    states: Mapping[str, ActionState] = field(default_factory=dict)
    # Units of restock intents sent without an answer yet (resolved before anything is sent).
    in_flight: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)
    # Refund intents that ended without writing (needs_review, failed): their write (amount,
    # currency, write details), so the planner can tell when tonight calls for another one.
    ended_refunds: Mapping[str, tuple[Decimal | None, str | None, Mapping[str, Any]]] = field(
        default_factory=dict
    )
    # Keys the plan sent to review unsent (a hold such as UNMATCHED_REFUND): recorded straight
    # into review, or withdrawn before the send because tonight's plan held them.
    held_by_plan: frozenset[str] = frozenset()
    # Restock intents that ended in review never sent: their details, so that tonight's other
    # write under the same key (more units of the line past the event) gets the next key.
    unsent_restocks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Intents still proposed (no human has decided, nothing sent): their write (amount,
    # currency, details), so that tonight's other write gets a new key and the stale proposal
    # is withdrawn in the same run instead of waiting to be approved and refused.
    proposed: Mapping[str, tuple[Decimal | None, str | None, Mapping[str, Any]]] = field(
        default_factory=dict
    )
    # Restock keys Shopify refused as stale with no answer lost (``facts.stale_refusals``):
    # nothing was written, and Shopify keeps the refusal under the key (a resend would get it
    # back, or a key mismatch with a fresh compare quantity), so the units take the next key.
    stale_refused: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Plan:
    """The planner's answer: actions, findings it did not act on (and why), breaker verdict.

    ``finding_keys`` are the open findings the plan was made from: an intent recorded earlier
    whose finding is not among them is no longer owed and must not be sent.
    """

    actions: tuple[PlannedAction, ...]
    skipped: tuple[str, ...] = ()
    breaker: str | None = None
    finding_keys: frozenset[str] = frozenset()
