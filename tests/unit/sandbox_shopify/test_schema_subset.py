"""The emulator's SDL is a strict subset of the real 2026-04 schema and covers the reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    parse,
    validate,
)
from graphql.pyutils import Undefined

from recon.sandbox.shopify.app import emulator_schema

REFERENCE = Path("/work/shared/reference")
REAL_SDL = REFERENCE / "schema" / "shopify-admin-2026-04.graphql"


@pytest.fixture(scope="session")
def real_schema() -> GraphQLSchema:
    return build_schema(REAL_SDL.read_text(encoding="utf-8"), assume_valid=True)


def _own_types(schema: GraphQLSchema) -> dict[str, object]:
    return {name: t for name, t in schema.type_map.items() if not name.startswith("__")}


def test_every_type_field_and_argument_matches_the_real_schema(real_schema: GraphQLSchema) -> None:
    problems: list[str] = []
    for name, ours in _own_types(emulator_schema()).items():
        real = real_schema.type_map.get(name)
        if real is None or type(real) is not type(ours):
            problems.append(f"{name}: missing or different kind")
            continue
        if isinstance(ours, GraphQLEnumType):
            assert isinstance(real, GraphQLEnumType)
            problems += [f"{name}.{v}" for v in ours.values if v not in real.values]
        if isinstance(ours, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            problems += _field_problems(name, ours, real)
    assert problems == []


def _field_problems(name: str, ours: object, real: object) -> list[str]:
    problems = []
    for field_name, field in ours.fields.items():  # type: ignore[attr-defined]
        theirs = real.fields.get(field_name)  # type: ignore[attr-defined]
        if theirs is None or str(theirs.type) != str(field.type):
            problems.append(f"{name}.{field_name}: {field.type} vs {theirs and theirs.type}")
            continue
        for arg_name, arg in getattr(field, "args", {}).items():
            real_arg = theirs.args.get(arg_name)
            if real_arg is None or str(real_arg.type) != str(arg.type):
                problems.append(f"{name}.{field_name}({arg_name})")
        for arg_name, arg in getattr(theirs, "args", {}).items():
            if isinstance(arg.type, GraphQLNonNull) and arg_name not in field.args:
                problems.append(f"{name}.{field_name}({arg_name}) is required by Shopify")
    if isinstance(real, GraphQLInputObjectType):
        for field_name, field in real.fields.items():
            required = isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
            if required and field_name not in ours.fields:  # type: ignore[attr-defined]
                problems.append(f"{name}.{field_name} is required by Shopify")
    return problems


def test_the_idempotent_directive_is_declared() -> None:
    directive = emulator_schema().get_directive("idempotent")
    assert directive is not None and str(directive.args["key"].type) == "String!"


def _reference_documents() -> list[str]:
    text = (REFERENCE / "shopify-admin-api.md").read_text(encoding="utf-8")
    documents = re.findall(r"```graphql\n(.*?)```", text, re.S)
    for example in sorted((REFERENCE / "examples" / "shopify").glob("graphql-*.json")):
        query = json.loads(example.read_text()).get("request", {}).get("body", {}).get("query")
        if query:
            documents.append(query)
    return documents


def test_every_reference_document_validates_against_the_emulator() -> None:
    documents = _reference_documents()
    assert len(documents) >= 12
    for document in documents:
        assert [e.message for e in validate(emulator_schema(), parse(document))] == [], document[
            :60
        ]
