"""A sandbox shop that moves while it runs: new returns arrive with planted discrepancies, and
Shopify Payments pays out what waited long enough (the chaos campaign's nights).

``arrive`` adds one fresh return per plant to a running ``SandboxState`` (order placed days ago,
return created and closed since the last night, so Loop lists it by ``updated_at``) and returns
the findings it planted, for the campaign's ground truth. ``pay_out`` is the payout schedule for
balance transactions the world did not settle in advance: those of arrivals and of recon's own
refunds, which would otherwise stay PENDING and turn into ``UNSETTLED_REFUND`` as days pass.
``return_payout`` is the bank sending a PAID payout back (FAILED).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import SHOPIFY_PAYMENTS, Sku
from recon.sandbox.construct import Json
from recon.sandbox.plants_stock import expect_missing_restocks
from recon.sandbox.scenario_shapes import HOUR
from recon.sandbox.state import SandboxState
from recon.sandbox.truth import PlantedFinding
from recon.sandbox.world import (
    BalanceTransaction,
    Order,
    Payout,
    PayoutStatus,
    PayoutSummary,
    World,
)
from recon.sandbox.world_loop import LoopReturn

# Balance transactions older than this join tonight's payout (the generator pays out anything
# older than ~6 days; UNSETTLED_REFUND waits 10).
PAYOUT_AFTER = timedelta(days=6)


def _fresh_return(b: Builder, *, processed: bool) -> tuple[Json, Json, datetime]:
    """An order placed 2-20 days ago; a return of 1-2 of its units created in the last day and
    closed an hour or more later, before now."""
    created = b.ago(0.5, 0.9)
    order = b.order(b.later(created, -20, -2), lines=2)
    ret = b.loop_return(order, b.units(order, b.rng.choice((1, 2))), created)
    at = b.later(created, 0.05, 0.4, cap=b.now - HOUR)
    b.close(ret, at, processed=processed)
    return order, ret, at


def _missing_refund(b: Builder) -> None:
    order, ret, _ = _fresh_return(b, processed=False)
    b.expect_return("MISSING_REFUND", order, ret, amount=ret["refund"], description="arrived")


def _missing_restock(b: Builder) -> None:
    order, ret, at = _fresh_return(b, processed=True)
    refund = b.refunded(order, ret, at, restock=False)
    expect_missing_restocks(b, order, ret, refund, "arrived, refunded without restock")


def _short_refund(b: Builder) -> None:
    order, ret, at = _fresh_return(b, processed=True)
    short = min(Decimal(b.rng.randrange(100, 1500)) / 100, ret["refund"] / 2)
    pays = [(SHOPIFY_PAYMENTS, ret["refund"] - short, "SUCCESS")]
    refund = b.refunded(order, ret, at, pays=pays)
    b.expect_return(
        "AMOUNT_MISMATCH", order, ret, refunds=[refund], amount=short, description="arrived short"
    )


ARRIVALS: dict[str, Callable[[Builder], None]] = {
    "MISSING_REFUND": _missing_refund,
    "MISSING_RESTOCK": _missing_restock,
    "AMOUNT_MISMATCH": _short_refund,
}


def arrive(state: SandboxState, *, seed: int, plants: Sequence[str]) -> list[PlantedFinding]:
    """Add one new return per name in ``plants`` (keys of ``ARRIVALS``) to the running shop, as
    of its clock; return the findings they plant (order names resolved).

    Raises:
        ValueError: if a name is not one ``ARRIVALS`` can plant.
    """
    unknown = sorted(set(plants) - set(ARRIVALS))
    if unknown:
        raise ValueError(f"cannot plant {', '.join(unknown)} in a running shop: {sorted(ARRIVALS)}")
    with state.lock:
        b = _builder(state, seed)
        for name in plants:
            ARRIVALS[name](b)
        _name(state, b)
        state.adopt(
            orders=[Order.model_validate(o) for o in b.orders],
            returns=[LoopReturn.model_validate(r) for r in b.returns],
            balance=[BalanceTransaction.model_validate(r) for r in b.balance],
        )
    return [
        PlantedFinding.model_validate(
            {k: v for k, v in row.items() if k != "_order"}
            | {"shopify_order_name": row["_order"]["name"]}
        )
        for row in b.findings
    ]


def _builder(state: SandboxState, seed: int) -> Builder:
    """A builder on the shop's catalog and locations whose ids follow the shop's."""
    world = state.world
    b = Builder(seed=seed, now=state.now().replace(microsecond=0), future_days=0, n_skus=0)
    b.locations = [{"id": loc.id, "name": loc.name} for loc in world.shop.locations]
    b.catalog = [
        Sku(i.sku, i.sku, i.variant_id, i.id, Decimal(b.rng.randrange(12, 180)))
        for i in world.inventory
    ]
    returns = world.loop_returns
    b.follow(
        shopify=int(state.mint_id()),
        rma=max([12_000_000, *(int(r.id) for r in returns)]),
        loop_order=max([30_000_000, *(int(r.order_id) for r in returns)]),
        loop_line=max([50_000_000, *(int(x.line_item_id) for r in returns for x in r.line_items)]),
    )
    return b


def _name(state: SandboxState, b: Builder) -> None:
    """Order names after the shop's last (``#1001``…), return names after their order's."""
    taken = len(state.world.orders)
    for index, order in enumerate(b.orders):
        order["name"] = f"#{1001 + taken + index}"
        for number, shopify_return in enumerate(order["returns"], start=1):
            shopify_return["name"] = f"{order['name']}-R{number}"
        order["updated_at"] = max(
            [order["created_at"]] + [r["created_at"] for r in order["refunds"]]
        )
    names = {o["id"]: o["name"] for o in b.orders}
    for ret in b.returns:
        ret["order_name"] = names[ret["provider_order_id"]]


def hold_until_whole(world: World) -> None:
    """Move each Loop return's ``updated_at`` to the last event of its order (refunds,
    transactions, gift cards; the world's end at the latest), so a world generated as of its
    end can be replayed from days before: Loop lists by ``updated_at``, so a client sees a
    return only once everything the world records of it has happened (a return refunded and
    restocked a day after its parcel showed delivered is not listed, unrestocked, between).
    """
    orders = {o.id: o for o in world.orders}
    cards: dict[str, list[datetime]] = {}
    for card in world.gift_cards:
        cards.setdefault(card.order_id or "", []).append(card.created_at)
    for ret in world.loop_returns:
        order = orders.get(ret.provider_order_id)
        if order is None:
            continue
        moments = [ret.updated_at, *(f.created_at for f in order.refunds)]
        moments += [t.processed_at for t in order.transactions]
        moments += cards.get(order.id, [])
        ret.updated_at = min(max(moments), max(world.now, ret.updated_at))


def pay_out(
    state: SandboxState, *, after: timedelta = PAYOUT_AFTER, leave: Collection[str] = ()
) -> list[Payout]:
    """Tonight's payouts (one per currency, PAID, issued now) of the balance transactions
    still waiting for one that are older than ``after``; test-mode rows are never paid, nor
    those in ``leave`` (the world's own: a planted unsettled refund stays unsettled)."""
    now = state.now()
    with state.lock:
        waiting = [
            row
            for row in state.world.balance_transactions
            if row.payout_id is None
            and row.payout_status == "PENDING"
            and row.id not in leave
            and not row.test
            and row.transaction_date <= now - after
        ]
        paid = []
        for currency, rows in itertools.groupby(
            sorted(waiting, key=lambda r: r.currency), key=lambda r: r.currency
        ):
            paid.append(_payout(state, list(rows), currency, now))
    return paid


def _payout(
    state: SandboxState, rows: list[BalanceTransaction], currency: str, now: datetime
) -> Payout:
    charges = [r for r in rows if r.type == "CHARGE"]
    net = sum((r.net for r in rows), Decimal(0))
    payout = Payout(
        id=state.mint_id(),
        issued_at=now,
        status="PAID",
        currency=currency,
        transaction_type="DEPOSIT" if net >= 0 else "WITHDRAWAL",
        net=net,
        summary=PayoutSummary(
            charges_gross=sum((r.amount for r in charges), Decimal(0)),
            charges_fee=sum((r.fee for r in charges), Decimal(0)),
            refunds_fee_gross=sum((r.amount for r in rows if r.type == "REFUND"), Decimal(0)),
        ),
    )
    for row in rows:
        row.payout_id, row.payout_status = payout.id, "PAID"
    state.world.payouts.append(payout)
    state.payouts_by_id[payout.id] = payout
    return payout


def return_payout(state: SandboxState, payout_id: str) -> Payout:
    """The bank returns payout ``payout_id`` after Shopify showed it PAID: it reads ``FAILED``
    ("declined by the bank", ``ShopifyPaymentsPayoutStatus``) from now on, and so does each
    balance transaction it carried (``associatedPayout.status``), their money back in the
    balance. Its ``issuedAt`` stays: no window from a watermark sees the change.

    Shopify does not document whether a PAID payout can still fail; this lets a test plant one
    that does, so recon is shown to read it if it happens.

    Raises:
        KeyError: no payout has that id.
    """
    with state.lock:
        payout = state.payouts_by_id[payout_id]
        payout.status = PayoutStatus.FAILED
        for row in state.world.balance_transactions:
            if row.payout_id == payout_id:
                row.payout_status = "FAILED"
    return payout
