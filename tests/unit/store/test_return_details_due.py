"""Which Loop returns whose Get Return Details could not be read are asked again tonight
(``SqlStore.returns_details_due``): at most a cap a run, those asked longest ago first, so a
backlog is worked through over a few nights and none waits for ever behind the others.

Each dataset: mirrored closed returns, each with open ``refund link unknown`` entries written
on the nights named; the query runs on the night after the last of them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recon.clock import VirtualClock
from recon.models import RETURN_DETAILS_UNREAD, Quarantined
from recon.store.sql import SqlStore
from tests.fakes import EPOCH, make_return


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(EPOCH + timedelta(days=30))


def _unread(store: SqlStore, clock: VirtualClock, return_id: str) -> None:
    """One failed ask of ``return_id``'s details, stamped at the clock's now."""
    entry = Quarantined(
        source="loop",
        kind="return",
        record_id=return_id,
        field="refunds",
        reason=f"{RETURN_DETAILS_UNREAD}Loop's Get Return Details answered HTTP 503",
    )
    store.add_quarantined([entry], run_id=f"run-{clock.now():%j}")


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, ["1003", "1001", "1002"]),  # all due, the one asked longest ago first
        (2, ["1003", "1001"]),  # the cap: the one asked last night waits
        (1, ["1003"]),
    ],
)
def test_due_returns_are_capped_those_asked_longest_ago_first(
    store: SqlStore, clock: VirtualClock, limit: int | None, expected: list[str]
) -> None:
    """1003 failed once, three nights ago; 1001 once, two nights ago; 1002 once, last night
    (each a first failure: due). Ordered by their last ask, not by id."""
    store.upsert_returns([make_return(i, clock.now()) for i in (1, 2, 3)])
    for return_id in ("1003", "1001", "1002"):
        _unread(store, clock, return_id)
        clock.advance(timedelta(days=1))
    due = store.returns_details_due(clock.now() - timedelta(days=30), limit)
    assert [r.id for r in due] == expected
