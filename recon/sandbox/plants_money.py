"""Planted money and linking discrepancies: each breaks one refund and records its findings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import SHOP_CURRENCY, SHOPIFY_PAYMENTS
from recon.sandbox.construct import Json
from recon.sandbox.scenario_shapes import CENT, HOUR, closed_return, new_return, txn_of

# Each planter returns the number of Loop returns it used.


def plant_missing_refund(b: Builder) -> int:
    """Closed by hand in Loop (no processing), parcel never delivered, refund never issued."""
    order, ret = new_return(b)
    b.close(ret, b.later(ret["created_at"], 3, 10, cap=b.now - HOUR), processed=False)
    b.expect_return(
        "MISSING_REFUND",
        order,
        ret,
        amount=ret["refund"],
        description="closed, refund never issued",
    )
    return 1


def plant_refund_failed(b: Builder) -> int:
    """Two refunds that never reached the customer: one declined (its transaction FAILURE), one
    that went through and bounced days later (a REFUND_FAILURE balance transaction). Every
    other declined one is retried by hand half an hour later and declined again: the return
    still owes its refund once, which the retry (the latest attempt) carries."""
    for bounced in (False, True):
        order, ret, at = closed_return(b)
        if bounced:
            refund = b.refunded(order, ret, at)
            txn = txn_of(order, refund)
            # Both ways Shopify may name the transaction (unverified), alternating by id.
            tied = int(txn["id"]) % 2 == 0
            b.bounce(order, txn, b.later(at, 0.5, 3, cap=b.now - HOUR), tied=tied)
        else:
            pays = [(SHOPIFY_PAYMENTS, ret["refund"], "FAILURE")]
            refund = b.refunded(order, ret, at, pays=pays)
            if int(refund["id"]) % 2 == 0:  # no draw from the generator's random stream
                first = refund
                refund = b.refund(
                    order, at + timedelta(minutes=30), pays=pays, note=f"Loop RMA #{ret['id']}"
                )
                b.expect(
                    "REFUND_FAILED",
                    f"refund={first['id']}",
                    order=order,
                    rma=ret["id"],
                    refunds=[first],
                    amount=Decimal("0.00"),  # the retry carries what is owed
                    currency=SHOP_CURRENCY,
                    description="card refund declined, then its retry declined too",
                )
        b.expect(
            "REFUND_FAILED",
            f"refund={refund['id']}",
            order=order,
            rma=ret["id"],
            refunds=[refund],
            amount=ret["refund"],
            currency=SHOP_CURRENCY,
            description="card refund bounced after it went through"
            if bounced
            else "card refund declined",
        )
    return 2


def expect_pending(b: Builder, order: Json, ret: Json, refund: Json, description: str) -> None:
    """The ``REFUND_PENDING`` a refund of ``ret`` still pending past the limit raises."""
    b.expect(
        "REFUND_PENDING",
        f"refund={refund['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=ret["refund"],
        currency=SHOP_CURRENCY,
        description=description,
    )


def expect_unsettled(
    b: Builder,
    order: Json,
    ret: Json,
    refund: Json,
    description: str,
    payout_id: str | None = None,
) -> None:
    """The ``UNSETTLED_REFUND`` a refund of ``ret`` in no paid payout past the limit raises."""
    txn = txn_of(order, refund)
    b.expect(
        "UNSETTLED_REFUND",
        f"transaction={txn['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=txn["amount_shop"],
        currency=SHOP_CURRENCY,
        payout_id=payout_id,
        description=description,
    )


def plant_refund_pending(b: Builder) -> int:
    at = b.ago(5, 9)
    order, ret = new_return(b, created=at - timedelta(days=b.rng.uniform(5, 10)))
    b.close(ret, at)
    refund = b.refunded(order, ret, at, pays=[(SHOPIFY_PAYMENTS, ret["refund"], "PENDING")])
    expect_pending(b, order, ret, refund, "refund pending for days")
    return 1


def plant_amount_mismatch(b: Builder) -> int:
    order, ret, at = closed_return(b)
    delta = Decimal(b.rng.randrange(100, 1500)) / 100
    paid = ret["refund"] - delta if ret["refund"] - delta > 1 else ret["refund"] + delta
    refund = b.refunded(order, ret, at, pays=[(SHOPIFY_PAYMENTS, paid, "SUCCESS")])
    b.expect_return(
        "AMOUNT_MISMATCH",
        order,
        ret,
        refunds=[refund],
        amount=abs(paid - ret["refund"]),
        description="wrong amount",
    )
    return 1


def plant_duplicate_refund(b: Builder) -> int:
    """Loop refunded; then someone refunded the same RMA again by hand (money only, no lines)."""
    order, ret, at = closed_return(b)
    first = b.refunded(order, ret, at)
    second = b.refund(
        order,
        b.later(at, 1, 3, cap=b.now - HOUR),
        note=f"Loop RMA #{ret['id']}",
        pays=[(SHOPIFY_PAYMENTS, ret["refund"], "SUCCESS")],
    )
    b.expect_return(
        "DUPLICATE_REFUND",
        order,
        ret,
        refunds=[first, second],
        amount=ret["refund"],
        description="refunded twice",
    )
    return 1


def _stray_refund(b: Builder, note: str) -> tuple[Json, Json]:
    """A money-only refund on a plain sale (an order with no Loop return)."""
    order = b.order(b.ago(20, 100), lines=2)
    amount = order["line_items"][0]["price_shop"]
    refund = b.refund(
        order,
        b.later(order["created_at"], 5, 15, cap=b.now - HOUR),
        note=note,
        pays=[(SHOPIFY_PAYMENTS, amount, "SUCCESS")],
    )
    return order, refund


def plant_unknown_rma(b: Builder) -> int:
    rma = str(next(b.unknown_rmas))
    order, refund = _stray_refund(b, f"Loop RMA #{rma}")
    b.expect(
        "UNKNOWN_RMA",
        f"refund={refund['id']}",
        order=order,
        rma=rma,
        refunds=[refund],
        amount=txn_of(order, refund)["amount_shop"],
        currency=SHOP_CURRENCY,
        description="note names an RMA Loop does not have",
    )
    return 0


def plant_ambiguous_rma(b: Builder) -> int:
    """A stray refund whose note names two returns. Returns already expected to raise
    MISSING_REFUND or MISSING_RESTOCK are not named: the rules hold those back while a note
    naming several RMAs names them (findings.md)."""
    held = {f["rma"] for f in b.findings if f["category"] in ("MISSING_REFUND", "MISSING_RESTOCK")}
    pool = [r for r in b.returns if r["id"] not in held]
    first, second = (
        (r["id"] for r in b.rng.sample(pool, 2))
        if len(pool) > 1
        else (str(next(b.unknown_rmas)), str(next(b.unknown_rmas)))
    )
    order, refund = _stray_refund(b, f"Loop RMA #{first} and Loop RMA #{second}")
    b.expect(
        "AMBIGUOUS_RMA",
        f"refund={refund['id']}",
        order=order,
        refunds=[refund],
        amount=txn_of(order, refund)["amount_shop"],
        currency=SHOP_CURRENCY,
        description="note names two RMAs",
    )
    return 0


def plant_refund_on_cancelled(b: Builder) -> int:
    order, ret = new_return(b, state="cancelled", label="pending")
    at = b.later(ret["created_at"], 2, 6, cap=b.now - HOUR)
    ret["updated_at"] = at
    refund = b.refunded(order, ret, at, link="note", restock=False)
    b.expect_return(
        "REFUND_ON_CANCELLED_RETURN",
        order,
        ret,
        refunds=[refund],
        amount=ret["refund"],
        description="refund on a cancelled return",
    )
    return 1


def plant_unsettled(b: Builder) -> int:
    """An old card refund with no balance transaction, one still pending, or a failed payout."""
    order, ret, at = closed_return(b, age=(25, 110))
    variant = b.rng.choice(("none", "pending", "failed"))
    refund = b.refunded(order, ret, at, settle="none" if variant == "none" else "pending")
    payout_id = None
    if variant == "failed":
        payout_id = b.payout([b.balance[-1]], at + timedelta(days=3), "FAILED")["id"]
    expect_unsettled(b, order, ret, refund, f"refund not settled ({variant})", payout_id)
    return 1


def plant_unmatched(b: Builder) -> int:
    order, ret, at = closed_return(b)
    b.refunded(order, ret, at)
    amount = Decimal(b.rng.randrange(500, 1500)) / 100
    if abs(amount - ret["refund"]) <= CENT:
        amount += 1
    stray = b.refund(
        order,
        b.later(at, 1, 3, cap=b.now - HOUR),
        note="Goodwill credit: late delivery",
        pays=[(SHOPIFY_PAYMENTS, amount, "SUCCESS")],
    )
    b.expect(
        "UNMATCHED_REFUND",
        f"refund={stray['id']}",
        order=order,
        refunds=[stray],
        amount=amount,
        currency=SHOP_CURRENCY,
        description="refund with no RMA on a returned order",
    )
    return 1


def plant_currency_mismatch(b: Builder) -> int:
    order, ret, at = closed_return(b, currency="EUR")
    refund = b.refunded(order, ret, at)
    b.expect_return(
        "CURRENCY_MISMATCH",
        order,
        ret,
        refunds=[refund],
        amount=ret["refund"],
        currency="EUR",
        description="Loop in EUR, order in USD",
    )
    return 1


def plant_missing_store_credit(b: Builder) -> int:
    order, ret, at = closed_return(b, outcome="gift_card")
    restock = b.restock_only(order, ret, at)
    b.expect_return(
        "MISSING_STORE_CREDIT",
        order,
        ret,
        refunds=[restock],
        amount=ret["gift_card"],
        description="no gift card issued",
    )
    return 1
