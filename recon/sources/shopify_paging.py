"""Shopify paging: cursor pages, ``nodes(ids:)`` chunks, inner-connection follow-ups, windows.

Every call is sized by the ``PageSizer``; a page refused with MAX_COST_EXCEEDED is shrunk from
Shopify's own cost figure and the *same* page is asked again (shopify-admin-api.md §15). Deep
pagination stops at 25,000 objects per query and then reports ``hasNextPage: false`` although more
records match (§1, §5): a window that yields that many is split in halves and each half re-read,
recursively, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from recon.errors import CursorLoopError
from recon.sources.documents import PageSizer, load_document
from recon.sources.pacing import requested_cost
from recon.sources.shopify_checks import CostExceededError

logger = logging.getLogger(__name__)

DEEP_PAGE_CAP = 25_000  # objects one paginated query can reach (§1)

Post = Callable[..., tuple[dict[str, Any], Mapping[str, Any]]]
WindowQuery = Callable[[datetime, datetime], str]


def gid(kind: str, numeric_id: str) -> str:
    """``gid://shopify/<kind>/<id>`` from a numeric id (a GID is passed through)."""
    return numeric_id if numeric_id.startswith("gid://") else f"gid://shopify/{kind}/{numeric_id}"


def split_window(start: datetime, end: datetime) -> datetime | None:
    """A whole-second midpoint strictly inside [start, end), or None when none exists.

    Search values have second precision (``search_time``), so halves are cut on seconds.
    """
    middle = start + (end - start) / 2
    middle = middle.replace(microsecond=0)
    if middle <= start.replace(microsecond=0):
        middle += timedelta(seconds=1)
    return middle if start < middle < end else None


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
        """Every page of the connection at ``path``; cursor loops are refused."""
        document = load_document(name)
        first = self.sizer.size(document, "first", {**variables, "first": 0})
        after: str | None = None
        seen: set[str] = set()
        while True:
            page_vars = {**variables, "first": first, "after": after}
            data, _, used = self._call(document, page_vars, "first")
            first = used["first"]
            connection: Any = data
            for key in path:
                connection = connection.get(key) if isinstance(connection, Mapping) else None
            if not isinstance(connection, Mapping):
                return  # e.g. shopifyPaymentsAccount is null: the shop has no Shopify Payments
            yield list(connection.get("nodes") or [])
            info = connection.get("pageInfo") or {}
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not after:
                return
            if after in seen:
                raise CursorLoopError(f"shopify {name}: the server repeated cursor {after[:40]}")
            seen.add(after)

    def windowed(
        self,
        name: str,
        path: Sequence[str],
        query: WindowQuery,
        start: datetime,
        end: datetime,
        seen: set[str] | None = None,
    ) -> Iterator[Any]:
        """Every node matching ``query(start, end)``, each once, whatever the deep-paging cap."""
        seen = set() if seen is None else seen
        count = 0
        for page in self.pages(name, {"query": query(start, end)}, path):
            count += len(page)
            for node in page:
                key = node.get("id") if isinstance(node, Mapping) else None
                if isinstance(key, str):
                    if key in seen:
                        continue
                    seen.add(key)
                yield node
        if count < self.deep_page_cap:
            return
        middle = split_window(start, end)
        if middle is None:
            logger.error(
                "shopify %s: %d records in the one-second window from %s: deep pagination "
                "(%d) may have hidden some; use a bulk operation for this range",
                name,
                count,
                start.isoformat(),
                self.deep_page_cap,
            )
            return
        logger.info("shopify %s: %d records reach the deep-paging cap; splitting", name, count)
        yield from self.windowed(name, path, query, start, middle, seen)
        yield from self.windowed(name, path, query, middle, end, seen)

    def by_ids(
        self, name: str, kind: str, ids: Sequence[str]
    ) -> Iterator[tuple[str, Mapping[str, Any] | None]]:
        """(gid, node) for every id via ``nodes(ids:)`` in cost-sized chunks; None for nulls.

        Results are matched back by each node's ``id``, not by position (§6).
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
            found: dict[str, Mapping[str, Any]] = {}
            for node in data.get("nodes") or []:
                if isinstance(node, Mapping) and node:
                    found[str(node.get("id"))] = node
            for node_gid in chunk:
                yield node_gid, found.pop(node_gid, None)
            yield from found.items()  # ids Shopify spelled differently: still returned

    def follow(self, name: str, field: str, node: Mapping[str, Any]) -> list[Any]:
        """Inner-connection pages beyond the first (``node(id:)`` paging, §7)."""
        info = (node.get(field) or {}).get("pageInfo") or {}
        if not info.get("hasNextPage") or not isinstance(node.get("id"), str):
            return []
        document = load_document(name)
        variables: Mapping[str, Any] = {"id": node["id"]}
        first = self.sizer.size(document, "first", {**variables, "first": 0})
        after = info.get("endCursor")
        seen: set[str] = set()
        extra: list[Any] = []
        while after:
            if after in seen:
                raise CursorLoopError(f"shopify {name}: the server repeated cursor {after[:40]}")
            seen.add(after)
            data, _, used = self._call(
                document, {**variables, "first": first, "after": after}, "first"
            )
            first = used["first"]
            connection = ((data.get("node") or {}).get(field)) or {}
            extra.extend(connection.get("nodes") or [])
            page_info = connection.get("pageInfo") or {}
            after = page_info.get("endCursor") if page_info.get("hasNextPage") else None
        return extra
