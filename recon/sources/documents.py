"""GraphQL documents: loading them from package data, and their requested cost, computed statically.

Cost model (shopify-admin-api.md §15, checked against that file's estimates): scalars and enums 0,
an object 1 plus its fields, a connection 2 + ``first`` x one node (``pageInfo`` free), a sized
plain list ``first`` x one element, ``nodes(ids:)`` one element per id. Page sizes are then the
largest that keep a query at or under ``PAGE_COST_BUDGET``: 900 points, a tenth below Shopify's
1,000-point cap, because live costs drift from the formula; a page refused anyway
(MAX_COST_EXCEEDED) is shrunk from Shopify's own figure and retried (``PageSizer.shrink``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from graphql import parse, print_ast
from graphql.language import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)

logger = logging.getLogger(__name__)

MAX_QUERY_COST = 1000  # Shopify's single-query cap, any plan (§1)
PAGE_COST_BUDGET = 900  # what recon sizes pages to: headroom for costs the formula gets wrong
MAX_PAGE = 250  # page size and input-array cap (§1)
_CONNECTION_PARTS = frozenset({"nodes", "edges", "pageInfo"})


@lru_cache(maxsize=64)
def load_document(name: str) -> str:
    """The text of ``recon/sources/graphql/<name>.graphql``.

    Raises:
        FileNotFoundError: if there is no such document.
    """
    resource = resources.files("recon.sources").joinpath("graphql", f"{name}.graphql")
    return resource.read_text(encoding="utf-8")


class _LiteralKey(Visitor):
    """Puts ``key`` in every ``@idempotent(key: $var)`` and drops those variables' definitions."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.replaced: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: object) -> DirectiveNode | None:
        if node.name.value != "idempotent":
            return None
        arguments = []
        for argument in node.arguments:
            if argument.name.value == "key" and isinstance(argument.value, VariableNode):
                self.replaced.add(argument.value.name.value)
                argument = ArgumentNode(name=argument.name, value=StringValueNode(value=self.key))
            arguments.append(argument)
        return DirectiveNode(name=node.name, arguments=tuple(arguments))


def with_idempotency_key(document: str, key: str) -> str:
    """The write ``document`` with ``key`` written into ``@idempotent(key:)`` as a string literal.

    Shopify's published examples put the key in the document as a literal; that a *variable* as
    the key is honoured at runtime is unverified (shopify-admin-api.md §10). A literal is right
    either way, so writes go out with the key rendered in and its variable definition removed (an
    unused variable would make the document invalid). The ``.graphql`` files keep the variable so
    they stay one validated document each.

    Raises:
        ValueError: for an empty or blank key (Shopify refuses it, §10).
    """
    if not key.strip():
        raise ValueError("an idempotency key must not be empty or blank")
    literal = _LiteralKey(key)
    keyed = visit(parse(document), literal)
    unused = literal.replaced

    class _DropUnused(Visitor):
        def enter_variable_definition(self, node: VariableDefinitionNode, *_: object) -> object:
            return self.REMOVE if node.variable.name.value in unused else None

    return print_ast(visit(keyed, _DropUnused()))


@lru_cache(maxsize=64)
def _operation(document: str) -> OperationDefinitionNode:
    parsed: DocumentNode = parse(document)
    for definition in parsed.definitions:
        if isinstance(definition, OperationDefinitionNode):
            return definition
    raise ValueError("document has no operation")


def estimate_cost(document: str, variables: Mapping[str, Any]) -> int:
    """Requested cost of a query with these variables, by Shopify's published formula."""
    operation = _operation(document)
    base = 10 if operation.operation.value == "mutation" else 0
    return base + _selection_cost(operation.selection_set, variables)


def _selection_cost(selection_set: SelectionSetNode | None, variables: Mapping[str, Any]) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field_cost(selection, variables)
        elif isinstance(selection, InlineFragmentNode):
            total += _selection_cost(selection.selection_set, variables)
        elif isinstance(selection, FragmentSpreadNode):  # pragma: no cover - not used by recon
            raise ValueError("fragment spreads are not supported by the cost estimator")
    return total


