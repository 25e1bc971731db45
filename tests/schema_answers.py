"""Walk a GraphQL answer against the document that asked for it and the REAL Shopify schema.

The emulator executes on its own SDL (a subset of Shopify's), whose custom scalars serialise
whatever a resolver returns; an answer can therefore look fine to graphql-core and still be one
Shopify never sends (a float for ``Money``, a date without zone for ``DateTime``, an id that is
not a GID). ``answer_problems`` lists every place where the answer is not what the 2026-04 schema
promises: a selected field missing, ``null`` in a non-null position, an enum value the schema does
not list, a scalar not in its documented form, an ``id`` whose GID names another type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    get_operation_ast,
    parse,
    value_from_ast_untyped,
)

REAL_SDL = Path("/work/shared/reference/schema/shopify-admin-2026-04.graphql")

_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
# Shopify prints DateTime in UTC with a Z (examples/shopify/*.json: "2026-01-01T14:02:10Z").
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<tail>\d+)(\?[^\s]*)?$")


def _is(kind: type) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, kind) and not isinstance(v, bool)


_SCALARS: dict[str, Callable[[Any], bool]] = {
    "String": _is(str),
    "ID": lambda v: isinstance(v, str) and _GID.match(v) is not None,
    "Int": _is(int),
    "Float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "Money": lambda v: isinstance(v, str) and _DECIMAL.match(v) is not None,
    "Decimal": lambda v: isinstance(v, str) and _DECIMAL.match(v) is not None,
    "DateTime": lambda v: isinstance(v, str) and _DATETIME.match(v) is not None,
    "Date": lambda v: isinstance(v, str) and _DATE.match(v) is not None,
    "BigInt": lambda v: isinstance(v, str) and re.match(r"^-?\d+$", v) is not None,
    "UnsignedInt64": lambda v: isinstance(v, str) and v.isdigit(),
    "JSON": lambda v: True,
}


@cache
def real_schema() -> GraphQLSchema:
    """Shopify's 2026-04 schema (assume_valid: its SDL breaks one graphql-core rule)."""
    return build_schema(REAL_SDL.read_text(encoding="utf-8"), assume_valid=True)


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.problems: list[str] = []

    def object(
        self, parent: GraphQLObjectType, selections: SelectionSetNode, value: Any, path: str
    ) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        fields = self._fields(parent, selections)
        for node in fields:
            self.field(parent, node, value, path)
        asked = {node.alias.value if node.alias else node.name.value for node in fields}
        for key in sorted(set(value) - asked):
            self.problems.append(f"{path}.{key}: answered but not asked for on a {parent.name}")

    def _fields(self, parent: GraphQLObjectType, selections: SelectionSetNode) -> list[FieldNode]:
        """The field selections that apply to an object of type ``parent`` (fragments opened)."""
        found: list[FieldNode] = []
        for node in selections.selections:
            if isinstance(node, FieldNode):
                found.append(node)
                continue
            if isinstance(node, InlineFragmentNode):
                condition, inner = node.type_condition, node.selection_set
            else:
                assert isinstance(node, FragmentSpreadNode)
                fragment = self.fragments[node.name.value]
                condition, inner = fragment.type_condition, fragment.selection_set
            if condition is None or self._applies(condition.name.value, parent):
                found += self._fields(parent, inner)
        return found

    def _applies(self, condition: str, runtime: GraphQLObjectType) -> bool:
        if condition == runtime.name:
            return True
        abstract = self.schema.get_type(condition)
        if isinstance(abstract, (GraphQLInterfaceType, GraphQLUnionType)):
            return self.schema.is_sub_type(abstract, runtime)
        return False

    def field(
        self, parent: GraphQLObjectType, node: FieldNode, value: dict[str, Any], path: str
    ) -> None:
        key = node.alias.value if node.alias else node.name.value
        here = f"{path}.{key}"
        if key not in value:
            self.problems.append(f"{here}: asked for, missing from the answer")
            return
        if node.name.value == "__typename":
            if value[key] != parent.name:
                self.problems.append(f"{here}: {value[key]!r}, the object is a {parent.name}")
            return
        definition = parent.fields.get(node.name.value)
        if definition is None:
            self.problems.append(f"{here}: {parent.name} has no field {node.name.value}")
            return
        self.value(definition.type, node.selection_set, value[key], here, self._asked_id(node))
        if node.name.value == "id" and isinstance(value[key], str) and _GID.match(value[key]):
            named = _GID.match(value[key])
            assert named is not None
            node_type = self.schema.get_type("Node")
            implements_node = isinstance(node_type, GraphQLInterfaceType) and (
                self.schema.is_sub_type(node_type, parent)
            )
            if implements_node and named["type"] != parent.name:
                self.problems.append(f"{here}: {value[key]!r} is not a {parent.name} GID")

    def _asked_id(self, node: FieldNode) -> str | None:
        """The ``id`` argument of ``node(id:)``-like fields: it names the answer's type."""
        for argument in node.arguments or ():
            if argument.name.value == "id":
                given = value_from_ast_untyped(argument.value, self.variables)
                return given if isinstance(given, str) else None
        return None

    def value(
        self,
        kind: GraphQLOutputType,
        selections: SelectionSetNode | None,
        value: Any,
        path: str,
        asked_id: str | None = None,
    ) -> None:
        if isinstance(kind, GraphQLNonNull):
            if value is None:
                self.problems.append(f"{path}: null, the schema says {kind} (non-null)")
                return
            kind = kind.of_type
        if value is None:
            return
        if isinstance(kind, GraphQLList):
            if not isinstance(value, list):
                self.problems.append(f"{path}: expected a list, got {type(value).__name__}")
                return
            for i, item in enumerate(value):
                self.value(kind.of_type, selections, item, f"{path}[{i}]")
            return
        self.named(kind, selections, value, path, asked_id)

    def named(
        self,
        kind: GraphQLNamedType,
        selections: SelectionSetNode | None,
        value: Any,
        path: str,
        asked_id: str | None = None,
    ) -> None:
        if isinstance(kind, GraphQLEnumType):
            if value not in kind.values:
                self.problems.append(f"{path}: {value!r} is not a value of {kind.name}")
        elif isinstance(kind, GraphQLScalarType):
            check = _SCALARS.get(kind.name, _is(str))
            if not check(value):
                self.problems.append(f"{path}: {value!r} is not a {kind.name}")
        elif isinstance(kind, GraphQLObjectType):
            assert selections is not None
            self.object(kind, selections, value, path)
        else:
            assert isinstance(kind, (GraphQLInterfaceType, GraphQLUnionType))
            assert selections is not None
            runtime = self._runtime(kind, value, path, asked_id)
            if runtime is not None:
                self.object(runtime, selections, value, path)

    def _runtime(
        self, abstract: Any, value: Any, path: str, asked_id: str | None
    ) -> GraphQLObjectType | None:
        """The concrete type of an abstract value: ``__typename`` if asked, else its GID (the
        answer's ``id``, or the ``id`` it was asked for by)."""
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return None
        name = value.get("__typename")
        for known in (value.get("id"), asked_id):
            match = _GID.match(known) if name is None and isinstance(known, str) else None
            name = match["type"] if match else name
        if name is None:
            if value:
                self.problems.append(f"{path}: cannot tell the concrete type of {abstract.name}")
            return None
        runtime = self.schema.get_type(name)
        if not isinstance(runtime, GraphQLObjectType) or not self.schema.is_sub_type(
            abstract, runtime
        ):
            self.problems.append(f"{path}: {name} is not a possible type of {abstract.name}")
            return None
        return runtime


def answer_problems(
    query: str,
    answer: dict[str, Any],
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
    schema: GraphQLSchema | None = None,
) -> list[str]:
    """Where ``answer`` (a response body with ``data``) breaks the schema for ``query``."""
    schema = schema or real_schema()
    document = parse(query)
    operation = get_operation_ast(document, operation_name)
    assert operation is not None, "no operation to check"
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = (
        schema.mutation_type if operation.operation == OperationType.MUTATION else schema.query_type
    )
    assert root is not None
    walk = _Walk(schema, fragments, variables or {})
    if "data" not in answer or answer["data"] is None:
        return ["$: no data"]
    walk.object(root, operation.selection_set, answer["data"], "$")
    return walk.problems
