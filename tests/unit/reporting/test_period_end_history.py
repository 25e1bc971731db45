"""``at_period_end`` over a finding's history: its status, acknowledgement and first-seen at
the end of October (as_of Nov 1), one row per history.

Each row is a history (status and time of each event; ``True``: the upgrade's event, the state
stored then, first seen Oct 2, acknowledged undated by "cli:now" if it was, as an older version
stored it) and the finding as stored now (``open``, first seen Oct 25, or acknowledged by
"cli:now" undated, first seen Oct 2), with the status, first-seen and who acknowledged it that
the book shows. Times are days of 2026 (month, day).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from recon.models import (
    Category,
    EventOrigin,
    Finding,
    FindingEvent,
    FindingStatus,
    Owner,
    Severity,
)
from recon.period_end import at_period_end

S = FindingStatus
PERIOD = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
AS_OF = PERIOD[1]


def d(month: int, day: int) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


def _event(
    status: FindingStatus, at: datetime, first: datetime, upgrade: bool = False
) -> FindingEvent:
    acked = status is S.ACKNOWLEDGED
    return FindingEvent(
        key="K", at=at, status=status, first_seen=first, amount_at_risk=Decimal("1"),
        origin=EventOrigin.UPGRADE if upgrade else (EventOrigin.ACK if acked else EventOrigin.RUN),
        acknowledged_by=("cli:now" if upgrade else "cli:bob") if acked else None,
        acknowledged_at=at if acked and not upgrade else None,
    )  # fmt: skip


FINDING = Finding(key="K", category=Category.MISSING_REFUND, severity=Severity.HIGH,
                  owner=Owner.FINANCE)  # fmt: skip
STORED = FINDING.model_copy(update={"status": S.OPEN, "first_seen": d(10, 25)})
ACKED_UNDATED = FINDING.model_copy(
    update={"status": S.ACKNOWLEDGED, "first_seen": d(10, 2), "acknowledged_by": "cli:now"}
)

TABLE = [
    # (history, stored, expected status, first seen, acknowledged by)
    ([(S.NEW, d(9, 20))], STORED, S.OPEN, d(9, 20), None),  # carried over from September
    ([(S.NEW, d(10, 3))], STORED, S.NEW, d(10, 3), None),
    ([(S.NEW, d(10, 3)), (S.ACKNOWLEDGED, d(10, 22)), (S.OPEN, d(11, 3))], STORED,
     S.ACKNOWLEDGED, d(10, 3), "cli:bob"),  # reopened since: acknowledged at the end
    ([(S.NEW, d(10, 3)), (S.ACKNOWLEDGED, d(11, 2))], STORED, S.NEW, d(10, 3), None),
    ([(S.NEW, d(9, 20)), (S.RESOLVED, d(10, 5)), (S.NEW, d(10, 25))], STORED,
     S.NEW, d(10, 25), None),  # the episode open at the end
    ([(S.NEW, d(9, 20)), (S.RESOLVED, d(10, 5)), (S.NEW, d(11, 5))], STORED,
     S.OPEN, AS_OF, None),  # resolved at the end: first seen by the book
    ([(S.NEW, d(11, 5))], STORED, S.OPEN, d(11, 5), None),  # first recorded after the end
    ([(S.ACKNOWLEDGED, d(11, 4), True)], ACKED_UNDATED,
     S.ACKNOWLEDGED, d(10, 2), "cli:now"),  # history began after the end: as upgraded
    ([(S.ACKNOWLEDGED, d(11, 4), True), (S.OPEN, d(11, 6))], STORED,
     S.ACKNOWLEDGED, d(10, 2), "cli:now"),  # reopened since the upgrade: as upgraded
    ([(S.OPEN, d(11, 4), True)], STORED, S.NEW, d(10, 2), None),  # a later episode stored
    ([(S.OPEN, d(10, 23), True), (S.ACKNOWLEDGED, d(11, 2))], STORED,
     S.NEW, d(10, 2), None),  # from the upgrade's state (first seen as stored then)
]  # fmt: skip


@pytest.mark.parametrize(("history", "stored", "status", "first", "by"), TABLE)
def test_the_finding_as_it_stood_at_the_end(
    history: list[tuple[object, ...]],
    stored: Finding,
    status: FindingStatus,
    first: datetime,
    by: str | None,
) -> None:
    events = [
        _event(s, at, _first_of(history, i), *rest)  # type: ignore[arg-type]
        for i, (s, at, *rest) in enumerate(history)
    ]
    got = at_period_end(FINDING, stored, PERIOD, AS_OF, events)
    assert (got.status, got.first_seen, got.acknowledged_by) == (status, first, by)


def _first_of(history: list[tuple[object, ...]], i: int) -> datetime:
    """The first-seen of event ``i``'s episode: the last ``new`` at or before it (Oct 2 for
    the upgrade's: the stored first-seen then)."""
    news = [at for s, at, *_ in history[: i + 1] if s is S.NEW]
    return news[-1] if news else d(10, 2)  # type: ignore[return-value]