def _field_cost(node: FieldNode, variables: Mapping[str, Any]) -> int:
    if node.selection_set is None or node.name.value == "pageInfo":
        return 0  # scalars, enums and pageInfo are free
    ids = _argument_len(node, "ids", variables)
    if ids is not None:  # nodes(ids:): one element per id
        return ids * (1 + _selection_cost(node.selection_set, variables))
    first = _argument(node, "first", variables)
    children = {s.name.value for s in node.selection_set.selections if isinstance(s, FieldNode)}
    if first is not None and children & _CONNECTION_PARTS:
        return 2 + first * (1 + _connection_element(node, variables))
    element = 1 + _selection_cost(node.selection_set, variables)
    return element * first if first is not None else element


def _connection_element(node: FieldNode, variables: Mapping[str, Any]) -> int:
    """Cost of one node of a connection (what ``nodes`` or ``edges.node`` selects)."""
    assert node.selection_set is not None
    for selection in node.selection_set.selections:
        if isinstance(selection, FieldNode) and selection.name.value == "nodes":
            return _selection_cost(selection.selection_set, variables)
        if isinstance(selection, FieldNode) and selection.name.value == "edges":
            inner = selection.selection_set
            for edge_part in inner.selections if inner else ():
                if isinstance(edge_part, FieldNode) and edge_part.name.value == "node":
                    return _selection_cost(edge_part.selection_set, variables)
    return 0


@lru_cache(maxsize=64)
def field_first(document: str, field_name: str) -> int | None:
    """The literal ``first`` of the first field called ``field_name`` (``refunds(first: 20)``)."""
    pending = [_operation(document).selection_set]
    while pending:
        selection_set = pending.pop(0)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value == field_name:
                value = _argument(selection, "first", {})
                if value is not None:
                    return value
            inner = getattr(selection, "selection_set", None)
            if inner is not None:
                pending.append(inner)
    return None


def _argument(node: FieldNode, name: str, variables: Mapping[str, Any]) -> int | None:
    for argument in node.arguments:
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            resolved = variables.get(value.name.value)
            return resolved if isinstance(resolved, int) else None
    return None


def _argument_len(node: FieldNode, name: str, variables: Mapping[str, Any]) -> int | None:
    for argument in node.arguments:
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, ListValueNode):
            return len(value.values)
        if isinstance(value, VariableNode):
            resolved = variables.get(value.name.value)
            return len(resolved) if isinstance(resolved, list | tuple) else None
    return None


