"""Two copies of one record in one write: the mirror keeps the one Shopify or Loop changed last.

A night's batch can hold a record twice: read on two pages of one list (it changed while the
list was paged), or by two streams (the refunded-orders sweep and the by-id read, a Loop return
in two states' lists). The store kept the copy given last, whatever its ``updated_at``: a
stale copy read after a fresher one (a list served from an index that lags, as search
listings do) overwrote it, and the mirror showed the record as it was before its change. Now
the later ``updated_at`` wins, and on a tie (or where the record has no ``updated_at``) the
copy given last, the later read. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from recon.clock import VirtualClock
from recon.store.sql import SqlStore
from tests.fakes import EPOCH, make_order, make_refund, make_return

LATER = EPOCH + timedelta(hours=5)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH)


def test_an_order_keeps_its_later_copy_whichever_was_read_last(store: SqlStore) -> None:
    older = make_order(1, EPOCH, refund_ids=("7001",))
    newer = make_order(1, LATER, refund_ids=("7001", "7002"))
    store.upsert_orders([newer, older])
    (kept,) = store.load_snapshot().orders
    assert kept.updated_at == LATER
    assert kept.refund_ids == ("7001", "7002")


def test_a_return_keeps_its_later_copy_whichever_was_read_last(store: SqlStore) -> None:
    newer = make_return(1, LATER, state="closed")
    older = make_return(1, EPOCH, state="open")
    store.upsert_returns([newer, older])
    (kept,) = store.load_snapshot().returns
    assert (kept.state, kept.updated_at) == ("closed", LATER)


def test_copies_with_the_same_time_keep_the_last_read(store: SqlStore) -> None:
    first = make_order(1, EPOCH)
    last = first.model_copy(update={"tags": ("returned",)})
    store.upsert_orders([first, last])
    assert store.load_snapshot().orders[0].tags == ("returned",)
    # A refund has no updated_at: the copy given last is the later read.
    store.upsert_refunds(
        [make_refund(1, EPOCH, Decimal("5.00")), make_refund(1, EPOCH, Decimal("9.00"))]
    )
    assert store.load_snapshot().refunds[0].total == Decimal("9.00")
