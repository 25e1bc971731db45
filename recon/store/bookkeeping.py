"""What the mirror keeps beside the records: watermarks, backfill checkpoints, runs and findings.

Mixed into ``SqlStore``, which provides ``session``, ``_tx`` and ``clock``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config_modes import RemediationMode
from recon.errors import ConfigError, LockError, RunInterruptedError
from recon.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    EventOrigin,
    Finding,
    FindingEvent,
    FindingStatus,
)
from recon.store import tables as tbl
from recon.store.bulk import upsert_rows
from recon.store.history import (
    append_events,
    finding_event,
    load_events,
    status_changes,
    to_report,
)
from recon.store.id_sets import among


class RunStatus(StrEnum):
    """How a run ended, in the runs table (``runs.status``; docs/commands.md "The runs table").

    The exit code's, so an operator reading the table tells the nights apart: ``ok`` (exit 0),
    ``undelivered`` (exit 5: completed, findings and reports saved, the report not mailed),
    ``failed`` (1), ``interrupted`` (130/143), ``refused`` (4: the run lock was held; the run
    did nothing), ``abandoned`` (killed: a later run found it still ``running``), ``lease_lost``
    (4: it stopped at a safe point because its run lock's lease was taken over, or could not
    be renewed for a whole lease; it wrote nothing more).
    """

    RUNNING = "running"
    OK = "ok"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    REFUSED = "refused"
    ABANDONED = "abandoned"
    LEASE_LOST = "lease_lost"

    @classmethod
    def stopped_by(cls, exc: BaseException) -> RunStatus:
        """How a run that ``exc`` ended is recorded: ``interrupted`` for a signal,
        ``lease_lost`` for its lease lost mid-run (``LockError``: the run lock is taken before
        the run row is written, so a refusal never gets here), else ``failed``."""
        if isinstance(exc, RunInterruptedError):
            return cls.INTERRUPTED
        if isinstance(exc, LockError):
            return cls.LEASE_LOST
        return cls.FAILED


# A run that ran to its end: its night ran (the scheduler does not run it again). Not one
# stopped (by a signal, or by its lease lost: the lease keeper stops a run whose lease could
# not be renewed for a whole lease, and the night is not done), killed or refused: that night
# must run again.
RAN_TO_THE_END = (RunStatus.OK, RunStatus.UNDELIVERED, RunStatus.FAILED)


class Bookkeeping:
    """Watermarks, backfill windows, runs and findings; mixed into ``SqlStore``."""

    clock: Clock

    def session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError  # pragma: no cover - SqlStore overrides it

    def _tx(self, session: Session | None) -> AbstractContextManager[Session]:
        raise NotImplementedError  # pragma: no cover - SqlStore overrides it

    # --- watermarks, checkpoints, runs ----------------------------------------------------

    def get_watermark(self, stream: str) -> datetime | None:
        """Where ``stream`` was last read up to, or None before its first run."""
        with self.session() as s:
            return s.scalar(
                select(tbl.SyncWatermarkRow.at).where(tbl.SyncWatermarkRow.stream == stream)
            )

    def set_watermark(self, stream: str, at: datetime, *, session: Session | None = None) -> None:
        """Move ``stream``'s watermark (commit it in the same session as the rows it covers)."""
        row = {"stream": stream, "at": at, "updated_at": self.clock.now()}
        with self._tx(session) as s:
            upsert_rows(s, tbl.SyncWatermarkRow, [row])

    def completed_windows(
        self, range_start: datetime, range_end: datetime
    ) -> set[tuple[datetime, datetime]]:
        """The [start, end) windows of backfill [range_start, range_end) already committed."""
        table = tbl.BackfillWindowRow
        query = select(table.window_start, table.window_end).where(
            table.range_start == range_start, table.range_end == range_end
        )
        with self.session() as s:
            return {(start, end) for start, end in s.execute(query)}

    def mark_window_done(
        self,
        range_start: datetime,
        range_end: datetime,
        window: tuple[datetime, datetime],
        stats: Mapping[str, Any],
        *,
        session: Session | None = None,
    ) -> None:
        """Checkpoint one backfill window; pass the session that wrote its rows."""
        row = {
            "range_start": range_start,
            "range_end": range_end,
            "window_start": window[0],
            "window_end": window[1],
            "completed_at": self.clock.now(),
            "stats": dict(stats),
        }
        with self._tx(session) as s:
            upsert_rows(s, tbl.BackfillWindowRow, [row])

    def start_run(self, kind: str) -> str:
        """Record a run as started; returns its id."""
        run_id = uuid.uuid4().hex
        with self.session() as s:
            s.add(
                tbl.RunRow(
                    id=run_id,
                    kind=kind,
                    status=RunStatus.RUNNING.value,
                    started_at=self.clock.now(),
                    finished_at=None,
                    stats=None,
                )
            )
        return run_id

    def abandon_unfinished_runs(self) -> int:
        """Mark runs still ``running`` as ``abandoned`` (call while holding the run lock: any such
        run was killed); returns how many."""
        with self.session() as s:
            result = s.execute(
                update(tbl.RunRow)
                .where(tbl.RunRow.status == RunStatus.RUNNING.value)
                .values(status=RunStatus.ABANDONED.value, finished_at=self.clock.now())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def record_refused_run(self, kind: str, error: str) -> str:
        """Record a run the run lock refused (``refused``, started and ended now, ``error``
        naming the holder); returns its id. Call without the lock: this row is all it writes
        (the holder's runs stay as they are, ``running`` included)."""
        run_id = uuid.uuid4().hex
        now = self.clock.now()
        with self.session() as s:
            s.add(
                tbl.RunRow(
                    id=run_id,
                    kind=kind,
                    status=RunStatus.REFUSED.value,
                    started_at=now,
                    finished_at=now,
                    stats={"error": error[:2000]},
                )
            )
        return run_id

    def finish_run(self, run_id: str, status: RunStatus, stats: Mapping[str, Any]) -> None:
        """Record how a run ended (``RunStatus``) with its figures (JSON-able)."""
        with self.session() as s:
            s.execute(
                update(tbl.RunRow)
                .where(tbl.RunRow.id == run_id)
                .values(
                    status=RunStatus(status).value, finished_at=self.clock.now(), stats=dict(stats)
                )
            )

    def last_run_started(
        self,
        kind: str,
        statuses: Iterable[RunStatus],
        *,
        modes: Iterable[RemediationMode] | None = None,
    ) -> datetime | None:
        """When the latest run of ``kind`` that ended in one of ``statuses`` started, if any;
        with ``modes``, only a run recorded in one of them (``stats.mode``) counts.

        A run recorded without a mode (by a version before runs kept it) counts whatever
        ``modes`` says: it ran in the mode its settings said, most likely the schedule's, and
        a shop upgraded in the middle of the night would otherwise run that night again (a
        second report, and the fixes already made planned again).
        """
        table = tbl.RunRow
        query = select(func.max(table.started_at)).where(
            table.kind == kind, table.status.in_([RunStatus(s).value for s in statuses])
        )
        if modes is not None:
            mode = table.stats["mode"].as_string()  # JSON_EXTRACT (SQLite), ->> (PostgreSQL)
            query = query.where(
                or_(mode.is_(None), mode.in_([RemediationMode(m).value for m in modes]))
            )
        with self.session() as s:
            started: datetime | None = s.scalar(query)  # UTC-aware: max keeps the column type
        return started

    def recent_runs(self, limit: int) -> list[dict[str, Any]]:
        """The latest ``limit`` runs, newest first, each as ``get_run`` gives it."""
        table = tbl.RunRow
        query = select(table).order_by(table.started_at.desc(), table.id.desc()).limit(limit)
        with self.session() as s:
            return [_run_dict(run) for run in s.scalars(query)]

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """A run's row as a dict (id, kind, status, started_at, finished_at, stats)."""
        with self.session() as s:
            run = s.get(tbl.RunRow, run_id)
            return None if run is None else _run_dict(run)

    # --- findings -------------------------------------------------------------------------

    def load_findings(self, *, session: Session | None = None, lock: bool = False) -> list[Finding]:
        """Every stored finding, by key; ``lock`` (PostgreSQL) holds their rows until the
        caller's transaction ends, so an acknowledgement waits for the caller's save."""
        query = select(tbl.FindingRow.payload).order_by(tbl.FindingRow.key)
        with self._tx(session) as s:
            if lock and s.get_bind().dialect.name == "sqlite":
                _lock_findings(s, ())  # no row locks: the database's write lock, before the read
            payloads = s.scalars(query.with_for_update() if lock else query).all()
        return [Finding.model_validate(p) for p in payloads]

    def save_findings(
        self,
        findings: Iterable[Finding],
        *,
        session: Session | None = None,
        run_id: str | None = None,
        previous: Iterable[Finding] | None = None,
    ) -> None:
        """Insert or update findings by key (the lifecycle is decided by the caller), and append
        one history event per finding whose status changed, in the same transaction.

        ``previous`` is the findings as stored now, when the caller read them in ``session``
        (a run does: it merged them); else they are read here. ``run_id`` goes with the events.
        """
        saved = list(findings)
        rows = [
            {
                "key": f.key,
                "category": f.category.value,
                "status": f.status.value,
                "first_seen": f.first_seen,
                "last_seen": f.last_seen,
                "resolved_at": f.resolved_at,
                "acknowledged": f.status == "acknowledged",
                "payload": f.model_dump(mode="json"),
            }
            for f in saved
        ]
        with self._tx(session) as s:
            stored = self.load_findings(session=s) if previous is None else previous
            events = status_changes(stored, saved, self.clock.now(), run_id)
            upsert_rows(s, tbl.FindingRow, rows, keep=("reported_at",))
            again = to_report(stored, saved)
            if again:  # a new episode, or reopened: no report that went out has shown it so
                s.execute(
                    update(tbl.FindingRow)
                    .where(among(tbl.FindingRow.key, again))
                    .values(reported_at=None)
                )
            append_events(s, events)

    def unreported_keys(self, *, session: Session | None = None) -> set[str]:
        """The keys of the new and open findings no report that went out has shown as they
        stand (first seen, back, or reopened since the last one): the reports' "new"."""
        table = tbl.FindingRow
        loud = [status.value for status in OPEN_STATUSES]
        query = select(table.key).where(table.reported_at.is_(None), table.status.in_(loud))
        with self._tx(session) as s:
            return set(s.scalars(query))

    def unreported_closed_keys(self, *, session: Session | None = None) -> set[str]:
        """The keys of the resolved and left-out findings no report that went out has shown
        closed (a run closed them and failed before its report went out): the reports'
        "Resolved" and "Left out" take them."""
        table = tbl.FindingRow
        closed = [status.value for status in CLOSED_STATUSES]
        query = select(table.key).where(table.reported_at.is_(None), table.status.in_(closed))
        with self._tx(session) as s:
            return set(s.scalars(query))

    def mark_reported(self, keys: Iterable[str], at: datetime) -> None:
        """Record that a report which went out at ``at`` showed the findings of ``keys`` as
        they stand (call once it is written and handed to delivery: the next report lists them
        new, resolved or left out no more)."""
        table = tbl.FindingRow
        with self.session() as s:
            s.execute(
                update(table)
                .where(table.reported_at.is_(None), among(table.key, list(keys)))
                .values(reported_at=at)
            )

    def unmark_reported(self, at: datetime) -> None:
        """Undo ``mark_reported(..., at)``: the report that went out at ``at`` reached no one
        (it waited in the outbox, then the relay refused it for good), so the next report
        lists what it showed as new, resolved or left out again."""
        table = tbl.FindingRow
        with self.session() as s:
            s.execute(update(table).where(table.reported_at == at).values(reported_at=None))

    def finding_events(self, keys: Iterable[str] | None = None) -> dict[str, list[FindingEvent]]:
        """Each finding's history in time order (``keys``: only those findings'; None: all)."""
        with self.session() as s:
            return load_events(s, keys)

    def finding_history(self, key: str) -> list[FindingEvent]:
        """One finding's events, oldest first (an upgraded store's begin at the upgrade).

        Raises:
            ConfigError: no finding has ``key``.
        """
        with self.session() as s:
            events = load_events(s, [key]).get(key, [])
            if not events and s.get(tbl.FindingRow, key) is None:
                raise ConfigError(f"no finding with key {key!r} (see findings.json)")
        return events

    def acknowledge_findings(
        self, keys: Sequence[str], *, by: str, note: str, at: datetime | None = None
    ) -> Acknowledged:
        """Mark open findings acknowledged (checked; quiet until they change), with who, why and
        when (``at``, default now: a month-end book shows them acknowledged from then on).

        A finding acknowledged already is left as it is, its first acknowledgement standing
        (who, why, when: the audit trail keeps when it was first acknowledged), and adds no
        event, whatever ``note`` says; it is returned in ``already`` for the caller to say so.

        Raises:
            ConfigError: the note is blank (an acknowledgement may release refunds: the trail
                says why), or a key is unknown or its finding is resolved or left out (nothing
                to acknowledge); nothing is changed then.
        """
        if not note.strip():
            raise ConfigError("findings ack: --note must say what was checked")
        done: list[Finding] = []
        already: list[Finding] = []
        with self.session() as s:
            _lock_findings(s, keys)  # a run saving its findings goes first or waits for this
            for key in keys:
                row = s.get(tbl.FindingRow, key)
                if row is None:
                    raise ConfigError(f"no finding with key {key!r} (see findings.json)")
                if row.status in {s.value for s in CLOSED_STATUSES}:
                    raise ConfigError(f"finding {key!r} is {row.status}: nothing to acknowledge")
                if row.status == FindingStatus.ACKNOWLEDGED.value:
                    already.append(Finding.model_validate(row.payload))
                    continue
                finding = Finding.model_validate(row.payload).model_copy(
                    update={
                        "status": FindingStatus.ACKNOWLEDGED,
                        "acknowledged_by": by,
                        "acknowledged_note": note,
                        "acknowledged_at": at or self.clock.now(),
                    }
                )
                row.status, row.acknowledged = finding.status.value, True
                row.payload = finding.model_dump(mode="json")
                done.append(finding)
            append_events(s, [finding_event(f, _acked_at(f), EventOrigin.ACK) for f in done])
        return Acknowledged(done, already)


class Acknowledged(NamedTuple):
    """What ``findings ack`` did: the findings it acknowledged, and those it left as they
    were (acknowledged already: the first acknowledgement stands)."""

    done: list[Finding]
    already: list[Finding]


def _run_dict(run: tbl.RunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "stats": run.stats,
    }


def _acked_at(finding: Finding) -> datetime:
    assert finding.acknowledged_at is not None  # acknowledge_findings dates every one
    return finding.acknowledged_at


def _lock_findings(session: Session, keys: Iterable[str]) -> None:
    """Lock finding rows by key and read them afresh: PostgreSQL ``FOR UPDATE`` in key order,
    SQLite (no row locks) its database write lock through a no-op UPDATE (an UPDATE takes the
    lock even when it matches no row, as with no ``keys``)."""
    wanted = sorted(set(keys))
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(tbl.FindingRow)
            .where(tbl.FindingRow.key.in_(wanted))
            .values(status=tbl.FindingRow.status)
        )
    query = (
        select(tbl.FindingRow)
        .where(tbl.FindingRow.key.in_(wanted))
        .order_by(tbl.FindingRow.key)
        .with_for_update()
    )
    session.scalars(query.execution_options(populate_existing=True)).all()
