"""Nightly incremental sync: read each stream since its watermark (minus a look-back) to the mirror.

A watermark is the run's time, unless the host clock was ahead of the API's (its ``Date``
headers) by more than a quarter of the look-back: then it is the API's time (``run_watermarks``).

Both APIs are read at once (``recon.fetch``); this module writes what they return (rows and
watermarks in one transaction). What is read each night (each stream's window, and the records
re-polled until they settle) is planned by ``recon.sync_plan``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import SyncSettings
from recon.errors import exit_code_of
from recon.fetch import Batch, LostLock, Window, fetch
from recon.interrupt import Interrupt
from recon.models import CLEANED, RETURN_DETAILS_UNREAD, Quarantined
from recon.ports import LOOP_STATES, LoopSource, ShopifySource
from recon.sources.server_clock import ServerClock, host_ahead
from recon.store.bookkeeping import RunStatus
from recon.store.sql import SqlStore, latest_by_id
from recon.sync_plan import (
    BALANCE,
    DETAILS_REASKS_PER_RUN,
    GIFT_CARDS,
    PAYOUTS,
    SWEEP,
    UPDATED,
    all_streams,
    loop_stream,
    plan_nightly,
)

# Names callers import from here since before the plan had a module of its own.
__all__ = [
    "BALANCE",
    "GIFT_CARDS",
    "PAYOUTS",
    "SWEEP",
    "UPDATED",
    "Fence",
    "SyncStats",
    "all_streams",
    "api_calls",
    "commit_batch",
    "loop_stream",
    "not_visible_orders",
    "one_entry_per_record",
    "partly_read_orders",
    "plan_nightly",
    "run_sync",
    "run_watermarks",
    "server_clocks",
    "stored_ids",
]
log = logging.getLogger(__name__)


@dataclass
class SyncStats:
    """What a sync or backfill wrote: records per kind, quarantined, windows and API calls;
    ``listed``: the orders the updated-orders list named (read, not written: the benchmark's
    model of the fewest calls counts that list's pages from it)."""

    records: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    windows: int = 0
    api_calls: int | None = None
    listed: int = 0

    def merge(self, other: SyncStats) -> None:
        """Add ``other``'s figures to these."""
        for kind, count in other.records.items():
            self.records[kind] = self.records.get(kind, 0) + count
        self.quarantined += other.quarantined
        self.windows += other.windows
        self.listed += other.listed
        if other.api_calls is not None:
            self.api_calls = (self.api_calls or 0) + other.api_calls

    @property
    def total(self) -> int:
        """Records written, all kinds together."""
        return sum(self.records.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-able figures for the runs table and the CLI."""
        return {
            "records": dict(self.records),
            "quarantined": self.quarantined,
            "windows": self.windows,
            "api_calls": self.api_calls,
            "listed": self.listed,
        }


def stored_ids(
    batch: Batch, not_taken: Mapping[tuple[str, str], Sequence[str]] | None = None
) -> dict[tuple[str, str], list[str]]:
    """The ids of the batch's records per (source, kind), as quarantine entries name them,
    less ``not_taken``: copies older than the mirror's, which it did not write
    (``SqlStore.older_copies``). Such a copy says nothing of the version an open entry could
    not read, so it must not resolve that entry and release the record's writes."""
    ids = {
        ("loop", "return"): [r.id for r in batch.returns],
        ("shopify", "order"): [o.id for o in batch.orders],
        ("shopify", "refund"): [r.id for r in batch.refunds],
        ("shopify", "payout"): [p.id for p in batch.payouts],
        ("shopify", "balance_transaction"): [b.id for b in batch.balance_transactions],
        ("shopify", "gift_card"): [g.id for g in batch.gift_cards],
    }
    skip = {key: set(found) for key, found in (not_taken or {}).items()}
    return {key: [i for i in found if i not in skip.get(key, set())] for key, found in ids.items()}


def not_visible_orders(quarantined: Iterable[Quarantined]) -> list[str]:
    """Ids of the orders a by-id read answered null for (``Quarantined.not_visible``)."""
    gone = {q.record_id for q in quarantined if q.kind == "order" and q.not_visible}
    return sorted(i for i in gone if i is not None)


def partly_read_orders(quarantined: Iterable[Quarantined]) -> set[str]:
    """Ids of the orders a read returned but could not store (quarantined: its refund list cut
    short, a field unreadable): Shopify shows them (``Quarantined.read_not_stored``)."""
    partial = {
        q.record_id
        for q in quarantined
        if q.source == "shopify" and q.kind == "order" and q.read_not_stored
    }
    return {i for i in partial if i is not None}


def api_calls(*sources: object) -> int | None:
    """Sum of the sources' ``api_calls`` counters, or None when a source does not count."""
    counts = [getattr(source, "api_calls", None) for source in sources]
    return (
        sum(c for c in counts if isinstance(c, int))
        if all(isinstance(c, int) for c in counts)
        else None
    )


# A check run inside a write transaction before it commits; raises to roll it back.
Fence = Callable[[Session], None]


def commit_batch(
    store: SqlStore,
    batch: Batch,
    run_id: str | None,
    *,
    watermarks: Mapping[str, datetime] | None = None,
    checkpoint: tuple[datetime, datetime, Window] | None = None,
    fence: Fence | None = None,
) -> SyncStats:
    """Write a batch, its watermarks and its backfill checkpoint in one transaction.

    ``fence`` runs inside that transaction after the writes (the run lock's lease check): a run
    that lost its lease keeps nothing, not even its watermarks.

    Raises:
        recon.errors.StoreError: the transaction failed; nothing of the batch is kept.
        recon.errors.LockError: ``fence`` refused (the lease was lost); nothing is kept.
    """
    _drop_other_copies_unread(batch)
    _keep_known_links(store, batch)
    batch.quarantined = one_entry_per_record(batch.quarantined)
    # An order changed while the list was paged is named again on a later page: once here.
    listed = len({stamp.id for stamp in batch.stamps})
    stats = SyncStats(quarantined=len(batch.quarantined), listed=listed)
    with store.session() as s:
        not_taken = store.older_copies(batch.returns, batch.orders, session=s)
        stats.records = {
            "returns": store.upsert_returns(batch.returns, session=s),
            "orders": store.upsert_orders(batch.orders, session=s),
            "refunds": store.upsert_refunds(batch.refunds, session=s),
            "payouts": store.upsert_payouts(batch.payouts, session=s),
            "balance_transactions": store.upsert_balance_transactions(
                batch.balance_transactions, session=s
            ),
            "gift_cards": store.upsert_gift_cards(batch.gift_cards, session=s),
        }
        _record_visibility(store, batch, s)
        # Entries of records read cleanly tonight are resolved, then tonight's are added.
        store.resolve_quarantined(
            stored_ids(batch, not_taken), batch.quarantined, shown=not_taken, session=s
        )
        store.add_quarantined(batch.quarantined, run_id, session=s)
        for stream, at in (watermarks or {}).items():
            store.set_watermark(stream, at, session=s)
        if checkpoint is not None:
            range_start, range_end, window = checkpoint
            store.mark_window_done(range_start, range_end, window, stats.as_dict(), session=s)
        if fence is not None:
            s.flush()  # the first write takes SQLite's write lock before the check
            fence(s)
    _log_held(batch.quarantined)
    return stats


def one_entry_per_record(quarantined: Sequence[Quarantined]) -> list[Quarantined]:
    """One entry per record and field, the last read's: a record that changed while its list
    was paged comes twice (``shopify_paging.unseen``), and two unreadable copies made two open
    entries for one problem. Entries without a record id are all kept (nothing tells them
    apart but their payloads, each one to check)."""
    last = {(q.source, q.kind, q.record_id, q.field): i for i, q in enumerate(quarantined)}
    return [
        q
        for i, q in enumerate(quarantined)
        if q.record_id is None or last[(q.source, q.kind, q.record_id, q.field)] == i
    ]


def _is_unread_details(q: Quarantined) -> bool:
    return q.source == "loop" and q.kind == "return" and q.reason.startswith(RETURN_DETAILS_UNREAD)


def _drop_other_copies_unread(batch: Batch) -> None:
    """Entries of a return listed twice tonight (it changed while its list was paged) whose
    details failed for a copy other than the one the mirror keeps (the later ``updated_at``:
    ``latest_by_id``): the kept copy's own details answered (or it needed none), so its refund
    link is known, and the other copy's failure is dropped. Left in, it held the return's
    refund and restock until a later night read it again. An entry stays unless its payload
    is that of a copy read tonight other than the kept one: the kept copy's own failure holds
    the return (its link is unknown, whatever an older copy read), and so does one whose copy
    cannot be told."""
    unread = {q.record_id for q in batch.quarantined if _is_unread_details(q)}
    if not unread:
        return
    copies = [r for r in batch.returns if r.id in unread]
    kept = {r.id: r for r in latest_by_id(copies)}
    others: dict[str, list[dict[str, Any]]] = {}
    for copy in copies:
        if copy is not kept[copy.id]:
            others.setdefault(copy.id, []).append(copy.raw)

    def superseded(q: Quarantined) -> bool:
        record_id = q.record_id or ""
        return q.raw != kept[record_id].raw and q.raw in others.get(record_id, [])

    batch.quarantined = [
        q
        for q in batch.quarantined
        if not (_is_unread_details(q) and q.record_id in kept and superseded(q))
    ]


def _keep_known_links(store: SqlStore, batch: Batch) -> None:
    """Returns whose Get Return Details failed tonight but whose mirrored copy of the same
    version (same ``updated_at``) holds Loop's refund link: that link is kept, and nothing is
    unknown, so their entries are dropped. Without this a look-back re-read whose details
    failed wrote the link read on an earlier night over with none: the refund Loop made linked
    nothing, and its return read as unpaid. Only the copy the mirror keeps counts (the later
    ``updated_at``): a return listed twice, unchanged and then changed, both copies' details
    failing, had the unchanged copy's link release the changed one, stored unlinked and
    unheld (the refund Loop made could be paid again)."""
    unread = {
        q.record_id
        for q in batch.quarantined
        if q.source == "loop" and q.kind == "return" and q.reason.startswith(RETURN_DETAILS_UNREAD)
    }
    if not unread:
        return
    mirrored = store.mirrored_returns(sorted(i for i in unread if i is not None))
    latest = {id(r) for r in latest_by_id(r for r in batch.returns if r.id in unread)}
    kept: set[str] = set()
    for index, record in enumerate(batch.returns):
        known = mirrored.get(record.id)
        if id(record) not in latest or known is None or known.updated_at != record.updated_at:
            continue
        if not any(refund.provider_refund_id for refund in known.refunds):
            continue  # the mirror knows no more than tonight
        raw = {**record.raw, "refunds": known.raw.get("refunds", [])}
        batch.returns[index] = record.model_copy(update={"refunds": known.refunds, "raw": raw})
        kept.add(record.id)
    batch.quarantined = [
        q
        for q in batch.quarantined
        if not (
            q.source == "loop"
            and q.record_id in kept
            and q.reason.startswith(RETURN_DETAILS_UNREAD)
        )
    ]


# Records named one by one in the log per batch; the rest are counted (``quarantine`` lists all).
HELD_LOGGED = 20


def _log_held(quarantined: Sequence[Quarantined]) -> None:
    """Name each record tonight's batch kept for review (kind, id, field, why) once it is stored:
    a return that could not be read raises no finding, so its refund is checked by no one
    until someone reads the quarantine. Cleaning notes (the record was stored) are not held."""
    held = [q for q in quarantined if not q.reason.startswith(CLEANED)]
    for q in held[:HELD_LOGGED]:
        log.warning(
            "held for review (quarantine): %s %s %s, field %s: %s",
            q.source, q.kind, q.record_id or "(no id)", q.field, q.reason[:300],
        )  # fmt: skip
    if len(held) > HELD_LOGGED:
        log.warning(
            "held for review (quarantine): %d more records; `run_recon.py quarantine` lists all",
            len(held) - HELD_LOGGED,
        )


def _record_visibility(store: SqlStore, batch: Batch, session: Session) -> None:
    """Mark the orders answered null tonight, clear the marks of those a read returned, and
    forget the never-mirrored ones no Loop return names any more (``forget_unnamed``)."""
    partly = partly_read_orders(batch.quarantined)
    returned = partly | {o.id for o in batch.orders}  # upsert_orders clears the stored ones
    gone = [i for i in not_visible_orders(batch.quarantined) if i not in returned]
    store.clear_not_visible(partly, session=session)
    store.forget_unnamed_unseen_orders(session=session)
    if gone and store.mark_orders_not_visible(gone, session=session):
        log.warning(
            "shopify answered null for %d order(s) by id (deleted, or older than 60 days "
            "without read_all_orders): %s; recon writes nothing to them and asks for them again "
            "only when their Loop return changes or after [sync] not_visible_recheck_days",
            len(gone),
            ", ".join(gone[:10]) + (" ..." if len(gone) > 10 else ""),
        )


def server_clocks(**sources: object) -> dict[str, ServerClock]:
    """The sources' ``server_clock`` (their ``Date`` headers) by API name, readings cleared:
    each run measures its own (a scheduler keeps its clients from one run to the next)."""
    clocks = {
        name: clock
        for name, source in sources.items()
        if isinstance(clock := getattr(source, "server_clock", None), ServerClock)
    }
    for clock in clocks.values():
        clock.reset()
    return clocks


def run_watermarks(
    until: datetime, settings: SyncSettings, clocks: Mapping[str, ServerClock]
) -> dict[str, datetime]:
    """Each stream's watermark: ``until``, earlier by how far the host clock was ahead of its
    API's (``host_ahead``): the API stamps its records with its own clock, so what it changes
    after the read but stamps before a host-clock watermark (past the look-back) would be
    before the next window too, and never read. Never later than ``until``."""
    lookback = timedelta(hours=settings.lookback_hours)
    loop = until - host_ahead("Loop", clocks.get("loop"), lookback)
    shopify = until - host_ahead("Shopify", clocks.get("shopify"), lookback)
    marks = dict.fromkeys(all_streams(), shopify)
    marks.update((loop_stream(state), loop) for state in LOOP_STATES)
    return marks


def run_sync(
    store: SqlStore,
    loop: LoopSource,
    shopify: ShopifySource,
    clock: Clock,
    settings: SyncSettings,
    *,
    until: datetime | None = None,
    run_id: str | None = None,
    fence: Fence | None = None,
    interrupt: Interrupt | None = None,
    lost_lock: LostLock | None = None,
    details_reasks: int = DETAILS_REASKS_PER_RUN,
) -> SyncStats:
    """The nightly incremental sync up to ``until`` (default: now); at most ``details_reasks``
    Loop returns whose details could not be read are asked again (``[loop]
    details_reask_per_night``).

    Records a ``sync`` run unless the caller passes its own ``run_id``. ``fence`` checks the
    run's lease inside the commit (``commit_batch``). ``interrupt`` (a signal) stops the
    readers before their next request; nothing is then written. So does ``lost_lock`` saying
    the run's lease was taken over (``recon.lease_keeper``).

    Raises:
        recon.errors.RunInterruptedError: ``interrupt`` was requested during the read.
        recon.errors.LockError: the run's lease was taken over; nothing is written.
        recon.errors.SourceError: an API failed; nothing is written and watermarks stay put.
        recon.errors.StoreError: the mirror could not be written.
    """
    until = until or clock.now()
    own_run = run_id is None
    run_id = run_id or store.start_run("sync")
    calls_before = api_calls(loop, shopify)
    try:
        plan = plan_nightly(store, settings, until, details_reasks=details_reasks)
        clocks = server_clocks(loop=loop, shopify=shopify)
        batch = fetch(
            plan,
            loop,
            shopify,
            versions=store.return_versions,
            order_versions=store.returned_order_versions,
            interrupt=interrupt,
            lost_lock=lost_lock,
        )
        watermarks = run_watermarks(until, settings, clocks)
        stats = commit_batch(store, batch, run_id, watermarks=watermarks, fence=fence)
        calls_after = api_calls(loop, shopify)
        if calls_before is not None and calls_after is not None:
            stats.api_calls = calls_after - calls_before
    except BaseException as exc:
        if own_run:
            status = RunStatus.stopped_by(exc)
            error = f"{type(exc).__name__}: {exc}"
            failed = {"error": error[:2000], "exit_code": exit_code_of(exc)}
            store.finish_run(run_id, status, failed)
        raise
    if own_run:
        store.finish_run(run_id, RunStatus.OK, stats.as_dict())
    return stats
