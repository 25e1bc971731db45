"""Records Shopify returned but recon could read only in part (a page of lines or transactions
that could not be followed): asked again by the next nightly run even when nothing else asks
for them, so a one-off glitch settles the next night and releases the writes it held; one that
keeps failing is then asked only every ``not_visible_recheck_days``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.remediation.runner import contexts_for
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, make_order, make_refund, make_return

SETTINGS = SyncSettings(lookback_hours=72, initial_days=60, not_visible_recheck_days=7)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=30))


def asked(shopify: FakeShopify, call: str = "iter_orders_by_id") -> list[str]:
    return [i for c in shopify.calls if c[0] == call for i in c[1]]  # type: ignore[attr-defined]


def night(store: SqlStore, loop: FakeLoop, shopify: FakeShopify, clock: VirtualClock) -> None:
    clock.advance(timedelta(days=1))
    shopify.calls.clear()
    run_sync(store, loop, shopify, clock, SETTINGS)


def open_entries(store: SqlStore) -> list[tuple[str, str | None]]:
    return sorted((e.entry.kind, e.entry.record_id) for e in store.quarantine_entries())


def mirrored_then_read_in_part(
    store: SqlStore, clock: VirtualClock, *, refund: bool = False
) -> tuple[FakeLoop, FakeShopify]:
    """Return 1001 and its order 5001 (with refund 7001 when ``refund``) mirrored cleanly;
    then the return changes, so the order is read by id, and that one read comes back in part
    (the order's lines, or the refund's transactions): quarantined over the older copy."""
    seen = clock.now() - timedelta(hours=1)
    loop = FakeLoop([make_return(1, seen)])
    refunds = [make_refund(1, seen, make_return(1, seen).refund)] if refund else []
    # A restock-only refund: the order stays "paid", so the refunded-orders sweep never sees it.
    order = make_order(1, seen, tuple(r.id for r in refunds)).model_copy(
        update={"financial_status": "paid"}
    )
    shopify = FakeShopify(orders=[order], refunds=refunds)
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert open_entries(store) == []

    if refund:
        shopify.refunds_read_in_part.add("7001")
    else:
        shopify.read_in_part.add("5001")
    loop.put(make_return(1, clock.now() + timedelta(hours=1)))  # the return changed: asked
    night(store, loop, shopify, clock)
    assert asked(shopify) == ["5001"]
    return loop, shopify


def held(store: SqlStore) -> bool:
    """Whether recon's refund and restock of return 1001 wait on an unreadable record."""
    context = contexts_for(store.load_snapshot())["1001"]
    return context.order_unreadable or context.refund_ids != tuple(context.order.refund_ids)


def test_an_order_read_in_part_once_is_asked_again_and_its_writes_released(
    store: SqlStore, clock: VirtualClock
) -> None:
    """The glitch was one-off; nothing else about order 5001 changes. The next night asks for
    it again all the same: the clean read resolves its entry and recon may write to it."""
    loop, shopify = mirrored_then_read_in_part(store, clock)
    assert open_entries(store) == [("order", "5001")]
    assert held(store)

    shopify.read_in_part.clear()
    night(store, loop, shopify, clock)
    assert asked(shopify) == ["5001"]
    assert open_entries(store) == []
    assert not held(store)
    night(store, loop, shopify, clock)
    assert asked(shopify) == []  # settled: not asked again


def test_a_refund_read_in_part_once_is_asked_again_and_its_writes_released(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Refund 7001's transactions could not be paged once (its order read whole): the next
    night asks for the refund again by id, the clean read resolves it, the hold lifts."""
    loop, shopify = mirrored_then_read_in_part(store, clock, refund=True)
    assert open_entries(store) == [("refund", "7001")]
    assert held(store)

    shopify.refunds_read_in_part.clear()
    night(store, loop, shopify, clock)
    assert asked(shopify, "iter_refunds_by_id") == ["7001"]
    assert open_entries(store) == []
    assert not held(store)
    night(store, loop, shopify, clock)
    assert asked(shopify, "iter_refunds_by_id") == []


@pytest.mark.parametrize("refund", [False, True], ids=["order", "refund"])
def test_a_record_that_keeps_failing_is_asked_again_only_every_recheck_days(
    store: SqlStore, clock: VirtualClock, refund: bool
) -> None:
    """The read keeps coming back in part (an order past what Shopify lets recon read, say):
    asked the next night, it fails again, and from then on it is asked only every
    ``not_visible_recheck_days`` (7 here), so the quarantine gains no entry and Shopify no
    call a night; each of those asks can still settle it."""
    call = "iter_refunds_by_id" if refund else "iter_orders_by_id"
    loop, shopify = mirrored_then_read_in_part(store, clock, refund=refund)
    night(store, loop, shopify, clock)  # the next night: asked, read in part again
    assert "7001" in asked(shopify, call) if refund else asked(shopify) == ["5001"]
    entries = len(store.quarantine_entries())
    assert entries == 2

    for _ in range(6):
        night(store, loop, shopify, clock)
        assert asked(shopify, call) == []
        assert len(store.quarantine_entries()) == entries
    night(store, loop, shopify, clock)  # 7 days after the last ask
    assert asked(shopify, call) == (["7001"] if refund else ["5001"])
    assert len(store.quarantine_entries()) == entries + 1

    shopify.read_in_part.clear()
    shopify.refunds_read_in_part.clear()
    for _ in range(6):
        night(store, loop, shopify, clock)
    assert open_entries(store) != []  # not asked within the 7 days
    night(store, loop, shopify, clock)
    assert open_entries(store) == []
    assert not held(store)


def test_a_slow_night_does_not_put_the_recheck_off_by_a_night(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Runs start at the same time each night (cron), but an entry is stamped when its sync
    commits, here two hours after the run began. Asked on day 0 and failing again, the record
    is due ``not_visible_recheck_days`` (7) nights later, not 8."""
    loop, shopify = mirrored_then_read_in_part(store, clock)
    slow = timedelta(hours=2)
    read = shopify.iter_orders_by_id

    def slow_read(ids):  # type: ignore[no-untyped-def]
        clock.advance(slow)  # the sync is still reading when the entry's time is taken
        yield from read(ids)

    shopify.iter_orders_by_id = slow_read  # type: ignore[method-assign]
    start = clock.now() + timedelta(days=1)
    nights: list[int] = []
    for n in range(1, 10):
        clock.advance(start + timedelta(days=n - 1) - clock.now())  # cron: same time each night
        shopify.calls.clear()
        run_sync(store, loop, shopify, clock, SETTINGS)
        if asked(shopify):
            nights.append(n)
    assert nights == [1, 8]  # asked the next night, fails again; then 7 nights after that
