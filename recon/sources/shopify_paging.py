"""Shopify paging: cursor pages, ``nodes(ids:)`` chunks, inner-connection follow-ups, windows.

Every call is sized by the ``PageSizer``; a page refused with MAX_COST_EXCEEDED is shrunk from
Shopify's own cost figure and the *same* page is asked again (shopify-admin-api.md §15). Deep
pagination stops at 25,000 objects per query and then reports ``hasNextPage: false`` although more
records match (§1, §5). Window connections are sorted by the window's own timestamp, so a window
that yields that many resumes with a new query from the last row's timestamp (``>=``, whole
seconds) and drops the rows it has already seen as they were: nothing is lost and nothing is
read twice but the rows sharing that one second (a row changed since is passed on again). When
every row such a query reached shares its first second (more rows were changed in one second
than one query reaches), that second is read on its own,
sorted by ``ID`` and resumed past the cap with an ``id:>=`` filter (both in the schema for
orders, payouts, balance transactions and gift cards), then the window goes on from the next
second. A window whose cursor cannot be followed (a ``pageInfo``
without a way on, a cursor Shopify refuses: cursors are short-lived, §5 "restart the window";
or one handed back twice) resumes the same way; only when the new query could not start later
than the last is the list refused as read in part (``PagingError``, ``CursorLoopError``).
What an answer says (its next cursor, its nodes by id) is read by ``shopify_answers``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from recon.errors import CursorLoopError, FatalHTTPError, PagingError, SourceError
from recon.sources.documents import PageSizer, load_document
from recon.sources.pacing import requested_cost
from recon.sources.shopify_answers import (
    Misshapen,
    PartRead,
    gid,
    next_cursor,
    nodes_by_id,
    what_is_wrong,
)
from recon.sources.shopify_checks import CostExceededError

logger = logging.getLogger(__name__)

DEEP_PAGE_CAP = 25_000  # objects one paginated query can reach (§1)

Post = Callable[..., tuple[dict[str, Any], Mapping[str, Any]]]
WindowQuery = Callable[[datetime, datetime], str]


def resume_point(node: Any, sort_field: str) -> datetime | None:
    """The timestamp a capped window resumes from: ``sort_field`` of its last row, or None."""
    value = node.get(sort_field) if isinstance(node, Mapping) else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _first_moment(rows: Iterable[Any], sort_field: str) -> datetime | None:
    """``sort_field`` of the first of ``rows`` that has a readable one, or None."""
    return next((m for m in (resume_point(n, sort_field) for n in rows) if m is not None), None)


def _latest_moment(page: Sequence[Any], sort_field: str) -> datetime | None:
    """``sort_field`` of the page's last row that has a readable one: a query resumes from it.

    The page is sorted by that field, so a row after it whose time cannot be read (it is
    quarantined) is at or after it too, and so is all that was not read yet.
    """
    return _first_moment(reversed(page), sort_field)


def _last_id(page: Sequence[Any]) -> int | None:
    """The numeric id of the page's last row that has a readable one (``gid://shopify/X/123``)."""
    for node in reversed(page):
        value = node.get("id") if isinstance(node, Mapping) else None
        tail = value.rsplit("/", 1)[-1] if isinstance(value, str) else ""
        if tail.isascii() and tail.isdigit():
            return int(tail)
    return None


def whole_second(moment: datetime) -> datetime:
    """``moment`` cut to the second: what a search value means (``search_time``)."""
    return moment.replace(microsecond=0)


def unseen(page: Iterable[Any], seen: dict[str, Any]) -> Iterator[Any]:
    """The page's nodes not passed on before as they are: ``seen`` holds the copy of each id
    last passed on (added as they pass).

    A resume's ``>=`` query reads the rows of the last second again: the same copy twice is
    passed on once. A copy that differs (the record changed while the list was paged, so it
    comes again later in the sort) is passed on too: it is the later read, and the store keeps
    the copy with the later ``updatedAt`` (``recon.store.sql.latest_by_id``), so the mirror does not
    keep the record as it was before the change. A node without a readable id is known by its
    whole payload (one broken row read twice would be two entries to review). A node that is
    not even an object (null, a string) has nothing to tell it by and is always passed on.
    """
    for node in page:
        if not isinstance(node, Mapping):
            yield node
            continue
        key = node.get("id")
        if not isinstance(key, str):
            key = "payload:" + json.dumps(node, sort_keys=True, default=str)
        if key in seen and seen[key] == node:
            continue
        seen[key] = node
        yield node


