"""Nightly sync: watermarks and look-back, re-polling what settles late, quarantine, failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.errors import SourceError
from recon.models import (
    Category,
    Finding,
    FindingStatus,
    LoopReturnRecord,
    Owner,
    Quarantined,
    Severity,
)
from recon.ports import LOOP_STATES
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import (
    EPOCH,
    FakeLoop,
    FakeShopify,
    balance_for,
    make_order,
    make_refund,
    make_return,
    sample_dataset,
)

SETTINGS = SyncSettings(lookback_hours=72, initial_days=60)
WINDOWED = ("iter_refunded_orders", "iter_payouts", "iter_balance_transactions", "iter_gift_cards")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=30))


def windows(calls: list[tuple[object, ...]], name: str) -> list[tuple[object, ...]]:
    return [c[1:] for c in calls if c[0] == name]


def test_first_night_reads_initial_days_then_only_since_watermark_minus_lookback(
    store: SqlStore, clock: VirtualClock
) -> None:
    data = sample_dataset(returns=40)
    loop, shopify = data.fakes()
    first_until = clock.now()
    stats = run_sync(store, loop, shopify, clock, SETTINGS)
    since = first_until - timedelta(days=60)
    assert sorted(windows(loop.calls, "iter_returns")) == sorted(
        (state, since, first_until) for state in LOOP_STATES
    )
    for name in WINDOWED:
        assert windows(shopify.calls, name) == [(since, first_until)]
    assert stats.records["returns"] == 40
    assert stats.records["refunds"] == len(data.refunds)
    assert stats.api_calls == len(loop.calls) + len(shopify.calls)

    loop.calls.clear()
    shopify.calls.clear()
    clock.advance(timedelta(days=1))
    run_sync(store, loop, shopify, clock, SETTINGS)
    since = first_until - timedelta(hours=72)
    # Open returns are re-read from the oldest one (the sample has them from day one).
    oldest_open = min(r.updated_at for r in data.returns if r.state == "open")
    assert sorted(windows(loop.calls, "iter_returns")) == sorted(
        (state, oldest_open if state == "open" else since, clock.now()) for state in LOOP_STATES
    )
    for name in WINDOWED:
        # Payouts go back ``payout_recheck_days`` (14): a PAID one may yet be returned.
        start = clock.now() - timedelta(days=14) if name == "iter_payouts" else since
        assert windows(shopify.calls, name) == [(start, clock.now())], name


def test_orders_come_by_id_from_returns_and_refund_details_by_id(
    store: SqlStore, clock: VirtualClock
) -> None:
    data = sample_dataset(returns=20)
    loop, shopify = data.fakes()
    run_sync(store, loop, shopify, clock, SETTINGS)
    snap = store.load_snapshot()
    assert {r.provider_order_id for r in snap.returns} <= {o.id for o in snap.orders}
    # The sweep alone finds the two refunds naming RMAs Loop does not know.
    assert {f.note for f in snap.refunds} >= {"Loop RMA #90020", "Loop RMA #90021"}
    assert {f.id for f in snap.refunds} == {f.id for f in data.refunds}
    assert store.refund_ids_missing_details() == []


def test_a_refund_issued_after_the_return_was_first_seen_is_picked_up(
    store: SqlStore, clock: VirtualClock
) -> None:
    now = clock.now()
    open_return = make_return(1, now - timedelta(days=2), state="open")
    loop = FakeLoop([open_return])
    shopify = FakeShopify(orders=[make_order(1, now - timedelta(days=2))])
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert store.load_snapshot().refunds == ()

    clock.advance(timedelta(days=1))
    refund = make_refund(1, clock.now() - timedelta(hours=3), Decimal("11.01"), status="PENDING")
    loop.put(make_return(1, clock.now() - timedelta(hours=2), state="closed"))
    shopify.put(make_order(1, clock.now() - timedelta(hours=3), (refund.id,)))
    shopify.put(refund)
    run_sync(store, loop, shopify, clock, SETTINGS)
    (mirrored,) = store.load_snapshot().refunds
    assert mirrored.transactions[0].status == "PENDING"

    # The transaction settles days later without the order changing: re-polled because pending.
    clock.advance(timedelta(days=5))
    settled_txn = refund.transactions[0].model_copy(update={"status": "SUCCESS"})
    shopify.put(refund.model_copy(update={"transactions": (settled_txn,)}))
    run_sync(store, loop, shopify, clock, SETTINGS)
    (mirrored,) = store.load_snapshot().refunds
    assert mirrored.transactions[0].status == "SUCCESS"
    assert store.orders_with_pending_refunds() == []


def test_a_restock_only_refund_on_an_order_with_an_open_missing_restock_is_mirrored(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Staff restock by hand with a refund of 0.00: the order stays "paid", so the sweep of
    refunded orders never sees it. The order has an open MISSING_RESTOCK (which remediation
    would act on): it is re-read by id every night, and the refund reaches the mirror."""
    now = clock.now()
    loop = FakeLoop([make_return(1, now - timedelta(days=3), state="closed", outcome="credit")])
    shopify = FakeShopify(orders=[make_order(1, now - timedelta(days=3))])
    run_sync(store, loop, shopify, clock, SETTINGS)
    store.save_findings([open_finding(Category.MISSING_RESTOCK, "5001")])

    clock.advance(timedelta(days=2))
    at = clock.now() - timedelta(hours=30)  # out of Loop's re-read: the return did not change
    restock = make_refund(1, at, Decimal("0.00")).model_copy(update={"transactions": ()})
    order = make_order(1, at, (restock.id,)).model_copy(update={"financial_status": "paid"})
    shopify.put(order)
    shopify.put(restock)
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert [r.id for r in store.load_snapshot().refunds] == [restock.id]
    assert "5001" in store.orders_with_open_write_findings()
    store.save_findings([open_finding(Category.MISSING_RESTOCK, "5001", FindingStatus.RESOLVED)])
    assert store.orders_with_open_write_findings() == []


