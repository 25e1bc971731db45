"""Remediation planning (pure): which intent of an RMA tonight's write is, the same or a new key.

An intent that is live, done or rejected stays the answer; one the plan held, or withdrawn
unsent because tonight calls for another write, is superseded by the next key (n + 1) once
tonight's write differs or the hold lifts. DESIGN decision 8; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from recon.remediation.actions import (
    ActionKind,
    Disposition,
    LedgerFacts,
    PlannedAction,
    idempotency_key,
    write_details,
)
from recon.remediation.trail import STALE_REPLANS


def refund_n(
    ledger: LedgerFacts,
    shop: str,
    rma: str,
    write: tuple[Decimal, str, Mapping[str, Any]],
    disposition: Disposition,
) -> int:
    """Which refund intent of the RMA tonight's refund is: an existing one, or a new one.

    The latest intent while it is live, done or rejected (a rejection stays the answer). When
    it ended without writing (needs review, failed), an ended intent with tonight's very write
    is the answer (no new intent every night, even if Loop's amount goes back and forth),
    except one the plan held (recorded into review, or withdrawn unsent because a plan held it
    or called for another write) when tonight holds it no more (the UNMATCHED_REFUND was
    acknowledged; Loop's amount went back to it). Else a new intent
    (n + 1, a new idempotency key); sending it still passes every guard, and a refund carrying
    the RMA's marker on the order sends it to review.
    """
    latest = 1
    while idempotency_key(shop, rma, ActionKind.REFUND, latest + 1) in ledger.states:
        latest += 1
    amount, currency, details = write
    tonight = (amount, currency, write_details(details))
    latest_key = idempotency_key(shop, rma, ActionKind.REFUND, latest)
    proposed = ledger.proposed.get(latest_key)
    # A proposal of another write is withdrawn tonight (``Executor.record``): like an ended
    # intent, it is not the answer, so the current write is proposed at once.
    replaced = proposed is not None and _write(proposed) != tonight
    if latest_key not in ledger.ended_refunds and not replaced:
        return latest
    for n in range(latest, 0, -1):
        key = idempotency_key(shop, rma, ActionKind.REFUND, n)
        ended = ledger.ended_refunds.get(key)
        if ended is None or _write(ended) != tonight:
            continue
        released = key in ledger.held_by_plan and disposition is not Disposition.REVIEW
        if not released:
            return n
    return latest + 1


def _write(
    write: tuple[Decimal | None, str | None, Mapping[str, Any]],
) -> tuple[Decimal | None, str | None, dict[str, Any]]:
    """A recorded write without its plan-time context, to compare with tonight's."""
    return write[0], write[1], write_details(write[2])


def past_held(action: PlannedAction, ledger: LedgerFacts, shop: str) -> PlannedAction:
    """The restock under the first key the plan did not hold, unless tonight holds it too.

    A restock the plan sent to review (a refund on the order recon could not read, a missing
    location), when recording it or before sending it, was never sent, and its key stays in
    review for good. When tonight's plan holds it no more, the same units get the next key
    (n + 1), as a refund does (``refund_n``). So does a key that ended unsent with other
    units: the line's key once named fewer units. Units of a restock that was sent are covered
    before this (``restocked``, ``in_flight``). A restock held tonight takes the line's latest
    key, never a new one: held again, the held key stays the answer (no new intent every
    night), and a key a lifted hold released (proposed, approved) is withdrawn as held, to be
    released again once this hold lifts too (it went to review for good). A tag takes its
    keys the same way (one withdrawn while its order was out of sight is written once seen).

    A key Shopify refused as stale (``LedgerFacts.stale_refused``: nothing written, no answer
    lost) was sent, yet its units take the next key too: Shopify keeps the refusal under the
    key, and the new intent's compare quantity is read right before its send. Retried in the
    next run, not the refusing one (stock that just moved may still be moving; the finding is
    recomputed first), and at most ``STALE_REPLANS`` refusals of the units in all: past that
    the last refusal stays the answer, in review for a human, instead of an intent a night.
    """
    held = action.disposition is Disposition.REVIEW
    n, refusals = action.n, 0
    while True:
        key = _key(action, n, shop)
        if key in ledger.stale_refused:
            refusals += 1
            if refusals >= STALE_REPLANS:
                break  # stock keeps moving: the last refusal stays the answer, a human restocks
        elif not _passed_over(key, action, ledger):
            break
        if held and _key(action, n + 1, shop) not in ledger.states:
            break
        n += 1
    if n == action.n:
        return action
    again = replace(action, n=n, key=_key(action, n, shop))
    before = _key(action, n - 1, shop)
    if before in ledger.stale_refused and key not in ledger.stale_refused and not held:
        # What the Actions sheet and ``actions list`` say of the new intent until it is sent.
        again = replace(again, reason=f"planned again: {_REPLANNED}")
    return again


_REPLANNED = (
    "Shopify refused the last restock of these units as stale (stock moved since recon read "
    "it), nothing was written; sent under a new key, compared from the stock read right before"
)


def _key(action: PlannedAction, n: int, shop: str) -> str:
    return idempotency_key(shop, action.rma, action.kind, n, action.subject)


def _passed_over(key: str, action: PlannedAction, ledger: LedgerFacts) -> bool:
    """Whether a restock key ended unsent in a way tonight's restock does not repeat: the plan
    held it, or it named other units (the line's key once fewer units were past the event),
    or it is still proposed with other units (withdrawn tonight, ``Executor.record``)."""
    unsent = ledger.unsent_restocks.get(key)
    proposed = ledger.proposed.get(key)
    return (
        key in ledger.held_by_plan
        or (unsent is not None and unsent != action.details)
        or (proposed is not None and proposed[2] != action.details)
    )
