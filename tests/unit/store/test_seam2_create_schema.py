"""The error of a missing PostgreSQL schema recon's role may not create names SQL that runs."""

from __future__ import annotations

from typing import Any

import pytest

from recon.errors import StoreError
from recon.store.migrate import create_schema


class _Result:
    def __init__(self, row: tuple[Any, ...] | None) -> None:
        self.row = row

    def first(self) -> tuple[Any, ...] | None:
        return self.row

    def one(self) -> tuple[Any, ...]:
        assert self.row is not None
        return self.row


class FakeCatalog:
    """A connection whose catalog has no such schema, for a role without the database's
    CREATE right (what PostgreSQL answers ``create_schema``'s two queries)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.statements: list[str] = []

    def exec_driver_sql(self, statement: str, parameters: Any = None) -> _Result:
        self.statements.append(statement)
        if "pg_namespace" in statement:
            return _Result(None)
        return _Result((self.role, False))


@pytest.mark.parametrize("role", ["recon-app", "Recon"])
def test_the_create_schema_the_error_names_quotes_the_role(role: str) -> None:
    """A role named as many are (``recon-app``, from the URL's user; or ``Recon``) gets
    "run CREATE SCHEMA beta AUTHORIZATION recon-app": a syntax error for the DBA (a hyphen),
    or a schema given to another role, ``recon`` (PostgreSQL folds an unquoted name to lower
    case), so the next open fails the same way. The statement must quote the role."""
    with pytest.raises(StoreError) as refused:
        create_schema(FakeCatalog(role), "beta")  # type: ignore[arg-type]
    assert f'AUTHORIZATION "{role}"' in str(refused.value)