def open_finding(
    category: Category,
    order_id: str,
    status: FindingStatus = FindingStatus.OPEN,
    seen: datetime = EPOCH + timedelta(days=30),
) -> Finding:
    return Finding(
        key=f"{category.value}|order={order_id}",
        category=category,
        severity=Severity.MEDIUM,
        owner=Owner.WAREHOUSE,
        shopify_order_id=order_id,
        status=status,
        first_seen=seen,
        last_seen=seen,
    )


def test_only_orders_of_open_breaks_remediation_may_act_on_are_re_read(store: SqlStore) -> None:
    """Acknowledged findings (remediation leaves them alone) are not re-read night after night;
    an open one is, however old (a muted category's, so the night it is un-muted is fresh)."""
    night = EPOCH + timedelta(days=30)
    store.save_findings(
        [
            open_finding(Category.MISSING_RESTOCK, "5001", seen=night),
            open_finding(Category.MISSING_REFUND, "5002", seen=night - timedelta(days=9)),
            open_finding(Category.MISSING_REFUND, "5003", FindingStatus.ACKNOWLEDGED, night),
            open_finding(Category.MISSING_RESTOCK, "5004", FindingStatus.RESOLVED, night),
            open_finding(Category.STALE_RETURN, "5005", seen=night),
        ]
    )
    assert store.orders_with_open_write_findings() == ["5001", "5002"]


