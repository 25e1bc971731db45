"""Clean scenario cases: returns handled right, each raising no finding (``docs/findings.md``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from recon.money import quantize
from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import SHOP_CURRENCY, SHOPIFY_PAYMENTS
from recon.sandbox.scenario_shapes import HOUR, closed_return, new_return, young_return

# -- clean cases (kind -> builder; each returns the number of returns it used) ---------------------


def clean_linked(b: Builder, link: str) -> int:
    order, ret, at = closed_return(b)
    b.refunded(order, ret, at, link=link)
    return 1


# Loop's refund note text is unknown (loop-returns-api.md §9, §14). Plausible ones name the ORDER,
# by name or bare number; none may be read as an RMA: the refund links by provider id only.
LOOP_ORDER_NOTES = (
    "Refund for order {name} via Loop Returns",
    "Loop Returns refund: order {number}",
    "Refunded by Loop Returns for order #{number}",
    "Loop return processed for order {name}",
    "Returned items, order {number} (Loop Returns)",
)


def clean_loop_note(b: Builder) -> int:
    """A Loop-created refund (provider-linked) whose note names the order, not the RMA."""
    order, ret, at = closed_return(b)
    b.refunded(order, ret, at, link="provider", order_note=b.rng.choice(LOOP_ORDER_NOTES))
    return 1


def clean_exchange(b: Builder, closed: bool) -> int:
    if closed:
        order, ret, at = closed_return(b, outcome="exchange")
        ret["exchange_processed_at"] = at
        b.restock_only(order, ret, at)
    else:
        young_return(b, outcome="exchange", label=b.rng.choice(("pending", "in_transit")))
    return 1


def clean_store_credit(b: Builder) -> int:
    order, ret, at = closed_return(b, outcome="gift_card")
    b.gift_card(order, ret, at)
    b.restock_only(order, ret, at)
    return 1


def clean_partial(b: Builder) -> int:
    order, ret, at = closed_return(b, fee=Decimal(b.rng.choice(("3.00", "5.00", "7.50"))))
    b.refunded(order, ret, at)
    return 1


def clean_multi_currency(b: Builder) -> int:
    order, ret, at = closed_return(b, presentment=b.rng.choice(("EUR", "CAD")))
    b.refunded(order, ret, at)
    return 1


def clean_mixed_tender(b: Builder) -> int:
    order, ret, at = closed_return(b, gift_tender=Decimal("10.00"))
    gift = min(Decimal("10.00"), quantize(ret["refund"] / 2, SHOP_CURRENCY))
    pays = [("gift_card", gift, "SUCCESS"), (SHOPIFY_PAYMENTS, ret["refund"] - gift, "SUCCESS")]
    b.refunded(order, ret, at, pays=pays)
    return 1


def clean_multi_return(b: Builder) -> int:
    created = b.ago(20, 100)
    order = b.order(b.later(created, -15, -3), lines=3)
    first, second = order["line_items"][0], order["line_items"][1]
    for link, item, start in (
        ("provider", first, created),
        ("note", second, b.later(created, 1, 4)),
    ):
        ret = b.loop_return(order, [item], start)
        at = b.later(start, 5, 12, cap=b.now - HOUR)
        b.close(ret, at)
        b.refunded(order, ret, at, link=link)
    return 2


def clean_before_inspection(b: Builder) -> int:
    order, ret = young_return(b)
    ret["refund_before_inspection"] = True
    b.refunded(order, ret, b.later(ret["created_at"], 0.1, 1, cap=b.now - HOUR), restock=False)
    return 1


def clean_settlement_pending(b: Builder) -> int:
    """Refunded 1-3.5 days ago: its balance transaction still waits for a payout (allowed)."""
    at = b.ago(1, 3.5)
    order, ret = new_return(b, created=at - timedelta(days=8))
    b.close(ret, at)
    b.refunded(order, ret, at)
    return 1


def clean_open(b: Builder) -> int:
    outcome = b.rng.choice(("refund", "refund", "exchange", "gift_card"))
    _order, ret = young_return(
        b,
        outcome=outcome,
        state=b.rng.choice(("open", "open", "review")),
        label=b.rng.choice(("pending", "in_transit")),
    )
    if ret["state"] == "open" and outcome == "refund":
        b.open_refund_returns.append(ret)
    return 1


def clean_cancelled(b: Builder) -> int:
    state = b.rng.choice(("cancelled", "expired"))
    _order, ret = new_return(b, state=state, label="pending")
    ret["updated_at"] = b.later(ret["created_at"], 2, 6, cap=b.now - HOUR)
    return 1


def clean_test_order(b: Builder) -> int:
    """A return on a Shopify test order (a test gateway: no money moved), left as a live order's
    would be a break: closed and never refunded (``MISSING_REFUND`` on a live order), or
    refunded with test-mode balance transactions no payout takes (``UNSETTLED_REFUND``). recon
    leaves test orders out by default (``[engine] include_test_orders``), so nothing is owed."""
    order, ret, at = closed_return(b)
    order["test"] = True  # its balance transactions turn test-mode in ``_assign_payouts``
    if b.rng.random() < 0.5:
        b.refunded(order, ret, at)
    return 1


CLEAN: dict[str, tuple[int, Callable[[Builder], int]]] = {
    "refund_provider_link": (30, lambda b: clean_linked(b, "provider")),
    "refund_note_link": (8, lambda b: clean_linked(b, "note")),
    "refund_heuristic_link": (3, lambda b: clean_linked(b, "heuristic")),
    "refund_loop_note_naming_order": (5, clean_loop_note),
    "exchange_closed": (6, lambda b: clean_exchange(b, closed=True)),
    "exchange_open": (3, lambda b: clean_exchange(b, closed=False)),
    "store_credit": (7, clean_store_credit),
    "partial_refund": (6, clean_partial),
    "multi_currency": (6, clean_multi_currency),
    "mixed_tender": (4, clean_mixed_tender),
    "several_returns_one_order": (4, clean_multi_return),
    "refund_before_inspection": (4, clean_before_inspection),
    "payout_pending_in_time": (4, clean_settlement_pending),
    "open_young": (8, clean_open),
    "cancelled_or_expired": (4, clean_cancelled),
    "test_order": (2, clean_test_order),
}
