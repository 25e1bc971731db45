"""Nightly incremental sync: read each stream since its watermark (minus a look-back) to the mirror.

A watermark is the run's time, unless the host clock was ahead of the API's (its ``Date``
headers) by more than a quarter of the look-back: then it is the API's time (``run_watermarks``).

Both APIs are read at once (``recon.fetch``); this module writes what they return (rows and
watermarks in one transaction). Records not final yet
(pending refund transactions, balance transactions without a paid payout, scheduled payouts) are
re-polled every night until they settle: orders and balance transactions by id, payouts by
widening their (small) window. So are the orders of open MISSING_REFUND and MISSING_RESTOCK
findings, which remediation may write to: a restock-only refund moves no money, so the order's
financial status, which the sweep filters on, does not change. So are open and in-review Loop
returns: their state streams are re-read from the oldest such return's ``updated_at`` (at most
``initial_days`` back, but never starting later than the watermark's own window), because label
and ``was_processed`` changes may lag or not move ``updated_at`` (loop-returns-api.md §6 trap
7). So are orders mirrored before recon read ``Order.test`` (once: the read settles the flag),
so that no operator has to run a backfill.
An order the by-id read answers null for (deleted in Shopify, or older than 60 days without
``read_all_orders``), mirrored or only named by a Loop return, is recorded as not visible and
asked for again (its listed refunds with it) only when its return changes or after
``not_visible_recheck_days``, whatever else would ask for it: the answer would be null every
night (``recon.store.visibility``); one never mirrored is forgotten once no Loop return names
it. An unsettled balance transaction answered null (an open "not visible" entry) is asked
for again only after ``not_visible_recheck_days``, or once its order changes in Shopify; its
mirrored row keeps its last payout status, so what it owes is still reported. Records whose
by-id answer was malformed (quarantined with field ``nodes``) are asked again the next night,
marked or not. So are mirrored orders and refunds a read returned but could not store (read in
part, a field unreadable), whatever else asks for them: the next night after a first failure,
then every ``not_visible_recheck_days`` (``_read_in_part_due``); a clean read resolves their
entry and releases the writes it held.
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
from recon.errors import RunInterruptedError
from recon.fetch import Batch, FetchPlan, LostLock, Window, fetch
from recon.interrupt import Interrupt
from recon.models import CLEANED, Quarantined
from recon.ports import LOOP_STATES, LoopSource, ShopifySource
from recon.sources.server_clock import ServerClock, host_ahead
from recon.store.queries import OPEN_RETURN_STATES
from recon.store.sql import SqlStore

log = logging.getLogger(__name__)
SWEEP, PAYOUTS, BALANCE, GIFT_CARDS = (
    "shopify.refunded_orders",
    "shopify.payouts",
    "shopify.balance_transactions",
    "shopify.gift_cards",
)


def loop_stream(state: str) -> str:
    """The watermark name of one Loop state (each state is its own call sequence, DESIGN 2)."""
    return f"loop.returns.{state}"


@dataclass
class SyncStats:
    """What a sync or backfill wrote: records per kind, quarantined, windows and API calls."""

    records: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    windows: int = 0
    api_calls: int | None = None

    def merge(self, other: SyncStats) -> None:
        """Add ``other``'s figures to these."""
        for kind, count in other.records.items():
            self.records[kind] = self.records.get(kind, 0) + count
        self.quarantined += other.quarantined
        self.windows += other.windows
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
        }


def stored_ids(batch: Batch) -> dict[tuple[str, str], list[str]]:
    """The ids of the batch's records per (source, kind), as quarantine entries name them."""
    return {
        ("loop", "return"): [r.id for r in batch.returns],
        ("shopify", "order"): [o.id for o in batch.orders],
        ("shopify", "refund"): [r.id for r in batch.refunds],
        ("shopify", "payout"): [p.id for p in batch.payouts],
        ("shopify", "balance_transaction"): [b.id for b in batch.balance_transactions],
        ("shopify", "gift_card"): [g.id for g in batch.gift_cards],
    }


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
    stats = SyncStats(quarantined=len(batch.quarantined))
    with store.session() as s:
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
        store.resolve_quarantined(stored_ids(batch), batch.quarantined, session=s)
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


def _since(store: SqlStore, stream: str, until: datetime, settings: SyncSettings) -> datetime:
    watermark = store.get_watermark(stream)
    if watermark is None:
        return until - timedelta(days=settings.initial_days)
    # The look-back re-reads records whose updated_at landed late (eventual consistency, skew).
    return min(watermark - timedelta(hours=settings.lookback_hours), until)


def _loop_window(store: SqlStore, state: str, until: datetime, settings: SyncSettings) -> Window:
    start = _since(store, loop_stream(state), until, settings)
    if state in OPEN_RETURN_STATES:
        oldest = store.earliest_update_in_state(state)
        # Bounds how far back the re-read of open returns goes, never the watermark's window:
        # after a pause longer than ``initial_days`` it would skip what changed since.
        floor = min(until - timedelta(days=settings.initial_days), start)
        if oldest is not None and oldest < start:
            start = max(oldest, floor)
    return (start, until)


