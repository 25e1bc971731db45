"""Nightly incremental sync: read each stream since its watermark (minus a look-back) to the mirror.

Loop and Shopify are throttled separately, so one thread reads Loop while another reads Shopify;
the threads only fetch and return records, and the calling thread writes them (rows and watermarks
in one transaction), so the store is never shared across threads. Records not final yet
(pending refund transactions, balance transactions without a paid payout, scheduled payouts) are
re-polled every night until they settle: orders and balance transactions by id, payouts by
widening their (small) window. So are the orders of open MISSING_REFUND and MISSING_RESTOCK
findings, which remediation may write to: a restock-only refund moves no money, so the order's
financial status, which the sweep filters on, does not change. So are open and in-review Loop
returns: their state streams are re-read from the oldest such return's ``updated_at`` (at most
``initial_days`` back), because label and ``was_processed`` changes may lag or not move
``updated_at`` (loop-returns-api.md §6 trap 7). So are orders mirrored before recon read
``Order.test`` (once: the read settles the flag), so that no operator has to run a backfill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.config import SyncSettings
from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopReturnRecord,
    OrderRecord,
    PayoutRecord,
    Quarantined,
    RefundRecord,
)
from recon.ports import LOOP_STATES, LoopSource, ShopifySource
from recon.store.queries import OPEN_RETURN_STATES
from recon.store.sql import SqlStore

Window = tuple[datetime, datetime]
T = TypeVar("T")
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


@dataclass(frozen=True)
class FetchPlan:
    """What to read in one pass. A None window skips that stream."""

    loop: Mapping[str, Window]
    sweep: Window | None = None
    payouts: Window | None = None
    balance: Window | None = None
    gift_cards: Window | None = None
    order_ids: tuple[str, ...] = ()  # re-polled or missing orders, besides those returns reference
    refund_ids: tuple[str, ...] = ()  # refunds whose details are missing
    balance_ids: tuple[str, ...] = ()  # mirrored balance transactions whose payout is not final

    @classmethod
    def for_window(cls, window: Window) -> FetchPlan:
        """Every stream over the same window (a backfill window)."""
        return cls(
            loop=dict.fromkeys(LOOP_STATES, window),
            sweep=window,
            payouts=window,
            balance=window,
            gift_cards=window,
        )


@dataclass
class Batch:
    """Records read in one pass, not yet written."""

    returns: list[LoopReturnRecord] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    refunds: list[RefundRecord] = field(default_factory=list)
    payouts: list[PayoutRecord] = field(default_factory=list)
    balance_transactions: list[BalanceTransactionRecord] = field(default_factory=list)
    gift_cards: list[GiftCardRecord] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


def _split(items: Iterable[T | Quarantined], quarantine: list[Quarantined]) -> list[T]:
    records: list[T] = []
    for item in items:
        if isinstance(item, Quarantined):
            quarantine.append(item)
        else:
            records.append(item)
    return records


def _read_loop(loop: LoopSource, plan: FetchPlan) -> Batch:
    batch = Batch()
    for state, (start, end) in plan.loop.items():
        batch.returns += _split(loop.iter_returns(start, end, state), batch.quarantined)
    return batch


Versions = Callable[[Sequence[str]], Mapping[str, datetime]]


def _read_shopify_windows(shopify: ShopifySource, plan: FetchPlan) -> Batch:
    batch = Batch()
    q = batch.quarantined
    if plan.sweep:
        batch.orders += _split(shopify.iter_refunded_orders(*plan.sweep), q)
    if plan.payouts:
        batch.payouts += _split(shopify.iter_payouts(*plan.payouts), q)
    if plan.balance:
        batch.balance_transactions += _split(shopify.iter_balance_transactions(*plan.balance), q)
    # An unsettled row's payout status changes but its processed_at does not, so no window from
    # the watermark sees it: re-read it by id unless the window just did (shopify-admin-api.md §13).
    read = {b.id for b in batch.balance_transactions}
    if unsettled := [i for i in plan.balance_ids if i not in read]:
        batch.balance_transactions += _split(shopify.iter_balance_transactions_by_id(unsettled), q)
    if plan.gift_cards:
        batch.gift_cards += _split(shopify.iter_gift_cards(*plan.gift_cards), q)
    return batch


def _read_shopify(
    shopify: ShopifySource,
    plan: FetchPlan,
    loop_done: Future[list[LoopReturnRecord]],
    versions: Versions | None,
) -> Batch:
    batch = _read_shopify_windows(shopify, plan)
    q = batch.quarantined
    # Orders come by id from what Loop references (DESIGN 3), so this part waits for the Loop side.
    # Orders Loop references are read by id with their lines (inventory items for restocks),
    # unless the sweep just read them (it asks for line items too). A re-polled return that has
    # not changed since it was mirrored needs no re-read of its order: refunds on it come through
    # the sweep, and a missing order is in ``plan.order_ids``.
    returns = loop_done.result()
    known = versions([r.id for r in returns]) if versions is not None else {}
    referenced = {
        r.provider_order_id
        for r in returns
        if r.provider_order_id and known.get(r.id) != r.updated_at
    }
    # The sweep reads line items too: an order it just saw is complete and is not read again.
    swept = {o.id for o in batch.orders if o.lines}
    wanted = sorted((referenced | set(plan.order_ids)) - swept)
    if wanted:
        batch.orders += _split(shopify.iter_orders_by_id(wanted), q)
    refund_ids = sorted({rid for o in batch.orders for rid in o.refund_ids} | set(plan.refund_ids))
    if refund_ids:
        batch.refunds += _split(shopify.iter_refunds_by_id(refund_ids), q)
    return batch


def fetch(
    plan: FetchPlan,
    loop: LoopSource,
    shopify: ShopifySource,
    *,
    versions: Versions | None = None,
) -> Batch:
    """Read a plan: Loop in one thread, Shopify in another (separate rate limits).

    Raises:
        recon.errors.SourceError: either side failed (the first failure is re-raised here).
    """
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="recon-sync") as pool:
        loop_future = pool.submit(_read_loop, loop, plan)
        returns_future: Future[list[LoopReturnRecord]] = Future()
        loop_future.add_done_callback(lambda f: _forward_returns(f, returns_future))
        shopify_batch = pool.submit(_read_shopify, shopify, plan, returns_future, versions).result()
        loop_batch = loop_future.result()
    shopify_batch.returns = loop_batch.returns
    shopify_batch.quarantined = loop_batch.quarantined + shopify_batch.quarantined
    return shopify_batch


def _forward_returns(done: Future[Batch], target: Future[list[LoopReturnRecord]]) -> None:
    error = done.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(done.result().returns)


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
    return stats


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
        floor = until - timedelta(days=settings.initial_days)  # bounds the nightly re-read
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
        order_ids=tuple(
            sorted(
                {
                    *store.order_ids_missing(),
                    *store.orders_with_pending_refunds(),
                    *store.orders_with_open_write_findings(),
                    *store.orders_with_unknown_test_flag(),
                }
            )
        ),
        refund_ids=tuple(store.refund_ids_missing_details()),
        balance_ids=tuple(store.unsettled_balance_transaction_ids()),
    )


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
) -> SyncStats:
    """The nightly incremental sync up to ``until`` (default: now).

    Records a ``sync`` run unless the caller passes its own ``run_id``. ``fence`` checks the
    run's lease inside the commit (``commit_batch``).

    Raises:
        recon.errors.SourceError: an API failed; nothing is written and watermarks stay put.
        recon.errors.StoreError: the mirror could not be written.
    """
    until = until or clock.now()
    own_run = run_id is None
    run_id = run_id or store.start_run("sync")
    calls_before = api_calls(loop, shopify)
    try:
        plan = plan_nightly(store, settings, until)
        batch = fetch(plan, loop, shopify, versions=store.return_versions)
        stats = commit_batch(
            store, batch, run_id, watermarks=dict.fromkeys(all_streams(), until), fence=fence
        )
        calls_after = api_calls(loop, shopify)
        if calls_before is not None and calls_after is not None:
            stats.api_calls = calls_after - calls_before
    except BaseException as exc:
        if own_run:
            store.finish_run(run_id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        raise
    if own_run:
        store.finish_run(run_id, "ok", stats.as_dict())
    return stats
