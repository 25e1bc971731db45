"""The executor's ledger side: each intent's verdict, note or hold, fenced by the run's lease.

``Executor`` (``recon.remediation.executor``) decides what to send and sends it; every state it
records goes through here, in a transaction of its own that first checks the run still holds
its lease, so a run that lost the lease changes nothing (DESIGN decision 8).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import RemediationSettings
from recon.errors import (
    AuthError,
    FatalHTTPError,
    LockError,
    RetryBudgetExhaustedError,
    SourceError,
)
from recon.lock import Lease, assert_current
from recon.remediation.daily import daily_limit_reason
from recon.remediation.guards import closed_reason
from recon.remediation.ledger import (
    PLANNER,
    ActionRow,
    claim,
    note,
    rows_in,
    transition,
)
from recon.remediation.planner import TERMINAL_STATES, ActionState, Plan
from recon.remediation.trail import resend_reason
from recon.remediation.verdicts import Intent, Outcome, Verdict

S = ActionState


class IntentRecorder:
    """Records intents' states in the ledger for one shop; ``Executor`` adds the sending."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        settings: RemediationSettings,
        clock: Clock,
        *,
        shop: str,
        actor: str,
        crash: Callable[[str], None],
        timezone: str,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock
        self._shop = shop
        self._actor = actor
        self._crash = crash
        self._timezone = timezone
        # The run's lease while it records and applies: every ledger write checks it in its own
        # transaction (``_fence``), so a run that lost the lease changes nothing, not even an
        # intent's state (a stale run moving tonight's intents to review stops the new run's).
        self._lease: Lease | None = None

    def _intents(self, states: Sequence[ActionState]) -> list[Intent]:
        with self._sessions() as session:
            return [Intent.of(row) for row in rows_in(session, self._shop, states)]

    def _over_daily_limit(self, asked: Sequence[tuple[Decimal | None, str | None]]) -> str | None:
        """Why tonight's writes would take the shop's day past its limits (``daily``), or None."""
        with self._sessions() as session:
            now, zone = self._clock.now(), self._timezone
            return daily_limit_reason(session, self._shop, asked, self._settings, now, zone)

    def _withdrawer(self, intent: Intent, plan: Plan) -> str:
        """Who withdraws an unsent intent: the planner while its finding is open (tonight's
        plan holds it, or calls for another write), else the run (the finding closed).

        The planner's withdrawals are released (``recon.remediation.succession``): when a
        later plan calls for this very write again (Loop's amount went back, the units came back
        to this location), it is proposed afresh under the next key. Withdrawn by the run, an
        ended intent stayed the answer: the money owed again was never proposed again.
        """
        return PLANNER if closed_reason(intent, plan) is None else self._actor

    def _fence(self, session: Session) -> None:
        """Inside a ledger write's transaction: the run still holds its lease (if it has one).

        Raises:
            LockError: the lease expired or was taken over; the transaction rolls back.
        """
        if self._lease is not None:
            session.flush()  # the first write takes SQLite's write lock before the check
            assert_current(session, self._lease, self._clock.now())

    def _hold(self, intents: Sequence[Intent], reason: str, run_id: str) -> None:
        with self._sessions() as session, session.begin():
            self._fence(session)
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

    def _unreadable(self, intent: Intent, exc: SourceError, run_id: str) -> Outcome:
        """A read before a write failed: a bad answer goes to review, a transient one waits.

        Raises:
            AuthError: bad credentials stop the run (shopify-admin-api.md §17).
            RetryBudgetExhaustedError: the run's retries to Shopify are spent; the rest waits.
        """
        if isinstance(exc, AuthError | RetryBudgetExhaustedError):
            raise exc
        if isinstance(exc, FatalHTTPError):
            return self._finish(
                intent, Verdict(S.NEEDS_REVIEW, f"could not read Shopify: {exc}"), run_id
            )
        why = f"could not read Shopify, left for the next run: {exc}"
        with self._sessions() as session, session.begin():
            row = session.get_one(ActionRow, intent.id)
            note(session, row, actor=self._actor, now=self._clock.now(), reason=why, run_id=run_id)
            self._fence(session)
            state = row.state
        return Outcome.of(intent, state, why, sent=False)

    def _mark_sending(
        self,
        session: Session,
        row: ActionRow,
        variables: dict[str, Any],
        lease: Lease,
        run_id: str,
        *,
        resend: bool,
    ) -> None:
        why = resend_reason(row.variables, variables) if resend else "sending"
        row.variables = variables
        now = self._clock.now()
        transition(session, row, S.SENDING, actor=self._actor, now=now, reason=why, run_id=run_id)
        session.flush()  # the first write takes SQLite's write lock before the lease check
        assert_current(session, lease, self._clock.now())

    def _finish(
        self,
        intent: Intent,
        verdict: Verdict,
        run_id: str,
        response: dict[str, Any] | None = None,
        *,
        actor: str | None = None,
    ) -> Outcome:
        with self._sessions() as session, session.begin():
            (row,) = claim(session, [intent.id])
            if row.state == S.REJECTED and response is None:  # by a human: it stands
                return Outcome.of(intent, row.state, row.reason)
            if ActionState(row.state) in TERMINAL_STATES:
                # Another run took the lease over while this one was on its way (stalled between
                # marking the intent sending and its answer) and finished the intent: stop here,
                # as on any lost lease; the same key made the two sends one write.
                raise LockError(
                    f"action {row.id} was finished ({row.state}) by another run while this one "
                    "was sending it: the lease was taken over"
                )
            if verdict.result_id is not None:
                row.result_id = verdict.result_id
            transition(
                session,
                row,
                verdict.state,
                actor=actor or self._actor,
                now=self._clock.now(),
                reason=verdict.reason,
                response=response,
                run_id=run_id,
            )
            self._fence(session)
            if response is not None:
                self._crash("before_final_commit")
        return Outcome.of(intent, verdict.state.value, verdict.reason, verdict.result_id)
