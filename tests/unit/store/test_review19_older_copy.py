"""Review 19: a Loop return read without ``updated_at`` is not an older copy.

The store skips a copy whose ``updated_at`` is before the mirrored one's (``_not_older``), and
the README says a record without one is mirrored as the later read. But the Loop parser fills
a missing ``updated_at`` with ``created_at`` (``loop_parse._build``, for the 2020 webhook
shape): such a copy then always reads as older than any mirrored copy, since a return's
``updated_at`` is never before its creation, and it is never written. Every later change to
the return (closed, refunded) is kept out of the mirror for as long as Loop sends it so.

Dataset: Loop return 12345701 (reference example ``return-closed-refund.json``), mirrored open
as of 2024-03-02; the next read lists it closed with its refund, its ``updated_at`` null.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from recon.clock import VirtualClock
from recon.models import LoopReturnRecord
from recon.sources.loop_parse import parse_return_items
from recon.store.sql import SqlStore

EXAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "examples" / "loop"
EXAMPLE = EXAMPLES / "return-closed-refund.json"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2024, 3, 6, tzinfo=UTC))


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return {**item, **changes}


def _parsed(item: dict[str, Any]) -> LoopReturnRecord:
    (record,) = parse_return_items(item)
    assert isinstance(record, LoopReturnRecord)
    return record


def test_a_return_listed_without_updated_at_is_written_not_skipped_as_older(
    store: SqlStore,
) -> None:
    """The closed copy carries no ``updated_at``: nothing says it is older than the mirror's
    open copy, so it is written as the later read (README, look-back and clock skew). It was
    judged older by its ``created_at`` and dropped: the mirror kept the return open, so no
    MISSING_REFUND could be raised for it however long its refund stayed missing."""
    opened = _item(state="open", updated_at="2024-03-02T09:00:00.000Z", was_processed=False)
    store.upsert_returns([_parsed(opened)])
    closed = _parsed(_item(updated_at=None))
    assert closed.state == "closed"
    assert store.upsert_returns([closed]) == 1
    (mirrored,) = store.load_snapshot().returns
    assert mirrored.state == "closed"
