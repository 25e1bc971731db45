"""Loop returns whose Get Return Details could not be read (an open ``refund link unknown``
entry) are asked again by id only when tonight's list does not name them: a return the
look-back lists again had its details asked there already, and asking twice would cost a
second call (the wire behaviour, 404 and 5xx, is in tests/integration/test_loop_details_unread)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.models import RETURN_DETAILS_UNREAD, LoopReturnRecord, Quarantined
from recon.store.sql import SqlStore
from recon.sync import run_sync
from tests.fakes import EPOCH, FakeLoop, FakeShopify, make_order, make_return

SETTINGS = SyncSettings(lookback_hours=72, initial_days=60, not_visible_recheck_days=7)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=30))


def _details_failed(seen: datetime, status: int) -> tuple[LoopReturnRecord, FakeLoop, FakeShopify]:
    """Return 1001 (refunded by Loop, updated at ``seen``) listed without its refund link,
    its Get Return Details having answered ``status``: the return as the details would link
    it, and the fakes of that night (the list read's entry for the failed details)."""
    linked = make_return(1, seen)
    unlinked = linked.model_copy(update={"refunds": ()})
    entry = Quarantined(
        source="loop",
        kind="return",
        record_id=unlinked.id,
        field="refunds",
        reason=f"{RETURN_DETAILS_UNREAD}Get Return Details answered HTTP {status}",
    )
    loop = FakeLoop([unlinked], quarantined=[(seen, entry)])
    return linked, loop, FakeShopify(orders=[make_order(1, seen, ())])


def test_a_return_the_list_names_tonight_is_not_asked_by_id_as_well(
    store: SqlStore, clock: VirtualClock
) -> None:
    seen = clock.now() - timedelta(hours=1)
    linked, loop, shopify = _details_failed(seen, 503)
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert [e.entry.record_id for e in store.quarantine_entries()] == ["1001"]

    # Night 2: due (a first failure), but the look-back lists it again, and asks there.
    clock.advance(timedelta(days=1))
    loop.calls.clear()
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert [c for c in loop.calls if c[0] == "iter_details"] == []

    # Night 3: the details answer in the list read; nothing is left to ask.
    loop.quarantined.clear()
    loop.put(linked)
    clock.advance(timedelta(days=1))
    loop.calls.clear()
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert [c for c in loop.calls if c[0] == "iter_details"] == []
    assert store.quarantine_entries() == []
    assert store.returns_details_due(clock.now()) == []


def test_a_return_the_list_no_longer_names_is_asked_by_id_and_linked(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Updated five days before the first night: the next night's look-back does not list it,
    so its details are asked by id (``iter_details``), and Loop's refund links it."""
    seen = clock.now() - timedelta(days=5)
    linked, loop, shopify = _details_failed(seen, 404)
    run_sync(store, loop, shopify, clock, SETTINGS)
    loop.put(linked)  # Loop's details now answer with its refund

    clock.advance(timedelta(days=1))
    loop.calls.clear()
    run_sync(store, loop, shopify, clock, SETTINGS)
    assert [c for c in loop.calls if c[0] == "iter_details"] == [("iter_details", ["1001"])]
    (mirrored,) = store.load_snapshot().returns
    assert mirrored.refunds == linked.refunds
    assert store.quarantine_entries() == []
