"""Intent snapshots, run outcomes, and what Shopify's answer to a write means for an intent.

A ``Verdict`` is an intent's next state with the reason; ``classify_write`` maps a parsed write
payload to one, ``unanswered`` a write that got no payload (shopify-admin-api.md §16, §17).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from recon.config import RemediationMode
from recon.errors import RequestRejectedError, RetryExhaustedError, SourceError, ThrottledError
from recon.remediation.ledger import ActionRow
from recon.remediation.planner import ActionKind, ActionState
from recon.remediation.trail import NOT_RUN, REFUSED_STALE
from recon.remediation.writes import (
    WriteResult,
    parse_adjust_payload,
    parse_refund_payload,
    parse_tags_payload,
)

S = ActionState


@dataclass(frozen=True)
class Outcome:
    """Where one intent ended up in this run."""

    action_id: int
    key: str
    kind: str
    rma: str
    state: str
    reason: str
    result_id: str | None
    # False when this run sent nothing for it and left it as it was: a read before the write
    # failed (``IntentRecorder._unreadable``), so an earlier run's unknown write is still
    # unknown but was not sent (or resent) tonight.
    sent: bool = True

    @classmethod
    def of(
        cls,
        intent: Intent,
        state: str,
        reason: str,
        result_id: str | None = None,
        *,
        sent: bool = True,
    ) -> Outcome:
        return cls(
            intent.id, intent.key, intent.kind.value, intent.rma, state, reason, result_id, sent
        )


@dataclass(frozen=True)
class ApplyReport:
    """What one run did: intents recorded, in-flight ones resolved, new ones applied, or why not."""

    run_id: str
    recorded: tuple[int, ...] = ()
    recovered: tuple[Outcome, ...] = ()
    applied: tuple[Outcome, ...] = ()
    halted: str | None = None
    # Intents not started because the run was asked to stop (a signal): the next run's.
    left: int = 0
    # After a stop: intents tonight's plan no longer calls for, left for the next run to
    # withdraw to review (never sent).
    stale_left: int = 0
    # Plan mode: whether the limits would hold an apply run now, with the figures (``preview``).
    preview: tuple[str, ...] = ()
    # The categories of the writes the limits held (``halted``), or would hold (``preview``).
    held: tuple[str, ...] = ()
    held_writes: int = 0  # how many writes the limits held (``halted``)
    # Asked to stop before tonight's plan was recorded: nothing was recorded, superseded or sent.
    unrecorded: bool = False

    @property
    def settled(self) -> dict[int, str]:
        """Each intent this run settled (resolved from in flight, sent, or ended unsent), by
        id, with the state it ended in: what the run's console line and report count."""
        return {o.action_id: o.state for o in (*self.recovered, *self.applied)}

    @property
    def done(self) -> frozenset[int]:
        """The intents this run ended ``done``: sent, or an earlier run's found landed."""
        return frozenset(i for i, state in self.settled.items() if state == ActionState.DONE)

    @property
    def unknown(self) -> frozenset[int]:
        """The intents this run sent (or resent) and ended ``unknown``: no answer came, or
        Shopify throttled them until the run gave up (``ledger.NOT_RUN``); the next run
        re-reads Shopify first. Not an earlier run's unknown write this run could not re-read
        (nothing was sent tonight: it is not "sent to Shopify this run")."""
        return frozenset(
            o.action_id
            for o in (*self.recovered, *self.applied)
            if o.state == ActionState.UNKNOWN and o.sent
        )

    @property
    def failed(self) -> frozenset[int]:
        """The intents this run ended ``failed``: Shopify refused the write (not retried)."""
        return frozenset(i for i, state in self.settled.items() if state == ActionState.FAILED)

    def stopped(self, mode: RemediationMode) -> str:
        """What this run's remediation did before a signal stopped the run, for its error."""
        if self.unrecorded:
            return (
                "as remediation began (the findings are saved): nothing was recorded or sent, "
                "and no proposal changed; no report was written"
            )
        if mode is RemediationMode.PLAN:
            return (
                f"during remediation: plan mode, nothing is sent; {len(self.recorded)} "
                "intent(s) recorded; no report was written"
            )
        settled = (*self.recovered, *self.applied)
        done = sum(1 for o in settled if o.state == ActionState.DONE)
        others = len(settled) - done
        also = f" ({others} other intent(s) settled without a write)" if others else ""
        if self.halted:
            rest = f"the limits held {self.held_writes} write(s) ({self.halted})"
        elif self.left:
            rest = f"{self.left} not started (they wait for the next run)"
        else:
            rest = "none was left to start"
        if self.stale_left:
            rest += (
                f", {self.stale_left} no longer called for (the next run withdraws them to "
                "review; they are not sent)"
            )
        return (
            f"during remediation: {done} write(s) done and recorded{also}, {rest}; "
            "no report was written"
        )


def categories(names: Iterable[str]) -> tuple[str, ...]:
    """The distinct categories of some writes, sorted: whose teams hear of a hold."""
    return tuple(sorted(set(names)))


