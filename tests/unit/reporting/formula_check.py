"""A tiny evaluator for the Summary formulas, used when LibreOffice is not installed.

It understands exactly what recon writes: SUMIFS, COUNTIFS and COUNTA over structured table
references (``Table[column]``, ``Table[[column (UTC)]]``) with string-literal (``"<>x"``: not
x; ``"<>0"``: numeric) or same-sheet cell criteria. It reads the table's ref and header from
the saved workbook, so it checks that a formula points at the column it names, and computes
the result from the cells a user would see.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl.utils import range_boundaries

_CALL = re.compile(r"^=(SUMIFS|COUNTIFS|COUNTA)\((.*)\)$")
# ``Table[column]``, or ``Table[[column (Area/City)]]`` for a name with a space or "/".
_REF = re.compile(r"^(\w+)\[(?:(\w+)|\[([^\[\]']+)\])\]$")
_CELL = re.compile(r"^[A-Z]+\d+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def table_columns(workbook: Any) -> dict[str, dict[str, list[Any]]]:
    """Table name → column name → values of the table's data rows."""
    tables: dict[str, dict[str, list[Any]]] = {}
    for ws in workbook.worksheets:
        for table in ws.tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            rows = list(
                ws.iter_rows(
                    min_row=min_row,
                    max_row=max_row,
                    min_col=min_col,
                    max_col=max_col,
                    values_only=True,
                )
            )
            header = [str(h) for h in rows[0]]
            assert header == [c.name for c in table.tableColumns], "table columns match header"
            tables[table.displayName] = {
                name: [row[i] for row in rows[1:]] for i, name in enumerate(header)
            }
    return tables


def _split(args: str) -> list[str]:
    parts, depth, current, quoted = [], 0, "", False
    for char in args:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0) if not quoted else 0
        current += char
    parts.append(current)
    return [p.strip() for p in parts]


def _column(tables: dict[str, dict[str, list[Any]]], ref: str) -> list[Any]:
    match = _REF.match(ref)
    assert match, f"not a structured reference: {ref}"
    return tables[match.group(1)][match.group(2) or match.group(3)]


def _criterion(ws: Any, text: str) -> Any:
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    assert _CELL.match(text), f"unsupported criterion {text}"
    return ws[text].value


def _matches(value: Any, criterion: Any) -> bool:
    if criterion == "<>":
        return value not in (None, "")  # Excel: "<>" alone matches what is not blank
    if isinstance(criterion, str) and criterion.startswith("<>"):
        return not _matches(value, criterion[2:])  # Excel: "<>x" matches blanks too
    if isinstance(criterion, str) and _NUMBER.match(criterion):
        # Excel: a numeric criterion matches numbers equal to it (a blank is no number)
        numeric = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
        return numeric and Decimal(str(value)) == Decimal(criterion)
    if isinstance(criterion, str):
        return isinstance(value, str) and value.lower() == criterion.lower()
    if isinstance(criterion, datetime) and isinstance(value, datetime):
        return value == criterion
    return bool(value == criterion)


def evaluate(ws: Any, formula: str, tables: dict[str, dict[str, list[Any]]]) -> Decimal:
    """Compute one Summary formula from the workbook's cells: one call, or calls added up
    (one per part of a sheet continued past Excel's rows)."""
    calls = _split_sum(formula.removeprefix("="))
    return sum((_call(ws, "=" + call, tables) for call in calls), Decimal(0))


def _split_sum(text: str) -> list[str]:
    """``A(…)+B(…)`` → the calls, split on ``+`` outside parentheses and quotes."""
    parts, depth, current, quoted = [], 0, "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if not quoted:
            depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "+" and not quoted and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return parts


def _call(ws: Any, formula: str, tables: dict[str, dict[str, list[Any]]]) -> Decimal:
    match = _CALL.match(formula)
    assert match, f"unexpected formula {formula}"
    name, args = match.group(1), _split(match.group(2))
    if name == "COUNTA":
        return Decimal(sum(1 for v in _column(tables, args[0]) if v not in (None, "")))
    values = _column(tables, args[0]) if name == "SUMIFS" else None
    pairs = args[1:] if name == "SUMIFS" else args
    columns = [
        (_column(tables, pairs[i]), _criterion(ws, pairs[i + 1])) for i in range(0, len(pairs), 2)
    ]
    length = len(columns[0][0])
    hits = [i for i in range(length) if all(_matches(col[i], crit) for col, crit in columns)]
    if values is None:
        return Decimal(len(hits))
    return sum((Decimal(str(values[i])) for i in hits if values[i] is not None), Decimal(0))
