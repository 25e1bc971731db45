"""Query cost (requested, before execution; actual, after) and the per-shop leaky bucket.

The formula (shopify-admin-api.md §15, after Shopify's "calculating query complexity" post),
applied to the operation's AST with the request's variables:

* scalar and enum fields cost 0; ``__typename`` and introspection cost 0;
* an object (or interface) field costs ``1 + cost(its selection)``;
* a connection (a type named ``*Connection``) costs ``2 + size x node`` where ``size`` is its
  ``first`` (or ``last``) argument and ``node = 1 + cost(node selection)``, summed over ``nodes``
  and ``edges { node }`` when both are selected; ``pageInfo`` and ``cursor`` are free;
* a list field costs ``size x (1 + cost(item selection))``, ``size`` being its ``first`` argument,
  the length of ``ids`` for ``nodes(ids:)``, else 1;
* on an abstract type, direct fields are summed and the dearest inline fragment/spread is added;
* a mutation field costs a flat 10, its payload selection free (the reference's table, and
  ``examples/shopify/graphql-refundCreate.json`` shows 10 for a payload with nested objects).

The actual cost applies the same rules to what execution returned: 2 per connection, 1 per object
or list item actually resolved, 10 per mutation field.
"""

from __future__ import annotations

import threading
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)

from recon.clock import Clock
from recon.sandbox.shopify.search import MAX_PAGE

MAX_QUERY_COST = 1000  # shopify-admin-api.md §1: any plan
MUTATION_COST = 10


class PageSizeError(Exception):
    """A ``first``/``last`` or input array over Shopify's 250 cap, found before execution."""


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def value(self, node: Any) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return [self.value(v) for v in node.values]
        return None

    def arg(self, field: FieldNode, name: str) -> Any:
        for argument in field.arguments or ():
            if argument.name.value == name:
                return self.value(argument.value)
        return None

    def size(self, field: FieldNode) -> int | None:
        for name in ("first", "last"):
            value = self.arg(field, name)
            if isinstance(value, int):
                if value > MAX_PAGE:
                    raise PageSizeError(
                        f"The {name} argument on field '{field.name.value}' is too large: "
                        f"{value} (maximum {MAX_PAGE})."
                    )
                return value
        ids = self.arg(field, "ids")
        if isinstance(ids, list):
            if len(ids) > MAX_PAGE:
                raise PageSizeError(
                    f"The input array size of {len(ids)} is greater than the "
                    f"maximum allowed of {MAX_PAGE}."
                )
            return len(ids)
        return None

    def selection(self, parent: Any, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total, dearest_fragment = 0, 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(parent, node)
                continue
            if isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is None:
                    continue
                target, sub = (
                    self.schema.get_type(fragment.type_condition.name.value),
                    fragment.selection_set,
                )
            else:
                assert isinstance(node, InlineFragmentNode)
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                sub = node.selection_set
            dearest_fragment = max(dearest_fragment, self.selection(target, sub))
        return total + dearest_fragment

    def field(self, parent: Any, node: FieldNode) -> int:
        name = node.name.value
        if name.startswith("__") or not hasattr(parent, "fields") or name not in parent.fields:
            return 0
        field_type = parent.fields[name].type
        named = get_named_type(field_type)
        if is_leaf_type(named):
            return 0
        size = self.size(node)
        if named.name.endswith("Connection"):
            return 2 + (size or 0) * self.connection_node(named, node.selection_set)
        child = self.selection(named, node.selection_set)
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if isinstance(inner, GraphQLList):
            return (1 if size is None else size) * (1 + child)
        return 1 + child

    def connection_node(self, connection: Any, selection_set: SelectionSetNode | None) -> int:
        cost = 0
        for node in selection_set.selections if selection_set else ():
            if not isinstance(node, FieldNode):
                continue
            if node.name.value == "nodes":
                item = get_named_type(connection.fields["nodes"].type)
                cost += 1 + self.selection(item, node.selection_set)
            elif node.name.value == "edges":
                edge = get_named_type(connection.fields["edges"].type)
                for sub in node.selection_set.selections if node.selection_set else ():
                    if isinstance(sub, FieldNode) and sub.name.value == "node":
                        item = get_named_type(edge.fields["node"].type)
                        cost += 1 + self.selection(item, sub.selection_set)
        return cost


def requested_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> int:
    """The requested cost of one operation.

    Raises:
        PageSizeError: when a ``first``/``last`` or ``ids`` exceeds 250.
    """
    walker = _Walker(schema, fragments, variables)
    if operation.operation == OperationType.MUTATION:
        mutation = schema.mutation_type
        assert mutation is not None
        # Walk the payload too, so page-size errors surface, but charge the flat mutation cost.
        fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        for node in fields:
            walker.field(mutation, node)
        return MUTATION_COST * len(fields)
    return walker.selection(schema.query_type, operation.selection_set)


class ActualCost:
    """graphql-core middleware that totals the cost of what resolvers actually returned."""

    def __init__(self) -> None:
        self.total = 0

    def resolve(self, next_: Any, root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        result = next_(root, info, **args)
        self.total += self._charge(info, result)
        return result

    def _charge(self, info: GraphQLResolveInfo, result: Any) -> int:
        if info.operation.operation == OperationType.MUTATION:
            return MUTATION_COST if len(info.path.as_list()) == 1 else 0
        named = get_named_type(info.return_type)
        if result is None or is_leaf_type(named) or info.field_name in ("pageInfo", "edges"):
            return 0
        if named.name.endswith("Connection"):
            return 2
        if isinstance(result, list):
            return sum(1 for item in result if item is not None)
        return 1


class LeakyBucket:
    """Shopify's cost bucket: holds ``capacity`` points, refills at ``restore_rate`` points/s."""

    def __init__(self, capacity: float, restore_rate: float, clock: Clock) -> None:
        self.capacity = capacity
        self.restore_rate = restore_rate
        self.clock = clock
        self._available = capacity
        self._stamp = clock.monotonic()
        self._lock = threading.Lock()

    def _leak(self) -> None:
        now = self.clock.monotonic()
        self._available = min(
            self.capacity, self._available + (now - self._stamp) * self.restore_rate
        )
        self._stamp = now

    def take(self, points: int) -> bool:
        """Deduct ``points`` if available; False (nothing deducted) when the bucket is short."""
        with self._lock:
            self._leak()
            if self._available < points:
                return False
            self._available -= points
            return True

    def give_back(self, points: int) -> None:
        with self._lock:
            self._leak()
            self._available = min(self.capacity, self._available + max(points, 0))

    def status(self) -> dict[str, float | int]:
        """``throttleStatus`` as Shopify prints it (maximum and rate as floats)."""
        with self._lock:
            self._leak()
            return {
                "maximumAvailable": float(self.capacity),
                "currentlyAvailable": int(self._available),
                "restoreRate": float(self.restore_rate),
            }