def test_an_order_shopify_answers_null_for_is_not_re_polled_for_its_open_break(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Order 5001 has an open MISSING_REFUND (re-read nightly) and was deleted in Shopify: once
    the by-id read answers null, no night asks for it again (the answer would be null)."""
    store.upsert_orders([make_order(1, EPOCH)])
    store.save_findings([open_finding(Category.MISSING_REFUND, "5001")])
    shopify = FakeShopify(deleted={"5001"})
    run_sync(store, FakeLoop(), shopify, clock, SyncSettings(lookback_hours=72))
    assert ("iter_orders_by_id", ["5001"]) in shopify.calls
    assert store.orders_not_visible() == ["5001"]
    clock.sleep(86400)
    again = FakeShopify(deleted={"5001"})
    run_sync(store, FakeLoop(), again, clock, SyncSettings(lookback_hours=72))
    assert [c for c in again.calls if c[0] == "iter_orders_by_id"] == []


def test_a_balance_transaction_paid_out_weeks_later_is_re_read_by_id_not_by_window(
    store: SqlStore, clock: VirtualClock
) -> None:
    now = clock.now()
    refund = make_refund(1, now - timedelta(days=10), Decimal("20.00"))  # older than look-back
    pending = balance_for(1, refund, payout_id=None, status="PENDING")
    shopify = FakeShopify(balance_transactions=[pending])
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    assert store.unsettled_balance_transaction_ids() == [pending.id]

    clock.advance(timedelta(days=14))  # far beyond the 72 h look-back
    watermark = clock.now() - timedelta(days=14)
    shopify.put(pending.model_copy(update={"payout_id": "6001", "payout_status": "PAID"}))
    shopify.calls.clear()
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    # The window stays at watermark - look-back; the unsettled row is asked for by its id.
    assert windows(shopify.calls, "iter_balance_transactions") == [
        (watermark - timedelta(hours=72), clock.now())
    ]
    assert windows(shopify.calls, "iter_balance_transactions_by_id") == [([pending.id],)]
    (mirrored,) = store.load_snapshot().balance_transactions
    assert (mirrored.payout_id, mirrored.payout_status) == ("6001", "PAID")
    assert store.unsettled_balance_transaction_ids() == []

    shopify.calls.clear()  # settled: the next night asks for no id
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    assert windows(shopify.calls, "iter_balance_transactions_by_id") == []


def test_an_unsettled_row_the_window_already_read_is_not_asked_for_again(
    store: SqlStore, clock: VirtualClock
) -> None:
    refund = make_refund(1, clock.now() - timedelta(hours=1), Decimal("20.00"))
    pending = balance_for(1, refund, payout_id=None, status="PENDING")
    shopify = FakeShopify(balance_transactions=[pending])
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    clock.advance(timedelta(hours=12))  # still inside the look-back window
    shopify.calls.clear()
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    assert windows(shopify.calls, "iter_balance_transactions_by_id") == []
    assert store.unsettled_balance_transaction_ids() == [pending.id]


def test_an_unsettled_row_gone_from_shopify_is_quarantined_and_kept(
    store: SqlStore, clock: VirtualClock
) -> None:
    refund = make_refund(1, clock.now() - timedelta(days=10), Decimal("20.00"))
    pending = balance_for(1, refund, payout_id=None, status="PENDING")
    shopify = FakeShopify(balance_transactions=[pending])
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    shopify.balance_transactions.clear()
    clock.advance(timedelta(days=5))
    stats = run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    assert stats.quarantined == 1
    (mirrored,) = store.load_snapshot().balance_transactions
    assert (mirrored.id, mirrored.payout_status) == (pending.id, "PENDING")


def test_a_scheduled_payout_is_re_read_until_paid(store: SqlStore, clock: VirtualClock) -> None:
    data = sample_dataset(returns=10, start=clock.now() - timedelta(days=10))
    scheduled = data.payouts[0].model_copy(update={"status": "SCHEDULED"})
    shopify = FakeShopify(payouts=[scheduled])
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    clock.advance(timedelta(days=20))
    shopify.put(scheduled.model_copy(update={"status": "PAID"}))
    run_sync(store, FakeLoop(), shopify, clock, SETTINGS)
    assert [p.status for p in store.load_snapshot().payouts] == ["PAID"]


def test_quarantined_records_are_kept_and_the_run_goes_on(
    store: SqlStore, clock: VirtualClock
) -> None:
    bad = Quarantined(
        source="loop",
        kind="return",
        record_id="999",
        field="total",
        reason="not a decimal",
        raw={"id": 999, "total": "abc"},
    )
    loop = FakeLoop(
        [make_return(1, clock.now() - timedelta(days=1))],
        quarantined=[(clock.now() - timedelta(days=1), bad)],
    )
    stats = run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    assert stats.quarantined == 1
    assert store.list_quarantined() == [bad]
    assert len(store.load_snapshot().returns) == 1


class BrokenLoop(FakeLoop):
    def iter_returns(
        self, start: datetime, end: datetime, state: str
    ) -> Iterator[LoopReturnRecord | Quarantined]:
        raise SourceError("Loop answered 503 five times")
        yield  # pragma: no cover - makes this a generator like the real one


def test_a_failing_source_writes_nothing_and_keeps_watermarks(
    store: SqlStore, clock: VirtualClock
) -> None:
    data = sample_dataset(returns=5)
    with pytest.raises(SourceError):
        run_sync(store, BrokenLoop(), data.fakes()[1], clock, SETTINGS)
    assert store.get_watermark("shopify.payouts") is None
    assert store.load_snapshot().orders == ()


def test_open_returns_are_re_read_until_they_close(store: SqlStore, clock: VirtualClock) -> None:
    seen = clock.now() - timedelta(days=5)  # older than the look-back on the next night
    loop = FakeLoop([make_return(1, seen, state="open")])
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    clock.advance(timedelta(days=10))
    # The label was delivered but Loop kept updated_at: only a re-read of open returns sees it.
    loop.put(make_return(1, seen, state="open").model_copy(update={"label_status": "delivered"}))
    loop.calls.clear()
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    assert ("open", seen, clock.now()) in windows(loop.calls, "iter_returns")
    (mirrored,) = store.load_snapshot().returns
    assert mirrored.label_status == "delivered"


def test_after_a_long_pause_the_open_returns_window_starts_no_later_than_the_watermark(
    store: SqlStore, clock: VirtualClock
) -> None:
    """recon did not run for 100 days. The re-read of open returns starts at the oldest open
    return, bounded by ``initial_days`` back; that bound cut the night's window short of the
    watermark, so an open return updated 80 days ago (after the last night, before the bound)
    was in no window, ever: the mirror never had it."""
    last_night = clock.now()
    loop = FakeLoop([make_return(1, last_night - timedelta(days=10), state="open")])
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    clock.advance(timedelta(days=100))
    late = make_return(2, last_night + timedelta(days=20), state="open")
    loop.put(late)
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    assert store.return_versions([late.id]) == {late.id: late.updated_at}
    (opened,) = [w for w in windows(loop.calls, "iter_returns") if w[0] == "open"][-1:]
    assert opened[1] <= last_night - timedelta(hours=SETTINGS.lookback_hours)


def test_an_unchanged_re_polled_return_does_not_re_read_its_order(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Open returns are re-read every night; their orders only when the return changed."""
    seen = clock.now() - timedelta(days=5)
    ret = make_return(1, seen, state="open")
    order = make_order(1, seen)
    loop = FakeLoop([ret])
    shopify = FakeShopify(orders=[order.model_copy(update={"id": ret.provider_order_id})])
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert ("iter_orders_by_id", [ret.provider_order_id]) in shopify.calls
    clock.advance(timedelta(days=1))
    shopify.calls.clear()
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert not [c for c in shopify.calls if c[0] == "iter_orders_by_id"]
    clock.advance(timedelta(days=1))
    closed_at = clock.now() - timedelta(hours=1)
    loop.put(ret.model_copy(update={"state": "closed", "updated_at": closed_at}))
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert ("iter_orders_by_id", [ret.provider_order_id]) in shopify.calls


def test_a_sync_whose_fence_refuses_keeps_nothing(store: SqlStore, clock: VirtualClock) -> None:
    """The nightly run checks its lease inside the sync's commit: a run that lost the lock
    writes no record and moves no watermark (the run that took over owns them)."""
    from sqlalchemy.orm import Session

    from recon.errors import LockError

    def lost(session: Session) -> None:
        raise LockError("run lease for shop sandbox was taken over; this run may not write")

    loop, shopify = sample_dataset(returns=5).fakes()
    with pytest.raises(LockError):
        run_sync(store, loop, shopify, clock, SETTINGS, fence=lost)
    assert store.count_rows("loop_returns") == 0
    assert store.get_watermark("shopify.payouts") is None
    run_sync(store, loop, shopify, clock, SETTINGS, fence=lambda session: None)
    assert store.count_rows("loop_returns") == 5
