"""The run lock: one lease per shop in the database, with an expiry and a fencing token.

A run acquires the shop's lease before it writes to Shopify and keeps it alive with ``renew``; a
crashed run's lease expires (by the injected clock) and the next run takes it over with a higher
fencing token. The executor calls ``assert_current`` inside the transaction that marks an intent
``sending``, so a run whose lease was taken over cannot write (DESIGN decision 8).

On PostgreSQL, shared by many hosts, the injected clock is set right by this host's offset from
the database's clock (``_skew``) wherever a lease is dated or judged: each host read the lease by
its own clock, and one running hours ahead took a live run's lease over (one behind waited hours
past a crashed run's). In production the injected clock is the host's (``SystemClock``), so
leases are dated and judged by the database's clock; a simulated clock (the sandbox's world, the
tests') keeps its own time, the offset of one host from the database aside. SQLite is one host's:
its clock is the only one.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, Integer, String, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from recon.clock import Clock
from recon.errors import LockError, LockReleaseError, StoreError
from recon.sources.redact import redact_database_url
from recon.store.tables import Base

log = logging.getLogger(__name__)


class RunLockRow(Base):
    """The current lease of one shop; ``token`` only ever grows."""

    __tablename__ = "run_lock"
    shop: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    token: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


# A released lease's expiry: past by any host's clock (``RunLock.release``).
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)


def _host_now() -> datetime:
    """This host's wall clock (UTC), as it compares with the database's (``_skew``)."""
    return datetime.now(UTC)


def _skew(session: Session) -> timedelta:
    """How far the database's clock is ahead of this host's, to the second: zero on SQLite.

    Read in the caller's transaction; whole seconds, so the few milliseconds between the two
    readings do not move a lease's expiry back and forth between two calls.
    """
    if session.get_bind().dialect.name != "postgresql":
        return timedelta(0)
    database: datetime | None = session.scalar(select(func.clock_timestamp()))
    if database is None:  # PostgreSQL always answers; typed as optional
        return timedelta(0)
    return timedelta(seconds=round((database - _host_now()).total_seconds()))


@dataclass(frozen=True)
class Lease:
    """Proof of holding the run lock: valid while the row keeps this token and is unexpired."""

    shop: str
    holder: str
    token: int
    expires_at: datetime


class RunLock:
    """Acquire, renew and release per-shop leases; every call is its own short transaction."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Clock,
        *,
        holder_dead: Callable[[str], bool] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._holder_dead = holder_dead or holder_process_is_gone

    def acquire(self, shop: str, holder: str, ttl: timedelta) -> Lease:
        """Take the shop's lease, or take over an expired one (the fencing token goes up).

        Raises:
            LockError: another holder's lease is still live.
            StoreError: the store cannot be reached or refused the transaction (the message
                names it, its password masked).
        """
        session = self._sessions()
        try:
            with session, session.begin():
                now = self._now(session)
                expires = now + ttl
                # A conditional UPDATE is atomic on SQLite and PostgreSQL: of two runs racing for an
                # expired lease, exactly one matches the row.
                current = session.get(RunLockRow, shop)
                # A live lease whose holder process died on this very host (kill -9, OOM) is as
                # good as expired: waiting hours for it to lapse only delays the recovery run.
                dead = current is not None and self._holder_dead(current.holder)
                free = RunLockRow.expires_at <= now
                if dead and current is not None:
                    free = free | (RunLockRow.token == current.token)
                taken = session.execute(
                    update(RunLockRow)
                    .where(RunLockRow.shop == shop, free)
                    .values(
                        holder=holder,
                        token=RunLockRow.token + 1,
                        acquired_at=now,
                        expires_at=expires,
                    )
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    token = session.scalar(select(RunLockRow.token).where(RunLockRow.shop == shop))
                    return Lease(shop, holder, int(token or 0), expires)
                # Re-read: the UPDATE above changed the session's copy even though no row
                # matched, and the message must name the real holder.
                current = session.get(RunLockRow, shop, populate_existing=True)
                if current is not None:
                    raise LockError(
                        f"another run ({current.holder}) holds the run lock for shop {shop} until "
                        f"{current.expires_at.isoformat()}"
                    )
                session.add(
                    RunLockRow(
                        shop=shop, holder=holder, token=1, acquired_at=now, expires_at=expires
                    )
                )
        except IntegrityError:
            raise LockError(f"another run took the run lock for shop {shop} first") from None
        except SQLAlchemyError as exc:  # the database is down, or the connection dropped
            # The driver's own message: SQLAlchemy's quotes the statement too, and a word in it
            # (a table or shop name holding "locked") must not read as SQLite's lock timeout.
            if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
                # SQLite: another run has held the write lock past the busy timeout (a long
                # sync commits in one transaction); it is running, so this run is the one to stop.
                raise LockError(f"another run is writing to shop {shop}'s store") from None
            raise _store_failed(f"cannot take the run lock for shop {shop}", session, exc) from exc
        return Lease(shop, holder, 1, expires)

    def renew(self, lease: Lease, ttl: timedelta) -> Lease:
        """Extend a live lease.

        Raises:
            LockError: the lease expired or was taken over.
            StoreError: the store cannot be reached or refused the transaction (the message
                names it, its password masked).
        """
        session = self._sessions()
        try:
            with session, session.begin():
                now = self._now(session)
                expires = now + ttl
                _assert_live(session, lease, now)
                session.execute(
                    update(RunLockRow)
                    .where(RunLockRow.shop == lease.shop, RunLockRow.token == lease.token)
                    .values(expires_at=expires)
                )
        except SQLAlchemyError as exc:
            raise _store_failed(
                f"cannot renew the run lock for shop {lease.shop}", session, exc
            ) from exc
        return Lease(lease.shop, lease.holder, lease.token, expires)

    def keep(self, lease: Lease, ttl: timedelta) -> Lease:
        """Extend ``lease`` while no other run has taken it over, even if it lapsed meanwhile
        (a renewal held up by a busy store): one conditional UPDATE, atomic on SQLite and
        PostgreSQL, so of this and a takeover racing for a lapsed lease exactly one wins.
        ``recon.lease_keeper`` calls it from its own thread while a run is alive.

        Raises:
            LockError: another run took the lease over, or it was released.
            StoreError: the store cannot be reached or refused the transaction (named, its
                password masked): ``recon.lease_keeper`` tries again at its next beat.
        """
        session = self._sessions()
        try:
            with session, session.begin():
                expires = self._now(session) + ttl
                kept = session.execute(
                    update(RunLockRow)
                    .where(
                        RunLockRow.shop == lease.shop,
                        RunLockRow.token == lease.token,
                        RunLockRow.holder == lease.holder,
                        RunLockRow.expires_at != RELEASED,
                    )
                    .values(expires_at=expires)
                )
                if kept.rowcount != 1:  # type: ignore[attr-defined]
                    row = session.get(RunLockRow, lease.shop, populate_existing=True)
                    now = "no holder" if row is None else f"{row.holder}, token {row.token}"
                    raise LockError(
                        f"the run lock for shop {lease.shop} was taken over by another run "
                        f"({now}; this run held token {lease.token}): this run stopped and "
                        "writes nothing more"
                    )
        except SQLAlchemyError as exc:
            raise _store_failed(
                f"cannot renew the run lock for shop {lease.shop}", session, exc
            ) from exc
        return Lease(lease.shop, lease.holder, lease.token, expires)

    def extend_in(self, session: Session, lease: Lease, ttl: timedelta) -> Lease:
        """Inside the caller's write transaction: refuse if the lease was taken over, else
        extend it (even if it lapsed while no one took it). For long work whose commit should
        stand unless another run has really taken the shop: a sync longer than the lease keeps
        its rows, where ``assert_current`` would throw them away night after night.

        Raises:
            LockError: another run took the lease over (higher token or another holder).
            StoreError: the store failed meanwhile (named, its password masked); the caller's
                transaction is then to be rolled back, as for any failed statement.
        """
        try:
            session.flush()  # the first write takes SQLite's write lock before the check
            row = _held_row(session, lease, read=False)
            row.expires_at = self._now(session) + ttl
        except SQLAlchemyError as exc:
            raise _store_failed(
                f"cannot extend the run lock for shop {lease.shop}", session, exc
            ) from exc
        return Lease(lease.shop, lease.holder, lease.token, row.expires_at)

    def _now(self, session: Session) -> datetime:
        """Now, for dating and judging leases: the injected clock, set right by this host's
        offset from the database's clock on PostgreSQL (``_skew``)."""
        return self._clock.now() + _skew(session)

    def release(self, lease: Lease) -> None:
        """Give the lease up (expire it for good); a lease already taken over is left alone.

        Not expired "now": a host whose clock is behind the releasing host's read "now" as
        still to come, and its run was refused (exit 4) for as long as the clocks were apart,
        after the lease was given up (``_skew`` sets clocks right on PostgreSQL, but a
        simulated clock keeps its own time: past for every clock is past for all).

        Raises:
            StoreError: the store cannot be reached (the lease then expires by itself).
        """
        session = self._sessions()
        try:
            with session, session.begin():
                session.execute(
                    update(RunLockRow)
                    .where(
                        RunLockRow.shop == lease.shop,
                        RunLockRow.token == lease.token,
                        RunLockRow.holder == lease.holder,
                    )
                    .values(expires_at=RELEASED)
                )
        except SQLAlchemyError as exc:
            raise _store_failed(
                f"cannot release the run lock for shop {lease.shop}", session, exc
            ) from exc


def give_up(lock: RunLock, lease: Lease, *, completed: str | None, ttl: timedelta) -> None:
    """Release a lease (a nightly run's or backfill's, ``findings ack``'s, ``outbox retry``'s); a
    store that fails meanwhile (the connection dropped) is logged, and the lease expires by
    itself within ``ttl``.

    ``completed`` says what the command did when it has nothing else to report: then the
    failed release is its error. None when the command ends with an error of its own: that one
    wins (its exit code and message), and the operator fixes what it names.

    Raises:
        LockReleaseError: the store failed and ``completed`` is given.
    """
    try:
        lock.release(lease)
    except StoreError as exc:
        log.warning("the run lock could not be released (%s); it expires by itself", exc)
        if completed is not None:
            raise LockReleaseError(
                f"{completed}, but {exc}; its lease expires by itself within {_span(ttl)}, "
                "and until then the shop's runs are refused (exit 4): it need not be run again"
            ) from exc


def _span(ttl: timedelta) -> str:
    """``4 hours`` for a run's lease, ``10 minutes`` for a command's."""
    if ttl >= timedelta(hours=1) and ttl % timedelta(hours=1) == timedelta(0):
        hours = ttl // timedelta(hours=1)
        return f"{hours} hour{'s' if hours > 1 else ''}"
    minutes = max(1, round(ttl / timedelta(minutes=1)))
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def _store_failed(what: str, session: Session, exc: SQLAlchemyError) -> StoreError:
    """``exc`` as recon's one-line store error: what failed, the store it failed in (its
    password masked: ``redact_database_url``), and the database's reason, not SQLAlchemy's
    statement and background link."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    where = redact_database_url(engine.url.render_as_string(hide_password=False))
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = " ".join(str(cause).split())  # libpq's hints come on lines of their own
    return StoreError(f"{what}: the store at {where} failed: {reason}")


def holder_name() -> str:
    """This process as a lock holder: ``host:boot:pid-namespace:pid:start``.

    The boot id tells apart hosts that share a name (cloned VM images) and reboots; the PID
    namespace (its inode) containers on one host; the process start time (clock ticks since
    boot) a new process that reuses a dead holder's PID. Where one is unknown it is "-", and a
    holder with an unknown part is never presumed dead (only its lease expiry frees it).
    """
    pid = os.getpid()
    return f"{socket.gethostname()}:{_boot_id()}:{_pid_namespace()}:{pid}:{_start_time(pid)}"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip() or "-"
    except OSError:
        return "-"


def _pid_namespace() -> str:
    try:
        return str(Path("/proc/self/ns/pid").stat().st_ino)
    except OSError:
        return "-"


def _stat_fields(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` from field 3 on (after the command name, which may hold spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    return stat.rpartition(")")[2].split()


def _start_time(pid: int) -> str:
    """Field 22 of ``/proc/<pid>/stat``."""
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else "-"


def holder_process_is_gone(holder: str) -> bool:
    """True when ``holder`` (from ``holder_name``) was a process of this very host, boot and
    PID namespace that no longer runs: its PID is free, or now another process's.

    A holder elsewhere, with an unknown part, or whose name does not parse is never presumed
    dead: only its lease expiry frees it.
    """
    parts = holder.split(":")
    if len(parts) != 5 or not parts[3].isdigit() or "-" in parts[1:3]:
        return False
    host, boot, namespace, pid, start = parts
    if (host, boot, namespace) != (socket.gethostname(), _boot_id(), _pid_namespace()):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user: its start time still tells
    fields = _stat_fields(int(pid))
    if fields[:1] in (["Z"], ["X"]):
        return True  # killed, not yet reaped by its parent: it runs nothing any more
    now = fields[19] if len(fields) > 19 else "-"
    return start != "-" and now not in ("-", start)  # the PID is another process's now


def assert_current(session: Session, lease: Lease, now: datetime) -> None:
    """Check, inside the caller's transaction, that ``lease`` is still the shop's live lease.

    Call it after the transaction's first write (SQLite then holds the write lock) so no takeover
    can commit between this check and the caller's commit; on PostgreSQL the row is read
    ``FOR SHARE`` for the same effect. ``now`` is the run's clock: on PostgreSQL it is set right
    by this host's offset from the database's clock, as the lease was dated (``_skew``).

    Raises:
        LockError: the lease expired or another run took it over (higher fencing token).
    """
    _assert_live(session, lease, now + _skew(session))


def _assert_live(session: Session, lease: Lease, now: datetime) -> None:
    """``assert_current`` with ``now`` already set right by the database's clock."""
    row = _held_row(session, lease, read=True)
    if row.expires_at == RELEASED:
        raise LockError(f"run lease for shop {lease.shop} was released")
    if row.expires_at <= now:
        raise LockError(f"run lease for shop {lease.shop} expired at {row.expires_at.isoformat()}")


def _held_row(session: Session, lease: Lease, *, read: bool) -> RunLockRow:
    """The shop's lock row, locked (``FOR SHARE`` when ``read``, else ``FOR UPDATE``), if it is
    still this lease's.

    Raises:
        LockError: another run took the lease over (higher token or another holder).
    """
    row = session.execute(
        select(RunLockRow).where(RunLockRow.shop == lease.shop).with_for_update(read=read)
    ).scalar_one_or_none()
    if row is None or row.token != lease.token or row.holder != lease.holder:
        raise LockError(f"run lease for shop {lease.shop} was taken over; this run may not write")
    return row
