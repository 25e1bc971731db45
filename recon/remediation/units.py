"""Returned units, one per Loop line: the warehouse event, their order, and what to restock.

Shared by the planner's refunds and restocks; the engine counts units the same way
(docs/findings.md "Restocks are counted in units").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from recon.config import WarehouseEvent
from recon.models import Finding, LoopReturnRecord, ReturnLine


def warehouse_event_happened(
    ret: LoopReturnRecord, line: ReturnLine, event: WarehouseEvent
) -> bool:
    """Whether a returned unit reached the configured restock event (docs/findings.md)."""
    processed = ret.state == "closed" and ret.was_processed
    if event is WarehouseEvent.PROCESSED:
        return processed
    if event is WarehouseEvent.INSPECTED:
        return line.inspected
    return ret.label_status == "delivered" or processed or line.inspected  # graded: received


def unit_order(line: ReturnLine) -> tuple[str, Decimal]:
    """The order units of one line item are taken in (the engine's: Loop line id, then price)."""
    return (line.line_item_id, line.price)


def refund_lines(
    ret: LoopReturnRecord,
    event: WarehouseEvent,
    restocked: Mapping[tuple[str, str], Sequence[str]],
    unrestocked: Mapping[tuple[str, str], frozenset[str]],
) -> list[dict[str, Any]]:
    """Refund lines: RETURN (restock now) for units past the warehouse event that a
    MISSING_RESTOCK finding names (``unrestocked``: (rma, line item) → Loop line ids), else
    NO_RESTOCK. Units no finding names are restocked already, held back, or not recon's to
    restock (the finding is muted or acknowledged).

    Units recon already restocked (``inventoryAdjustQuantities``, per the ledger) are NO_RESTOCK:
    ``RETURN`` would put the same unit back a second time (shopify-admin-api.md §10). The ledger
    names them; an entry naming none covers the line item's first unit past the event, in unit
    order, as the engine counts. RETURN lines list their ``units`` and record the line item's
    ledger entries (``ledger_units``) for the executor's re-check before sending.
    """
    units: dict[tuple[str, str, str | None], list[str]] = {}
    ledger = {
        pli: _entries(ret, pli, ids) for (rma, pli), ids in restocked.items() if rma == ret.id
    }
    for unit in sorted(ret.lines, key=unit_order):
        item = unit.provider_line_item_id
        if item is None:
            continue
        location = unit.restock_location_id
        restock = (
            warehouse_event_happened(ret, unit, event)
            and bool(location)
            and unit.line_item_id in unrestocked.get((ret.id, item), frozenset())
        )
        mine = ledger.get(item, [])
        if unit.line_item_id in mine or (restock and "" in mine):
            mine.remove(unit.line_item_id if unit.line_item_id in mine else "")
            restock = False
        key = (item, "RETURN", location) if restock else (item, "NO_RESTOCK", None)
        units.setdefault(key, []).append(unit.line_item_id)
    lines: list[dict[str, Any]] = []
    for (item, kind, location), ids in sorted(units.items(), key=lambda kv: str(kv[0])):
        line: dict[str, Any] = {"line_item_id": item, "quantity": len(ids), "restock_type": kind}
        line["location_id"] = location
        if kind == "RETURN":
            line |= {"units": ids, "ledger_units": len(restocked.get((ret.id, item), ()))}
        lines.append(line)
    return lines


def _entries(ret: LoopReturnRecord, pli: str, ids: Sequence[str]) -> list[str]:
    """A line item's ledger entries; an id naming none of its units counts as "" (a unit)."""
    mine = {u.line_item_id for u in ret.lines if u.provider_line_item_id == pli}
    return [i if i in mine else "" for i in ids]


def finding_line(finding: Finding) -> str | None:
    """The line item id of a MISSING_RESTOCK finding: its scope is ``rma=<R>,line=<id>``."""
    for part in finding.key.partition("|")[2].split(","):
        name, _, value = part.partition("=")
        if name == "line" and value:
            return value
    return None


def unit_tag(ids: Sequence[str]) -> str:
    """The units of a partial restock in its key: their ids, or a digest when they are long."""
    joined = "+".join(sorted(ids))
    return joined if len(joined) <= 160 else hashlib.sha256(joined.encode()).hexdigest()[:32]
