"""The Loop Returns emulator: Detailed Returns List and Get Return Details, with Loop's traps.

Faithful to ``reference/loop-returns-api.md`` §1-7, §10, §12, including the behaviour a client must
defend against: both ``from``/``to`` omitted → the last 24 hours; ``state`` omitted → cancelled and
review silently left out; ``nextPageUrl`` without ``from`` and ``state`` (so a next page that is not
re-sent ``from`` walks back to the beginning of history); 120-day windows; 300 requests a minute.

Cursor: base64url JSON in the style of Loop's sample, ``{"<filter column>": "2024-03-05 14:22:15",
"id": "12345701", "_pointsToNextItems": true}``. Loop's sample carries the timestamp only; by
default the sandbox adds ``id`` as a tie-breaker so a page edge inside one second neither repeats
nor skips rows. With ``Faults.loop_cursor_without_id`` it issues Loop's shape instead (trap 4): the
edge timestamp cut to the second, no id, and the next page starts strictly before that second, so
rows sharing it that did not fit on the page are skipped (a cursor without ``id`` is always
accepted). Loop documents no order (trap 5); the sandbox serves newest first by the filter column,
then id, so next pages go back in time. Windows are inclusive at both ends; zone-less times are UTC.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recon.clock import Clock
from recon.sandbox.loop_index import Key, ReturnIndex, build_index
from recon.sandbox.loop_render import render_details, render_list_item
from recon.sandbox.state import SandboxState
from recon.sandbox.world import LoopReturn, LoopState

VERSIONS = frozenset({"v1", "2026-07", "2026-10"})  # §2: v1 is an alias of 2026-07
DEFAULT_STATES = ("open", "closed", "expired")  # §6 trap 2
FILTERS = ("created_at", "updated_at")
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 750
MAX_RANGE = timedelta(days=120)
RATE_LIMIT, RATE_WINDOW = 300, 60.0  # §4: 300 requests per minute per API key
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
_BIG_ID = 10**30  # above every id: turns "after this second" into a key bound
_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
# §4: the 401 body of the third-party spec, reproduced as written (its code fields look swapped).
UNAUTHORIZED_BODY = {
    "error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}
}


class _InvalidError(Exception):
    """A request parameter Loop would reject with 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Cursor:
    """A position in the ordered results; ``forward`` is Loop's ``_pointsToNextItems``."""

    column: str
    at: datetime
    return_id: int | None
    forward: bool

    def encode(self) -> str:
        payload: dict[str, Any] = {self.column: format_time(self.at)}
        if self.return_id is not None:
            payload["id"] = str(self.return_id)
        payload["_pointsToNextItems"] = self.forward
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, column: str) -> Cursor:
        """Parse a cursor handed out by this emulator (or one shaped like Loop's sample).

        Raises:
            _InvalidError: if it is not base64 JSON naming the filter column's timestamp.
        """
        try:
            payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            at = parse_time(str(payload[column]))
            raw_id = payload.get("id")
            return_id = int(raw_id) if raw_id is not None else None
            forward = bool(payload.get("_pointsToNextItems", True))
        except (binascii.Error, ValueError, KeyError, TypeError, AttributeError, _InvalidError):
            raise _InvalidError("cursor", "The cursor is invalid.") from None
        return cls(column, at, return_id, forward)

    def lower(self) -> Key:
        """Smallest key strictly after this position."""
        return (self.at, _BIG_ID if self.return_id is None else self.return_id + 1)

    def upper(self) -> Key:
        """Largest key strictly before this position."""
        return (self.at, -1 if self.return_id is None else self.return_id - 1)


def format_time(moment: datetime) -> str:
    """``2024-03-31 00:00:00`` (UTC), as in Loop's sample ``nextPageUrl``; micros only if set."""
    pattern = "%Y-%m-%d %H:%M:%S.%f" if moment.microsecond else "%Y-%m-%d %H:%M:%S"
    return moment.astimezone(UTC).strftime(pattern)


