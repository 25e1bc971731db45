"""Quarantine entries across nights: resolved by a later clean read, kept as history, and
holding recon's writes on an order while a refund of it is still unreadable."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal

import pytest

from recon.clock import VirtualClock
from recon.config import RemediationSettings, SyncSettings
from recon.models import (
    Category,
    Finding,
    Owner,
    Quarantined,
    RefundRecord,
    Severity,
)
from recon.remediation.planner import Disposition, plan_actions
from recon.remediation.runner import contexts_for
from recon.store.snapshot import Snapshot
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, make_order, make_refund, make_return

SETTINGS = SyncSettings(lookback_hours=72, initial_days=60)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=30))


def bad_return(record_id: str = "1001", field_name: str = "total") -> Quarantined:
    return Quarantined(
        source="loop",
        kind="return",
        record_id=record_id,
        field=field_name,
        reason="expected a decimal amount, got 'abc'",
        raw={"id": int(record_id), "total": "abc"},
    )


def test_a_record_read_cleanly_later_resolves_its_entry_and_keeps_the_history(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Night 1: return 1001 has a bad total. Night 2: the merchant fixed it in Loop and recon
    reads and stores it: its entry is resolved with that night's time, and the bad payload
    stays for review. Another record still broken stays open."""
    loop = FakeLoop(
        quarantined=[
            (clock.now() - timedelta(hours=5), bad_return("1001")),
            (clock.now() - timedelta(hours=5), bad_return("1002")),
        ]
    )
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    assert {e.entry.record_id for e in store.quarantine_entries()} == {"1001", "1002"}

    clock.advance(timedelta(days=1))
    fixed_at = clock.now()
    loop.quarantined = [(clock.now() - timedelta(hours=2), bad_return("1002"))]
    loop.put(make_return(1, clock.now() - timedelta(hours=2), state="open"))
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)

    still_open = store.quarantine_entries()
    assert [e.entry.record_id for e in still_open] == ["1002", "1002"]
    assert all(e.resolved_at is None for e in still_open)
    history = store.quarantine_entries(include_resolved=True)
    (resolved,) = [e for e in history if e.entry.record_id == "1001"]
    assert resolved.resolved_at == fixed_at
    assert resolved.entry.raw == {"id": 1001, "total": "abc"}  # the bad record, kept


def test_an_entry_stays_open_while_the_record_is_still_quarantined(
    store: SqlStore, clock: VirtualClock
) -> None:
    """A copy of the return read cleanly and one quarantined in the same night (a state change
    between two state streams) is not "readable now": nothing is resolved."""
    loop = FakeLoop(quarantined=[(clock.now() - timedelta(hours=5), bad_return("1001"))])
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    clock.advance(timedelta(days=1))
    loop.quarantined = [(clock.now() - timedelta(hours=1), bad_return("1001"))]
    loop.put(make_return(1, clock.now() - timedelta(hours=1), state="closed"))
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    entries = store.quarantine_entries(include_resolved=True)
    assert len(entries) == 2 and all(e.resolved_at is None for e in entries)


def test_a_cleaning_note_resolves_when_the_field_reads_clean(
    store: SqlStore, clock: VirtualClock
) -> None:
    """A record kept after cleaning its note is stored with a note entry: the entry stays open
    while the next read still cleans that field, and resolves once it reads clean."""
    note = Quarantined(
        source="loop",
        kind="return",
        record_id="1001",
        field="note",
        reason="kept after cleaning: control characters removed",
    )
    ret = make_return(1, clock.now() - timedelta(hours=5), state="open")
    loop = FakeLoop([ret], quarantined=[(ret.updated_at, note)])
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    clock.advance(timedelta(days=1))
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)  # re-read, still cleaned
    assert [e.resolved_at for e in store.quarantine_entries()] == [None, None]
    clock.advance(timedelta(days=1))
    loop.quarantined = []
    run_sync(store, loop, FakeShopify(), clock, SETTINGS)
    assert store.quarantine_entries() == []
    history = store.quarantine_entries(include_resolved=True)
    assert [e.resolved_at for e in history] == [clock.now(), clock.now()]


@dataclass
class FlakyShopify(FakeShopify):
    """FakeShopify whose refunds in ``unreadable`` come back quarantined (a bad field)."""

    unreadable: set[str] = field(default_factory=set)

    def iter_refunds_by_id(self, ids: Sequence[str]) -> Iterator[RefundRecord | Quarantined]:
        for item in super().iter_refunds_by_id(ids):
            if item.id in self.unreadable:
                yield Quarantined(
                    source="shopify",
                    kind="refund",
                    record_id=item.id,
                    field="transactions[0].amountSet.presentmentMoney.amount",
                    reason="expected a decimal amount, got 'NaN'",
                    raw={"id": f"gid://shopify/Refund/{item.id}"},
                )
            else:
                yield item


