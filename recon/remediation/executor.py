"""Applying remediation intents so that no money and no stock ever moves twice (DESIGN decision 8).

Order of every apply run: resolve in-flight intents (``sending``/``unknown``) first, by re-reading
Shopify and, if the write is not there, resending with the SAME key and SAME stored variables; then
check the per-run circuit breaker; then send the approved/planned intents. Each intent is marked
``sending`` (with its variables, under the run lease) and committed before the request goes out.

Crash points (test-only): ``crashpoint(name)`` ends the process with ``os._exit(137)`` when the
environment variable ``RECON_TEST_CRASH_AT`` equals ``name``. Names, in the order they occur:
``after_intent_commit``, ``after_mark_sending``, ``after_request_sent`` (the write returned, not yet
parsed), ``after_response`` (parsed, not yet recorded), ``before_final_commit``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import RemediationMode, RemediationSettings
from recon.errors import FatalHTTPError, LockError, OutcomeUnknownError, RemediationError
from recon.lock import Lease, assert_current
from recon.remediation.ledger import (
    EXECUTABLE,
    IN_FLIGHT,
    ActionRow,
    note,
    record_plan,
    rows_in,
    transition,
)
from recon.remediation.planner import ActionKind, ActionState, Plan, check_breaker
from recon.remediation.writes import (
    ShopifyGateway,
    WriteResult,
    allocate_transactions,
    gid,
    note_names_rma,
    parse_adjust_payload,
    parse_refund_payload,
    parse_tags_payload,
    presentment_amount,
    refund_line_inputs,
    restock_input,
)

CRASH_ENV = "RECON_TEST_CRASH_AT"
S = ActionState


def crashpoint(name: str) -> None:
    """Test-only: die like ``kill -9`` at the named point when ``RECON_TEST_CRASH_AT`` names it."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(137)


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


@dataclass(frozen=True)
class ApplyReport:
    """What one run did: intents recorded, in-flight ones resolved, new ones applied, or why not."""

    run_id: str
    recorded: tuple[int, ...] = ()
    recovered: tuple[Outcome, ...] = ()
    applied: tuple[Outcome, ...] = ()
    halted: str | None = None


@dataclass(frozen=True)
class Intent:
    """A detached snapshot of an intent row."""

    id: int
    key: str
    kind: ActionKind
    rma: str
    order_id: str
    amount: Decimal | None
    currency: str | None
    details: dict[str, Any]
    variables: dict[str, Any] | None

    @classmethod
    def of(cls, row: ActionRow) -> Intent:
        amount = None if row.amount is None else Decimal(row.amount)
        return cls(
            row.id,
            row.key,
            ActionKind(row.kind),
            row.rma,
            row.order_id,
            amount,
            row.currency,
            dict(row.details),
            row.variables,
        )


@dataclass(frozen=True)
class Verdict:
    """A decision reached without writing (already done, or needs a human)."""

    state: ActionState
    reason: str
    result_id: str | None = None