class _UnfollowableError(PagingError):
    """A list page that cannot be followed: its ``pageInfo`` has no way on, Shopify refused its
    cursor, or handed one back twice. ``error`` is what the list raises when it cannot resume
    without the cursor; ``why`` says what happened, for the log line of a resume."""

    def __init__(self, error: SourceError, why: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.why = why


class Pager:
    """Paging over one client's ``post`` (the client's ``_post``) and page sizer."""

    def __init__(self, post: Post, sizer: PageSizer, deep_page_cap: int = DEEP_PAGE_CAP) -> None:
        self._post = post
        self.sizer = sizer
        self.deep_page_cap = deep_page_cap

    def _call(
        self, document: str, variables: Mapping[str, Any], size_var: str
    ) -> tuple[dict[str, Any], Mapping[str, Any], Mapping[str, Any]]:
        """(data, extensions, variables used): retried smaller while Shopify refuses the cost.

        Raises:
            CostExceededError: a page of one item is still over the cap.
        """
        while True:
            try:
                data, extensions = self._post(document, variables, write=False)
            except CostExceededError as exc:
                size = self.sizer.shrink(document, size_var, variables, exc.requested)
                if size < 1:
                    raise
                logger.warning(
                    "shopify: query refused at cost %s; retrying the same page with %s=%d",
                    exc.requested,
                    size_var,
                    size,
                )
                current = variables[size_var]
                variables = {
                    **variables,
                    size_var: current[:size] if isinstance(current, list) else size,
                }
                continue
            requested = requested_cost(extensions)
            if requested is not None:
                self.sizer.observe(document, size_var, variables, requested)
            return data, extensions, variables

    def pages(
        self, name: str, variables: Mapping[str, Any], path: Sequence[str]
    ) -> Iterator[list[Any]]:
        """Every page of the connection at ``path``; cursor loops are not followed.

        Raises:
            PagingError: a page's ``pageInfo`` cannot be followed, a page asked with a
                cursor was refused, or a cursor came back a second time (its ``error`` is the
                refusal, or the ``CursorLoopError``); what was yielded is a part.
        """
        document = load_document(name)
        first = self.sizer.size(document, "first", {**variables, "first": 0})
        after: str | None = None
        seen: set[str] = set()
        pages = 0
        while True:
            page_vars = {**variables, "first": first, "after": after}
            try:
                data, _, used = self._call(document, page_vars, "first")
            except FatalHTTPError as refused:
                if after is None or isinstance(refused, CostExceededError):
                    raise
                why = f"page {pages + 1} was refused with its cursor ({refused})"
                raise _UnfollowableError(refused, why) from refused  # e.g. the cursor expired
            first = used["first"]
            connection: Any = data
            for key in path:
                connection = connection.get(key) if isinstance(connection, Mapping) else None
            if not isinstance(connection, Mapping):
                return  # e.g. shopifyPaymentsAccount is null: the shop has no Shopify Payments
            yield list(connection.get("nodes") or [])
            pages += 1
            info = connection.get("pageInfo")
            after, wrong = next_cursor(info)
            if wrong is not None:
                raise _UnfollowableError(
                    PagingError(
                        f"shopify {name} {'.'.join(path)} (query {variables.get('query')!r}): "
                        f"{what_is_wrong(wrong, info)} on page {pages}: the list cannot be "
                        "paged further, so it was read in part. A list cut short must not pass "
                        "for the whole (what was not read would look absent, and the watermark "
                        "would move past it): the run stops, nothing of this sync is kept, and "
                        "the next run reads the same window again"
                    ),
                    f"{what_is_wrong(wrong, info)} on page {pages}",
                )
            if after is None:
                return
            if after in seen:
                looped = CursorLoopError(f"shopify {name}: the server repeated cursor {after[:40]}")
                raise _UnfollowableError(looped, f"page {pages} repeated a cursor")
            seen.add(after)

    def windowed(
        self,
        name: str,
        path: Sequence[str],
        query: WindowQuery,
        start: datetime,
        end: datetime,
        *,
        sort_field: str,
    ) -> Iterator[Any]:
        """Every node matching ``query(start, end)``, each once, whatever the deep-paging cap.

        The document must sort the connection ascending by the window's timestamp, which each
        node carries as ``sort_field`` (e.g. ``updatedAt`` under ``sortKey: UPDATED_AT``), unless
        its ``$sortKey`` variable says ``ID`` (``_second_by_id``).

        Raises:
            PagingError: the list was read in part (a cursor that cannot be followed, or a query
                at the cap, with no later start); ``CursorLoopError`` for a repeated cursor.
        """
        seen: dict[str, Any] = {}
        low = start
        while True:
            count, resume, earliest = 0, None, None
            try:
                for page in self.pages(name, {"query": query(low, end)}, path):
                    count += len(page)
                    resume = _latest_moment(page, sort_field) or resume
                    earliest = earliest or _first_moment(page, sort_field)
                    yield from unseen(page, seen)
            except _UnfollowableError as lost:
                # Sorted by ``sort_field``: what was not read is at or after the last time read.
                if resume is None or whole_second(resume) <= whole_second(low):
                    raise lost.error from None  # no later start: the list was read in part
                logger.warning(
                    "shopify %s (query %r): %s; asking again from %s, the last time read (the "
                    "list is sorted by %s, so the rest is at or after it)",
                    name,
                    query(low, end),
                    lost.why,
                    resume.isoformat(),
                    sort_field,
                )
                low = whole_second(resume)
                continue
            if count < self.deep_page_cap:
                return
            if resume is None:
                raise PagingError(
                    f"shopify {name} (query {query(low, end)!r}): {count} records reach the "
                    f"deep-paging cap ({self.deep_page_cap}) and none has a readable "
                    f"{sort_field} to ask again from, so the list was read in part: the run "
                    "stops, nothing of this sync is kept, and the next run reads it again"
                )
            second = whole_second(resume)
            if earliest is not None and whole_second(earliest) < second:
                logger.info("shopify %s: deep-paging cap reached; resuming at %s", name, resume)
                low = second
                continue
            # Every row the query reached shares one second, so no query by time can get past
            # it: that second is read by id, then the window goes on from the next one.
            following = second + timedelta(seconds=1)
            yield from self._second_by_id(name, path, query, (second, min(following, end)), seen)
            if following >= end:
                return
            low = following

    def _second_by_id(
        self,
        name: str,
        path: Sequence[str],
        query: WindowQuery,
        second: tuple[datetime, datetime],
        seen: dict[str, Any],
    ) -> Iterator[Any]:
        """Every node of ``query(*second)`` (one second, or less), each once, sorted by ``ID``.

        The ids of a second are in no order the time sort gives, so the second is read whole by
        id and the rows read before are dropped by ``seen``. A query that reaches the cap (or
        whose cursor cannot be followed) goes on with ``id:>=`` one past the last id read: the
        schema's ``id`` range filter and ``ID`` sort key on every windowed list (§5).

        Raises:
            PagingError: a query read no row with a readable id to go on from (its ``error``
                when its cursor could not be followed).
        """
        base = query(*second)
        logger.warning(
            "shopify %s: more than %d records share the second %s, more than one query reaches "
            "(the deep-paging cap); reading that second by id (query %r)",
            name,
            self.deep_page_cap,
            second[0].isoformat(),
            base,
        )
        floor: int | None = None  # the last id read: the next query starts after it
        while True:
            text = base if floor is None else f"{base} AND id:>={floor + 1}"
            count, last = 0, floor
            try:
                for page in self.pages(name, {"query": text, "sortKey": "ID"}, path):
                    count += len(page)
                    tail = _last_id(page)
                    last = last if tail is None else tail
                    yield from unseen(page, seen)
            except _UnfollowableError as lost:
                if last is None or last == floor:
                    raise lost.error from None  # no later start: the second was read in part
                logger.warning(
                    "shopify %s (query %r): %s; asking again by id", name, text, lost.why
                )
                floor = last
                continue
            if count < self.deep_page_cap:
                return
            if last is None or last == floor:
                raise PagingError(
                    f"shopify {name} (query {text!r}): {count} records reach the deep-paging cap "
                    f"({self.deep_page_cap}) and none has a readable id to ask again from, so "
                    "the list was read in part: the run stops, nothing of this sync is kept, and "
                    "the next run reads it again"
                )
            floor = last

    def by_ids(
        self, name: str, kind: str, ids: Sequence[str]
    ) -> Iterator[tuple[str, Mapping[str, Any] | Misshapen | None]]:
        """(gid, node) for every id via ``nodes(ids:)`` in cost-sized chunks; None for nulls
        and for the ids a shorter list leaves out (Shopify may drop what it cannot show rather
        than answer null in place, §6 unverified: the callers quarantine both as not visible,
        and do not ask again at once), and a ``Misshapen`` for each id of a chunk whose answer
        cannot be matched (``nodes_by_id``). Results are matched back by each node's ``id``.
        """
        document = load_document(name)
        unique = list(dict.fromkeys(gid(kind, str(value)) for value in ids))
        size = self.sizer.size(document, "ids", {"ids": []})
        offset = 0
        while offset < len(unique):
            chunk = unique[offset : offset + size]
            data, _, used = self._call(document, {"ids": chunk}, "ids")
            chunk = list(used["ids"])
            size, offset = len(chunk), offset + len(chunk)
            found = nodes_by_id(name, chunk, data.get("nodes"))
            if isinstance(found, Misshapen):
                logger.warning("%s", found.reason)
                yield from ((node_gid, found) for node_gid in chunk)
                continue
            for node_gid in chunk:
                yield node_gid, found.get(node_gid)

    def follow(self, name: str, field: str, node: Mapping[str, Any]) -> list[Any] | PartRead:
        """Inner-connection pages beyond the first (``node(id:)`` paging, §7), or a ``PartRead``
        when the list could not be read to its end: the node vanished (deleted, out of sight)
        before its last page, a page's ``pageInfo`` cannot be followed, or it hands back a
        cursor already followed (one record's list going round in circles spoils that record,
        not the run)."""
        connection = node.get(field)
        if not isinstance(connection, Mapping) or not isinstance(node.get("id"), str):
            return []  # no connection to follow: the parser judges the field itself
        after, wrong = next_cursor(connection.get("pageInfo"))
        document = load_document(name)
        variables: Mapping[str, Any] = {"id": node["id"]}
        first = self.sizer.size(document, "first", {**variables, "first": 0})
        seen: set[str] = set()
        extra: list[Any] = []
        while wrong is None and after is not None:
            if after in seen:
                return PartRead(
                    f"{field}.pageInfo.endCursor",
                    f"{field}.pageInfo.endCursor repeated a cursor already followed: its "
                    f"{{field}} cannot be paged further ({name}), so some may not have been read",
                )
            seen.add(after)
            data, _, used = self._call(
                document, {**variables, "first": first, "after": after}, "first"
            )
            first = used["first"]
            connection = (data.get("node") or {}).get(field)
            if not isinstance(connection, Mapping):
                return PartRead(field, "deleted (or out of sight) while its {field} were paged")
            extra.extend(connection.get("nodes") or [])
            after, wrong = next_cursor(connection.get("pageInfo"))
        if wrong is not None:
            return PartRead(
                f"{field}.{wrong}",
                f"{what_is_wrong(f'{field}.{wrong}', connection.get('pageInfo'))}: its {{field}} "
                f"cannot be paged further ({name}), so some were not read",
            )
        return extra