def plan_nightly(store: SqlStore, settings: SyncSettings, until: datetime) -> FetchPlan:
    """Windows from each stream's watermark, plus what has not settled yet (by id or widened)."""
    sweep, payouts, balance, gifts = (
        (_since(store, stream, until, settings), until)
        for stream in (SWEEP, PAYOUTS, BALANCE, GIFT_CARDS)
    )
    open_payout = store.earliest_open_payout()
    if open_payout is not None and open_payout < payouts[0]:
        payouts = (open_payout, until)
    return FetchPlan(
        loop={s: _loop_window(store, s, until, settings) for s in LOOP_STATES},
        sweep=sweep,
        payouts=payouts,
        balance=balance,
        gift_cards=gifts,
        order_ids=tuple(sorted(_orders_to_repoll(store, settings, until))),
        refund_ids=_with_asked_again(
            store,
            "refund",
            {
                *store.refund_ids_missing_details(),
                *_read_in_part_due(store, "refund", settings, until),
            },
        ),
        balance_ids=_with_asked_again(
            store, "balance_transaction", _balance_to_repoll(store, settings, until)
        ),
    )


def _balance_to_repoll(store: SqlStore, settings: SyncSettings, until: datetime) -> set[str]:
    """Unsettled balance transactions, but not one Shopify answered null for within the last
    ``not_visible_recheck_days`` while its order stayed as it was (``balance_transactions_
    held_back``): asked every night, it added an open quarantine entry every night."""
    cutoff = _recheck_cutoff(until, settings)
    held = set(store.balance_transactions_held_back(cutoff))
    return set(store.unsettled_balance_transaction_ids()) - held


# A recheck's entry is stamped when its sync commits, minutes or hours after the run's start;
# runs start at the same time each night, so without this slack a record "asked again every
# N days" was asked on the N+1th night.
RECHECK_SLACK = timedelta(hours=12)


def _recheck_cutoff(until: datetime, settings: SyncSettings) -> datetime:
    """Records last asked (or stamped) by this moment are due: ``not_visible_recheck_days``
    nights before ``until``, give or take how long a sync runs (``RECHECK_SLACK``)."""
    return until - timedelta(days=settings.not_visible_recheck_days) + RECHECK_SLACK


def _with_asked_again(store: SqlStore, kind: str, ids: Iterable[str]) -> tuple[str, ...]:
    """``ids`` and those of ``kind`` whose last by-id answer was malformed."""
    return tuple(sorted({*ids, *store.ids_to_ask_again(kind)}))


def _read_in_part_due(
    store: SqlStore, kind: str, settings: SyncSettings, until: datetime
) -> list[str]:
    """Mirrored orders or refunds of ``kind`` a read returned but could not store, to ask again.

    Without this, nothing asked for one until its Loop return or the order changed, and its
    open entry held recon's writes on the order (a refund owed waited) over a one-off paging
    glitch. A first failure is asked the very next night: most are one-off, and a refund may be
    owed. One that failed again most likely fails for good (an order past what
    ``Order.refunds`` can list), so it is paced as a record answered null is, every
    ``not_visible_recheck_days``: asked every night it would add an entry and its calls (up to
    250 refunds re-read) every night, for ever (``SyncQueries.read_in_part_due``).
    """
    cutoff = _recheck_cutoff(until, settings)
    return store.read_in_part_due(kind, cutoff)


def _orders_to_repoll(store: SqlStore, settings: SyncSettings, until: datetime) -> set[str]:
    """Orders read by id tonight: missing ones and those not settled yet; but not one Shopify
    answered null for within the last ``not_visible_recheck_days`` (it would most likely be
    null again: deleted, or out of sight). Every order marked so longer ago is asked again,
    whether or not anything else asks for it (an app granted ``read_all_orders`` sees it
    again): in the same ``nodes(ids:)`` batches as the rest. So is every order whose last
    by-id answer was malformed, marked or not: that ask read nothing. An order whose Loop
    return changed is read whatever its mark (``recon.fetch``)."""
    wanted = {
        *store.order_ids_missing(),
        *store.orders_with_pending_refunds(),
        *store.orders_with_open_write_findings(),
        *store.orders_with_unknown_test_flag(),
        *_read_in_part_due(store, "order", settings, until),
    }
    cutoff = _recheck_cutoff(until, settings)
    backed_off = set(store.orders_not_visible_checked_after(cutoff))
    return (
        (wanted - backed_off)
        | set(store.orders_not_visible_checked_by(cutoff))
        | set(store.ids_to_ask_again("order"))
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


def all_streams() -> tuple[str, ...]:
    """Every watermarked stream name."""
    return (*(loop_stream(s) for s in LOOP_STATES), SWEEP, PAYOUTS, BALANCE, GIFT_CARDS)


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
) -> SyncStats:
    """The nightly incremental sync up to ``until`` (default: now).

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
        plan = plan_nightly(store, settings, until)
        clocks = server_clocks(loop=loop, shopify=shopify)
        batch = fetch(
            plan,
            loop,
            shopify,
            versions=store.return_versions,
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
            status = "interrupted" if isinstance(exc, RunInterruptedError) else "failed"
            store.finish_run(run_id, status, {"error": f"{type(exc).__name__}: {exc}"})
        raise
    if own_run:
        store.finish_run(run_id, "ok", stats.as_dict())
    return stats
