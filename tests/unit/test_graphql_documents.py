"""Every GraphQL document shipped under recon/ validates against both supported Shopify schemas.

Schema SDL files under recon/ (the sandbox's served subset) are not documents and are skipped;
everything else with a ``.graphql`` suffix is checked, including files added later.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate
from graphql.language import (
    DirectiveNode,
    ExecutableDefinitionNode,
    FieldNode,
    StringValueNode,
    Visitor,
    visit,
)

from recon.remediation.writes import GraphQLGateway

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / ".." / "shared" / "reference" / "schema"
VERSIONS = ("2026-04", "2026-01")
IDEMPOTENT_MUTATIONS = ("refundCreate", "inventoryAdjustQuantities")


def _is_document(path: Path) -> bool:
    """True for executable documents; False for SDL (type system) files."""
    definitions = parse(path.read_text(encoding="utf-8")).definitions
    return all(isinstance(item, ExecutableDefinitionNode) for item in definitions)


DOCUMENTS = sorted(path for path in (REPO / "recon").rglob("*.graphql") if _is_document(path))


@cache
def _schema(version: str) -> GraphQLSchema:
    path = SCHEMA_DIR / f"shopify-admin-{version}.graphql"
    if not path.is_file():
        pytest.fail(
            f"Shopify schema {path.resolve()} is missing: the repo must sit beside shared/ "
            "(shared/reference/schema/shopify-admin-<version>.graphql)"
        )
    # assume_valid: Shopify's SDL breaks one of graphql-core's consistency rules (schema/README.md).
    return build_schema(path.read_text(encoding="utf-8"), assume_valid=True)


@pytest.fixture(scope="session", params=VERSIONS)
def schema(request: pytest.FixtureRequest) -> GraphQLSchema:
    return _schema(request.param)


def _name(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_documents_are_found() -> None:
    names = {path.stem for path in DOCUMENTS}
    assert {"OrdersById", "OrdersPage", "RefundsById", "Payouts"} <= names


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_document_validates_against_schema(path: Path, schema: GraphQLSchema) -> None:
    errors = validate(schema, parse(path.read_text(encoding="utf-8")))
    assert [error.message for error in errors] == []


class _WriteFields(Visitor):
    """Collects (mutation field name, has @idempotent) for the writes that need the key."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, bool]] = []

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.name.value in IDEMPOTENT_MUTATIONS:
            names = {directive.name.value for directive in node.directives or ()}
            self.found.append((node.name.value, "idempotent" in names))


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_idempotent_writes_carry_the_directive(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    # From 2026-04 these mutations fail at runtime without @idempotent (shopify-admin-api.md §2).
    if any(name in text for name in IDEMPOTENT_MUTATIONS):
        assert "@idempotent" in text, f"{_name(path)} writes without @idempotent(key:)"
    fields = _WriteFields()
    visit(parse(text), fields)
    assert [name for name, keyed in fields.found if not keyed] == []


class _KeyArguments(Visitor):
    """Collects the value node of every ``@idempotent(key:)`` argument."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[object] = []

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        if node.name.value == "idempotent":
            self.values += [arg.value for arg in node.arguments if arg.name.value == "key"]


@pytest.mark.parametrize(
    ("method", "field"),
    [("create_refund", "refundCreate"), ("adjust_inventory", "inventoryAdjustQuantities")],
)
def test_writes_send_the_idempotency_key_as_a_string_literal(
    method: str, field: str, schema: GraphQLSchema
) -> None:
    """shopify-admin-api.md §10: that Shopify honours a *variable* as the key is unverified and
    Shopify's own examples use a literal, so the key goes on the wire as a literal: right either
    way. A key with quotes and backslashes must survive the rendering unchanged."""
    sent: list[tuple[str, dict[str, object]]] = []

    def execute(document: str, variables: dict[str, object], write: bool) -> dict[str, object]:
        assert write
        sent.append((document, variables))
        return {field: {"userErrors": []}}

    key = 'recon-7f3c"\\key'
    getattr(GraphQLGateway(execute), method)({"orderId": "gid://shopify/Order/1"}, key)
    document, variables = sent[0]
    assert variables == {"input": {"orderId": "gid://shopify/Order/1"}}
    parsed = parse(document)
    assert [error.message for error in validate(schema, parsed)] == []
    keys = _KeyArguments()
    visit(parsed, keys)
    assert len(keys.values) == 1
    assert isinstance(keys.values[0], StringValueNode)
    assert keys.values[0].value == key
