"""Hosts sharing one PostgreSQL judge the run lock's lease by the database's clock, not their own:
a host whose clock runs hours ahead does not take a live lease over, and one whose clock runs
behind takes a lapsed lease over when it lapsed, not hours later.

A host's clock is simulated where recon reads it: the run's clock (``SystemClock(shift=...)``)
and the host's wall clock the lock compares with the database's (``recon.lock._host_now``),
patched as time may be (STYLE: ``mock.patch`` only for time or environment)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from remediation_world import SHOP, sessions_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from recon.clock import SystemClock
from recon.errors import LockError
from recon.lock import RunLock, RunLockRow, assert_current

LEASE = timedelta(hours=4)
AHEAD = timedelta(hours=5)


@pytest.fixture
def shared(postgres_url: str) -> Iterator[Callable[[], Session]]:
    """The run lock's table in one PostgreSQL database the hosts share."""
    factory = sessions_for(postgres_url)
    yield factory
    factory.kw["bind"].dispose()  # type: ignore[attr-defined]


def host(monkeypatch: pytest.MonkeyPatch, off_by: timedelta) -> SystemClock:
    """This process as a host whose clock is ``off_by`` from the true time, from now on."""
    from recon import lock

    monkeypatch.setattr(lock, "_host_now", lambda: datetime.now(UTC) + off_by, raising=False)
    return SystemClock(shift=off_by)


def database_now(sessions: Callable[[], Session]) -> datetime:
    with sessions() as session:
        moment = session.scalar(select(func.now()))
    assert moment is not None
    return moment


def test_a_host_whose_clock_runs_ahead_does_not_take_a_live_lease_over(
    shared: Callable[[], Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host A (clock right) runs the shop's nightly and holds its lease (4 hours, renewed).
    Host B's clock runs five hours ahead: by its clock the lease lapsed an hour ago, and its
    run took the shop over in the middle of A's (A's writes then refused, two syncs of the
    same days). By the database's clock the lease is live: B is refused (exit 4), naming A,
    and A still holds it and may write."""
    held = RunLock(shared, SystemClock()).acquire(SHOP, "host-a:run", LEASE)
    fast = RunLock(shared, host(monkeypatch, AHEAD))
    with pytest.raises(LockError, match="host-a:run"):
        fast.acquire(SHOP, "host-b:run", LEASE)
    monkeypatch.undo()  # host A again
    with shared() as session, session.begin():
        assert_current(session, held, SystemClock().now())  # A's lease is still its own


def test_a_lease_written_by_a_host_whose_clock_runs_ahead_lasts_its_length(
    shared: Callable[[], Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host B's clock runs five hours ahead; its run crashed holding the lease. Dated by B's
    clock, the lease held the shop for nine hours, not four: the next nights on host A were
    refused. Dated by the database's clock, it lapses four hours after it was taken."""
    taken = RunLock(shared, host(monkeypatch, AHEAD)).acquire(SHOP, "host-b:run", LEASE)
    monkeypatch.undo()
    lapses = taken.expires_at - database_now(shared)
    assert LEASE - timedelta(minutes=1) < lapses <= LEASE, lapses


def test_a_host_whose_clock_runs_behind_takes_a_lapsed_lease_over(
    shared: Callable[[], Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run crashed and its lease lapsed a minute ago by the database's clock. Host B's clock
    runs five hours behind: by its clock the lease had hours left, and the shop had no run
    until then. By the database's clock it is free: B takes it over (a higher token)."""
    lapsed = database_now(shared) - timedelta(minutes=1)
    with shared() as session, session.begin():
        session.add(
            RunLockRow(
                shop=SHOP,
                holder="host-c:crashed",
                token=7,
                acquired_at=lapsed - LEASE,
                expires_at=lapsed,
            )
        )
    slow = RunLock(shared, host(monkeypatch, -AHEAD))
    assert slow.acquire(SHOP, "host-b:run", LEASE).token == 8


def test_a_lease_renewed_by_a_host_whose_clock_runs_behind_stays_live(
    shared: Callable[[], Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host B (clock five hours behind) holds the lease and its heartbeat renews it
    (``RunLock.keep``): dated by B's clock the renewal had lapsed already by the database's,
    and any host took the shop from under a live run. Renewed by the database's clock, the
    lease is live: host A is refused."""
    slow = RunLock(shared, host(monkeypatch, -AHEAD))
    lease = slow.acquire(SHOP, "host-b:run", LEASE)
    slow.keep(lease, LEASE)
    monkeypatch.undo()
    with pytest.raises(LockError, match="host-b:run"):
        RunLock(shared, SystemClock()).acquire(SHOP, "host-a:run", LEASE)
