"""The nightly's plan: each stream's window from its watermark, and what is re-read by id.

Besides the refunded-orders sweep, every order changed in Shopify is listed over its own window
(``UPDATED``: id and ``updatedAt`` only, about 1 point an order), and those a mirrored Loop
return names that changed since the mirror read them are read by id with the rest
(``recon.fetch.changed_orders``): a change that moves no money (a restock-only refund on an
order whose return was cancelled) reaches the mirror although no sweep or return asks for it.

Records not final yet
(pending refund transactions, balance transactions without a paid payout, scheduled payouts) are
re-polled every night until they settle: orders and balance transactions by id, payouts by
widening their (small) window. So are the payouts of the last ``payout_recheck_days`` whatever
their status: whether a bank can return a payout Shopify said PAID (FAILED) is not documented,
and one that is must reach the mirror, its refunds unsettled again. So are the orders of open
MISSING_REFUND and MISSING_RESTOCK findings, which remediation may write to: a restock-only
refund moves no money, so the order's financial status, which the sweep filters on, does not
change. So are open and in-review Loop
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
entry and releases the writes it held. Closed refund Loop returns whose Get Return Details could
not be read (stored as the list gave them, refund link unknown) are asked again by id at the
same pace (``SyncQueries.returns_details_due``), once the look-back no longer lists them, but
every night while Loop's last answer was a failure (5xx, timeout: Loop down for a while, not
the return gone as after a 404): one attempt each, at most ``[loop] details_reask_per_night``
(``details_reasks``; 100 by default) a night.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from recon.config import DETAILS_REASK_PER_NIGHT, SyncSettings
from recon.fetch import FetchPlan, Window
from recon.ports import LOOP_STATES
from recon.store.queries import OPEN_RETURN_STATES
from recon.store.sql import SqlStore

SWEEP, PAYOUTS, BALANCE, GIFT_CARDS = (
    "shopify.refunded_orders",
    "shopify.payouts",
    "shopify.balance_transactions",
    "shopify.gift_cards",
)
# At most this many Loop returns whose details could not be read are asked again in one run
# by default (``[loop] details_reask_per_night``), those asked longest ago first; the rest wait
# for the next night. Each is one request with no retry (``LoopClient.iter_details``): bounded,
# so a backlog (an outage's worth of failures) costs a night minutes at most, not its retry
# budget or its window.
DETAILS_REASKS_PER_RUN = DETAILS_REASK_PER_NIGHT
# The updated-orders list (ids and times of every order changed): its own watermark, so a shop
# upgraded to a recon that reads it lists the last ``initial_days`` once, not only a look-back.
UPDATED = "shopify.updated_orders"


def loop_stream(state: str) -> str:
    """The watermark name of one Loop state (each state is its own call sequence, DESIGN 2)."""
    return f"loop.returns.{state}"


def all_streams() -> tuple[str, ...]:
    """Every watermarked stream name."""
    return (
        *(loop_stream(s) for s in LOOP_STATES),
        SWEEP,
        UPDATED,
        PAYOUTS,
        BALANCE,
        GIFT_CARDS,
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


def plan_nightly(
    store: SqlStore,
    settings: SyncSettings,
    until: datetime,
    *,
    details_reasks: int = DETAILS_REASKS_PER_RUN,
) -> FetchPlan:
    """Windows from each stream's watermark, plus what has not settled yet (by id or widened);
    at most ``details_reasks`` returns' unread details asked again."""
    sweep, updated, payouts, balance, gifts = (
        (_since(store, stream, until, settings), until)
        for stream in (SWEEP, UPDATED, PAYOUTS, BALANCE, GIFT_CARDS)
    )
    # A payout PAID may yet be returned by the bank (FAILED): the schema does not say it cannot.
    payouts = (min(payouts[0], until - timedelta(days=settings.payout_recheck_days)), until)
    open_payout = store.earliest_open_payout()
    if open_payout is not None and open_payout < payouts[0]:
        payouts = (open_payout, until)
    return FetchPlan(
        loop={s: _loop_window(store, s, until, settings) for s in LOOP_STATES},
        sweep=sweep,
        updated=updated,
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
        return_details=tuple(
            store.returns_details_due(_recheck_cutoff(until, settings), details_reasks)
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
