"""Scenario cases for the generator: clean cases, planted discrepancies and activity after *now*.

Each clean case must raise nothing under ``docs/findings.md`` (default settings); each planter
breaks exactly one return or refund and records, through ``Builder.expect``, every finding the
break produces and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from recon.money import quantize
from recon.sandbox.generator import SHOP_CURRENCY, SHOPIFY_PAYMENTS, ZERO, Builder, Json, iso

HOUR = timedelta(hours=1)
CENT = Decimal("0.01")


# -- shared shapes ---------------------------------------------------------------------------------


def _new_return(
    b: Builder,
    *,
    age: tuple[float, float] = (20, 110),
    units: int = 0,
    lines: int = 2,
    presentment: str = SHOP_CURRENCY,
    gift_tender: Decimal = ZERO,
    created: datetime | None = None,
    **kwargs: object,
) -> tuple[Json, Json]:
    """An order placed a few days before a return of 1-2 of its units created ``age`` days ago."""
    created = created or b.ago(*age)
    order = b.order(
        b.later(created, -15, -3),
        lines=lines,
        presentment=presentment,
        gift_card_tender=gift_tender,
    )
    count = units or b.rng.choice((1, 1, 2))
    ret = b.loop_return(order, b.units(order, count), created, **kwargs)  # type: ignore[arg-type]
    return order, ret


def _closed(b: Builder, **kwargs: object) -> tuple[Json, Json, datetime]:
    """A return closed (processed, delivered) 5-12 days after it was created."""
    order, ret = _new_return(b, **kwargs)  # type: ignore[arg-type]
    at = b.later(ret["created_at"], 5, 12, cap=b.now - HOUR)
    b.close(ret, at)
    return order, ret, at


def _young(b: Builder, **kwargs: object) -> tuple[Json, Json]:
    """An open return well inside the stale threshold, parcel not yet delivered."""
    return _new_return(b, age=(1, 25), **kwargs)  # type: ignore[arg-type]


def _txn_of(order: Json, refund: Json) -> Json:
    return next(t for t in order["transactions"] if t["refund_id"] == refund["id"])


def _by_line(ret: Json) -> dict[str, Decimal]:
    """Σ unit price per Shopify line item of a return (the MISSING_RESTOCK/GHOST scope)."""
    sums: dict[str, Decimal] = {}
    for line in ret["line_items"]:
        key = line["provider_line_item_id"]
        sums[key] = sums.get(key, ZERO) + line["price"]
    return sums


# -- clean cases (kind -> builder; each returns the number of returns it used) ---------------------


def clean_linked(b: Builder, link: str) -> int:
    order, ret, at = _closed(b)
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
    order, ret, at = _closed(b)
    b.refunded(order, ret, at, link="provider", order_note=b.rng.choice(LOOP_ORDER_NOTES))
    return 1


def clean_exchange(b: Builder, closed: bool) -> int:
    if closed:
        order, ret, at = _closed(b, outcome="exchange")
        ret["exchange_processed_at"] = at
        b.restock_only(order, ret, at)
    else:
        _young(b, outcome="exchange", label=b.rng.choice(("pending", "in_transit")))
    return 1


def clean_store_credit(b: Builder) -> int:
    order, ret, at = _closed(b, outcome="gift_card")
    b.gift_card(order, ret, at)
    b.restock_only(order, ret, at)
    return 1


def clean_partial(b: Builder) -> int:
    order, ret, at = _closed(b, fee=Decimal(b.rng.choice(("3.00", "5.00", "7.50"))))
    b.refunded(order, ret, at)
    return 1


def clean_multi_currency(b: Builder) -> int:
    order, ret, at = _closed(b, presentment=b.rng.choice(("EUR", "CAD")))
    b.refunded(order, ret, at)
    return 1


def clean_mixed_tender(b: Builder) -> int:
    order, ret, at = _closed(b, gift_tender=Decimal("10.00"))
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
    order, ret = _young(b)
    ret["refund_before_inspection"] = True
    b.refunded(order, ret, b.later(ret["created_at"], 0.1, 1, cap=b.now - HOUR), restock=False)
    return 1


def clean_settlement_pending(b: Builder) -> int:
    """Refunded 1-3.5 days ago: its balance transaction still waits for a payout (allowed)."""
    at = b.ago(1, 3.5)
    order, ret = _new_return(b, created=at - timedelta(days=8))
    b.close(ret, at)
    b.refunded(order, ret, at)
    return 1


def clean_open(b: Builder) -> int:
    outcome = b.rng.choice(("refund", "refund", "exchange", "gift_card"))
    _order, ret = _young(
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
    _order, ret = _new_return(b, state=state, label="pending")
    ret["updated_at"] = b.later(ret["created_at"], 2, 6, cap=b.now - HOUR)
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
}


# -- planted discrepancies (category -> planter; each returns the number of returns it used) -------


def plant_missing_refund(b: Builder) -> int:
    """Closed by hand in Loop (no processing), parcel never delivered, refund never issued."""
    order, ret = _new_return(b)
    b.close(ret, b.later(ret["created_at"], 3, 10, cap=b.now - HOUR), processed=False)
    b.expect(
        "MISSING_REFUND",
        f"rma={ret['id']}",
        order=order,
        rma=ret["id"],
        amount=ret["refund"],
        currency=ret["currency"],
        description="closed, refund never issued",
    )
    return 1


def plant_refund_failed(b: Builder) -> int:
    order, ret, at = _closed(b)
    refund = b.refunded(order, ret, at, pays=[(SHOPIFY_PAYMENTS, ret["refund"], "FAILURE")])
    b.expect(
        "REFUND_FAILED",
        f"refund={refund['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=ret["refund"],
        currency=SHOP_CURRENCY,
        description="card refund declined",
    )
    return 1


def plant_refund_pending(b: Builder) -> int:
    at = b.ago(5, 9)
    order, ret = _new_return(b, created=at - timedelta(days=b.rng.uniform(5, 10)))
    b.close(ret, at)
    refund = b.refunded(order, ret, at, pays=[(SHOPIFY_PAYMENTS, ret["refund"], "PENDING")])
    b.expect(
        "REFUND_PENDING",
        f"refund={refund['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=ret["refund"],
        currency=SHOP_CURRENCY,
        description="refund pending for days",
    )
    return 1


def plant_amount_mismatch(b: Builder) -> int:
    order, ret, at = _closed(b)
    delta = Decimal(b.rng.randrange(100, 1500)) / 100
    paid = ret["refund"] - delta if ret["refund"] - delta > 1 else ret["refund"] + delta
    refund = b.refunded(order, ret, at, pays=[(SHOPIFY_PAYMENTS, paid, "SUCCESS")])
    b.expect(
        "AMOUNT_MISMATCH",
        f"rma={ret['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=abs(paid - ret["refund"]),
        currency=ret["currency"],
        description="wrong amount",
    )
    return 1


def plant_duplicate_refund(b: Builder) -> int:
    """Loop refunded; then someone refunded the same RMA again by hand (money only, no lines)."""
    order, ret, at = _closed(b)
    first = b.refunded(order, ret, at)
    second = b.refund(
        order,
        b.later(at, 1, 3, cap=b.now - HOUR),
        note=f"Loop RMA #{ret['id']}",
        pays=[(SHOPIFY_PAYMENTS, ret["refund"], "SUCCESS")],
    )
    b.expect(
        "DUPLICATE_REFUND",
        f"rma={ret['id']}",
        order=order,
        rma=ret["id"],
        refunds=[first, second],
        amount=ret["refund"],
        currency=ret["currency"],
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
        amount=_txn_of(order, refund)["amount_shop"],
        currency=SHOP_CURRENCY,
        description="note names an RMA Loop does not have",
    )
    return 0


def plant_ambiguous_rma(b: Builder) -> int:
    first, second = (
        (r["id"] for r in b.rng.sample(b.returns, 2))
        if len(b.returns) > 1
        else (str(next(b.unknown_rmas)), str(next(b.unknown_rmas)))
    )
    order, refund = _stray_refund(b, f"Loop RMA #{first} and Loop RMA #{second}")
    b.expect(
        "AMBIGUOUS_RMA",
        f"refund={refund['id']}",
        order=order,
        refunds=[refund],
        amount=_txn_of(order, refund)["amount_shop"],
        currency=SHOP_CURRENCY,
        description="note names two RMAs",
    )
    return 0


def plant_refund_on_cancelled(b: Builder) -> int:
    order, ret = _new_return(b, state="cancelled", label="pending")
    at = b.later(ret["created_at"], 2, 6, cap=b.now - HOUR)
    ret["updated_at"] = at
    refund = b.refunded(order, ret, at, link="note", restock=False)
    b.expect(
        "REFUND_ON_CANCELLED_RETURN",
        f"rma={ret['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=ret["refund"],
        currency=ret["currency"],
        description="refund on a cancelled return",
    )
    return 1


def plant_unsettled(b: Builder) -> int:
    """An old card refund with no balance transaction, one still pending, or a failed payout."""
    order, ret, at = _closed(b, age=(25, 110))
    variant = b.rng.choice(("none", "pending", "failed"))
    refund = b.refunded(order, ret, at, settle="none" if variant == "none" else "pending")
    payout_id = None
    if variant == "failed":
        payout_id = b.payout([b.balance[-1]], at + timedelta(days=3), "FAILED")["id"]
    txn = _txn_of(order, refund)
    b.expect(
        "UNSETTLED_REFUND",
        f"transaction={txn['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=txn["amount_shop"],
        currency=SHOP_CURRENCY,
        payout_id=payout_id,
        description=f"refund not settled ({variant})",
    )
    return 1


def plant_unmatched(b: Builder) -> int:
    order, ret, at = _closed(b)
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


def plant_sku_mismatch(b: Builder) -> int:
    """Refunded before inspection, but the refund line names the wrong item of the order."""
    order, ret = _young(b, units=1)
    ret["refund_before_inspection"] = True
    returned = ret["line_items"][0]["provider_line_item_id"]
    wrong = next(li for li in order["line_items"] if li["id"] != returned)
    refund = b.refund(
        order,
        b.later(ret["created_at"], 0.1, 1, cap=b.now - HOUR),
        units=[wrong],
        restock=False,
        note=f"Loop RMA #{ret['id']}",
        pays=[(SHOPIFY_PAYMENTS, ret["refund"], "SUCCESS")],
    )
    b.expect(
        "SKU_MISMATCH",
        f"rma={ret['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=ZERO,
        currency=ret["currency"],
        description="refunded the wrong SKU",
    )
    return 1


def plant_currency_mismatch(b: Builder) -> int:
    order, ret, at = _closed(b, currency="EUR")
    refund = b.refunded(order, ret, at)
    b.expect(
        "CURRENCY_MISMATCH",
        f"rma={ret['id']}",
        order=order,
        rma=ret["id"],
        refunds=[refund],
        amount=ret["refund"],
        currency="EUR",
        description="Loop in EUR, order in USD",
    )
    return 1


def plant_missing_store_credit(b: Builder) -> int:
    order, ret, at = _closed(b, outcome="gift_card")
    restock = b.restock_only(order, ret, at)
    b.expect(
        "MISSING_STORE_CREDIT",
        f"rma={ret['id']}",
        order=order,
        rma=ret["id"],
        refunds=[restock],
        amount=ret["gift_card"],
        currency=ret["currency"],
        description="no gift card issued",
    )
    return 1


def plant_missing_restock(b: Builder) -> int:
    order, ret, at = _closed(b)
    refund = b.refunded(order, ret, at, restock=False)
    for line_id, amount in _by_line(ret).items():
        b.expect(
            "MISSING_RESTOCK",
            f"rma={ret['id']},line={line_id}",
            order=order,
            rma=ret["id"],
            refunds=[refund],
            amount=amount,
            currency=ret["currency"],
            description="not restocked",
        )
    return 1


def plant_ghost_inventory(b: Builder) -> int:
    """Refunded and restocked before inspection while the parcel is still in transit."""
    order, ret = _young(b)
    ret["refund_before_inspection"] = True
    refund = b.refunded(order, ret, b.later(ret["created_at"], 0.1, 1, cap=b.now - HOUR))
    for line_id, amount in _by_line(ret).items():
        b.expect(
            "GHOST_INVENTORY",
            f"rma={ret['id']},line={line_id}",
            order=order,
            rma=ret["id"],
            refunds=[refund],
            amount=amount,
            currency=ret["currency"],
            description="restocked before the parcel arrived",
        )
    return 1


def plant_status_drift(b: Builder) -> int:
    order, ret, at = _closed(b)
    b.refunded(order, ret, at)
    b.mirror[ret["id"]].update(status="OPEN", closed_at=None)
    b.expect(
        "STATUS_DRIFT",
        f"order={order['id']}",
        order=order,
        rma=ret["id"],
        amount=ZERO,
        currency=SHOP_CURRENCY,
        description="Shopify return still open",
    )
    return 1


def plant_stale(b: Builder) -> int:
    order, ret = _new_return(
        b, age=(35, 100), label="pending", state=b.rng.choice(("open", "review"))
    )
    b.expect(
        "STALE_RETURN",
        f"rma={ret['id']}",
        order=order,
        rma=ret["id"],
        amount=ret["total"],
        currency=ret["currency"],
        description="open for over 30 days",
    )
    return 1


# AMBIGUOUS_RMA last: it names two returns that already exist.
PLANTS: dict[str, Callable[[Builder], int]] = {
    "MISSING_REFUND": plant_missing_refund,
    "MISSING_RESTOCK": plant_missing_restock,
    "AMOUNT_MISMATCH": plant_amount_mismatch,
    "DUPLICATE_REFUND": plant_duplicate_refund,
    "UNKNOWN_RMA": plant_unknown_rma,
    "REFUND_ON_CANCELLED_RETURN": plant_refund_on_cancelled,
    "REFUND_FAILED": plant_refund_failed,
    "REFUND_PENDING": plant_refund_pending,
    "UNSETTLED_REFUND": plant_unsettled,
    "UNMATCHED_REFUND": plant_unmatched,
    "SKU_MISMATCH": plant_sku_mismatch,
    "CURRENCY_MISMATCH": plant_currency_mismatch,
    "MISSING_STORE_CREDIT": plant_missing_store_credit,
    "STATUS_DRIFT": plant_status_drift,
    "STALE_RETURN": plant_stale,
    "GHOST_INVENTORY": plant_ghost_inventory,
    "AMBIGUOUS_RMA": plant_ambiguous_rma,
}


# -- the whole scenario ----------------------------------------------------------------------------


def plant_count(returns: int) -> int:
    """About 10 % of returns, but every category at least once from 60 returns on."""
    return max(round(returns * 0.10), min(len(PLANTS), returns // 3))


def populate(b: Builder, *, returns: int, orders: int) -> None:
    """Fill the builder: plants, clean cases up to ``returns``, plain sales up to ``orders``."""
    names = list(PLANTS)
    plants = [names[i % len(names)] for i in range(plant_count(returns))]
    used = 0
    for name in sorted(plants, key=lambda n: n == "AMBIGUOUS_RMA"):
        if used + (PLANTS[name] not in (plant_unknown_rma, plant_ambiguous_rma)) > returns:
            continue
        used += PLANTS[name](b)
    kinds = list(CLEAN)
    weights = [CLEAN[k][0] for k in kinds]
    while used < returns:
        kind = b.rng.choices(kinds, weights)[0]
        if kind == "several_returns_one_order" and returns - used < 2:
            continue
        used += CLEAN[kind][1](b)
        b.clean[kind] += 1
    for _ in range(max(0, orders - len(b.orders))):
        order = b.order(b.ago(0.2, 120), lines=b.rng.choice((1, 2, 3)))
        if b.rng.random() < 0.03:
            amount = order["line_items"][0]["price_shop"]
            b.refund(
                order,
                b.later(order["created_at"], 1, 5, cap=b.now - HOUR),
                note="Goodwill credit: late delivery",
                pays=[(SHOPIFY_PAYMENTS, amount, "SUCCESS")],
            )
            b.clean["refund_without_return"] += 1
        elif order["created_at"] < b.now - timedelta(days=10):
            b.plain_orders.append(order)
    if b.future_days > 0:
        _future(b, returns)


def _future(b: Builder, returns: int) -> None:
    """Activity after *now*: open returns closing with a refund, and new returns being created."""
    horizon = float(b.future_days)
    for ret in b.open_refund_returns[::2]:
        at = b.later(b.now, 0.1, horizon)
        order = b.orders_by_id[ret["provider_order_id"]]
        units = [b.line_item(order, x["provider_line_item_id"]) for x in ret["line_items"]]
        refund = b.refund(
            order,
            at,
            units=units,
            pays=[(SHOPIFY_PAYMENTS, ret["refund"], "SUCCESS")],
            return_id=b.mirror[ret["id"]]["id"],
        )
        b.revise(
            at,
            f"loop_return:{ret['id']}",
            {
                "state": "closed",
                "updated_at": iso(at),
                "was_processed": True,
                "label_status": "delivered",
                "return_processed_at": iso(at),
                "refund_processed_at": iso(at),
                "refunds": [
                    {
                        "gateway": SHOPIFY_PAYMENTS,
                        "amount": str(ret["refund"]),
                        "currency": ret["currency"],
                        "provider_refund_id": refund["id"],
                    }
                ],
            },
        )
        b.deferred.append((order, ret["id"], at))
    count = max(1, round(returns * horizon / 100))
    for order in b.rng.sample(b.plain_orders, min(count, len(b.plain_orders))):
        created = b.later(b.now, 0.1, horizon)
        b.loop_return(order, b.units(order, 1), created)
        b.revise(created, f"order:{order['id']}", {"updated_at": iso(created)})
