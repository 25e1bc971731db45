"""Which Loop returns whose Get Return Details could not be read are asked again tonight
(``SqlStore.returns_details_due``): at most a cap a run, those asked longest ago first, so a
backlog is worked through over a few nights and none waits for ever behind the others.

Each dataset: mirrored closed returns, each with open ``refund link unknown`` entries written
on the nights named; the query runs on the night after the last of them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recon.clock import VirtualClock
from recon.models import RETURN_DETAILS_FAILING, RETURN_DETAILS_UNREAD, Quarantined
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


@pytest.mark.parametrize(
    ("reasons", "due"),
    [
        # A 404 twice running: paced, not due the next night.
        (("HTTP 404", "HTTP 404"), False),
        # Loop failing (5xx) twice running: asked every night while the entry is open.
        (("HTTP 503", "HTTP 503"), True),
        (("HTTP 404", "HTTP 503"), True),
        # The last answer is what counts: a 503, then a 404, is paced as a 404.
        (("HTTP 503", "HTTP 404"), False),
    ],
)
def test_a_return_loop_failed_to_answer_is_due_every_night_a_404_is_paced(
    store: SqlStore, clock: VirtualClock, reasons: tuple[str, str], due: bool
) -> None:
    """One return whose details failed on two nights running, as the entry's reason says
    (``RETURN_DETAILS_FAILING`` for a server error); the query runs the night after."""
    store.upsert_returns([make_return(1, clock.now())])
    for answer in reasons:
        prefix = RETURN_DETAILS_FAILING if answer.startswith("HTTP 5") else RETURN_DETAILS_UNREAD
        entry = Quarantined(
            source="loop",
            kind="return",
            record_id="1001",
            field="refunds",
            reason=f"{prefix}Loop's Get Return Details could not be read ({answer})",
        )
        store.add_quarantined([entry], run_id=f"run-{clock.now():%j}")
        clock.advance(timedelta(days=1))
    found = store.returns_details_due(clock.now() - timedelta(days=30))
    assert [r.id for r in found] == (["1001"] if due else [])
