"""Intents as people read them: one line saying what the write does, and the report rows."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Any

from recon.money import display_amount
from recon.remediation.actions import NEVER_SENT
from recon.remediation.ledger import ActionView


def describe(view: ActionView) -> str:
    """What the intent writes to Shopify, in one line: for a refund, what is (or was) sent, in
    the order's presentment currency, with Loop's figure beside it when that differs."""
    details = view.details
    if view.kind == "refund":
        units = sum(
            int(x["quantity"]) for x in details.get("lines", []) if x["restock_type"] == "RETURN"
        )
        restock = f", restocking {units} unit(s)" if units else ", no restock"
        return f"refund {_refund_amount(view)}{restock}"
    if view.kind == "restock":
        named = details.get("units") or []
        loop = f" (Loop line items {', '.join(named)})" if named else ""
        return (
            f"restock {details['quantity']} unit(s) of line item {details['line_item_id']} "
            f"at location {details.get('location_id') or 'unknown'}{loop}"
        )
    return f"tag the order: {', '.join(details.get('tags', []))}"


def _refund_amount(view: ActionView) -> str:
    """The refund's amount as it goes out: the amount sent (its variables), else Loop's when
    the refund goes out in Loop's currency, else the presentment currency with Loop's figure.

    A Loop amount in shop currency is sent in the order's presentment currency as Shopify's
    own suggestion for the lines, read right before the send (``writes.presentment_amount``;
    a shop amount other than the suggestion's goes to review instead).
    """
    loop = _shown(view.amount, view.currency)
    sent = _sent(view.variables)
    if sent is not None:
        return sent if sent == loop else f"{sent} (Loop: {loop})"
    currency = view.details.get("presentment_currency")
    if not currency or currency == view.currency:
        return loop
    return (
        f"in {currency}, the order's currency: Shopify's suggested refund for the lines, read "
        f"when sent (Loop: {loop} in shop currency; sent only if the suggestion is that much)"
    )


def _sent(variables: dict[str, Any] | None) -> str | None:
    """``"44.90 EUR"``: the refund's transactions in its currency, as sent; None if unsent."""
    sent = sent_money(variables)
    return None if sent is None else display_amount(*sent)


def sent_money(variables: dict[str, Any] | None) -> tuple[Decimal, str] | None:
    """(total, currency) of a refund's transactions as sent (its ``variables``: what went out
    under the key, in the order's presentment currency); None if nothing was sent."""
    refund = (variables or {}).get("input")
    if not isinstance(refund, dict) or not refund.get("transactions") or not refund.get("currency"):
        return None
    total = sum((Decimal(str(t["amount"])) for t in refund["transactions"]), Decimal(0))
    return total, str(refund["currency"])


# Transaction statuses under which the gateway moved no money (shopify-admin-api.md: a refund
# existing does not mean money moved; its transactions' status says).
_NO_MONEY = frozenset({"FAILURE", "ERROR"})


def held_money(
    response: dict[str, Any] | None, variables: dict[str, Any] | None
) -> tuple[Decimal, str] | None:
    """(total, currency) of what Shopify's refund holds: its REFUND transactions the gateway did
    not decline, from Shopify's stored answer; what was sent (``sent_money``) when the answer
    lists no transactions (a write in flight, or one settled by a later re-read)."""
    refund = (response or {}).get("refund")
    nodes = (
        ((refund or {}).get("transactions") or {}).get("nodes")
        if isinstance(refund, dict)
        else None
    )
    if not nodes:
        return sent_money(variables)
    total, currency = Decimal(0), None
    for node in nodes:
        money = (node.get("amountSet") or {}).get("presentmentMoney") or {}
        if node.get("kind") != "REFUND" or node.get("status") in _NO_MONEY or not money:
            continue
        total += Decimal(str(money["amount"]))
        currency = str(money["currencyCode"])
    sent = sent_money(variables)
    return total, currency or (sent[1] if sent else "")


def _shown(amount: str | None, currency: str | None) -> str:
    """Loop's amount as the reports print money (``12,345.60 USD``); as stored if unreadable."""
    try:
        return display_amount(Decimal(str(amount)), currency or "")
    except (InvalidOperation, ValueError):
        return f"{amount} {currency}"


def finding_keys(view: ActionView) -> tuple[str, ...]:
    """The findings the intent's write acts on: the one it was planned for, and for a refund
    the ``MISSING_RESTOCK`` of each line it restocks (``RETURN``): a refund restocks only units
    such a finding of its run names (``units.refund_lines``), and no restock intent is planned
    for them. Keys as the engine builds them (docs/findings.md: ``rma=<R.id>,line=<id>``)."""
    keys = [view.finding_key] if view.finding_key else []
    if view.kind == "refund":
        keys.extend(
            f"MISSING_RESTOCK|rma={view.rma},line={x['line_item_id']}"
            for x in view.details.get("lines", [])
            if x.get("restock_type") == "RETURN"
        )
    return tuple(keys)


def report_row(view: ActionView, *, may_have_landed: bool = False) -> dict[str, Any]:
    """An intent as the reports' Actions sheets and sections read it (their column names).

    ``may_have_landed``: the intent ended (refused, sent to review) after a send whose answer
    was lost (``daily.answer_lost``), so Shopify may hold what it sent.
    """
    row = asdict(view)
    del row["details"], row["variables"], row["response"]  # the write's own: ``what`` says it
    # ``amount``/``currency`` are Loop's figure; what Shopify holds (and pays out) is the amount
    # sent, in the order's presentment currency: the figure a controller ties to Shopify. None
    # for a write that ended without writing (refused, sent to review, rejected): a column
    # summed against Shopify must not count it. One in flight keeps it: it may have landed; so
    # does one that ended after a lost answer (the daily limits count it as moved, too).
    ended = view.state in NEVER_SENT and not may_have_landed
    sent = None if ended else held_money(view.response, view.variables)
    sent_amount, sent_currency = sent or (None, None)
    return row | {
        # A finding's units may go back to several locations, one restock each: the reports
        # tell those apart by it (``reporting.data.waiting``).
        "location_id": view.details.get("location_id") if view.kind == "restock" else None,
        "sent_amount": sent_amount,
        "sent_currency": sent_currency,
        "status": view.state,
        "shopify_result": view.result_id,
        "what": describe(view),
        "finding_keys": finding_keys(view),
    }
