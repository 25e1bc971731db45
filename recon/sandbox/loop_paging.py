"""Loop list requests: query validation (§6), page selection and Loop's next/previous page URLs.

Loop documents no order (trap 5); the sandbox serves newest first by the filter column, then id,
so next pages go back in time (``Faults.loop_oldest_first``: the other way round). Windows are
inclusive at both ends; zone-less times are UTC, unless ``Faults.loop_zone_hours`` makes the server
read every ``from``/``to`` in a shop zone (trap 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from starlette.requests import Request

from recon.sandbox.loop_cursor import (
    BIG_ID,
    Cursor,
    InvalidParamError,
    edge_cursor,
    format_time,
    parse_time,
)
from recon.sandbox.loop_index import Key, ReturnIndex
from recon.sandbox.world_loop import LoopReturn, LoopState

DEFAULT_STATES = ("open", "closed", "expired")  # §6 trap 2
FILTERS = ("created_at", "updated_at")
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 750
MAX_RANGE = timedelta(days=120)
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


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
    # The shop zone's offset when the server reads from/to as wall time there (trap 6), else 0.
    zone: timedelta = timedelta(0)


def query_param(request: Request, name: str) -> str | None:
    """A query parameter, None when absent or empty."""
    # Laravel turns empty strings into null, so "from=" counts as omitted.
    value = request.query_params.get(name)
    return value if value else None


def _bound(raw: str, field: str, zone: timedelta) -> datetime:
    """A ``from``/``to`` value; with a shop ``zone`` its written zone is ignored (trap 6).

    Raises:
        InvalidParamError: for a value that is not a date.
    """
    moment = parse_time(raw, field)
    if not zone:
        return moment
    wall = datetime.fromisoformat(raw.strip()).replace(tzinfo=None)  # the digits as written
    return wall.replace(tzinfo=UTC) - zone


def _window(
    raw_from: str | None, raw_to: str | None, now: datetime, zone: timedelta = timedelta(0)
) -> tuple[datetime, datetime]:
    if raw_from is None and raw_to is None:
        return now - timedelta(hours=24), now  # §6 trap 1: the last 24 hours only
    end = _bound(raw_to, "to", zone) if raw_to is not None else now
    if raw_from is None:
        return _BEGINNING, end  # §6 trap 3: no from → all history up to `to`
    start = _bound(raw_from, "from", zone)
    if end < start:
        raise InvalidParamError("to", "The to field must be a date after or equal to from.")
    if end - start > MAX_RANGE:
        raise InvalidParamError(
            "to", "The date range between from and to must not exceed 120 days."
        )
    return start, end


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidParamError("pageSize", "The page size field must be an integer of at least 1.")
    if int(raw) > MAX_PAGE_SIZE:
        raise InvalidParamError(
            "pageSize", f"The page size field must not be greater than {MAX_PAGE_SIZE}."
        )
    return int(raw)


def parse_list_query(request: Request, now: datetime, zone: timedelta = timedelta(0)) -> ListQuery:
    """Validate the list endpoint's query string against §6; ``zone``: see ``ListQuery.zone``.

    Raises:
        InvalidParamError: the first invalid parameter, for a 422.
    """
    start, end = _window(query_param(request, "from"), query_param(request, "to"), now, zone)
    column = query_param(request, "filter") or "created_at"
    if column not in FILTERS:
        raise InvalidParamError("filter", "The selected filter is invalid.")
    raw_state = query_param(request, "state")
    if raw_state is not None and raw_state not in {s.value for s in LoopState}:
        raise InvalidParamError("state", "The selected state is invalid.")
    states = (raw_state,) if raw_state is not None else DEFAULT_STATES
    paginate = (query_param(request, "paginate") or "false").lower()
    if paginate not in {"true", "false", "1", "0"}:
        raise InvalidParamError("paginate", "The paginate field must be true or false.")
    raw_cursor = query_param(request, "cursor")
    cursor = Cursor.decode(raw_cursor, column) if raw_cursor is not None else None
    return ListQuery(
        start,
        end,
        column,
        states,
        paginate in {"true", "1"},
        _page_size(query_param(request, "pageSize")),
        cursor,
        zone,
    )


@dataclass(frozen=True)
class Page:
    """One page of a paginated list and the cursors to its neighbours."""

    rows: list[LoopReturn]
    next: Cursor | None
    previous: Cursor | None


def select_page(
    index: ReturnIndex,
    query: ListQuery,
    now: datetime,
    *,
    cursor_id: bool = True,
    oldest_first: bool = False,
) -> Page:
    """The page a query asks for: ``page_size`` rows past its cursor, in page order.

    Page order is newest first by the filter column, then id, so next pages go back in time; that
    is what makes a next page without ``from`` walk back through all history (§6 trap 3).
    ``oldest_first`` serves the other order (trap 5: Loop documents none). ``cursor_id`` False
    issues timestamp-only cursors (§6 trap 4).
    """
    col, states, size, cursor = query.column, query.states, query.page_size, query.cursor
    first: Key = (query.start, -1)
    last: Key = (min(query.end, now), BIG_ID)  # nothing exists after now
    forward = cursor is None or cursor.forward
    # Rows are taken from the cursor outwards: in page order for a next page, against it for a
    # previous one (then turned round).
    ascending = forward == oldest_first
    lower, upper = first, last
    if cursor is not None:
        if ascending:
            lower = max(lower, cursor.lower())
        else:
            upper = min(upper, cursor.upper())
    rows = index.take(col, states, lower, upper, size + 1, now, newest_first=not ascending)
    more, rows = len(rows) > size, rows[:size]

    def beyond(row: LoopReturn, newer: bool) -> bool:
        """Whether any row lies past ``row`` (newer or older) inside the query's window."""
        at, return_id = index.key(col, row)
        if newer:
            return bool(
                index.take(col, states, (at, return_id + 1), last, 1, now, newest_first=False)
            )
        return bool(index.take(col, states, first, (at, return_id - 1), 1, now, newest_first=True))

    if forward:
        has_next = more
        has_prev = cursor is not None and bool(rows) and beyond(rows[0], not oldest_first)
    else:
        rows = rows[::-1]
        has_prev = more
        has_next = bool(rows) and beyond(rows[-1], oldest_first)
    next_cursor = prev_cursor = None
    if has_next:
        next_cursor = edge_cursor(index.key(col, rows[-1]), col, forward=True, with_id=cursor_id)
    if has_prev:
        prev_cursor = edge_cursor(index.key(col, rows[0]), col, forward=False, with_id=cursor_id)
    return Page(rows, next_cursor, prev_cursor)


def page_url(request: Request, query: ListQuery, cursor: Cursor | None) -> str | None:
    """Loop's next/previous page URL: ``to``, ``filter``, ``pageSize``, ``cursor``; no ``from``.

    Faithful to Loop's sample (§6 trap 3): a client that follows the URL as given loses its
    ``from``, ``state`` and ``paginate`` (so its next page would be a bare array of everything
    older) and must re-send them.
    """
    if cursor is None:
        return None
    params = {
        "to": format_time(query.end + query.zone),  # in the zone the server reads it
        "filter": query.column,
        "pageSize": str(query.page_size),
        "cursor": cursor.encode(),
    }
    return str(request.url.replace(query=urlencode(params, quote_via=quote)))