def missing_refund() -> Finding:
    return Finding(
        key="MISSING_REFUND|rma=1001",
        category=Category.MISSING_REFUND,
        severity=Severity.HIGH,
        owner=Owner.FINANCE,
        rma="1001",
        shopify_order_id="5001",
    )


def planned_refund(store: SqlStore) -> tuple[Disposition, str]:
    policy = RemediationSettings(mode="apply", auto_apply=["MISSING_REFUND"])
    contexts = contexts_for(store.load_snapshot())
    plan = plan_actions([missing_refund()], policy, contexts, shop="sandbox")
    (action,) = [a for a in plan.actions if a.kind == "refund"]
    return action.disposition, action.reason


def test_a_refund_quarantined_after_it_was_mirrored_holds_until_it_reads_clean(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Night 1 mirrors refund 7001 (staff's, on order 5001). Night 2 it cannot be read (a bad
    transaction amount): the mirror still has night 1's copy, but what Shopify holds now is
    unknown, so recon's refund for RMA 1001 waits for review. Night 3 reads it clean: the
    entry is resolved and the hold released."""
    at = clock.now() - timedelta(hours=6)
    staff = make_refund(1, at, Decimal("5.00"), note="goodwill")
    loop = FakeLoop([make_return(1, at, state="open")])
    shopify = FlakyShopify(orders=[make_order(1, at, (staff.id,))], refunds=[staff])
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert planned_refund(store)[0] is Disposition.AUTO

    clock.advance(timedelta(days=1))
    shopify.unreadable = {staff.id}
    shopify.put(make_order(1, clock.now() - timedelta(hours=1), (staff.id,)))
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert [r.id for r in store.load_snapshot().refunds] == [staff.id]  # night 1's copy
    disposition, reason = planned_refund(store)
    assert disposition is Disposition.REVIEW
    assert f"could not read: {staff.id}" in reason

    clock.advance(timedelta(days=1))
    shopify.unreadable = set()
    shopify.put(make_order(1, clock.now() - timedelta(hours=1), (staff.id,)))
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert store.quarantine_entries() == []
    assert planned_refund(store)[0] is Disposition.AUTO


def test_an_entry_of_a_refund_not_read_again_keeps_holding(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Resolution needs a clean read: a night that does not read the refund at all (its order
    did not change) resolves nothing, and the hold stays."""
    at = clock.now() - timedelta(hours=6)
    staff = make_refund(1, at, Decimal("5.00"), note="goodwill")
    loop = FakeLoop([make_return(1, at, state="open")])
    shopify = FlakyShopify(orders=[make_order(1, at, (staff.id,))], refunds=[staff])
    run_sync(store, loop, shopify, clock, SETTINGS)
    clock.advance(timedelta(days=1))
    shopify.unreadable = {staff.id}
    shopify.put(make_order(1, clock.now() - timedelta(hours=1), (staff.id,)))
    run_sync(store, loop, shopify, clock, SETTINGS)
    clock.advance(timedelta(days=4))  # swept again within the look-back: still unreadable
    run_sync(store, loop, shopify, clock, SETTINGS)
    clock.advance(timedelta(days=1))  # now past the look-back: the order is not swept again
    shopify.unreadable = set()
    shopify.calls.clear()
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert not [c for c in shopify.calls if c[0] == "iter_refunds_by_id"]
    assert [e.entry.record_id for e in store.quarantine_entries()] == [staff.id, staff.id]
    assert planned_refund(store)[0] is Disposition.REVIEW


def test_an_order_quarantined_after_it_was_mirrored_gets_no_write_until_it_reads_clean() -> None:
    """An order recon mirrored once and then could not read (its refunds past what
    ``Order.refunds`` lists, say) may carry refunds the mirror's older copy does not: recon's
    refund and restock of its returns wait, as for a refund it could not read."""
    at = EPOCH + timedelta(days=3)
    snapshot = Snapshot(
        returns=(make_return(1, at),),
        orders=(make_order(1, at),),
        unreadable=frozenset({("order", "5001")}),
    )
    policy = RemediationSettings(mode="apply", auto_apply=["MISSING_REFUND"])
    plan = plan_actions([missing_refund()], policy, contexts_for(snapshot), shop="sandbox")
    (held,) = [a for a in plan.actions if a.kind == "refund"]
    assert held.disposition is Disposition.REVIEW and "5001 could not be read" in held.reason
    clean = plan_actions(
        [missing_refund()], policy, contexts_for(replace(snapshot, unreadable=frozenset())),
        shop="sandbox",
    )  # fmt: skip
    assert [a.disposition for a in clean.actions if a.kind == "refund"] == [Disposition.AUTO]
