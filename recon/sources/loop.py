"""Loop Returns client: the Detailed Returns List, windowed, paged, paced and de-duplicated.

Traps handled (loop-returns-api.md §6): no window means "last 24 hours", no state means "not
cancelled, not review", windows over 120 days are refused, and ``nextPageUrl`` drops ``from``
and ``state``, so every page re-sends them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from recon.clock import Clock
from recon.errors import CursorLoopError, FatalHTTPError
from recon.models import LoopReturnRecord, Quarantined
from recon.ports import LOOP_STATES
from recon.sources.http import RetryingSender, RetryPolicy
from recon.sources.loop_parse import parse_return
from recon.sources.pacing import TokenBucket

logger = logging.getLogger(__name__)

MAX_WINDOW_DAYS = 120
WINDOW_OVERLAP = timedelta(minutes=10)
LIST_PATH = "/warehouse/return/list"
DETAILS_PATH = "/warehouse/return/details"

LoopItem = LoopReturnRecord | Quarantined


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
        # Overlap: Loop's cursor keys on one timestamp only, rows at an edge can slip (§6 trap 4).
        cursor = window_end - overlap
    return windows


def loop_time(moment: datetime) -> str:
    """UTC ISO 8601 with an explicit zone: Loop's zone for from/to is undocumented (§6 trap 6)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LoopClient:
    """Reads Loop returns; implements ``recon.ports.LoopSource``."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str,
        api_version: str,
        api_key: str,
        clock: Clock,
        page_size: int = 750,
        window_days: int = 100,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not 1 <= page_size <= 750:
            raise ValueError(f"page_size must be 1..750 (Loop's maximum), got {page_size}")
        if not 1 <= window_days <= MAX_WINDOW_DAYS:
            raise ValueError(f"window_days must be 1..{MAX_WINDOW_DAYS}, got {window_days}")
        self._http = http
        self._root = f"{base_url.rstrip('/')}/{api_version}"
        self._api_key = api_key
        self._page_size = page_size
        self._window_days = window_days
        self._sender = RetryingSender(
            http, clock=clock, policy=policy, service="loop", secrets=(api_key,)
        )
        self._bucket = TokenBucket(clock)
        origin = urlsplit(self._root)
        self._origin = (origin.scheme, origin.netloc)

    def iter_returns(self, start: datetime, end: datetime, state: str) -> Iterator[LoopItem]:
        """Returns of one state updated in [start, end), each id once.

        Raises:
            ValueError: without both bounds, with naive datetimes, or with an unknown state.
            SourceError: subclasses from the retry policy, or ``CursorLoopError``.
        """
        _check_window(start, end)
        if state not in LOOP_STATES:
            raise ValueError(f"state must be one of {', '.join(LOOP_STATES)}, got {state!r}")
        yield from self._dedupe(self._iter_windows(start, end, state), set())

    def iter_all_states(self, start: datetime, end: datetime) -> Iterator[LoopItem]:
        """Returns of every state (one call sequence per state: §6 trap 2), each id once.

        Raises:
            ValueError: as ``iter_returns``.
        """
        _check_window(start, end)
        seen: set[str] = set()
        for state in LOOP_STATES:
            yield from self._dedupe(self._iter_windows(start, end, state), seen)

    def get_return(self, return_id: str) -> LoopItem:
        """One return from Get Return Details (integer ids, zone-less timestamps: §7).

        Raises:
            FatalHTTPError: if the body is not a return object.
        """
        url = f"{self._root}{DETAILS_PATH}"
        body = self._get(url, {"return_id": return_id})
        if isinstance(body, dict) and isinstance(body.get("return"), dict):
            body = body["return"]
        if not isinstance(body, dict):
            raise FatalHTTPError(f"loop return details {return_id}: expected an object")
        return parse_return(body)

    @staticmethod
    def _dedupe(items: Iterator[LoopItem], seen: set[str]) -> Iterator[LoopItem]:
        for item in items:
            key = item.id if isinstance(item, LoopReturnRecord) else f"q:{item.record_id}"
            if isinstance(item, Quarantined) and item.record_id is None:
                yield item  # nothing to de-duplicate on
                continue
            if key in seen:
                continue
            seen.add(key)
            yield item

    def _iter_windows(self, start: datetime, end: datetime, state: str) -> Iterator[LoopItem]:
        for window_start, window_end in split_windows(start, end, days=self._window_days):
            params = {
                "from": loop_time(window_start),
                "to": loop_time(window_end),
                "filter": "updated_at",
                "state": state,
                "paginate": "true",
                "pageSize": str(self._page_size),
            }
            yield from self._iter_pages(params)

    def _iter_pages(self, params: dict[str, str]) -> Iterator[LoopItem]:
        url: str | None = f"{self._root}{LIST_PATH}"
        query = dict(params)
        seen_cursors: set[str] = set()
        while url is not None:
            body = self._get(url, query)
            returns, next_url = _page_parts(body)
            for item in returns:
                yield parse_return(item)
            if not next_url:
                return
            url, query = self._next_request(next_url, params)
            cursor = query.get("cursor") or next_url
            if cursor in seen_cursors:
                raise CursorLoopError(
                    f"loop returns list ({params['state']}, {params['from']}..{params['to']}): "
                    "the server repeated a page cursor"
                )
            seen_cursors.add(cursor)

    def _next_request(self, next_url: str, params: dict[str, str]) -> tuple[str, dict[str, str]]:
        """Split ``nextPageUrl`` and re-apply from/to/filter/state (§6 trap 3).

        Raises:
            FatalHTTPError: if the next page points at another host (the key must not leak).
        """
        parts = urlsplit(next_url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise FatalHTTPError("loop nextPageUrl points at another host; refusing to follow it")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update(params)
        return f"{parts.scheme}://{parts.netloc}{parts.path}", query

    def _get(self, url: str, params: dict[str, str]) -> Any:
        request = self._http.build_request(
            "GET",
            url,
            params=params,
            headers={"X-Authorization": self._api_key, "Accept": "application/json"},
        )
        response = self._sender.send(request, pace=self._bucket.acquire)
        try:
            return response.json()
        except ValueError as exc:
            raise FatalHTTPError(f"loop {request.url.path}: response is not JSON") from exc


def _page_parts(body: Any) -> tuple[list[Any], str | None]:
    """(returns, nextPageUrl) of a paginated page; a bare array is one last page (§6)."""
    if isinstance(body, list):
        return body, None
    if not isinstance(body, dict) or not isinstance(body.get("returns", []), list):
        raise FatalHTTPError("loop returns list: unexpected response shape")
    next_url = body.get("nextPageUrl")
    return list(body.get("returns") or []), next_url if isinstance(next_url, str) else None


def _check_window(start: datetime | None, end: datetime | None) -> None:
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
