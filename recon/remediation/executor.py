"""Applying remediation intents so that no money and no stock ever moves twice (DESIGN decision 8).

Order of every apply run: resolve in-flight intents (``sending``/``unknown``) first, by re-reading
Shopify and, if the write is not there, resending with the SAME key and SAME stored variables (a
restock Shopify ran none of the sends of, each throttled, compares from its stock read again); then
check the per-run circuit breaker and the shop day's limits (``daily``); then send the
approved/planned intents. Each intent is marked ``sending`` (with its variables, under the run
lease) and committed before the request goes out.
Crash points for tests: ``recon.remediation.crash``. What is written to the ledger as intents
are judged (verdicts, notes, holds, each fenced by the run's lease) is in
``recon.remediation.recording``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import RemediationMode, RemediationSettings
from recon.errors import (
    AuthError,
    LockError,
    RetryBudgetExhaustedError,
    SourceError,
)
from recon.interrupt import Interrupt
from recon.lock import Lease
from recon.remediation.crash import crashpoint
from recon.remediation.facts import finding_taken_over
from recon.remediation.guards import (
    no_longer_called_for,
    stale_reason,
    superseded_reason,
    with_refunds_known_tonight,
)
from recon.remediation.ledger import (
    EXECUTABLE,
    IN_FLIGHT,
    claim,
    claim_keys,
    record_plan,
    rows_in,
    transition,
)
from recon.remediation.planner import (
    ActionKind,
    ActionState,
    Plan,
    check_breaker,
)
from recon.remediation.prepare import WritePreparer
from recon.remediation.recording import IntentRecorder
from recon.remediation.verdicts import ApplyReport as ApplyReport
from recon.remediation.verdicts import (
    Intent,
    Outcome,
    Verdict,
    categories,
    classify_write,
    parse_write,
    unanswered,
)
from recon.remediation.writes import ShopifyGateway

S = ActionState


class Executor(IntentRecorder):
    """Records plans in the ledger and applies intents through a ``ShopifyGateway``.

    ``renew`` extends the run lease right before each write (``RunLock.renew``), so a long run
    keeps a valid lease; when it fails (``LockError``) nothing more is sent. Unless
    ``include_test_orders``, a refund, restock or tag goes to review unsent when the re-read
    right before it finds a Shopify test order. ``timezone`` (``[shop] timezone``) says whose
    day the daily limits count. When ``interrupt`` is requested (a signal), the write in flight
    is finished and recorded, and no other is started: those wait for the next run.
    """

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
        renew: Callable[[Lease], Lease] | None = None,
        include_test_orders: bool = False,
        timezone: str = "UTC",
        interrupt: Interrupt | None = None,
    ) -> None:
        super().__init__(
            sessions, settings, clock, shop=shop, actor=actor, crash=crash, timezone=timezone
        )
        self._interrupt = interrupt
        self._gateway = gateway
        self._renew = renew or (lambda lease: lease)
        self._preparer = WritePreparer(
            sessions, gateway, settings, shop, include_test_orders=include_test_orders
        )

    def run(
        self, plan: Plan, mode: RemediationMode, lease: Lease | None, run_id: str
    ) -> ApplyReport:
        """Record the plan; in approval or apply mode also apply what may be applied.

        Asked to stop before (``interrupt``), it records nothing: the report's ``unrecorded``.

        Raises:
            LockError: no lease was given for a mode that writes, or it was taken over mid-run.
            AuthError: Shopify refused our credentials during a write (recorded, run stopped).
        """
        self._lease = lease
        if self._stopping():
            # Asked to stop before tonight's plan was recorded (the signal landed after the
            # run's last check): the ledger stays as it is, not even a proposal superseded.
            return ApplyReport(run_id, unrecorded=True)
        recorded = self.record(plan, mode, run_id)
        if mode is RemediationMode.PLAN:
            return ApplyReport(run_id, tuple(recorded), halted=plan.breaker)
        if lease is None:
            raise LockError("applying remediation needs the run lock")
        report = self.apply(lease, run_id, plan)
        return replace(report, recorded=tuple(recorded))

    def record(self, plan: Plan, mode: RemediationMode, run_id: str) -> list[int]:
        """Commit the plan's intents (new keys only) before anything is sent.

        A proposed intent tonight's plan no longer calls for (its finding resolved, or the
        write changed: amount, units, location) is superseded first: sent to review with the
        reason, so finance is not asked to approve what is no longer owed. The plan already
        holds the current write under a new key (the planner knows the proposals), so it is
        proposed in this same run.
        """
        with self._sessions() as session, session.begin():
            proposed = [row.id for row in rows_in(session, self._shop, [S.PROPOSED])]
            # Every row this transaction touches, locked at once by id (``claim``): one a
            # human decided since the read keeps the decision, and no deadlock with approve.
            claim_keys(session, (action.key for action in plan.actions), proposed)
            for row in claim(session, proposed):
                if row.state != S.PROPOSED:
                    continue
                intent = Intent.of(row)
                # Nothing of it was sent: a restock whose units or location changed is
                # replaced, not left beside the current one (which has a new key).
                why = superseded_reason(intent, plan)
                if why is not None:
                    why = why.replace("not sent:", "superseded:", 1)
                    now, actor = self._clock.now(), self._withdrawer(intent, plan)
                    transition(
                        session, row, S.NEEDS_REVIEW, actor=actor, now=now, reason=why,
                        run_id=run_id,
                    )  # fmt: skip
            ids = record_plan(
                session, plan.actions, mode=mode, now=self._clock.now(), run_id=run_id
            )
            self._fence(session)
        self._crash("after_intent_commit")
        return ids

    def apply(self, lease: Lease, run_id: str, plan: Plan) -> ApplyReport:
        """Resolve in-flight intents, then send approved/planned ones unless the breaker trips.

        ``plan`` is tonight's plan from the findings still open: an approved/planned intent it
        does not call for any more (finding resolved, amount or lines changed) goes to review
        instead of being sent.

        Raises:
            LockError: the lease expired or was taken over (nothing more is sent).
            AuthError: Shopify refused our credentials during a write (recorded, run stopped).
        """
        self._lease = lease
        in_flight = self._intents(IN_FLIGHT)
        recovered = self._each(in_flight, lambda i: self._resolve(i, lease, run_id, plan))
        executable = self._intents(EXECUTABLE)
        if self._stopping():
            # Nothing more changes after a stop, not even the ledger: a stale intent is
            # withdrawn, and a held one noted, by the next run. Only the writes tonight's plan
            # still calls for wait for it; the stale ones are named apart (read, not changed).
            stale_count = sum(1 for i in executable if stale_reason(i, plan) is not None)
            left = len(in_flight) - len(recovered) + len(executable) - stale_count
            return ApplyReport(run_id, recovered=recovered, left=left, stale_left=stale_count)
        pending, stale = [], []
        for intent in executable:
            why = stale_reason(intent, plan)
            if why is None:
                pending.append(with_refunds_known_tonight(intent, plan))
            else:
                verdict, actor = Verdict(S.NEEDS_REVIEW, why), self._withdrawer(intent, plan)
                stale.append(self._finish(intent, verdict, run_id, actor=actor))
        asked = [(i.amount, i.currency) for i in pending]
        halted = check_breaker(asked, self._settings) or self._over_daily_limit(asked)
        if halted:
            self._hold(pending, halted, run_id)
            held = categories(i.category for i in pending)
            return ApplyReport(
                run_id, recovered=recovered, applied=tuple(stale), halted=halted, held=held,
                held_writes=len(pending),
            )  # fmt: skip
        applied = self._each(pending, lambda i: self._execute(i, lease, run_id))
        left = len(in_flight) - len(recovered) + len(pending) - len(applied)
        return ApplyReport(run_id, recovered=recovered, applied=(*stale, *applied), left=left)

    def _each(
        self, intents: Sequence[Intent], act: Callable[[Intent], Outcome | None]
    ) -> tuple[Outcome, ...]:
        """``act`` on each intent in turn until the run is asked to stop: a write already sent
        is finished and recorded (never left half-sent); one not yet sent is not started,
        though its reads are done (``act`` gives None): the rest are not started either."""
        done: list[Outcome] = []
        for intent in intents:
            outcome = None if self._stopping() else act(intent)
            if outcome is None:
                break
            done.append(outcome)
        return tuple(done)

    def _stopping(self) -> bool:
        """Whether the run was asked to stop (a signal): no write may start from now on. Checked
        again right before a write, after the reads that prepare it, which can take minutes
        (retries with back-off) and outlast a service manager's grace before SIGKILL."""
        return self._interrupt is not None and self._interrupt.requested

    # --- internals ----------------------------------------------------------------------------

    def _resolve(self, intent: Intent, lease: Lease, run_id: str, plan: Plan) -> Outcome | None:
        """Finish an intent a previous run left in flight: re-read, else resend the same request.

        A resend is a new decision to write, so it must still be what tonight's plan calls for,
        as a planned intent must: Loop may have turned the refund into store credit, or lowered
        it, since the interrupted send (``stale_reason``); a restock's finding may have been
        resolved by hand (``closed_reason``). A refund the re-read finds on the order is done
        whatever the plan says (it was written).
        """
        intent = with_refunds_known_tonight(intent, plan)
        if intent.variables is None:
            return self._finish(
                intent, Verdict(S.NEEDS_REVIEW, "in flight without stored variables"), run_id
            )
        if intent.kind is ActionKind.REFUND:
            try:
                found = self._preparer.recheck_in_flight_refund(intent, intent.variables)
            except SourceError as exc:
                return self._unreadable(intent, exc, run_id)
            if found is not None:
                return self._finish(intent, found, run_id)
        else:  # a restock or a tag: Order.test is all there is to re-read
            try:
                found = self._preparer.test_order(intent, resend=True)
            except SourceError as exc:
                return self._unreadable(intent, exc, run_id)
            if found is not None:
                return self._finish(intent, found, run_id)
        why = no_longer_called_for(intent, plan)
        if why is not None:
            why = why.replace("not sent:", "not resent:", 1)
            return self._finish(intent, Verdict(S.NEEDS_REVIEW, why), run_id)
        variables: dict[str, Any] | Verdict = intent.variables
        if intent.kind is ActionKind.RESTOCK:  # throttled only: its stock read again
            try:
                variables = self._preparer.restock_resend(intent, intent.variables)
            except SourceError as exc:
                return self._unreadable(intent, exc, run_id)
        if isinstance(variables, Verdict):
            return self._finish(intent, variables, run_id)
        if self._stopping():
            return None  # still in flight: the next run's recovery re-reads it first
        return self._send(intent, variables, lease, run_id, resend=True)

    def _execute(self, intent: Intent, lease: Lease, run_id: str) -> Outcome | None:
        try:
            prepared = self._preparer.prepare(intent)
        except SourceError as exc:
            return self._unreadable(intent, exc, run_id)
        if isinstance(prepared, Verdict):
            return self._finish(intent, prepared, run_id)
        if self._stopping():
            return None  # nothing of it was sent: it stays for the next run
        return self._send(intent, prepared, lease, run_id, resend=False)

    def _call(self, intent: Intent, variables: dict[str, Any]) -> dict[str, Any]:
        if intent.kind is ActionKind.REFUND:
            return self._gateway.create_refund(variables["input"], intent.key)
        if intent.kind is ActionKind.RESTOCK:
            return self._gateway.adjust_inventory(variables["input"], intent.key)
        return self._gateway.add_tags(variables["id"], variables["tags"])

    def _send(
        self, intent: Intent, variables: dict[str, Any], lease: Lease, run_id: str, *, resend: bool
    ) -> Outcome:
        """Mark the intent sending under a freshly renewed lease, send it, record the answer.

        Raises:
            LockError: the lease could not be renewed or was taken over: nothing is sent.
            AuthError: Shopify refused our credentials (recorded as unknown first).
        """
        lease = self._renew(lease)
        with self._sessions() as session, session.begin():
            (row,) = claim(session, [intent.id])
            if row.state == S.REJECTED:  # by a human since this run listed it: it stands
                return Outcome.of(intent, row.state, row.reason)
            taken = finding_taken_over(session, intent.finding_key)
            if taken is None:  # else acknowledged (or resolved) since the plan was made
                self._mark_sending(session, row, variables, lease, run_id, resend=resend)
        if taken is not None:
            return self._finish(intent, Verdict(S.NEEDS_REVIEW, taken), run_id)
        self._crash("after_mark_sending")
        try:
            raw = self._call(intent, variables)
        except AuthError as exc:
            # 401/403: shopify-admin-api.md §16 gives their meanings as unverified and says
            # nothing of whether a write so answered ran, so recon does not guess: unknown, and
            # the run stops; the next run re-reads before any resend.
            self._finish(intent, Verdict(S.UNKNOWN, f"outcome unknown, run stopped: {exc}"), run_id)
            raise
        except RetryBudgetExhaustedError as exc:
            # No retries left this run (each other write would get one try against a failing
            # API): stop. The sender retries a write only after an attempt Shopify did not run
            # (429 or THROTTLED, §15, §17; a connection never made): nothing of it ran.
            verdict = unanswered(intent, exc)
            self._finish(intent, replace(verdict, reason=f"{verdict.reason}; run stopped"), run_id)
            raise
        except SourceError as exc:
            # No payload: rejected unrun (failed), throttled unrun (left for the next run), or
            # outcome unknown (re-read by the next run before it resends with the same key).
            return self._finish(intent, unanswered(intent, exc), run_id)
        self._crash("after_request_sent")
        verdict = classify_write(intent.kind, parse_write(intent.kind, raw))
        self._crash("after_response")
        return self._finish(intent, verdict, run_id, response=raw)
