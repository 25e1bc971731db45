"""Loop's list query as data: its windows, the UTC bounds, a page's parts, its page-edge second.

``LoopClient`` (``recon.sources.loop``) sends the requests; these are the pure rules it follows
(loop-returns-api.md §6): windows of at most 120 days that overlap, bounds in UTC with a ``Z``
(trap 6), both bounds always (trap 1), a page's ``returns`` and ``nextPageUrl``, whether a
cursor breaks ties on the page edge (trap 4), and the UTC offsets a server reading the bounds
in the shop's zone could be off by.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from recon.errors import FatalHTTPError
from recon.models import LoopReturnRecord, Quarantined
from recon.sources.parsing import BadFieldError, opt_time

LoopItem = LoopReturnRecord | Quarantined

MAX_WINDOW_DAYS = 120
WINDOW_OVERLAP = timedelta(minutes=10)
# Every UTC offset in use (hours), for a server that reads from/to in the shop's zone (trap 6).
ZONE_SHIFTS = tuple(
    timedelta(minutes=round(hours * 60))
    for hours in (
        *(-12, -11, -10, -9.5, -9, -8, -7, -6, -5, -4, -3.5, -3, -2.5, -2, -1),
        *(1, 2, 3, 3.5, 4, 4.5, 5, 5.5, 5.75, 6, 6.5, 7, 8, 8.75, 9, 9.5, 10, 10.5, 11, 12),
        *(12.75, 13, 13.75, 14),
    )
)

FURTHEST_ZONE = max(abs(shift) for shift in ZONE_SHIFTS)


def split_windows(
    start: datetime, end: datetime, *, days: int, overlap: timedelta = WINDOW_OVERLAP
) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into windows of at most ``days``, each after the first starting early.

    Raises:
        ValueError: if ``days`` is outside 1..120 or the overlap is not shorter than a window.
    """
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be 1..{MAX_WINDOW_DAYS}, got {days}")
    span = timedelta(days=days)
    if overlap >= span:
        raise ValueError("the window overlap must be shorter than a window")
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        window_end = min(cursor + span, end)
        windows.append((cursor, window_end))
        if window_end >= end:
            break
        # Overlap: a row updated exactly at a window boundary belongs to both windows under either
        # reading of inclusive/exclusive bounds, and Loop's zone handling of from/to is unknown
        # (§6 trap 6); duplicates are dropped by id. Rows skipped at a page edge inside a window
        # (cursor keyed on one timestamp, trap 4) are a different problem: see
        # ``LoopClient._edge_second``.
        cursor = window_end - overlap
    return windows


def loop_time(moment: datetime) -> str:
    """UTC ISO 8601 with an explicit zone: Loop's zone for from/to is undocumented (§6 trap 6)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cursor_breaks_ties(cursor: str | None) -> bool:
    """True when a page cursor provably carries an id tie-breaker beside its timestamp.

    Cursors are never built by hand (§6); this only reads one. Loop's sample cursor is base64
    JSON with the timestamp alone (trap 4); a cursor that also names an ``id`` cannot skip rows
    at the page edge, so the edge second need not be re-read. Anything unreadable counts as "no".
    """
    if not cursor:
        return False
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(payload, dict) and payload.get("id") not in (None, "")


def edge_moment(returns: list[Any], items: list[LoopItem]) -> datetime | None:
    """``updated_at`` of the page's last row as sent, quarantined or not (else the last record's).

    The server's next page starts past the last row's second whatever recon made of that row: a
    row held back for a bad amount or currency still sets the edge (trap 4).
    """
    for raw in reversed(returns):
        if isinstance(raw, dict):
            try:
                moment = opt_time(raw.get("updated_at"), "updated_at")
            except BadFieldError:
                continue
            if moment is not None:
                return moment
    last = next((i for i in reversed(items) if isinstance(i, LoopReturnRecord)), None)
    return last.updated_at if last is not None else None


def holds_second(items: list[LoopItem], second: datetime) -> bool:
    """Whether any row read (quarantined or not) was updated within ``second``."""
    for item in items:
        moment: datetime | None
        if isinstance(item, LoopReturnRecord):
            moment = item.updated_at
        else:
            try:
                moment = opt_time(item.raw.get("updated_at"), "updated_at")
            except BadFieldError:
                continue
        if moment is not None and second <= moment < second + timedelta(seconds=1):
            return True
    return False


def from_loop_time(text: str) -> datetime:
    """Parse back a bound written by ``loop_time``."""
    return datetime.fromisoformat(text).astimezone(UTC)


def page_parts(body: Any) -> tuple[list[Any], str | None]:
    """(returns, nextPageUrl) of a paginated page; a bare array is one last page (§6)."""
    if isinstance(body, list):
        return body, None
    # With paginate=true the page is always {"returns": [...], ...} (§6). A 200 without that
    # list (an error object such as {"message": "Server busy"}) is no empty page: reading it as
    # one would move the watermark past returns never read.
    if not isinstance(body, dict) or not isinstance(body.get("returns"), list):
        keys = sorted(body)[:5] if isinstance(body, dict) else type(body).__name__
        raise FatalHTTPError(
            f"loop returns list: unexpected response shape (no returns list: {keys})"
        )
    next_url = body.get("nextPageUrl")
    return list(body["returns"]), next_url if isinstance(next_url, str) else None


def check_window(start: datetime | None, end: datetime | None) -> None:
    """Refuse calls that Loop would silently narrow to the last 24 hours (§6 trap 1).

    Raises:
        ValueError: without both bounds, with naive datetimes, or with start after end.
    """
    if start is None or end is None:
        raise ValueError("Loop returns need both start and end (without them Loop sends 24 hours)")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("Loop window bounds must be tz-aware")
    if start > end:
        raise ValueError(f"Loop window start {start} is after end {end}")
