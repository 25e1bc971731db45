"""One read of both APIs: Loop in one thread, Shopify in another, and the plan of what to read.

Loop and Shopify are throttled separately, so one thread reads Loop while another reads Shopify;
the threads only fetch and return records, and the caller writes them, so the store is never
shared across threads. When one side fails the other stops before its next request (``Stop``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from recon.errors import (
    LockError,
    ReconError,
    RunInterruptedError,
    SourcesFailedError,
    SyncCancelledError,
)
from recon.interrupt import Interrupt
from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopReturnRecord,
    OrderRecord,
    OrderStamp,
    PayoutRecord,
    Quarantined,
    RefundRecord,
)
from recon.ports import LOOP_STATES, LoopSource, ShopifySource

Window = tuple[datetime, datetime]
# The run lock's loss, if a renewal found it taken over (``recon.lease_keeper``), else None.
LostLock = Callable[[], LockError | None]
T = TypeVar("T")
_API = {"loop": "Loop", "shopify": "Shopify"}


@dataclass(frozen=True)
class FetchPlan:
    """What to read in one pass. A None window skips that stream."""

    loop: Mapping[str, Window]
    sweep: Window | None = None
    updated: Window | None = None  # the updated-orders list: which orders to read in full
    payouts: Window | None = None
    balance: Window | None = None
    gift_cards: Window | None = None
    order_ids: tuple[str, ...] = ()  # re-polled or missing orders, besides those returns reference
    refund_ids: tuple[str, ...] = ()  # refunds whose details are missing
    balance_ids: tuple[str, ...] = ()  # mirrored balance transactions whose payout is not final
    # Mirrored Loop returns whose details (refund link) could not be read: asked again by id.
    return_details: tuple[LoopReturnRecord, ...] = ()

    @classmethod
    def for_window(cls, window: Window, *, loop: Window | None = None) -> FetchPlan:
        """Every stream over the same window (a backfill window); Loop's over ``loop`` if given
        (``recon.backfill.loop_window``: wider, Loop's zone for its bounds being unknown)."""
        return cls(
            loop=dict.fromkeys(LOOP_STATES, loop or window),
            sweep=window,
            updated=window,
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
    # The orders the updated-orders list named: not written, they pick which are read in full.
    stamps: list[OrderStamp] = field(default_factory=list)


class Stop:
    """Cooperative cancellation between the two reading threads of one ``fetch``.

    The first side to fail stops the other, which checks between records, so before asking
    for its next page: the healthy side does not go on paging (possibly for many minutes
    against an API that is struggling too) for records that will be thrown away, while the run
    holds its lock. A side already in the middle of a request when the other fails may fail
    too: every side's own failure is kept, and ``raise_failure`` reports them in a fixed order.
    """

    SIDES = ("loop", "shopify")  # the order failures are reported in

    def __init__(
        self, interrupt: Interrupt | None = None, lost_lock: LostLock | None = None
    ) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._interrupt = interrupt
        self._lost_lock = lost_lock
        self.errors: dict[str, BaseException] = {}
        self.side = ""  # the first side that failed, for the other's cancellation message
        self.cancelled: set[str] = set()  # the sides that stopped before reading everything

    def fail(self, side: str, error: BaseException) -> None:
        """Record ``side``'s failure and stop the other side.

        A cancellation is not a failure, nor is the other side's error handed on (the Shopify
        side waits for Loop's returns, and gets Loop's error if Loop fails).
        """
        with self._lock:
            if isinstance(error, SyncCancelledError):
                self.cancelled.add(side)
            seen = any(error is e for e in self.errors.values())
            if not seen and not isinstance(error, SyncCancelledError):
                self.errors.setdefault(side, error)
                self.side = self.side or side
        self._event.set()

    def check(self, side: str) -> None:
        """Raise when the other side has failed.

        Raises:
            SyncCancelledError: the other side failed, or the run was asked to stop (a
                signal: ``recon.interrupt``), or it lost its run lock; ``side`` reads no further.
        """
        if self._interrupt is not None and self._interrupt.requested:
            raise SyncCancelledError(f"{side}: stopped reading: {self._interrupt.name}")
        if self._lost_lock is not None and self._lost_lock() is not None:
            raise SyncCancelledError(f"{side}: stopped reading: the run lock was lost")
        if self._event.is_set():
            raise SyncCancelledError(
                f"{side}: stopped reading: {self.side or 'the other side'} failed"
            )

    def readers(self) -> str:
        """What each side did when the run was asked to stop: stopped before its next request,
        or (the stop came as it ended) had read everything already."""
        stopped = [side for side in self.SIDES if side in self.cancelled]
        if len(stopped) == len(self.SIDES):
            return "both APIs' readers stopped before their next request"
        if not stopped:
            return "both APIs had been read in full (the stop came as the reads ended)"
        (side,) = stopped
        (other,) = [s for s in self.SIDES if s != side]
        return (
            f"{_API[side]}'s reader stopped before its next request "
            f"({_API[other]} had been read in full)"
        )

    def raise_failure(self) -> None:
        """Raise what failed, if anything: one side's error as it is; both sides' together
        (``SourcesFailedError``, Loop first) when both are recon's errors; else the first
        unexpected one in side order, its traceback intact.

        Raises:
            BaseException: the failure.
        """
        ordered = sorted(
            self.errors.items(),
            key=lambda item: self.SIDES.index(item[0]) if item[0] in self.SIDES else -1,
        )
        if not ordered:
            return
        unexpected = [e for _, e in ordered if not isinstance(e, ReconError)]
        if len(ordered) == 1 or unexpected:
            raise (unexpected or [ordered[0][1]])[0]
        raise SourcesFailedError([(side, e) for side, e in ordered if isinstance(e, ReconError)])


def _split(
    items: Iterable[T | Quarantined], quarantine: list[Quarantined], stop: Stop, side: str
) -> list[T]:
    records: list[T] = []
    stop.check(side)
    for item in items:
        if isinstance(item, Quarantined):
            quarantine.append(item)
        else:
            records.append(item)
        stop.check(side)  # before the iterator is asked for more, which may fetch a page
    return records


def _read_loop(loop: LoopSource, plan: FetchPlan, stop: Stop) -> Batch:
    batch = Batch()
    for state, (start, end) in plan.loop.items():
        batch.returns += _split(
            loop.iter_returns(start, end, state), batch.quarantined, stop, "loop"
        )
    # Returns whose details could not be read before: a return tonight's list named was asked
    # (or held back) there already; the others are asked by id, completed from the mirror's copy.
    named = {r.id for r in batch.returns} | {q.record_id for q in batch.quarantined}
    if pending := [r for r in plan.return_details if r.id not in named]:
        batch.returns += _split(loop.iter_details(pending), batch.quarantined, stop, "loop")
    return batch


Versions = Callable[[Sequence[str]], Mapping[str, datetime]]
# Among order ids, those a mirrored Loop return names: each one's mirrored ``updated_at``, None
# when the mirror has no such order (``SqlStore.returned_order_versions``).
OrderVersions = Callable[[Sequence[str]], Mapping[str, datetime | None]]


def _read_shopify_windows(shopify: ShopifySource, plan: FetchPlan, stop: Stop) -> Batch:
    batch = Batch()
    q = batch.quarantined

    def split(items: Iterable[T | Quarantined]) -> list[T]:
        return _split(items, q, stop, "shopify")

    if plan.sweep:
        batch.orders += split(shopify.iter_refunded_orders(*plan.sweep))
    if plan.updated:
        batch.stamps += split(shopify.iter_updated_orders(*plan.updated))
    if plan.payouts:
        batch.payouts += split(shopify.iter_payouts(*plan.payouts))
    if plan.balance:
        batch.balance_transactions += split(shopify.iter_balance_transactions(*plan.balance))
    # An unsettled row's payout status changes but its processed_at does not, so no window from
    # the watermark sees it: re-read it by id unless the window just did (shopify-admin-api.md §13).
    read = {b.id for b in batch.balance_transactions}
    if unsettled := [i for i in plan.balance_ids if i not in read]:
        batch.balance_transactions += split(shopify.iter_balance_transactions_by_id(unsettled))
    if plan.gift_cards:
        batch.gift_cards += split(shopify.iter_gift_cards(*plan.gift_cards))
    return batch


def _read_shopify(
    shopify: ShopifySource,
    plan: FetchPlan,
    loop_done: Future[list[LoopReturnRecord]],
    versions: Versions | None,
    order_versions: OrderVersions | None,
    stop: Stop,
) -> Batch:
    batch = _read_shopify_windows(shopify, plan, stop)
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
    # The sweep reads line items too: an order it just saw is complete and is not read again,
    # unless its copy is older than the mirrored one (a lagging sweep page): the store skips
    # such a copy, so it cannot stand in for the read by id the night planned for the order.
    # The changed orders of the updated-orders list join the same ``nodes(ids:)`` calls.
    swept = _swept(batch.orders, order_versions)
    changed = changed_orders(batch.stamps, order_versions)
    wanted = sorted((referenced | set(plan.order_ids) | changed) - swept)
    if wanted:
        batch.orders += _split(shopify.iter_orders_by_id(wanted), q, stop, "shopify")
    refund_ids = sorted({rid for o in batch.orders for rid in o.refund_ids} | set(plan.refund_ids))
    if refund_ids:
        batch.refunds += _split(shopify.iter_refunds_by_id(refund_ids), q, stop, "shopify")
    return batch


def _swept(orders: Sequence[OrderRecord], order_versions: OrderVersions | None) -> set[str]:
    """Orders read whole (with lines) tonight in a copy not older than the mirrored one."""
    whole = {o.id: o.updated_at for o in orders if o.lines}
    if not whole or order_versions is None:
        return set(whole)
    mirrored = order_versions(sorted(whole))
    return {
        i
        for i, at in whole.items()
        if (stored := mirrored.get(i)) is None or at is None or at >= stored
    }


def changed_orders(stamps: Sequence[OrderStamp], order_versions: OrderVersions | None) -> set[str]:
    """The orders of ``stamps`` to read in full: those a mirrored Loop return names whose
    ``updatedAt`` is not the one mirrored (or that the mirror does not hold).

    This is what reaches a change that moves no money on an order nothing else reads tonight:
    a restock-only refund after its return was cancelled keeps the order ``PAID`` (the sweep
    skips it) and changes no Loop return (``GHOST_INVENTORY``'s case). An order no Loop return
    names is none of recon's (every finding is about a Loop return's order, docs/findings.md),
    and one unchanged since the mirror read it needs no read: the look-back lists most orders
    on three nights, and only the first of them reads it.
    """
    if not stamps or order_versions is None:
        return set()
    known = order_versions(sorted({s.id for s in stamps}))
    return {
        s.id
        for s in stamps
        if s.id in known and (s.updated_at is None or known[s.id] != s.updated_at)
    }


def fetch(
    plan: FetchPlan,
    loop: LoopSource,
    shopify: ShopifySource,
    *,
    versions: Versions | None = None,
    order_versions: OrderVersions | None = None,
    interrupt: Interrupt | None = None,
    stopped: Callable[[str], RunInterruptedError] | None = None,
    lost_lock: LostLock | None = None,
) -> Batch:
    """Read a plan: Loop in one thread, Shopify in another (separate rate limits).

    When one side fails (e.g. its API's retry budget is spent) the other stops before its next
    page (``Stop``), and the failure is raised; when both sides failed, both are named, Loop's
    first (``SourcesFailedError``). Both sides stop too when the caller's thread is
    interrupted (Ctrl-C) while it waits for them, or when ``interrupt`` is requested (a
    signal): then nothing is returned, and the error raised is ``stopped`` given what the
    readers did (``Stop.readers``); by default the nightly sync's. Both stop as well when
    ``lost_lock`` says the run's lease was taken over: nothing is returned, and its
    ``LockError`` is raised. ``versions`` (the mirrored returns' ``updated_at``) spares the
    read of orders whose return did not change; ``order_versions`` picks which orders of the
    updated-orders list are read in full (``changed_orders``): without it, none is.

    Raises:
        recon.errors.SourceError: a side failed (its error re-raised here), or both did
            (``SourcesFailedError``).
        recon.errors.RunInterruptedError: ``interrupt`` was requested during the read.
        recon.errors.LockError: the run's lease was taken over during the read.
    """
    stop = Stop(interrupt, lost_lock)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="recon-sync") as pool:
        try:
            loop_future = pool.submit(_guarded, stop, "loop", _read_loop, loop, plan, stop)
            returns_future: Future[list[LoopReturnRecord]] = Future()
            loop_future.add_done_callback(lambda f: _forward_returns(f, returns_future))
            shopify_future = pool.submit(
                _guarded, stop, "shopify", _read_shopify, shopify, plan, returns_future,
                versions, order_versions, stop,
            )  # fmt: skip
            wait([loop_future, shopify_future])
        except BaseException as exc:
            # Ctrl-C (KeyboardInterrupt) lands here, in the main thread: the readers must stop
            # too, or leaving this block waits for them to page to the end of their streams.
            stop.fail("the run (interrupted)", exc)
            raise
    stop.raise_failure()
    if lost_lock is not None and (lost := lost_lock()) is not None:
        raise lost  # another run has the shop: what was read is not this run's to keep
    if interrupt is not None and interrupt.requested:
        raise (stopped or functools.partial(_sync_stopped, interrupt))(stop.readers())
    shopify_batch, loop_batch = shopify_future.result(), loop_future.result()
    shopify_batch.returns = loop_batch.returns
    shopify_batch.quarantined = loop_batch.quarantined + shopify_batch.quarantined
    return shopify_batch


def _sync_stopped(interrupt: Interrupt, readers: str) -> RunInterruptedError:
    return interrupt.error(
        f"during the sync: {readers}, and nothing of tonight's sync was kept (the watermarks stay)"
    )


def _guarded(
    stop: Stop, side: str, read: Callable[..., Batch], source: object, *args: Any
) -> Batch:
    """Run one side's ``read`` of ``source``; a failure stops the other side.

    A source that can be interrupted (the HTTP clients' ``interrupted_by``) checks before every
    request, so it also stops inside one iterator (between pages, windows and retries); any
    other source stops between records.
    """
    interrupted_by = getattr(source, "interrupted_by", None)
    check = functools.partial(stop.check, side)
    try:
        with interrupted_by(check) if interrupted_by is not None else contextlib.nullcontext():
            return read(source, *args)
    except BaseException as exc:
        stop.fail(side, exc)
        raise


def _forward_returns(done: Future[Batch], target: Future[list[LoopReturnRecord]]) -> None:
    error = done.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(done.result().returns)
