"""Shopify search syntax (the subset recon sends), sorted indexes and opaque cursor paging.

Syntax (https://shopify.dev/api/usage/search-syntax): terms ``field:value`` with an optional
comparator (``field:>=value``, ``>``, ``<``, ``<=``), values bare or in single/double quotes, a
leading ``-`` negates, terms joined by whitespace or ``AND`` (both mean AND) and ``OR`` (lower
precedence). Parentheses are not supported. Unknown fields are ignored, as Shopify does.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from graphql import GraphQLError

_TOKEN = re.compile(r"""-?[A-Za-z_]+:(?:>=|<=|>|<)?(?:'[^']*'|"[^"]*"|\S+)|\S+""")
_TERM = re.compile(r"""^(-?)([A-Za-z_]+):(>=|<=|>|<)?(.*)$""")
MAX_PAGE = 250  # shopify-admin-api.md §1: page size max 250
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Term:
    """One ``field:op value`` term; ``op`` is one of ``:``, ``>=``, ``<=``, ``>``, ``<``."""

    field: str
    op: str
    value: str
    negate: bool = False


Query = list[list[Term]]  # OR of AND-groups


def parse_query(text: str | None) -> Query:
    """Parse a search string into OR-groups of AND-terms (free text without a field is dropped)."""
    if not text or not text.strip():
        return []
    groups: Query = [[]]
    for token in _TOKEN.findall(text):
        if token == "AND":  # noqa: S105 - a search keyword, not a secret
            continue
        if token == "OR":  # noqa: S105 - a search keyword, not a secret
            groups.append([])
            continue
        match = _TERM.match(token)
        if match is None:
            continue
        negate, field, op, value = match.groups()
        value = value.strip("'\"")
        groups[-1].append(Term(field.lower(), op or ":", value, negate == "-"))
    return [group for group in groups if group]


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: an integer sort key for a timestamp."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_moment(value: str) -> tuple[datetime, datetime] | None:
    """A search value as a half-open UTC interval (a date covers its whole day)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start, start + timedelta(days=1)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Shopify reads zone-less values in the shop's zone
    return moment, moment + timedelta(microseconds=1)


def compare_time(actual: datetime | None, term: Term) -> bool:
    """Whether a timestamp satisfies a date/time term (an unparsable value matches nothing)."""
    interval = parse_moment(term.value)
    if interval is None or actual is None:
        return False
    start, end = interval
    result = {
        ":": start <= actual < end,
        ">=": actual >= start,
        ">": actual >= end,
        "<=": actual < end,
        "<": actual < start,
    }[term.op]
    return result


def compare_number(actual: int, term: Term) -> bool:
    """Whether an integer (an id) satisfies a numeric term."""
    try:
        wanted = int(term.value.rsplit("/", 1)[-1])
    except ValueError:
        return False
    return {
        ":": actual == wanted,
        ">=": actual >= wanted,
        ">": actual > wanted,
        "<=": actual <= wanted,
        "<": actual < wanted,
    }[term.op]


def compare_text(actual: str | None, term: Term) -> bool:
    """Case-insensitive equality of an enum-like value."""
    return actual is not None and actual.lower() == term.value.lower()


Matcher = Callable[[Any, Term], bool]


def matches(record: object, query: Query, fields: dict[str, Matcher]) -> bool:
    """Evaluate a parsed query; terms on fields this collection does not know are ignored."""
    if not query:
        return True
    return any(all(_term_holds(record, term, fields) for term in group) for group in query)


def _term_holds(record: object, term: Term, fields: dict[str, Matcher]) -> bool:
    matcher = fields.get(term.field)
    if matcher is None:
        return True  # Shopify ignores unknown search terms
    return matcher(record, term) != term.negate


def time_bounds(query: Query, field: str) -> tuple[int | None, int | None]:
    """Micro-second bounds [low, high) implied by a single AND-group's terms on ``field``."""
    if len(query) != 1:
        return None, None
    low: int | None = None
    high: int | None = None
    for term in query[0]:
        if term.field != field or term.negate:
            continue
        interval = parse_moment(term.value)
        if interval is None:
            continue
        start, end = micros(interval[0]), micros(interval[1])
        lo, hi = {
            ":": (start, end),
            ">=": (start, None),
            ">": (end, None),
            "<=": (None, end),
            "<": (None, start),
        }[term.op]
        if lo is not None:
            low = lo if low is None else max(low, lo)
        if hi is not None:
            high = hi if high is None else min(high, hi)
    return low, high