class Executor:
    """Records plans in the ledger and applies intents through a ``ShopifyGateway``."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        gateway: ShopifyGateway,
        settings: RemediationSettings,
        clock: Clock,
        *,
        shop: str,
        actor: str = "recon",
        crash: Callable[[str], None] = crashpoint,
    ) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._settings = settings
        self._clock = clock
        self._shop = shop
        self._actor = actor
        self._crash = crash

    def run(
        self, plan: Plan, mode: RemediationMode, lease: Lease | None, run_id: str
    ) -> ApplyReport:
        """Record the plan; in approval or apply mode also apply what may be applied.

        Raises:
            LockError: no lease was given for a mode that writes, or it was taken over mid-run.
        """
        recorded = self.record(plan, mode, run_id)
        if mode is RemediationMode.PLAN:
            return ApplyReport(run_id, tuple(recorded), halted=plan.breaker)
        if lease is None:
            raise LockError("applying remediation needs the run lock")
        report = self.apply(lease, run_id)
        return ApplyReport(run_id, tuple(recorded), report.recovered, report.applied, report.halted)

    def record(self, plan: Plan, mode: RemediationMode, run_id: str) -> list[int]:
        """Commit the plan's intents (new keys only) before anything is sent."""
        with self._sessions() as session, session.begin():
            ids = record_plan(
                session, plan.actions, mode=mode, now=self._clock.now(), run_id=run_id
            )
        self._crash("after_intent_commit")
        return ids

    def apply(self, lease: Lease, run_id: str) -> ApplyReport:
        """Resolve in-flight intents, then send approved/planned ones unless the breaker trips.

        Raises:
            LockError: the lease expired or was taken over (nothing more is sent).
        """
        recovered = tuple(self._resolve(i, lease, run_id) for i in self._intents(IN_FLIGHT))
        pending = self._intents(EXECUTABLE)
        halted = check_breaker([(i.amount, i.currency) for i in pending], self._settings)
        if halted:
            self._hold(pending, halted, run_id)
            return ApplyReport(run_id, recovered=recovered, halted=halted)
        applied = tuple(self._execute(i, lease, run_id) for i in pending)
        return ApplyReport(run_id, recovered=recovered, applied=applied)

    # --- internals ----------------------------------------------------------------------------

    def _intents(self, states: Sequence[ActionState]) -> list[Intent]:
        with self._sessions() as session:
            return [Intent.of(row) for row in rows_in(session, self._shop, states)]

    def _hold(self, intents: Sequence[Intent], reason: str, run_id: str) -> None:
        with self._sessions() as session, session.begin():
            for intent in intents:
                row = session.get_one(ActionRow, intent.id)
                note(
                    session,
                    row,
                    actor=self._actor,
                    now=self._clock.now(),
                    reason=reason,
                    run_id=run_id,
                )

    def _resolve(self, intent: Intent, lease: Lease, run_id: str) -> Outcome:
        """Finish an intent a previous run left in flight: re-read, else resend the same request."""
        if intent.variables is None:
            return self._finish(
                intent, Verdict(S.NEEDS_REVIEW, "in flight without stored variables"), run_id
            )
        if intent.kind is ActionKind.REFUND:
            try:
                found = self._existing_refund(intent)
            except FatalHTTPError as exc:
                return self._finish(intent, Verdict(S.NEEDS_REVIEW, str(exc)), run_id)
            if found is not None:
                return self._finish(intent, found, run_id)
        return self._send(intent, intent.variables, lease, run_id, resend=True)

    def _execute(self, intent: Intent, lease: Lease, run_id: str) -> Outcome:
        try:
            prepared = self._prepare(intent)
        except FatalHTTPError as exc:
            prepared = Verdict(S.NEEDS_REVIEW, f"could not read Shopify: {exc}")
        if isinstance(prepared, Verdict):
            return self._finish(intent, prepared, run_id)
        return self._send(intent, prepared, lease, run_id, resend=False)

    def _prepare(self, intent: Intent) -> dict[str, Any] | Verdict:
        if intent.kind is ActionKind.REFUND:
            return self._prepare_refund(intent)
        if intent.kind is ActionKind.RESTOCK:
            return self._prepare_restock(intent)
        return {"id": gid("Order", intent.order_id), "tags": list(intent.details["tags"])}

    def _existing_refund(self, intent: Intent) -> Verdict | None:
        """A refund on the order whose note carries this RMA's marker: the write happened."""
        marker = self._settings.note_template.format(rma=intent.rma)
        for refund in self._gateway.order_refunds(gid("Order", intent.order_id)).refunds:
            if note_names_rma(refund.note, marker):
                return Verdict(S.DONE, f"refund {refund.id} already carries {marker!r}", refund.id)
        return None

    def _prepare_refund(self, intent: Intent) -> dict[str, Any] | Verdict:
        """Re-read the order, check caps and currency, build the refundCreate variables (§9-10)."""
        order_gid = gid("Order", intent.order_id)
        marker = self._settings.note_template.format(rma=intent.rma)
        order = self._gateway.order_refunds(order_gid)
        for refund in order.refunds:
            if note_names_rma(refund.note, marker):
                return Verdict(S.DONE, f"refund {refund.id} already carries {marker!r}", refund.id)
        if intent.amount is None or intent.currency is None:
            return Verdict(S.NEEDS_REVIEW, "refund intent without an amount")
        lines = refund_line_inputs(intent.details["lines"])
        suggested = self._gateway.suggested_refund(order_gid, lines)
        try:
            amount = presentment_amount(intent.amount, intent.currency, suggested)
            transactions = allocate_transactions(order_gid, amount, suggested)
        except RemediationError as exc:
            if order.refunds and "over-refund" in str(exc):
                return Verdict(S.NEEDS_REVIEW, f"refunded manually meanwhile: {exc}")
            return Verdict(S.NEEDS_REVIEW, str(exc))
        refund_input = {
            "orderId": order_gid,
            "note": marker,
            "notify": False,
            "currency": suggested.presentment_currency,
            "refundLineItems": lines,
            "transactions": transactions,
        }
        return {"input": refund_input, "idempotencyKey": intent.key}

    def _prepare_restock(self, intent: Intent) -> dict[str, Any] | Verdict:
        """Read ``available`` now and build the compare-and-swap adjustment (§11)."""
        details = intent.details
        line_gid = gid("LineItem", str(details["line_item_id"]))
        location_gid = gid("Location", str(details["location_id"]))
        stock = next(
            (
                s
                for s in self._gateway.line_item_inventory([line_gid], location_gid)
                if s.line_item_id == line_gid
            ),
            None,
        )
        if stock is None or stock.inventory_item_id is None or stock.available is None:
            return Verdict(S.NEEDS_REVIEW, f"{line_gid} is not stocked at {location_gid}")
        if not stock.tracked:
            return Verdict(S.NEEDS_REVIEW, f"inventory of {line_gid} is not tracked")
        adjust = restock_input(
            intent.rma,
            stock.inventory_item_id,
            location_gid,
            int(details["quantity"]),
            stock.available,
        )
        return {"input": adjust, "idempotencyKey": intent.key}

    def _call(self, intent: Intent, variables: dict[str, Any]) -> dict[str, Any]:
        if intent.kind is ActionKind.REFUND:
            return self._gateway.create_refund(variables["input"], intent.key)
        if intent.kind is ActionKind.RESTOCK:
            return self._gateway.adjust_inventory(variables["input"], intent.key)
        return self._gateway.add_tags(variables["id"], variables["tags"])

    def _send(
        self, intent: Intent, variables: dict[str, Any], lease: Lease, run_id: str, *, resend: bool
    ) -> Outcome:
        with self._sessions() as session, session.begin():
            row = session.get_one(ActionRow, intent.id)
            row.variables = variables
            why = "resending with the same key and variables" if resend else "sending"
            transition(
                session,
                row,
                S.SENDING,
                actor=self._actor,
                now=self._clock.now(),
                reason=why,
                run_id=run_id,
            )
            session.flush()  # the first write takes SQLite's write lock before the lease check
            assert_current(session, lease, self._clock.now())
        self._crash("after_mark_sending")
        try:
            raw = self._call(intent, variables)
        except OutcomeUnknownError as exc:
            return self._finish(intent, Verdict(S.UNKNOWN, f"outcome unknown: {exc}"), run_id)
        self._crash("after_request_sent")
        verdict = _classify(intent.kind, _parse(intent.kind, raw))
        self._crash("after_response")
        return self._finish(intent, verdict, run_id, response=raw)

    def _finish(
        self, intent: Intent, verdict: Verdict, run_id: str, response: dict[str, Any] | None = None
    ) -> Outcome:
        with self._sessions() as session, session.begin():
            row = session.get_one(ActionRow, intent.id)
            if verdict.result_id is not None:
                row.result_id = verdict.result_id
            transition(
                session,
                row,
                verdict.state,
                actor=self._actor,
                now=self._clock.now(),
                reason=verdict.reason,
                response=response,
                run_id=run_id,
            )
            if response is not None:
                self._crash("before_final_commit")
        return Outcome(
            intent.id,
            intent.key,
            intent.kind.value,
            intent.rma,
            verdict.state.value,
            verdict.reason,
            verdict.result_id,
        )


def _parse(kind: ActionKind, raw: dict[str, Any]) -> WriteResult:
    if kind is ActionKind.REFUND:
        return parse_refund_payload(raw)
    if kind is ActionKind.RESTOCK:
        return parse_adjust_payload(raw)
    return parse_tags_payload(raw)


def _classify(kind: ActionKind, result: WriteResult) -> Verdict:
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
    if "CHANGE_FROM_QUANTITY_STALE" in codes:
        return Verdict(
            S.NEEDS_REVIEW, f"stock moved since it was read (stale changeFromQuantity): {message}"
        )
    if "IDEMPOTENCY_KEY_PARAMETER_MISMATCH" in codes:
        return Verdict(S.NEEDS_REVIEW, f"same key, different variables (a bug): {message}")
    return Verdict(S.FAILED, f"Shopify refused the {kind.value}: {message}")
