"""Boundary cases: a clean case and a plant on either side of each threshold of docs/findings.md.

Every other case sits far from the limits, so an engine that compared with ``>=`` for ``>``, or
counted a day too many, would still score 1.0. Here each limit of the default ``[engine]``
settings gets a case exactly at it (clean: "more than" is not met) and one a minor unit or a
second past it (a finding). The clean cases at a *time* limit raise their finding the moment the
clock moves on: their keys are recorded in ``Builder.at_limit`` (the truth's ``at_limit``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from recon.money import quantize
from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import SHOP_CURRENCY, SHOPIFY_PAYMENTS
from recon.sandbox.construct import Json
from recon.sandbox.plants_money import expect_pending, expect_unsettled
from recon.sandbox.plants_stock import expect_missing_restocks
from recon.sandbox.scenario_shapes import CENT, HOUR, closed_return, new_return, txn_of

# The default [engine] settings (recon.config.EngineSettings) the limits sit at.
TOLERANCE = CENT
PENDING_DAYS = 3
UNSETTLED_DAYS = 10
STALE_DAYS = 30
SECOND = timedelta(seconds=1)
# From this many returns on there is room for the limits beside one plant per category.
LIMITS_FROM = 60


def _paid(b: Builder, refund: Decimal, off: Decimal) -> Decimal:
    """Loop's refund ``off`` short or over (the side drawn from the seed)."""
    return refund - off if b.rng.random() < 0.5 else refund + off


def _units(b: Builder, order: Json, ret: Json) -> list[Json]:
    return [b.line_item(order, x["provider_line_item_id"]) for x in ret["line_items"]]


# -- amounts: within the tolerance is clean, a minor unit past it is a finding ------------------


def amount_off(b: Builder, off: Decimal, *, link: str = "provider") -> tuple[Json, Json, Json]:
    """A closed return refunded once, ``off`` away from Loop's refund."""
    order, ret, at = closed_return(b)
    paid = _paid(b, ret["refund"], off)
    refund = b.refunded(order, ret, at, link=link, pays=[(SHOPIFY_PAYMENTS, paid, "SUCCESS")])
    return order, ret, refund


def split_refund(b: Builder, over: Decimal) -> tuple[Json, Json, list[Json]]:
    """A closed return refunded in two parts (both naming its RMA) adding up to ``over`` more."""
    order, ret, at = closed_return(b)
    second = quantize(ret["refund"] / 3, SHOP_CURRENCY)
    pays = [(SHOPIFY_PAYMENTS, ret["refund"] - second, "SUCCESS")]
    first = b.refunded(order, ret, at, link="note", pays=pays)
    rest = b.refund(
        order,
        b.later(at, 0.01, 0.03),
        note=f"Loop RMA #{ret['id']}",
        pays=[(SHOPIFY_PAYMENTS, second + over, "SUCCESS")],
    )
    return order, ret, [first, rest]


def declined_then_retried(b: Builder, short: Decimal) -> tuple[Json, Json, Json, Json]:
    """A declined card refund, then a retry paying ``short`` less than Loop's refund."""
    order, ret, at = closed_return(b)
    pays = [(SHOPIFY_PAYMENTS, ret["refund"], "FAILURE")]
    declined = b.refunded(order, ret, at, link="note", pays=pays, restock=False)
    retry = b.refund(
        order,
        b.later(at, 0.01, 0.03),
        units=_units(b, order, ret),
        note=f"Loop RMA #{ret['id']}",
        pays=[(SHOPIFY_PAYMENTS, ret["refund"] - short, "SUCCESS")],
        return_id=b.mirror[ret["id"]]["id"],
    )
    return order, ret, declined, retry


def store_credit_short(b: Builder, short: Decimal) -> tuple[Json, Json, Json]:
    """A store-credit return whose gift card is ``short`` under Loop's credit."""
    order, ret, at = closed_return(b, outcome="gift_card")
    b.gift_card(order, ret, at, value=ret["gift_card"] - short)
    return order, ret, b.restock_only(order, ret, at)


def clean_amount(b: Builder) -> int:
    amount_off(b, TOLERANCE, link=b.rng.choice(("provider", "note")))
    return 1


def clean_heuristic(b: Builder) -> int:
    """No note, no provider id: the heuristic links it, its amount exactly at the tolerance."""
    amount_off(b, TOLERANCE, link="heuristic")
    return 1


def clean_split(b: Builder) -> int:
    split_refund(b, TOLERANCE)
    return 1


def clean_retry(b: Builder) -> int:
    declined_then_retried(b, TOLERANCE)
    return 1


def clean_store_credit(b: Builder) -> int:
    store_credit_short(b, TOLERANCE)
    return 1


def plant_amount(b: Builder) -> int:
    off = TOLERANCE + CENT
    order, ret, refund = amount_off(b, off, link=b.rng.choice(("provider", "note")))
    b.expect_return(
        "AMOUNT_MISMATCH", order, ret, refunds=[refund], amount=off, description="one cent past"
    )
    return 1


def plant_split(b: Builder) -> int:
    order, ret, refunds = split_refund(b, TOLERANCE + CENT)
    b.expect_return(
        "DUPLICATE_REFUND",
        order,
        ret,
        refunds=refunds,
        amount=TOLERANCE + CENT,
        description="two parts one cent past the tolerance",
    )
    return 1


def plant_retry(b: Builder) -> int:
    off = TOLERANCE + CENT
    order, ret, declined, retry = declined_then_retried(b, off)
    b.expect(
        "REFUND_FAILED",
        f"refund={declined['id']}",
        order=order,
        rma=ret["id"],
        refunds=[declined],
        # Nothing: the retry went through, so what the return still owes (``off``) is its
        # AMOUNT_MISMATCH's, priced once (docs/findings.md REFUND_FAILED).
        amount=Decimal("0.00"),
        currency=SHOP_CURRENCY,
        description="declined; the retry fell one cent past the tolerance short",
    )
    b.expect_return(
        "AMOUNT_MISMATCH",
        order,
        ret,
        refunds=[declined, retry],
        amount=off,
        description="retry one cent past the tolerance short",
    )
    return 1