Key = tuple[int, int]  # (sort value, numeric id)


class SortedIndex:
    """Records' (sort value, id) keys kept sorted, so a page costs O(log n + page)."""

    def __init__(self, keys: list[Key]) -> None:
        self.keys = sorted(keys)

    def insert(self, key: Key) -> None:
        bisect.insort(self.keys, key)

    def remove(self, key: Key) -> None:
        position = bisect.bisect_left(self.keys, key)
        if position < len(self.keys) and self.keys[position] == key:
            del self.keys[position]

    def scan(
        self, after: Key | None, reverse: bool, low: int | None, high: int | None
    ) -> Iterator[Key]:
        """Keys strictly after the cursor in paging order, sort values in [low, high)."""
        start = 0 if low is None else bisect.bisect_left(self.keys, (low, -1))
        stop = len(self.keys) if high is None else bisect.bisect_left(self.keys, (high, -1))
        if reverse:
            if after is not None:
                stop = min(stop, bisect.bisect_left(self.keys, after))
            return (self.keys[i] for i in range(stop - 1, start - 1, -1))
        if after is not None:
            start = max(start, bisect.bisect_right(self.keys, after))
        return (self.keys[i] for i in range(start, stop))


def encode_cursor(key: Key, position: int | None = None) -> str:
    """An opaque cursor carrying the last record's sort value and id (and its position).

    The position (how many records the query has returned up to this one) lets a connection stop
    at the deep-pagination cap (shopify-admin-api.md §1: 25,000 objects per query).
    """
    data: dict[str, int] = {"last_value": key[0], "last_id": key[1]}
    if position is not None:
        data["n"] = position
    raw = json.dumps(data, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def cursor_position(cursor: object) -> int:
    """The position carried by a cursor from ``encode_cursor`` (0 when absent or unreadable)."""
    if not isinstance(cursor, str):
        return 0
    try:
        value = json.loads(base64.b64decode(cursor.encode(), validate=True)).get("n", 0)
    except (ValueError, AttributeError, binascii.Error):
        return 0
    return value if isinstance(value, int) and value >= 0 else 0


def decode_cursor(cursor: str | None) -> Key | None:
    """Back from a cursor to its key.

    Raises:
        GraphQLError: for a cursor this emulator did not mint.
    """
    if cursor is None:
        return None
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return int(data["last_value"]), int(data["last_id"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise GraphQLError("Invalid cursor for current pagination sort.") from None


def check_page_size(first: int | None, last: int | None) -> int:
    """The page size asked for.

    Raises:
        GraphQLError: when neither or both of first/last are given (Shopify needs one) or > 250.
    """
    if (first is None) == (last is None):
        raise GraphQLError("you must provide one of first or last")
    size = first if first is not None else last
    assert size is not None
    if size > MAX_PAGE or size < 0:
        raise GraphQLError(f"The page size ({size}) must be between 0 and {MAX_PAGE}.")
    return size


@dataclass(frozen=True)
class Page:
    """One page of keys, in the order they are returned."""

    keys: list[Key]
    has_next: bool
    has_previous: bool


def take_page(
    index: SortedIndex,
    args: dict[str, object],
    accept: Callable[[Key], bool],
    bounds: tuple[int | None, int | None] = (None, None),
) -> Page:
    """Select a page from a sorted index with Shopify's paging arguments.

    ``last``/``before`` page backwards from the end (results still in sort order).

    Raises:
        GraphQLError: for bad page sizes or foreign cursors.
    """
    first, last = args.get("first"), args.get("last")
    size = check_page_size(
        first if isinstance(first, int) else None, last if isinstance(last, int) else None
    )
    backwards = last is not None
    reverse = bool(args.get("reverse")) != backwards
    cursor = decode_cursor(_opt_str(args.get("before") if backwards else args.get("after")))
    found: list[Key] = []
    has_more = False
    for key in index.scan(cursor, reverse, *bounds):
        if not accept(key):
            continue
        if len(found) == size:
            has_more = True
            break
        found.append(key)
    if backwards:
        found.reverse()
        return Page(found, cursor is not None, has_more)
    return Page(found, has_more, cursor is not None)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
