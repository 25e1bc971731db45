"""Repeat sightings of a record a by-id read answered null for (a "not visible" entry) update
its one open entry (how many times, when last, by which run) instead of adding a row a
recheck; entries that reject a payload stay one row per time. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recon.clock import VirtualClock
from recon.models import (
    ORDER_NOT_VISIBLE,
    RETURN_DETAILS_FAILING,
    RETURN_DETAILS_UNREAD,
    Quarantined,
)
from recon.sources.shopify_unread import not_visible
from recon.store.sql import SqlStore
from tests.fakes import EPOCH


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH)


def gone(order_id: str) -> Quarantined:
    return not_visible("order", f"gid://shopify/Order/{order_id}", ORDER_NOT_VISIBLE)


def bad_amount(refund_id: str, amount: str) -> Quarantined:
    return Quarantined(
        source="shopify",
        kind="refund",
        record_id=refund_id,
        field="totalRefundedSet",
        reason="not a decimal",
        raw={"id": refund_id, "amount": amount},
    )


def test_a_recheck_answered_null_again_updates_the_open_entry(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Order 5001 answered null on day 0, and again on the rechecks of days 30 and 60: one
    open entry, seen 3 times, last on day 60 by run r3 (listed under r1 and r3)."""
    first = clock.now()
    for run in ("r1", "r2", "r3"):
        store.add_quarantined([gone("5001")], run)
        last = clock.now()
        clock.advance(timedelta(days=30))
    (entry,) = store.quarantine_entries(include_resolved=True)
    assert (entry.entry.record_id, entry.times) == ("5001", 3)
    assert (entry.quarantined_at, entry.last_seen_at) == (first, last)
    assert (entry.run_id, entry.last_run_id) == ("r1", "r3")
    assert [e.entry_id for e in store.quarantine_entries(run_id="r3")] == [entry.entry_id]
    assert store.load_snapshot().unreadable == {("order", "5001")}


def test_a_resolved_sighting_starts_a_new_entry_when_seen_again(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Order 5001 answered null, then shown (resolved), then null again: two entries, the
    first resolved with its history, the second open, each seen once."""
    store.add_quarantined([gone("5001")], "r1")
    clock.advance(timedelta(days=1))
    store.resolve_quarantined({("shopify", "order"): ["5001"]}, [])
    clock.advance(timedelta(days=1))
    store.add_quarantined([gone("5001")], "r2")
    history = store.quarantine_entries(include_resolved=True)
    assert [(e.resolved_at is None, e.times) for e in history] == [(False, 1), (True, 1)]


def test_entries_that_reject_a_payload_stay_one_row_per_time(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Refund 7001's amount could not be read two nights running, each night's payload kept:
    two rows. Orders 5001 and 5002 answered null the same nights: one row each."""
    for night, amount in enumerate(("abc", "x1")):
        store.add_quarantined([bad_amount("7001", amount), gone("5001"), gone("5002")], f"r{night}")
        clock.advance(timedelta(days=1))
    entries = store.quarantine_entries()
    refunds = [e for e in entries if e.entry.kind == "refund"]
    assert [e.entry.raw["amount"] for e in refunds] == ["abc", "x1"]
    assert [e.times for e in refunds] == [1, 1]
    orders = [(e.entry.record_id, e.times) for e in entries if e.entry.kind == "order"]
    assert orders == [("5001", 2), ("5002", 2)]


def unread_details(return_id: str, answer: str) -> Quarantined:
    """A return's Get Return Details unread: a 5xx or timeout (Loop failed to answer), else
    a 404; the reason names the answer, which differs from one failure to the next."""
    failing = not answer.startswith("HTTP 404")
    prefix = RETURN_DETAILS_FAILING if failing else RETURN_DETAILS_UNREAD
    return Quarantined(
        source="loop",
        kind="return",
        record_id=return_id,
        field="refunds",
        reason=f"{prefix}Loop's Get Return Details could not be read ({answer})",
        raw={"id": return_id},
    )


def test_a_return_whose_details_keep_failing_is_one_entry_per_kind_of_answer(
    store: SqlStore, clock: VirtualClock
) -> None:
    """Return 1001's details: 503, a timeout, 502 (Loop failing three nights), then a 404,
    then a 503 again. One entry counts the failures (4, last seen on the fifth night), one the
    404: which kind of answer came last sets the pace of the re-asks, so the two stay apart."""
    for night, answer in enumerate(("HTTP 503", "timed out", "HTTP 502", "HTTP 404", "HTTP 503")):
        store.add_quarantined([unread_details("1001", answer)], f"r{night}")
        last = clock.now()
        clock.advance(timedelta(days=1))
    entries = store.quarantine_entries()
    kinds = [(e.entry.reason.startswith(RETURN_DETAILS_FAILING), e.times) for e in entries]
    assert kinds == [(True, 4), (False, 1)]
    assert (entries[0].last_seen_at, entries[0].last_run_id) == (last, "r4")
    assert "HTTP 503" in entries[0].entry.reason  # the first failure's words are kept
