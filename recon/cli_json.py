"""``--json`` of the console's list commands: one JSON document on stdout, for scripts.

Monitoring checks and shell scripts scraped the tables (widths, grouped thousands, words such
as "resend 1"). Each list command takes ``--json`` and prints instead one object (docs/
commands.md "Output for scripts"): ``format`` (``recon-<command>``), ``version``, ``shop``,
and the rows in an array named after them, the same rows in the same order as the table.
Field names are those of ``findings.json`` for findings and the store's columns elsewhere;
times are ISO 8601 UTC ending ``Z`` (as ``findings.json``), money the exact amount as a string
with its currency beside it, ids strings. Nothing else goes to stdout: logs go to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from recon.money import quantize

# 1: the first documents (this release). A field added keeps the version; one renamed,
# removed or changed in meaning moves it on.
VERSION = 1

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="print one JSON document for scripts instead of the table"),
]


def when(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 in UTC, ``Z`` for its offset (``findings.json``'s form)."""
    if moment is None:
        return None
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat().replace("+00:00", "Z")


def money(amount: Decimal | str | None, currency: str | None) -> str | None:
    """An amount as its exact decimal string: ``"1048.60"``, no grouping, never a float.

    Shown to the currency's minor unit (``"30"`` stored reads ``"30.00"``) unless that would
    round it: a stored amount is never changed on the way out. One that is not a number
    (written by hand into the store) is given as stored.
    """
    if amount is None:
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    if not value.is_finite():
        return str(amount)
    if currency:
        shown = quantize(value, currency)
        if shown == value:
            return f"{shown:f}"
    return f"{value:f}"


def print_document(command: str, shop: str, rows_name: str, rows: list[dict[str, Any]],
                   **header: Any) -> None:  # fmt: skip
    """Write the document of ``command`` to stdout, on one line: ``format``, ``version``,
    ``shop``, ``header``'s fields, then ``rows`` under ``rows_name`` (empty: nothing found)."""
    document = {"format": f"recon-{command}", "version": VERSION, "shop": shop, **header,
                rows_name: rows}  # fmt: skip
    # ASCII only: any locale's stdout can carry it, and every JSON reader gives the text back.
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()
