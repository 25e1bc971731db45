"""An older copy that the mirror does not take does not settle the record's open entry either.

An open quarantine entry holds a record's writes until a sync reads the record cleanly (its
refund list was read in part, say). A copy older than the mirrored one (a lagging search page,
a backfill re-reading a window after the nightly) is not written, and says nothing of the
version that could not be read: it resolved the entry all the same, releasing refunds and
restocks on an order whose refunds recon had not read whole. Now only a copy the mirror takes
(as new as the mirrored one, or newer) resolves the record's entries.

Dataset (fakes): order 5001 and Loop return 1001 mirrored at ``LATER``, each with an open
entry; tonight's batch holds a copy of each from ``EPOCH`` (older), or from ``NEWER``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from recon.clock import VirtualClock
from recon.fetch import Batch
from recon.models import ORDER_NOT_VISIBLE, Quarantined
from recon.store.sql import SqlStore
from recon.sync import commit_batch
from tests.fakes import EPOCH, make_order, make_return

LATER = EPOCH + timedelta(hours=5)
NEWER = LATER + timedelta(hours=1)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NEWER + timedelta(hours=1))


def _held(store: SqlStore) -> list[tuple[str, str | None]]:
    return sorted((e.entry.kind, e.entry.record_id) for e in store.quarantine_entries())


def _mirror_with_entries(store: SqlStore) -> None:
    store.upsert_orders([make_order(1, LATER, ("7001",))])
    store.upsert_returns([make_return(1, LATER)])
    entries = [
        Quarantined(
            source="shopify",
            kind="order",
            record_id="5001",
            field="refunds",
            reason="order has at least 20 refunds: some refunds are missing",
            raw={"id": "gid://shopify/Order/5001"},
        ),
        Quarantined(
            source="loop",
            kind="return",
            record_id="1001",
            field="state",
            reason="state: not a string",
            raw={"id": 1001},
        ),
    ]
    store.add_quarantined(entries, None)
    assert _held(store) == [("order", "5001"), ("return", "1001")]


@pytest.mark.parametrize(
    ("at", "held"),
    [
        (EPOCH, [("order", "5001"), ("return", "1001")]),  # older: not taken, nothing settled
        (LATER, []),  # the mirrored version read again, cleanly
        (NEWER, []),
    ],
    ids=["older", "same", "newer"],
)
def test_only_a_copy_the_mirror_takes_resolves_the_records_entries(
    store: SqlStore, at: datetime, held: list[tuple[str, str]]
) -> None:
    _mirror_with_entries(store)
    batch = Batch(returns=[make_return(1, at)], orders=[make_order(1, at, ("7001",))])
    commit_batch(store, batch, None)
    assert _held(store) == held


def test_an_older_copy_of_an_order_marked_not_visible_settles_its_visibility(
    store: SqlStore,
) -> None:
    """Shopify listed the order, whichever copy: its mark and its "not visible" entry go."""
    store.upsert_orders([make_order(1, LATER)])
    store.mark_orders_not_visible(["5001"])
    gone = Quarantined(
        source="shopify",
        kind="order",
        record_id="5001",
        field="$",
        reason=ORDER_NOT_VISIBLE,
        raw={"id": "gid://shopify/Order/5001"},
    )
    store.add_quarantined([gone], None)
    commit_batch(store, Batch(orders=[make_order(1, EPOCH)]), None)
    assert store.orders_not_visible() == []
    assert _held(store) == []
    assert store.load_snapshot().orders[0].updated_at == LATER
