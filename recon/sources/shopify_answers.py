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

    ``nodes(ids:)`` is ``[Node]!``: one entry per id, ``null`` in place for an id Shopify cannot
    show (shopify-admin-api.md §6). Results are matched by id, so a well-formed answer leaves as
    many ids unmatched as it has nulls. A list of another length, or a node in place of an id
    not answered, cannot say which ids were null: taken at its word, the ids it left out would
    read as deleted in Shopify.
    """
    if not isinstance(nodes, list):
        said = "no list"
    elif len(nodes) != len(asked):
        said = f"{len(nodes)} entries for {len(asked)} ids"
    else:
        found = {str(n.get("id")): n for n in nodes if isinstance(n, Mapping) and n}
        nulls = sum(1 for n in nodes if n is None or (isinstance(n, Mapping) and not n))
        unmatched = sum(1 for node_gid in asked if node_gid not in found)
        if nulls == unmatched and all(n is None or isinstance(n, Mapping) for n in nodes):
            return found
        said = f"{nulls} null entries for {unmatched} ids not answered"
    tails = [node_gid.rsplit("/", 1)[-1] for node_gid in asked]
    shown = ", ".join(tails[:_SHOWN_IDS]) + (
        f" and {len(tails) - _SHOWN_IDS} more" if len(tails) > _SHOWN_IDS else ""
    )
    return Misshapen(
        f"shopify {name}: nodes(ids:) answered {said} (ids {shown}): a malformed answer, so "
        "nothing is read from it and no id is taken as deleted; they are asked again next run"
    )


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
