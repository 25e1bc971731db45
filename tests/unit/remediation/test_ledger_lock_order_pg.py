"""On PostgreSQL a run recording its plan and a human deciding intents lock the same ledger rows:
both must lock them in one order (by id), or each holds a row the other waits for (deadlock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from remediation_world import SHOP, T0, FakeGateway, sessions_for, settings, standard_contexts
from remediation_world import standard_findings as findings
from run_helpers import TTL, intents
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from recon.clock import VirtualClock
from recon.config import RemediationMode
from recon.lock import RunLock
from recon.remediation.executor import Executor
from recon.remediation.facts import ledger_facts
from recon.remediation.ledger import approve, claim, reject
from recon.remediation.planner import plan_actions


@pytest.fixture
def pg_sessions(postgres_url: str) -> Iterator[Callable[[], Session]]:
    """Ledger sessions in a private schema of RECON_TEST_POSTGRES_URL (``postgres_url``)."""
    factory = sessions_for(postgres_url)
    yield factory
    factory.kw["bind"].dispose()  # type: ignore[attr-defined]


def _executor(sessions: Callable[[], Session], clock: VirtualClock) -> Executor:
    return Executor(sessions, FakeGateway(), settings(), clock, shop=SHOP)


def _plan(sessions: Callable[[], Session]) -> Any:
    with sessions() as session:
        facts = ledger_facts(session, SHOP)
    return plan_actions(findings(), settings(), standard_contexts(), shop=SHOP, ledger=facts)


def _wait_until_blocked(engine: Engine, pid: int) -> None:
    """Until the backend ``pid`` waits for a row lock (at most 5 s)."""
    deadline = time.monotonic() + 5
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
            if conn.execute(query, {"pid": pid}).scalar() == "Lock":
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited for a lock")


def test_a_run_recording_its_plan_and_a_human_rejecting_do_not_deadlock(pg_sessions):
    """Night 1 proposes a refund (id 1), a restock (2) and a tag (3); finance approves the
    refund. Night 2 records the same plan while finance rejects the refund and the restock
    (ids 1, 2). The run used to lock the proposed rows (2, 3) first and the refund's row (1)
    after; the rejection locked 1 then 2: each waited for the other, and PostgreSQL aborted
    one of them. Both must go through, one after the other."""
    clock = VirtualClock(T0)
    _executor(pg_sessions, clock).record(_plan(pg_sessions), RemediationMode.APPROVAL, "n1")
    refund, restock, _tag = (row.id for row in intents(pg_sessions))
    with pg_sessions() as session, session.begin():
        approve(session, SHOP, [refund], actor="finance", now=T0)
    engine = pg_sessions.kw["bind"]  # type: ignore[attr-defined]
    with engine.begin() as conn:  # the heap in id order: a scan meets the rows by id
        conn.execute(text("CLUSTER remediation_actions USING remediation_actions_pkey"))
    plan = _plan(pg_sessions)
    human_pid: list[int] = []
    run_started, run_locked, errors = threading.Event(), threading.Event(), []
    lock = RunLock(pg_sessions, clock)
    lease = lock.acquire(SHOP, "run-b", TTL)

    @event.listens_for(engine, "after_cursor_execute")
    def pause_after_first_lock(conn, cursor, statement, *args):
        locking = statement.lstrip().startswith("UPDATE") or "FOR NO KEY UPDATE" in statement
        if human_pid and not run_locked.is_set() and locking:
            run_locked.set()  # the run holds its first row locks: now the human decides
            _wait_until_blocked(engine, human_pid[0])

    def night_two() -> None:
        try:
            executor = _executor(pg_sessions, clock)
            executor._lease = lease  # the run's fence, as ``Executor.run`` sets it
            executor.record(plan, RemediationMode.APPROVAL, "n2")
        except Exception as exc:
            errors.append(exc)

    def finance() -> None:
        try:
            with pg_sessions() as session, session.begin():
                human_pid.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
                run_started.set()
                assert run_locked.wait(10)  # the run holds its first locks
                reject(session, SHOP, [refund, restock], actor="finance", now=T0)
        except Exception as exc:
            errors.append(exc)

    human = threading.Thread(target=finance)
    human.start()
    assert run_started.wait(10)
    worker = threading.Thread(target=night_two)
    worker.start()
    worker.join(30)
    human.join(30)
    event.remove(engine, "after_cursor_execute", pause_after_first_lock)
    assert not errors, errors
    states = {row.id: row.state for row in intents(pg_sessions)}
    assert states[refund] == states[restock] == "rejected"


def test_claim_locks_rows_in_id_order_whatever_order_they_are_asked_in(pg_sessions):
    """The lock statement itself: one statement, rows by id, so two callers asking for the
    same rows in opposite orders take them in the same order."""
    clock = VirtualClock(T0)
    _executor(pg_sessions, clock).record(_plan(pg_sessions), RemediationMode.APPROVAL, "n1")
    ids = [row.id for row in intents(pg_sessions)]
    statements: list[str] = []
    engine = pg_sessions.kw["bind"]  # type: ignore[attr-defined]

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with pg_sessions() as session, session.begin():
        rows = claim(session, list(reversed(ids)))
    event.remove(engine, "before_cursor_execute", record)
    assert [row.id for row in rows] == sorted(ids)
    (locking,) = [s for s in statements if "FOR" in s or s.lstrip().startswith("UPDATE")]
    assert "ORDER BY" in locking and "FOR NO KEY UPDATE" in locking
