"""The run lock: one live lease per shop, takeover after expiry; a taken-over run cannot write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from remediation_world import SHOP, settings, standard_contexts, standard_findings
from run_helpers import TTL, intents, run

from recon.config import RemediationMode
from recon.errors import LockError
from recon.remediation.executor import Executor
from recon.remediation.planner import plan_actions


def test_second_holder_is_refused_while_lease_is_live(run_lock, clock):
    first = run_lock.acquire(SHOP, "run-a", TTL)
    with pytest.raises(LockError, match="run-a"):
        run_lock.acquire(SHOP, "run-b", TTL)
    clock.advance(TTL - timedelta(seconds=1))
    with pytest.raises(LockError):
        run_lock.acquire(SHOP, "run-b", TTL)
    assert first.token == 1


def test_expired_lease_is_taken_over_with_a_higher_token(run_lock, clock):
    first = run_lock.acquire(SHOP, "run-a", TTL)
    clock.advance(TTL)
    second = run_lock.acquire(SHOP, "run-b", TTL)
    assert second.token == first.token + 1
    with pytest.raises(LockError, match="taken over"):
        run_lock.renew(first, TTL)
    run_lock.release(first)  # a stale release leaves the new holder alone
    with pytest.raises(LockError):
        run_lock.acquire(SHOP, "run-c", TTL)


def test_renew_keeps_the_lease_and_release_frees_it(run_lock, clock):
    lease = run_lock.acquire(SHOP, "run-a", TTL)
    clock.advance(TTL / 2)
    lease = run_lock.renew(lease, TTL)
    clock.advance(TTL / 2 + timedelta(seconds=1))
    with pytest.raises(LockError):
        run_lock.acquire(SHOP, "run-b", TTL)  # still live thanks to renew
    run_lock.release(lease)
    assert run_lock.acquire(SHOP, "run-b", TTL).token == 2


def test_shops_lock_independently(run_lock):
    run_lock.acquire(SHOP, "run-a", TTL)
    assert run_lock.acquire("other-shop", "run-b", TTL).token == 1


def test_two_runs_at_once_one_applies_the_other_gets_lock_error(sessions, gateway, clock, run_lock):
    held = run_lock.acquire(SHOP, "run-a", TTL)
    with pytest.raises(LockError):
        run(sessions, gateway, clock, holder="run-b")
    assert gateway.calls == []
    policy = settings()
    plan = plan_actions(standard_findings(), policy, standard_contexts(), shop=SHOP)
    Executor(sessions, gateway, policy, clock, shop=SHOP).run(
        plan, RemediationMode.APPLY, held, "r"
    )
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1


def test_taken_over_lease_cannot_write(sessions, gateway, clock, run_lock):
    policy = settings()
    plan = plan_actions(standard_findings(), policy, standard_contexts(), shop=SHOP)
    executor = Executor(sessions, gateway, policy, clock, shop=SHOP)
    stale = run_lock.acquire(SHOP, "run-a", TTL)
    executor.record(plan, RemediationMode.APPLY, "run-a")
    clock.advance(TTL + timedelta(seconds=1))  # run-a stalls; run-b takes over
    run_lock.acquire(SHOP, "run-b", TTL)
    with pytest.raises(LockError, match="taken over"):
        executor.apply(stale, "run-a", plan)
    writes = [c for c in gateway.calls if c[0] in ("refund", "adjust", "tags")]
    assert writes == []
    assert [r.state for r in intents(sessions)] == ["planned", "planned", "planned"]


def test_expired_lease_cannot_write(sessions, gateway, clock, run_lock):
    policy = settings()
    plan = plan_actions(standard_findings(), policy, standard_contexts(), shop=SHOP)
    lease = run_lock.acquire(SHOP, "run-a", TTL)
    clock.advance(TTL)
    with pytest.raises(LockError, match="expired"):
        Executor(sessions, gateway, policy, clock, shop=SHOP).run(
            plan, RemediationMode.APPLY, lease, "run-a"
        )
    assert [c for c in gateway.calls if c[0] == "refund"] == []


def test_a_run_that_lost_its_lease_changes_no_intent_of_the_new_holder(
    sessions, gateway, clock, run_lock
):
    """Run A stalls past its lease with an older plan that owes nothing; run B takes over and
    plans tonight's refund, restock and tag. A resumes: it must stop (LockError) without
    sending tonight's intents to review, and B then sends them."""
    policy = settings()
    stale_lease = run_lock.acquire(SHOP, "run-a", TTL)
    stale_plan = plan_actions([], policy, standard_contexts(), shop=SHOP)
    clock.advance(TTL + timedelta(seconds=1))
    lease = run_lock.acquire(SHOP, "run-b", TTL)
    plan = plan_actions(standard_findings(), policy, standard_contexts(), shop=SHOP)
    b = Executor(sessions, gateway, policy, clock, shop=SHOP)
    b.record(plan, RemediationMode.APPLY, "run-b")
    a = Executor(sessions, gateway, policy, clock, shop=SHOP)
    with pytest.raises(LockError):
        a.apply(stale_lease, "run-a", stale_plan)
    assert [r.state for r in intents(sessions)] == ["planned"] * 3
    with pytest.raises(LockError):
        a.run(stale_plan, RemediationMode.PLAN, stale_lease, "run-a")  # records nothing either
    b.apply(lease, "run-b", plan)
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1


def test_a_store_another_run_is_writing_to_refuses_with_lock_error(tmp_path, clock):
    """SQLite: a long sync holds the write lock past the busy timeout; the second run stops
    with LockError (exit 4), not a raw "database is locked" (exit 1)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    from recon.lock import RunLock, RunLockRow

    url = f"sqlite:///{tmp_path / 'lock.db'}"
    writer = create_engine(url)
    RunLockRow.metadata.create_all(writer, tables=[RunLockRow.__table__])
    other = sessionmaker(create_engine(url, connect_args={"timeout": 0.1}))
    with writer.connect() as connection:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the sync's open write transaction
        connection.execute(text("DELETE FROM run_lock"))
        with pytest.raises(LockError, match="another run is writing"):
            RunLock(other, clock).acquire(SHOP, "run-b", TTL)
        connection.exec_driver_sql("ROLLBACK")
    assert RunLock(other, clock).acquire(SHOP, "run-b", TTL).token == 1


def test_a_lease_released_on_a_host_whose_clock_is_ahead_is_free_on_every_host(sessions):
    """Two hosts share one PostgreSQL: host A's clock runs five minutes ahead. Its nightly run
    (or a `findings ack`) ends and releases the lease; host B's run starts a minute later and
    was refused (exit 4, "another run holds the run lock ... until" four minutes on), as
    release stamped the lease expired at A's "now", still to come by B's clock. A released
    lease is free at once for every host, whatever its clock."""
    from datetime import UTC, datetime

    from recon.clock import VirtualClock
    from recon.lock import RunLock

    real = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    host_a = RunLock(sessions, VirtualClock(real + timedelta(minutes=5)))
    host_b_clock = VirtualClock(real)
    host_b = RunLock(sessions, host_b_clock)
    lease = host_a.acquire(SHOP, "host-a:run", TTL)
    host_a.release(lease)
    host_b_clock.advance(timedelta(minutes=1))
    taken = host_b.acquire(SHOP, "host-b:run", TTL)
    assert taken.token == lease.token + 1
    with pytest.raises(LockError, match="taken over"):
        host_a.renew(lease, TTL)  # the released lease stays dead
