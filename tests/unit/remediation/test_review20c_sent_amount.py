"""Review 20c: the Actions sheets' ``sent_amount`` beside what Shopify's refund holds.

docs/commands.md: ``sent_amount``/``sent_currency`` are "the figure Shopify's refund holds, to
tie to Shopify". A refund whose transaction the gateway declined (an expired card: Shopify
creates the refund, its transaction ``FAILURE``) holds less than was sent: "A Refund existing
does not mean money moved: look at its transactions with kind REFUND and their status"
(reference/shopify-admin-api.md). recon keeps Shopify's answer (``ActionRow.response``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fakes import FakeGateway
from remediation_world import SHOP
from run_helpers import run
from sqlalchemy.orm import Session

from recon.clock import VirtualClock
from recon.remediation.runner import action_rows


def _declining_last_transaction(gateway: Any) -> None:
    """Shopify's answer as refundCreate gives it (RefundCreate.graphql asks for the refund's
    transactions and ``totalRefundedSet``): the last transaction declined by the gateway."""
    create = gateway.create_refund

    def create_refund(refund_input: dict[str, Any], key: str) -> dict[str, Any]:
        payload: dict[str, Any] = create(refund_input, key)
        sent = refund_input["transactions"]
        nodes = [
            {
                "id": f"gid://shopify/OrderTransaction/{900 + n}",
                "kind": "REFUND",
                "status": "FAILURE" if n == len(sent) - 1 else "SUCCESS",
                "gateway": t.get("gateway", "shopify_payments"),
                "amountSet": {"presentmentMoney": {
                    "amount": t["amount"], "currencyCode": refund_input["currency"]}},
            }
            for n, t in enumerate(sent)
        ]  # fmt: skip
        held = sum(
            (Decimal(n["amountSet"]["presentmentMoney"]["amount"]) for n in nodes
             if n["status"] == "SUCCESS"),
            Decimal(0),
        )  # fmt: skip
        payload["refund"] |= {
            "transactions": {"nodes": nodes},
            "totalRefundedSet": {"presentmentMoney": {
                "amount": str(held), "currencyCode": refund_input["currency"]}},
        }  # fmt: skip
        return payload

    gateway.create_refund = create_refund


def test_sent_amount_ties_to_shopifys_refund_when_a_transaction_was_declined(
    sessions: Callable[[], Session], gateway: FakeGateway, clock: VirtualClock
) -> None:
    """A controller sums ``sent_amount`` against Shopify's refunds (and its payouts): a refund
    whose card transaction was declined holds nothing of it, and the sheet still said the whole
    amount went to Shopify, so the Actions sheet did not tie and the declined money read as
    paid back."""
    _declining_last_transaction(gateway)
    run(sessions, gateway, clock)
    (row,) = [r for r in action_rows(sessions, SHOP) if r["kind"] == "refund"]
    assert row["status"] == "done"
    ((_, _, variables),) = [c for c in gateway.calls if c[0] == "refund"]
    declined = Decimal(variables["transactions"][-1]["amount"])
    sent = sum((Decimal(t["amount"]) for t in variables["transactions"]), Decimal(0))
    assert declined > 0
    # What Shopify's refund holds: the transactions it did not decline.
    assert (row["sent_amount"], row["sent_currency"]) == (sent - declined, variables["currency"])
