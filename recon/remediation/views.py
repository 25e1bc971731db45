"""Intents as people read them: one line saying what the write does, and the report rows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from recon.remediation.ledger import ActionView


def describe(view: ActionView) -> str:
    """What the intent writes to Shopify, in one line (amounts as the ledger stores them)."""
    details = view.details
    if view.kind == "refund":
        units = sum(
            int(x["quantity"]) for x in details.get("lines", []) if x["restock_type"] == "RETURN"
        )
        restock = f", restocking {units} unit(s)" if units else ", no restock"
        return f"refund {view.amount} {view.currency}{restock}"
    if view.kind == "restock":
        named = details.get("units") or []
        loop = f" (Loop line items {', '.join(named)})" if named else ""
        return (
            f"restock {details['quantity']} unit(s) of line item {details['line_item_id']} "
            f"at location {details.get('location_id') or 'unknown'}{loop}"
        )
    return f"tag the order: {', '.join(details.get('tags', []))}"


def report_row(view: ActionView) -> dict[str, Any]:
    """An intent as the reports' Actions sheets and sections read it (their column names)."""
    row = asdict(view)
    del row["details"]  # the write's own payload: ``what`` says it for people
    return row | {"status": view.state, "shopify_result": view.result_id, "what": describe(view)}