def plant_store_credit(b: Builder) -> int:
    off = TOLERANCE + CENT
    order, ret, restock = store_credit_short(b, off)
    b.expect_return(
        "MISSING_STORE_CREDIT",
        order,
        ret,
        refunds=[restock],
        amount=off,
        description="gift card one cent past the tolerance short",
    )
    return 1


# -- days: exactly N days before now is clean, one second more is a finding ------------------------


def pending_refund(b: Builder, at: datetime) -> tuple[Json, Json, Json]:
    """A return closed at ``at`` and refunded then; its card refund still PENDING."""
    order, ret = new_return(b, created=at - timedelta(days=b.rng.uniform(5, 10)))
    b.close(ret, at)
    refund = b.refunded(order, ret, at, pays=[(SHOPIFY_PAYMENTS, ret["refund"], "PENDING")])
    return order, ret, refund


def unsettled_refund(b: Builder, at: datetime) -> tuple[Json, Json, Json]:
    """A return refunded at ``at``; the card refund never joined a payout."""
    order, ret = new_return(b, created=at - timedelta(days=b.rng.uniform(5, 10)))
    b.close(ret, at)
    refund = b.refunded(order, ret, at, settle=b.rng.choice(("none", "pending")))
    return order, ret, refund


def open_return(b: Builder, created: datetime) -> tuple[Json, Json]:
    """An open (or in review) return created at ``created``, its parcel not yet sent."""
    return new_return(b, created=created, label="pending", state=b.rng.choice(("open", "review")))


def clean_pending(b: Builder) -> int:
    _order, _ret, refund = pending_refund(b, b.now - timedelta(days=PENDING_DAYS))
    b.at_limit.append(f"REFUND_PENDING|refund={refund['id']}")
    return 1


def clean_unsettled(b: Builder) -> int:
    order, _ret, refund = unsettled_refund(b, b.now - timedelta(days=UNSETTLED_DAYS))
    b.at_limit.append(f"UNSETTLED_REFUND|transaction={txn_of(order, refund)['id']}")
    return 1


def clean_stale(b: Builder) -> int:
    _order, ret = open_return(b, b.now - timedelta(days=STALE_DAYS))
    b.at_limit.append(f"STALE_RETURN|rma={ret['id']}")
    return 1


def plant_pending(b: Builder) -> int:
    order, ret, refund = pending_refund(b, b.now - timedelta(days=PENDING_DAYS) - SECOND)
    expect_pending(b, order, ret, refund, "pending one second over 3 days")
    return 1


def plant_unsettled(b: Builder) -> int:
    order, ret, refund = unsettled_refund(b, b.now - timedelta(days=UNSETTLED_DAYS) - SECOND)
    expect_unsettled(b, order, ret, refund, "not in a payout one second over 10 days")
    return 1


def plant_stale(b: Builder) -> int:
    order, ret = open_return(b, b.now - timedelta(days=STALE_DAYS) - SECOND)
    b.expect_return(
        "STALE_RETURN", order, ret, amount=ret["total"], description="open one second over 30 days"
    )
    return 1


# -- the warehouse event (restock after *received*): the label, or a graded unit -------------------


def refunded_open(b: Builder, label: str, *, restock: bool) -> tuple[Json, Json, Json]:
    """An open return refunded before inspection, its parcel ``label``."""
    order, ret = new_return(b, age=(2, 25), label=label)
    ret["refund_before_inspection"] = True
    at = b.later(ret["created_at"], 0.1, 1, cap=b.now - HOUR)
    return order, ret, b.refunded(order, ret, at, restock=restock)


def clean_delivered(b: Builder) -> int:
    """Restocked the moment the label says delivered: received, though Loop has not closed it."""
    refunded_open(b, "delivered", restock=True)
    return 1


def plant_graded(b: Builder) -> int:
    """Graded in the warehouse while the label still says in transit: received, not restocked."""
    order, ret, refund = refunded_open(b, "in_transit", restock=False)
    for line in ret["line_items"]:
        line["condition"] = {"grade": "new"}
    expect_missing_restocks(b, order, ret, refund, "graded in transit, not restocked")
    return 1


LIMIT_CLEAN: dict[str, Callable[[Builder], int]] = {
    "refund_off_by_tolerance": clean_amount,
    "refund_heuristic_off_by_tolerance": clean_heuristic,
    "split_refund_over_by_tolerance": clean_split,
    "retry_short_by_tolerance": clean_retry,
    "store_credit_short_by_tolerance": clean_store_credit,
    "refund_pending_at_limit": clean_pending,
    "refund_unsettled_at_limit": clean_unsettled,
    "open_return_at_stale_limit": clean_stale,
    "restocked_on_delivery": clean_delivered,
}
LIMIT_PLANTS: tuple[Callable[[Builder], int], ...] = (
    plant_amount,
    plant_split,
    plant_retry,
    plant_store_credit,
    plant_pending,
    plant_unsettled,
    plant_stale,
    plant_graded,
)


def plant_limits(b: Builder, returns: int) -> int:
    """Each limit's clean case and plant, once, in worlds of ``LIMITS_FROM`` returns or more;
    return the returns used."""
    if returns < LIMITS_FROM:
        return 0
    used = 0
    for kind, clean in LIMIT_CLEAN.items():
        used += clean(b)
        b.clean[kind] += 1
    for plant in LIMIT_PLANTS:
        used += plant(b)
    return used
