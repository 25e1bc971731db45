"""Keeping a run's lease alive while the run works: a heartbeat on a thread of its own.

A nightly sync or a backfill window reads for as long as the APIs take (a first sync, a throttled
shop: hours), and it commits only at its end. Renewed only at its commits, the lease lapsed in
the middle of a read longer than it, another run (cron, a second scheduler, another host) took
the shop over and read the same days at once, and the first run's hours of reading were thrown
away at its commit. ``LeaseKeeper`` renews the lease every ``ttl / RENEWALS_PER_LEASE`` from its
own thread and database connection (``RunLock.keep``: one conditional UPDATE, so it is correct on
SQLite and PostgreSQL alike), whatever the run's thread is doing. A renewal that fails for a
passing reason (SQLite's write lock held past its busy timeout by the run's own long commit, a
dropped connection) is tried again at the next beat: the lease has many beats left. A renewal
that finds the lease taken over records it (``lost``): the sync's readers stop before their next
request (``recon.fetch``), and every write after it is refused by the lease checks inside the
write transactions, so the run ends with that ``LockError`` (exit 4) and writes nothing more. So
it does once renewals have failed for a whole lease: the lease may have lapsed and been taken
over meanwhile, and a heartbeat that went on trying let the run read and report as if it held
the shop.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from types import TracebackType

from recon.errors import LockError
from recon.lock import Lease, RunLock

log = logging.getLogger(__name__)
# Beats per lease: a few renewals may fail in a row (a busy store) before the lease is at risk.
RENEWALS_PER_LEASE = 16
# The heartbeat renews while the process lives, not while the run makes progress: a run hung
# (a lock wait behind an idle session, a read that never returns) would hold the shop for good,
# every later night refused (exit 4). Past this age it stops beating and the lease lapses one
# lease later, as a crashed run's does; a backfill still extends it at each window's commit.
MAX_KEPT = timedelta(hours=24)


class LeaseKeeper:
    """Renew ``lease`` every ``ttl / RENEWALS_PER_LEASE`` (or ``every``) while the block runs.

    Use as a context manager around the work the lease covers; leaving the block stops the
    heartbeat (before the caller releases the lease).
    """

    def __init__(
        self,
        lock: RunLock,
        lease: Lease,
        ttl: timedelta,
        *,
        every: timedelta | None = None,
        max_kept: timedelta = MAX_KEPT,
    ) -> None:
        self._lock = lock
        self._max_kept = max_kept.total_seconds()
        self._lease = lease
        self._ttl = ttl
        self._every = (every or ttl / RENEWALS_PER_LEASE).total_seconds()
        self._stopped = threading.Event()
        self._lost: LockError | None = None
        self._thread = threading.Thread(
            target=self._beat, name=f"recon-lease-{lease.shop}", daemon=True
        )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def lost(self) -> LockError | None:
        """The error of the renewal that found the lease taken over (or of the heartbeat that
        could not renew it for a whole lease), or None while it is held."""
        return self._lost

    def check(self) -> None:
        """Stop here if the lease was lost.

        Raises:
            LockError: a renewal found the lease taken over by another run.
        """
        if self._lost is not None:
            raise self._lost

    def _beat(self) -> None:
        started = kept = time.monotonic()
        while not self._stopped.wait(self._every):
            if time.monotonic() - started > self._max_kept:
                log.error(
                    "the run of shop %s has gone on for over %s: its run lock is no longer "
                    "renewed and lapses in %s, unless the run commits meanwhile (is it hung?)",
                    self._lease.shop,
                    timedelta(seconds=self._max_kept),
                    self._ttl,
                )
                return
            try:
                self._lease = self._lock.keep(self._lease, self._ttl)
                kept = time.monotonic()
            except LockError as exc:
                self._lost = exc
                log.error("%s", exc)
                return
            except Exception as exc:  # a passing store error: try again at the next beat
                if time.monotonic() - kept >= self._ttl.total_seconds():
                    self._lost = LockError(
                        f"the run lock for shop {self._lease.shop} could not be renewed for "
                        f"{self._ttl} ({exc}): it may have lapsed and been taken over by "
                        "another run; this run stopped and writes nothing more"
                    )
                    log.error("%s", self._lost)
                    return
                log.warning(
                    "could not renew the run lock for shop %s (%s: %s); trying again in %.0f s",
                    self._lease.shop,
                    type(exc).__name__,
                    exc,
                    self._every,
                )