class PageSizer:
    """Chooses ``first`` (or the ``ids`` chunk) per document from its cost, learning from responses.

    The static estimate is linear in the page size: cost(n) = fixed + n x per_item. When
    ``requestedQueryCost`` disagrees, the observed per-item cost replaces the estimate. A document
    is sized to ``budget`` (a tenth below the cap) until Shopify's own figure has confirmed the
    estimate; from then on to the full 1,000-point cap, so no call is wasted on headroom
    (shopify-admin-api.md §15: "confirm on first live call").
    """

    def __init__(self, *, budget: int = PAGE_COST_BUDGET, cap: int = MAX_QUERY_COST) -> None:
        self._budget = budget
        self._cap = max(cap, budget)
        self._bucket: int | None = None  # the bucket's maximumAvailable, once Shopify said it
        self._per_item: dict[str, float] = {}
        self._confirmed: set[str] = set()
        self._lock = threading.Lock()

    def fit_bucket(self, maximum: float) -> None:
        """Size pages to at most ``maximum`` points: the bucket Shopify reports.

        Shopify does not publish bucket sizes and may lower limits temporarily (§15): a page
        dearer than the whole bucket is refused THROTTLED however long the client waits.
        """
        with self._lock:
            self._bucket = max(1, math.floor(maximum))

    def _limit(self, document: str) -> int:
        """The cost a page may reach: budget (cap once confirmed), never above the bucket."""
        with self._lock:
            limit = self._cap if _name(document) in self._confirmed else self._budget
            return limit if self._bucket is None else min(limit, self._bucket)

    def linear_cost(
        self, document: str, size_var: str, variables: Mapping[str, Any]
    ) -> tuple[int, float]:
        """(fixed cost, cost per item) of a document along its page-size variable."""
        key = _operation(document).name
        name = key.value if key else document[:40]
        fixed = estimate_cost(
            document, {**variables, size_var: _size_value(variables, size_var, 0)}
        )
        one = estimate_cost(document, {**variables, size_var: _size_value(variables, size_var, 1)})
        with self._lock:
            per_item = self._per_item.get(name, float(one - fixed))
        return fixed, per_item

    def size(self, document: str, size_var: str, variables: Mapping[str, Any]) -> int:
        """The largest page size whose requested cost stays within the budget (1..250)."""
        fixed, per_item = self.linear_cost(document, size_var, variables)
        if per_item <= 0:
            return MAX_PAGE
        budget = self._limit(document)
        return max(1, min(MAX_PAGE, math.floor((budget - fixed) / per_item)))

    def expected_cost(self, document: str, size_var: str, variables: Mapping[str, Any]) -> float:
        """The cost to pace for: the static estimate, or the learned one when that is dearer."""
        estimate = estimate_cost(document, variables)
        count = _count(variables.get(size_var))
        if count <= 0:
            return float(estimate)
        fixed, per_item = self.linear_cost(document, size_var, variables)
        return max(float(estimate), fixed + per_item * count)

    def shrink(
        self, document: str, size_var: str, variables: Mapping[str, Any], requested: float | None
    ) -> int:
        """A smaller size after MAX_COST_EXCEEDED: learn from ``requested``, then re-size.

        Always strictly smaller than the refused size, so retrying converges; 0 means the refused
        size was already 1 and nothing smaller exists.
        """
        count = _count(variables.get(size_var))
        if requested is not None:
            self.observe(document, size_var, variables, requested)
        empty = {**variables, size_var: _size_value(variables, size_var, 0)}
        size = self.size(document, size_var, empty)
        if size >= count:  # the estimate still says it fits: scale by Shopify's figure, or halve
            budget = min(self._budget, self._limit(document))
            size = math.floor(count * budget / requested) if requested else count // 2
        return max(0, min(size, count - 1))

    def observe(
        self, document: str, size_var: str, variables: Mapping[str, Any], requested: float
    ) -> None:
        """Compare the estimate with Shopify's ``requestedQueryCost`` and adapt if it was off."""
        count = _count(variables.get(size_var))
        estimate = estimate_cost(document, variables)
        exact = abs(requested - estimate) <= 1.0
        with self._lock:
            if exact and count > 0 and _name(document) not in self._per_item:
                self._confirmed.add(_name(document))
            elif not exact:
                self._confirmed.discard(_name(document))
        if count <= 0 or abs(requested - estimate) <= max(1.0, 0.05 * estimate):
            return
        fixed, _ = self.linear_cost(document, size_var, variables)
        key = _operation(document).name
        name = key.value if key else document[:40]
        per_item = max(1.0, (requested - fixed) / count)
        logger.warning(
            "shopify %s: requested cost %.0f, estimated %d; per-item cost now %.1f",
            name,
            requested,
            estimate,
            per_item,
        )
        with self._lock:
            self._per_item[name] = per_item


def _name(document: str) -> str:
    key = _operation(document).name
    return key.value if key else document[:40]


def _size_value(variables: Mapping[str, Any], size_var: str, count: int) -> Any:
    """A value of the size variable holding ``count`` items (an int, or a list for ``ids``)."""
    if isinstance(variables.get(size_var), list | tuple):
        return ["x"] * count
    return count


def _count(value: object) -> int:
    if isinstance(value, list | tuple):
        return len(value)
    return value if isinstance(value, int) else 0
