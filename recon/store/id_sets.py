"""``column IN (ids)`` for id sets of any size: one bound parameter, whatever the count.

An ``IN`` list binds one parameter per id. PostgreSQL refuses a statement of more than 65,535
parameters and SQLite, by default since 3.32, one of more than 32,766. A period with activity
on 70,000 orders, or a remediation plan of 70,000 intents, failed the run (splitting the list
into OR'ed ``IN`` clauses of one statement, as the snapshot loader did, changes nothing: the
limit is per statement). Here the ids travel as one value: a PostgreSQL array
(``= ANY(:ids)``) or a JSON array SQLite expands (``IN (SELECT value FROM json_each(:ids))``).
One statement still, so a lock taken with it is still taken in one go, in the query's order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler


class _Among(ColumnElement[bool]):
    """``column`` is one of ``values`` (compiled per dialect below)."""

    # Each statement holding one is compiled afresh: its ids are part of what it compiles to.
    inherit_cache = False
    # No Boolean type: SQLite (no native booleans) would compile "(… IN …) = 1", which no index
    # serves. The default NullType compiles as written.

    def __init__(self, column: ColumnElement[Any], values: list[Any]) -> None:
        self.column = column
        self.values = values


def among(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values`` as one bound parameter (SQLite and PostgreSQL).

    Values are compared as given: pass strings for text ids, ints for integer keys.
    """
    return _Among(column, sorted(set(values)))


@compiles(_Among, "postgresql")
def _postgresql(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    ids = bindparam(None, element.values, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(ids), **kw)


@compiles(_Among)
def _sqlite(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite (JSON functions are built in since 3.38 and in Python's own builds before)."""
    ids: BindParameter[str] = bindparam(None, json.dumps(element.values))
    rows = select(func.json_each(ids).table_valued("value").c.value)
    return compiler.process(element.column.in_(rows), **kw)