@dataclass(frozen=True)
class Intent:
    """A detached snapshot of an intent row."""

    id: int
    key: str
    kind: ActionKind
    rma: str
    order_id: str
    finding_key: str
    amount: Decimal | None
    currency: str | None
    details: dict[str, Any]
    variables: dict[str, Any] | None
    category: str = ""  # the finding's category: whose team a held write is

    @classmethod
    def of(cls, row: ActionRow) -> Intent:
        amount = None if row.amount is None else Decimal(row.amount)
        return cls(
            row.id,
            row.key,
            ActionKind(row.kind),
            row.rma,
            row.order_id,
            row.finding_key,
            amount,
            row.currency,
            dict(row.details),
            row.variables,
            row.category,
        )


@dataclass(frozen=True)
class Verdict:
    """A decision reached without writing (already done, or needs a human)."""

    state: ActionState
    reason: str
    result_id: str | None = None


def parse_write(kind: ActionKind, raw: dict[str, Any]) -> WriteResult:
    """Parse the raw payload of an intent's write."""
    if kind is ActionKind.REFUND:
        return parse_refund_payload(raw)
    if kind is ActionKind.RESTOCK:
        return parse_adjust_payload(raw)
    return parse_tags_payload(raw)


def classify_write(kind: ActionKind, result: WriteResult) -> Verdict:
    """Map a parsed payload to the intent's next state (shopify-admin-api.md §16, §17)."""
    if result.ok:
        return Verdict(S.DONE, "applied", result.result_id)
    if not result.errors:
        # Neither an object nor an error: nothing proves the write happened or not.
        return Verdict(S.UNKNOWN, "Shopify returned neither a result nor userErrors")
    codes = {e.code for e in result.errors}
    message = "; ".join(e.message for e in result.errors)
    if "IDEMPOTENCY_CONCURRENT_REQUEST" in codes:
        return Verdict(S.UNKNOWN, f"still running at Shopify, resolve next run: {message}")
    if kind is ActionKind.REFUND and not any(codes) and "idempot" in message.casefold():
        # refundCreate's UserError has no code (§10): a message about the idempotency key
        # (a concurrent request, a key reuse) says nothing about whether the refund exists.
        return Verdict(S.UNKNOWN, f"idempotency conflict, resolve next run: {message}")
    if "CHANGE_FROM_QUANTITY_STALE" in codes:
        # A definitive refusal (the compare failed, nothing written), but not for a human yet:
        # the next run plans the units again with the stock read again (``REFUSED_STALE``).
        # The other InventoryAdjustQuantitiesUserErrorCode values write nothing either, but
        # would be refused again as sent (INVALID_*, ITEM_NOT_STOCKED_AT_LOCATION, ...) or say
        # only "try again" (ADJUST_QUANTITIES_FAILED, SERVICE_UNAVAILABLE): §17, not retried.
        return Verdict(S.NEEDS_REVIEW, f"{REFUSED_STALE}, nothing was written: {message}")
    if "IDEMPOTENCY_KEY_PARAMETER_MISMATCH" in codes:
        return Verdict(S.NEEDS_REVIEW, f"same key, different variables (a bug): {message}")
    return Verdict(S.FAILED, f"Shopify refused the {kind.value}: {message}")


def unanswered(intent: Intent, exc: SourceError) -> Verdict:
    """What a write that got no payload back means for its intent (shopify-admin-api.md §16-17).

    A document Shopify rejected whole (top-level errors, no ``data``: a validation error) ran
    nothing and would be rejected again: failed, with Shopify's message, reported and not
    resent. A throttle outlasted (THROTTLED or 429 until the attempts ran out, or a wait over
    the policy's cap; 5xx and timeouts raise ``OutcomeUnknownError`` at once for a write) ran
    nothing either, but the write is still owed: left in flight, so the next run re-reads
    Shopify and resends it with the same key; its day counts it only once sent again (``NOT_RUN``,
    ``daily``). Anything else (5xx, timeouts, an internal error, a bad body) may have run:
    unknown, resolved by the next run's re-read before any resend. So does any other HTTP 4xx
    (``FatalHTTPError``: 400, 402, 404, 422, 423, ...): §16 gives those statuses' meanings as
    unverified and nothing in the reference says whether a write so answered ran; only 429
    (§17: "the request did not execute") is taken for nothing run.
    """
    kind = type(exc).__name__
    if isinstance(exc, RequestRejectedError):
        why = f"Shopify rejected the {intent.kind.value} before running it, nothing was written"
        return Verdict(S.FAILED, f"{why}: {exc}")
    if isinstance(exc, ThrottledError | RetryExhaustedError):
        return Verdict(
            S.UNKNOWN,
            f"{NOT_RUN} ({kind}: throttled, nothing was written); the next run re-reads the "
            f"order and resends it with the same key: {exc}",
        )
    return Verdict(S.UNKNOWN, f"outcome unknown ({kind}): {exc}")
