"""What a Shopify answer says about paging on: its next cursor, its ``nodes(ids:)`` by id.

Reading an answer is apart from asking for it (``recon.sources.shopify_paging``): the record
parsers (``shopify_unread``) and the remediation writes judge the same answers without paging.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def gid(kind: str, numeric_id: str) -> str:
    """``gid://shopify/<kind>/<id>`` from a numeric id (a GID is passed through)."""
    return numeric_id if numeric_id.startswith("gid://") else f"gid://shopify/{kind}/{numeric_id}"


@dataclass(frozen=True)
class PartRead:
    """An inner connection of a node that could not be read to its end: the field at fault
    (``lineItems``, ``lineItems.pageInfo.endCursor``) and why."""

    field: str
    reason: str


@dataclass(frozen=True)
class Misshapen:
    """A ``nodes(ids:)`` answer that cannot be matched to the ids asked: why (``reason``)."""

    reason: str


_SHOWN_IDS = 10  # ids named in a shape error; more are counted


def nodes_by_id(
    name: str, asked: Sequence[str], nodes: object
) -> dict[str, Mapping[str, Any]] | Misshapen:
    """The nodes of a ``nodes(ids:)`` answer by id, or why it is not an answer to ``asked``.

    ``nodes(ids:)`` is ``[Node]!``. By the Relay convention it has one entry per id, ``null`` in
    place for an id Shopify cannot show; that is unverified for Shopify (shopify-admin-api.md
    §6), which may as well leave such ids out. Both readings are taken, and results are matched
    by each node's ``id`` either way (§6), so an id with no node in a well-formed answer is
    absent from the result: the caller treats it as answered null (not visible; it is not
    asked again at once). Well-formed is: every entry that is not null (or ``{}``, an id of
    another type) is a node carrying an id asked, each id once; a list as long as ``asked``
    may hold nulls in place; a shorter one holds none (a null there fits neither reading), and
    an empty one shows none of the ids (a chunk of orders all deleted, when Shopify leaves them
    out). Anything else (longer, no list, a node without an id or with one not asked, an id
    twice) cannot say which ids were not shown: taken at its word, the ids it left out would
    read as deleted in Shopify, so the whole answer is ``Misshapen``. An empty list is asked
    once more first (``ShopifyTransport._check_body``): under the reference's reading it is a
    broken answer, under the other it is what Shopify says of hidden ids, and only a re-ask
    tells a passing glitch from the latter.
    """
    said = _unmatchable(asked, nodes)
    if said is None:
        assert isinstance(nodes, list)  # checked by _unmatchable
        return {str(n["id"]): n for n in nodes if isinstance(n, Mapping) and n}
    tails = [node_gid.rsplit("/", 1)[-1] for node_gid in asked]
    shown = ", ".join(tails[:_SHOWN_IDS]) + (
        f" and {len(tails) - _SHOWN_IDS} more" if len(tails) > _SHOWN_IDS else ""
    )
    return Misshapen(
        f"shopify {name}: nodes(ids:) answered {said} (ids {shown}): a malformed answer, so "
        "nothing is read from it and no id is taken as deleted; they are asked again next run"
    )


def _unmatchable(asked: Sequence[str], nodes: object) -> str | None:
    """Why ``nodes`` cannot be matched to ``asked`` by id (``nodes_by_id``), or None."""
    if not isinstance(nodes, list):
        return "no list"
    if len(nodes) > len(asked):
        return f"{len(nodes)} entries for {len(asked)} ids"
    wanted, matched = set(asked), set()
    for node in nodes:
        if node is None or (isinstance(node, Mapping) and not node):
            if len(nodes) < len(asked):
                what = "a null" if node is None else "an empty node"
                return f"{what} in a list of {len(nodes)} entries for {len(asked)} ids"
            continue
        if not isinstance(node, Mapping):
            return "an entry that is not a node"
        node_gid = node.get("id")
        if not isinstance(node_gid, str):
            return "a node without an id"
        if node_gid not in wanted:
            return f"a node for an id not asked ({node_gid.rsplit('/', 1)[-1]})"
        if node_gid in matched:
            return f"id {node_gid.rsplit('/', 1)[-1]} twice"
        matched.add(node_gid)
    return None


def next_cursor(info: object) -> tuple[str | None, str | None]:
    """(the cursor of the next page or None at the end, the ``pageInfo`` field at fault or None).

    A page must say whether there is more (``hasNextPage``, a boolean) and, when there is, where
    (``endCursor``). Anything else cannot be paged further: the list is not known to be whole.
    """
    if not isinstance(info, Mapping):
        return None, "pageInfo"
    more = info.get("hasNextPage")
    if not isinstance(more, bool):
        return None, "pageInfo.hasNextPage"
    if not more:
        return None, None
    cursor = info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        return None, "pageInfo.endCursor"
    return cursor, None


def what_is_wrong(field: str, info: object) -> str:
    """``pageInfo.endCursor is null while hasNextPage is true`` and the like, for messages."""
    if field.endswith("pageInfo"):
        return f"{field} is missing" if info is None else f"{field} is not an object"
    value = info.get(field.rsplit(".", 1)[-1]) if isinstance(info, Mapping) else None
    shown = json.dumps(value)[:40]
    if field.endswith("endCursor"):
        return f"{field} is {shown} while hasNextPage is true"
    return f"{field} is {shown}, not true or false"