def parse_time(text: str, field: str = "cursor") -> datetime:
    """Accept ``2023-01-01 00:00:00``, ISO 8601 (Z, offset, millis) and plain dates; naive = UTC.

    Raises:
        _InvalidError: for anything else.
    """
    if not _DATE.match(text.strip()):
        raise _InvalidError(field, f"The {field} field must be a valid date.")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _InvalidError(field, f"The {field} field must be a valid date.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class ListQuery:
    """A validated ``/warehouse/return/list`` request."""

    start: datetime  # inclusive; the beginning of history when only ``to`` was sent
    end: datetime  # inclusive
    column: str
    states: tuple[str, ...]
    paginate: bool
    page_size: int
    cursor: Cursor | None


def _param(request: Request, name: str) -> str | None:
    # Laravel turns empty strings into null, so "from=" counts as omitted.
    value = request.query_params.get(name)
    return value if value else None


def _window(raw_from: str | None, raw_to: str | None, now: datetime) -> tuple[datetime, datetime]:
    if raw_from is None and raw_to is None:
        return now - timedelta(hours=24), now  # §6 trap 1: the last 24 hours only
    end = parse_time(raw_to, "to") if raw_to is not None else now
    if raw_from is None:
        return _BEGINNING, end  # §6 trap 3: no from → all history up to `to`
    start = parse_time(raw_from, "from")
    if end < start:
        raise _InvalidError("to", "The to field must be a date after or equal to from.")
    if end - start > MAX_RANGE:
        raise _InvalidError("to", "The date range between from and to must not exceed 120 days.")
    return start, end


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or int(raw) < 1:
        raise _InvalidError("pageSize", "The page size field must be an integer of at least 1.")
    if int(raw) > MAX_PAGE_SIZE:
        raise _InvalidError(
            "pageSize", f"The page size field must not be greater than {MAX_PAGE_SIZE}."
        )
    return int(raw)


def parse_list_query(request: Request, now: datetime) -> ListQuery:
    """Validate the list endpoint's query string against §6.

    Raises:
        _InvalidError: the first invalid parameter, for a 422.
    """
    start, end = _window(_param(request, "from"), _param(request, "to"), now)
    column = _param(request, "filter") or "created_at"
    if column not in FILTERS:
        raise _InvalidError("filter", "The selected filter is invalid.")
    raw_state = _param(request, "state")
    if raw_state is not None and raw_state not in {s.value for s in LoopState}:
        raise _InvalidError("state", "The selected state is invalid.")
    states = (raw_state,) if raw_state is not None else DEFAULT_STATES
    paginate = (_param(request, "paginate") or "false").lower()
    if paginate not in {"true", "false", "1", "0"}:
        raise _InvalidError("paginate", "The paginate field must be true or false.")
    raw_cursor = _param(request, "cursor")
    cursor = Cursor.decode(raw_cursor, column) if raw_cursor is not None else None
    return ListQuery(
        start,
        end,
        column,
        states,
        paginate in {"true", "1"},
        _page_size(_param(request, "pageSize")),
        cursor,
    )


class RateLimiter:
    """A rolling one-minute window per API key on the injected monotonic clock.

    Loop documents no rate-limit headers and no ``Retry-After`` (§4: unknown), so none are sent.
    """

    def __init__(self, clock: Clock, limit: int = RATE_LIMIT, window: float = RATE_WINDOW) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Record a request; False when the key already made ``limit`` in the last minute."""
        now = self._clock.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self._window:
                hits.popleft()
            if len(hits) >= self._limit:
                return False
            hits.append(now)
            return True


@dataclass(frozen=True)
class Page:
    rows: list[LoopReturn]
    next: Cursor | None
    previous: Cursor | None


def _edge_cursor(key: Key, column: str, *, forward: bool, with_id: bool) -> Cursor:
    """A cursor at a page edge: (timestamp, id), or Loop's timestamp-only shape cut to seconds."""
    at, return_id = key
    if with_id:
        return Cursor(column, at, return_id, forward)
    return Cursor(column, at.replace(microsecond=0), None, forward)


def select_page(
    index: ReturnIndex, query: ListQuery, now: datetime, *, cursor_id: bool = True
) -> Page:
    """The page a query asks for: ``page_size`` rows, newest first, older or newer than its cursor.

    Next pages go back in time; that is what makes a next page without ``from`` walk back through
    all history (§6 trap 3). ``cursor_id`` False issues timestamp-only cursors (§6 trap 4).
    """
    col, states, size, cursor = query.column, query.states, query.page_size, query.cursor
    lower: Key = (query.start, -1)
    upper: Key = (min(query.end, now), _BIG_ID)  # nothing exists after now
    if cursor is None or cursor.forward:
        end = min(upper, cursor.upper()) if cursor else upper
        rows = index.take(col, states, lower, end, size + 1, now, newest_first=True)
        has_next, rows = len(rows) > size, rows[:size]
        has_prev = cursor is not None and bool(rows)
    else:
        start = max(lower, cursor.lower())
        rows = index.take(col, states, start, upper, size + 1, now, newest_first=False)
        has_prev, rows = len(rows) > size, rows[:size][::-1]
        has_next = bool(rows)
    if has_prev and cursor is not None and cursor.forward:
        first_at, first_id = index.key(col, rows[0])
        newer: Key = (first_at, first_id + 1)
        has_prev = bool(index.take(col, states, newer, upper, 1, now, newest_first=False))
    if has_next and cursor is not None and not cursor.forward:
        last_at, last_id = index.key(col, rows[-1])
        older: Key = (last_at, last_id - 1)
        has_next = bool(index.take(col, states, lower, older, 1, now, newest_first=True))
    next_cursor = prev_cursor = None
    if has_next:
        next_cursor = _edge_cursor(index.key(col, rows[-1]), col, forward=True, with_id=cursor_id)
    if has_prev:
        prev_cursor = _edge_cursor(index.key(col, rows[0]), col, forward=False, with_id=cursor_id)
    return Page(rows, next_cursor, prev_cursor)


def _page_url(request: Request, query: ListQuery, cursor: Cursor | None) -> str | None:
    """Loop's next/previous page URL: ``to``, ``filter``, ``pageSize``, ``cursor``; no ``from``.

    Faithful to Loop's sample (§6 trap 3): a client that follows the URL as given loses its
    ``from``, ``state`` and ``paginate`` (so its next page would be a bare array of everything
    older) and must re-send them.
    """
    if cursor is None:
        return None
    params = {
        "to": format_time(query.end),
        "filter": query.column,
        "pageSize": str(query.page_size),
        "cursor": cursor.encode(),
    }
    return str(request.url.replace(query=urlencode(params, quote_via=quote)))


class _LoopApi:
    """Request handlers bound to one sandbox state."""

    def __init__(self, state: SandboxState, rate_limit: bool) -> None:
        self.state = state
        self.limiter = RateLimiter(state.clock) if rate_limit else None
        self._index: ReturnIndex | None = None
        self._index_signature: tuple[int, int, int] | None = None
        self._faults_served = 0

    def index(self) -> ReturnIndex:
        """The sorted indexes, rebuilt only when revisions changed the returns."""
        returns = self.state.world.loop_returns
        # SandboxState keeps no public revision counter; the private one is read, not written.
        applied = self.state.revision_count
        signature = (id(returns), len(returns), applied)
        if self._index is None or signature != self._index_signature:
            self._index = build_index(returns)
            self._index_signature = signature
        return self._index

    async def guard(self, request: Request) -> Response | None:
        """Version, auth, rate limit and faults, in the order a real gateway applies them."""
        if request.path_params["version"] not in VERSIONS:
            return JSONResponse({"message": "Not Found."}, status_code=404)
        key = request.headers.get("x-authorization")
        if key != self.state.loop_api_key:
            return JSONResponse(UNAUTHORIZED_BODY, status_code=401)
        if self.limiter is not None and not self.limiter.allow(key):
            return JSONResponse({"message": "Too Many Attempts."}, status_code=429)
        if self.state.faults.latency_seconds > 0:
            await asyncio.sleep(self.state.faults.latency_seconds)
        if self.state.faults.server_error():
            self._faults_served += 1
            status = 503 if self._faults_served % 2 == 0 else 500
            return JSONResponse({"message": "Server Error"}, status_code=status)
        self.state.refresh()
        return None

    async def list_returns(self, request: Request) -> Response:
        refused = await self.guard(request)
        if refused is not None:
            return refused
        now = self.state.now()
        try:
            query = parse_list_query(request, now)
        except _InvalidError as exc:
            return _unprocessable(exc)
        with self.state.lock:
            index = self.index()
            if not query.paginate:
                rows = index.take(
                    query.column,
                    query.states,
                    (query.start, -1),
                    (min(query.end, now), _BIG_ID),
                    None,
                    now,
                    newest_first=True,
                )
                return JSONResponse([render_list_item(r, self.state) for r in rows])
            page = select_page(
                index, query, now, cursor_id=not self.state.faults.loop_cursor_without_id
            )
            body = {
                "returns": [render_list_item(r, self.state) for r in page.rows],
                "nextPageUrl": _page_url(request, query, page.next),
                "previousPageUrl": _page_url(request, query, page.previous),
            }
        return JSONResponse(body)

    async def details(self, request: Request) -> Response:
        refused = await self.guard(request)
        if refused is not None:
            return refused
        now = self.state.now()
        try:
            found = self._find(request, now)
        except _InvalidError as exc:
            return _unprocessable(exc)
        if found is None:
            return JSONResponse({"message": "Return not found."}, status_code=404)
        with self.state.lock:
            return JSONResponse(render_details(found))

    def _find(self, request: Request, now: datetime) -> LoopReturn | None:
        return_id, order_id = _param(request, "return_id"), _param(request, "order_id")
        order_name = _param(request, "order_name")
        for name, value in (("return_id", return_id), ("order_id", order_id)):
            if value is not None and not value.isdigit():
                raise _InvalidError(name, f"The {name} field must be an integer.")
        with self.state.lock:
            index = self.index()
            if return_id is not None:
                candidates = [r for r in [index.by_id.get(return_id)] if r is not None]
            elif order_id is not None:
                candidates = index.by_order_id.get(order_id, [])
            elif order_name is not None:
                candidates = index.by_order_name.get(order_name, [])
            else:
                raise _InvalidError(
                    "return_id", "The return id field is required without order id or order name."
                )
            visible = [r for r in candidates if r.created_at <= now]
        # §7: what Loop returns for an order with several returns is unknown; the newest is served.
        return max(visible, key=lambda r: (r.created_at, int(r.id))) if visible else None


def _unprocessable(exc: _InvalidError) -> JSONResponse:
    # §4: 422 bodies are {"message": ..., "errors": {field: [...]}} (Laravel validation shape).
    body = {"message": exc.message, "errors": {exc.field: [exc.message]}}
    return JSONResponse(body, status_code=422)


def create_loop_app(state: SandboxState, *, rate_limit: bool = False) -> Starlette:
    """The Loop emulator as an ASGI app serving ``/api/{version}/warehouse/return/...``.

    Args:
        state: the sandbox world, clock and faults (shared with the Shopify emulator).
        rate_limit: enforce 300 requests per rolling minute per API key (off by default so tests
            and benchmarks are not throttled unless they ask for it).
    """
    api = _LoopApi(state, rate_limit)
    routes = [
        Route("/api/{version}/warehouse/return/list", api.list_returns, methods=["GET"]),
        Route("/api/{version}/warehouse/return/details", api.details, methods=["GET"]),
    ]
    return Starlette(routes=routes)
