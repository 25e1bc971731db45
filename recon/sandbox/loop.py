"""The Loop Returns emulator: Detailed Returns List and Get Return Details, with Loop's traps.

Faithful to ``reference/loop-returns-api.md`` §1-7, §10, §12, including the behaviour a client must
defend against: both ``from``/``to`` omitted → the last 24 hours; ``state`` omitted → cancelled and
review silently left out; ``nextPageUrl`` without ``from`` and ``state`` (so a next page that is not
re-sent ``from`` walks back to the beginning of history); 120-day windows; 300 requests a minute.
Cursors live in ``loop_cursor``; query validation and paging in ``loop_paging``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recon.clock import Clock
from recon.sandbox.loop_cursor import BIG_ID, Cursor, InvalidParamError, format_time, parse_time
from recon.sandbox.loop_index import ReturnIndex, build_index
from recon.sandbox.loop_paging import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_STATES,
    FILTERS,
    MAX_PAGE_SIZE,
    MAX_RANGE,
    ListQuery,
    Page,
    page_url,
    parse_list_query,
    query_param,
    select_page,
)
from recon.sandbox.loop_render import render_details, render_list_item
from recon.sandbox.state import SandboxState
from recon.sandbox.world_loop import LoopReturn

# Names that lived here before the split into loop_cursor/loop_paging; still importable from here.
__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_STATES",
    "FILTERS",
    "MAX_PAGE_SIZE",
    "MAX_RANGE",
    "RATE_LIMIT",
    "RATE_WINDOW",
    "UNAUTHORIZED_BODY",
    "VERSIONS",
    "Cursor",
    "ListQuery",
    "Page",
    "RateLimiter",
    "create_loop_app",
    "format_time",
    "parse_list_query",
    "parse_time",
    "select_page",
]

VERSIONS = frozenset({"v1", "2026-07", "2026-10"})  # §2: v1 is an alias of 2026-07
RATE_LIMIT, RATE_WINDOW = 300, 60.0  # §4: 300 requests per minute per API key
# §4: the 401 body of the third-party spec, reproduced as written (its code fields look swapped).
UNAUTHORIZED_BODY = {
    "error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}
}


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
            zone = timedelta(hours=self.state.faults.loop_zone_hours)
            query = parse_list_query(request, now, zone)
        except InvalidParamError as exc:
            return _unprocessable(exc)
        with self.state.lock:
            index = self.index()
            if not query.paginate:
                rows = index.take(
                    query.column,
                    query.states,
                    (query.start, -1),
                    (min(query.end, now), BIG_ID),
                    None,
                    now,
                    newest_first=not self.state.faults.loop_oldest_first,
                )
                return JSONResponse([render_list_item(r, self.state) for r in rows])
            page = select_page(
                index,
                query,
                now,
                cursor_id=not self.state.faults.loop_cursor_without_id,
                oldest_first=self.state.faults.loop_oldest_first,
            )
            body = {
                "returns": [render_list_item(r, self.state) for r in page.rows],
                "nextPageUrl": page_url(request, query, page.next),
                "previousPageUrl": page_url(request, query, page.previous),
            }
        return JSONResponse(body)

    async def details(self, request: Request) -> Response:
        refused = await self.guard(request)
        if refused is not None:
            return refused
        now = self.state.now()
        try:
            found = self._find(request, now)
        except InvalidParamError as exc:
            return _unprocessable(exc)
        if found is None:
            return JSONResponse({"message": "Return not found."}, status_code=404)
        with self.state.lock:
            return JSONResponse(render_details(found))

    def _find(self, request: Request, now: datetime) -> LoopReturn | None:
        return_id, order_id = query_param(request, "return_id"), query_param(request, "order_id")
        order_name = query_param(request, "order_name")
        for name, value in (("return_id", return_id), ("order_id", order_id)):
            if value is not None and not value.isdigit():
                raise InvalidParamError(name, f"The {name} field must be an integer.")
        with self.state.lock:
            index = self.index()
            if return_id is not None:
                candidates = [r for r in [index.by_id.get(return_id)] if r is not None]
            elif order_id is not None:
                candidates = index.by_order_id.get(order_id, [])
            elif order_name is not None:
                candidates = index.by_order_name.get(order_name, [])
            else:
                raise InvalidParamError(
                    "return_id", "The return id field is required without order id or order name."
                )
            visible = [r for r in candidates if r.created_at <= now]
        # §7: what Loop returns for an order with several returns is unknown; the newest is served.
        return max(visible, key=lambda r: (r.created_at, int(r.id))) if visible else None


def _unprocessable(exc: InvalidParamError) -> JSONResponse:
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
