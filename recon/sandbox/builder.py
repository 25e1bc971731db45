"""Scenario builder, Loop side: Loop returns and their Shopify mirrors, ground truth, finishing.

The world is built as plain dicts and turned into models without validation (``construct``); the
Shopify records come from ``ShopifyBuilder``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from recon.money import quantize
from recon.sandbox.builder_shopify import (
    SHOP_CURRENCY,
    SHOPIFY_PAYMENTS,
    ZERO,
    ShopifyBuilder,
    iso,
)
from recon.sandbox.construct import Json, construct
from recon.sandbox.truth import GroundTruth
from recon.sandbox.world import World


class Builder(ShopifyBuilder):
    """A world under construction: Shopify records plus Loop returns and ground-truth recording."""

    def __init__(self, *, seed: int, now: datetime, future_days: int, n_skus: int) -> None:
        super().__init__(seed=seed, now=now, future_days=future_days, n_skus=n_skus)
        self._return_ids = itertools.count(12_000_001)
        self._loop_order_ids = itertools.count(30_000_001)
        self._loop_line_ids = itertools.count(50_000_001)
        self.unknown_rmas = itertools.count(19_900_001)  # never a return id
        self.returns: list[Json] = []
        self.gift_cards: list[Json] = []
        self.findings: list[Json] = []
        self.clean: Counter[str] = Counter()
        self.at_limit: list[str] = []  # keys clean cases at a time limit raise a second later
        self.mirror: dict[str, Json] = {}  # Loop return id -> its Shopify Return
        self._loop_order: dict[str, str] = {}
        self.open_refund_returns: list[Json] = []  # clean open returns that may close later
        self.deferred: list[tuple[Json, str, datetime]] = []  # mirror closes, once names exist
        # (order, refund, note template): notes naming the order, written once names exist
        self.order_notes: list[tuple[Json, Json, str]] = []

    def follow(self, *, shopify: int, rma: int, loop_order: int, loop_line: int) -> None:
        """Mint ids after these (the highest in use): a builder adding to a running shop."""
        self._shopify_ids = itertools.count(shopify + 1)
        self._return_ids = itertools.count(rma + 1)
        self._loop_order_ids = itertools.count(loop_order + 1)
        self._loop_line_ids = itertools.count(loop_line + 1)

    def restock_only(self, order: Json, ret: Json, at: datetime) -> Json:
        """The zero-money refund Shopify records when a processed return restocks its units."""
        units = [self.line_item(order, x["provider_line_item_id"]) for x in ret["line_items"]]
        return self.refund(order, at, units=units, return_id=self.mirror[ret["id"]]["id"])

    # -- Loop returns ---------------------------------------------------------------------------

    def loop_return(
        self,
        order: Json,
        units: Sequence[Json],
        created: datetime,
        *,
        outcome: str = "refund",
        fee: Decimal = ZERO,
        currency: str = SHOP_CURRENCY,
        state: str = "open",
        label: str = "in_transit",
    ) -> Json:
        """An open Loop return of ``units`` (one Loop line each) and its Shopify Return mirror."""
        lines = self._loop_lines(units, created, outcome)
        total = sum((x["price"] for x in lines), ZERO)
        due = total - fee
        if outcome == "refund":
            lines[-1]["refund"] -= fee
        rid = str(next(self._return_ids))
        loop_order = self._loop_order.setdefault(order["id"], str(next(self._loop_order_ids)))
        ret: Json = {
            "id": rid,
            "state": state,
            "created_at": created,
            "updated_at": created,
            "outcome": outcome,
            "order_id": loop_order,
            "provider_order_id": order["id"],
            "order_name": "",
            "currency": currency,
            "multi_currency": order["presentment_currency"] != SHOP_CURRENCY,
            "customer": f"customer{rid[-5:]}@example.com",
            "total": total,
            "refund": due if outcome == "refund" else ZERO,
            "gift_card": due if outcome == "gift_card" else ZERO,
            "exchange_credit_total": due if outcome == "exchange" else ZERO,
            "handling_fee": fee,
            "return_total": due,
            "line_items": lines,
            "refunds": [],
            "label_status": label,
            "carrier": "USPS",
            "tracking_number": f"9400{rid}{order['id'][-6:]}",
            "destination_id": self.locations[0]["id"],
        }
        shopify_return = self._mirror_return(units, created, state)
        order["returns"].append(shopify_return)
        self.mirror[rid] = shopify_return
        self.returns.append(ret)
        return ret

    def _loop_lines(self, units: Sequence[Json], created: datetime, outcome: str) -> list[Json]:
        """One Loop line per returned unit, priced in shop currency (Loop's ``line_items[]``)."""
        return [
            {
                "line_item_id": str(next(self._loop_line_ids)),
                "provider_line_item_id": li["id"],
                "variant_id": li["variant_id"],
                "sku": li["sku"],
                "title": li["title"],
                "price": li["price_shop"],
                "refund": li["price_shop"] if outcome == "refund" else ZERO,
                "returned_at": created,
                "return_reason": self.rng.choice(("Too small", "Too big", "Changed mind")),
                "provider_restock_location_id": self.locations[0]["id"],
            }
            for li in units
        ]

    def _mirror_return(self, units: Sequence[Json], created: datetime, state: str) -> Json:
        """The Shopify Return mirroring a Loop return of ``units``, named once orders are."""
        status = {"open": "OPEN", "review": "OPEN", "closed": "CLOSED"}.get(state, "CANCELED")
        shopify_return: Json = {
            "id": self.sid(),
            "name": "",
            "status": status,
            "created_at": created,
            "closed_at": None,
            "lines": [
                {"id": self.sid(), "line_item_id": line_id, "quantity": qty}
                for line_id, qty in Counter(li["id"] for li in units).items()
            ],
        }
        return shopify_return

    def close(self, ret: Json, at: datetime, *, processed: bool = True) -> None:
        """Close a Loop return (processed: parcel delivered and graded) and its Shopify mirror."""
        ret.update(state="closed", updated_at=at, was_processed=processed)
        if processed:
            ret.update(label_status="delivered", return_processed_at=at)
            for line in ret["line_items"]:
                line["condition"] = {"grade": "new"}
                line["disposition"] = {"action": "restock"}
        self.mirror[ret["id"]].update(status="CLOSED", closed_at=at)

    def link_provider(self, ret: Json, refund: Json, order: Json) -> None:
        """Record a Loop-issued refund in Loop's ``refunds[]`` (Loop's ``provider_refund_id``)."""
        for txn in order["transactions"]:
            if txn["refund_id"] == refund["id"]:
                ret["refunds"].append(
                    {
                        "gateway": txn["gateway"],
                        "amount": txn["amount_shop"],
                        "currency": ret["currency"],
                        "provider_refund_id": refund["id"],
                    }
                )

    def refunded(
        self,
        order: Json,
        ret: Json,
        at: datetime,
        *,
        link: str = "provider",
        pays: Iterable[tuple[str, Decimal, str]] | None = None,
        restock: bool = True,
        settle: str = "auto",
        order_note: str | None = None,
    ) -> Json:
        """Refund a return in full (``ret['refund']`` through Shopify Payments) and link it.

        ``order_note``: a note template naming the ORDER (``{name}`` "#1043", ``{number}``
        "1043"), filled in once orders are named: Loop's own refund note text is unknown
        (loop-returns-api.md §9, §14), so such notes must not be read as RMAs.
        """
        units = [self.line_item(order, x["provider_line_item_id"]) for x in ret["line_items"]]
        note = f"Loop RMA #{ret['id']}" if link == "note" else None
        pays = list(pays) if pays is not None else [(SHOPIFY_PAYMENTS, ret["refund"], "SUCCESS")]
        refund = self.refund(
            order,
            at,
            units=units,
            restock=restock,
            pays=pays,
            note=note,
            settle=settle,
            return_id=self.mirror[ret["id"]]["id"],
        )
        if link == "provider":
            self.link_provider(ret, refund, order)
        if order_note is not None:
            self.order_notes.append((order, refund, order_note))
        ret["refund_processed_at"] = at
        return refund

    def gift_card(
        self, order: Json, ret: Json, at: datetime, *, value: Decimal | None = None
    ) -> Json:
        """The Loop gift card of a store-credit return (``value``: else its ``gift_card``)."""
        skus = ", ".join(x["sku"] for x in ret["line_items"])
        value = ret["gift_card"] if value is None else value
        card: Json = {
            "id": self.sid(),
            "created_at": at,
            "initial_value": value,
            "balance": value,
            "currency": SHOP_CURRENCY,
            "order_id": order["id"],
            "note": (
                f"Generated by Loop Returns. Original order id {order['id']}, "
                f"amount {value} USD, return {ret['id']}, SKUs: {skus}"
            ),
            "last_characters": order["id"][-4:],
        }
        ret["gift_card_processed_at"] = at
        self.gift_cards.append(card)
        return card

    # -- ground truth ---------------------------------------------------------------------------

    def expect_return(
        self,
        category: str,
        order: Json,
        ret: Json,
        *,
        amount: Decimal,
        currency: str | None = None,
        refunds: Iterable[Json] = (),
        description: str = "",
    ) -> None:
        """Record a finding scoped to one Loop return (``rma=<id>``), in its currency by default."""
        self.expect(
            category,
            f"rma={ret['id']}",
            order=order,
            rma=ret["id"],
            refunds=refunds,
            amount=amount,
            currency=currency or ret["currency"],
            description=description,
        )

    def expect(
        self,
        category: str,
        scope: str,
        *,
        order: Json,
        amount: Decimal,
        currency: str,
        rma: str | None = None,
        refunds: Iterable[Json] = (),
        payout_id: str | None = None,
        description: str = "",
    ) -> None:
        """Record one finding the engine must raise (order name resolved once names are set)."""
        self.findings.append(
            {
                "key": f"{category}|{scope}",
                "category": category,
                "rma": rma,
                "_order": order,
                "shopify_order_id": order["id"],
                "shopify_refund_ids": sorted(r["id"] for r in refunds),
                "amount_at_risk": quantize(amount, currency),
                "currency": currency,
                "payout_id": payout_id,
                "description": description,
            }
        )

    # -- finishing ------------------------------------------------------------------------------

    def finish(self) -> tuple[World, GroundTruth]:
        """Name orders chronologically, settle payouts, validate once."""
        self._name_orders()
        for order, rma, at in self.deferred:
            self._close_mirror_later(order, rma, at)
        for order, refund, template in self.order_notes:
            name = order["name"]
            refund["note"] = template.format(name=name, number=name.lstrip("#"))
        self._assign_payouts()
        world = construct(
            World,
            {
                "seed": self.seed,
                "now": self.now,
                "shop": {"locations": self.locations},
                "inventory": [self._inventory(sku) for sku in self.catalog],
                "orders": self.orders,
                "loop_returns": self.returns,
                "payouts": self.payouts,
                "balance_transactions": self.balance,
                "gift_cards": self.gift_cards,
                "revisions": sorted(self.revisions, key=lambda r: r["at"]),
            },
        )
        return world, self._truth()

    def _name_orders(self) -> None:
        """Name orders ``#1001``… by creation and returns ``#1001-R1``…; copy names to Loop."""
        self.orders.sort(key=lambda o: (o["created_at"], o["id"]))
        names = {}
        for index, order in enumerate(self.orders):
            order["name"] = f"#{1001 + index}"
            names[order["id"]] = order["name"]
            for number, shopify_return in enumerate(order["returns"], start=1):
                shopify_return["name"] = f"{order['name']}-R{number}"
            order["updated_at"] = max(
                [order["created_at"]]
                + [r["created_at"] for r in order["refunds"] if r["created_at"] <= self.now]
            )
        for ret in self.returns:
            ret["order_name"] = names[ret["provider_order_id"]]

    def _truth(self) -> GroundTruth:
        """The recorded findings, sorted by key, with the order names resolved."""
        findings = []
        for row in sorted(self.findings, key=lambda f: f["key"]):
            order = row.pop("_order")
            findings.append({**row, "shopify_order_name": order["name"]})
        return GroundTruth.model_validate(
            {
                "seed": self.seed,
                "as_of": self.now,
                "findings": findings,
                "clean_cases": dict(self.clean),
                "at_limit": sorted(self.at_limit),
            }
        )

    def _close_mirror_later(self, order: Json, rma: str, at: datetime) -> None:
        """Revise an order so the Shopify Return of ``rma`` closes at ``at``."""
        closing = self.mirror[rma]["id"]
        returns = [
            {
                "id": r["id"],
                "name": r["name"],
                "created_at": iso(r["created_at"]),
                "status": "CLOSED" if r["id"] == closing else r["status"],
                "closed_at": iso(at)
                if r["id"] == closing
                else (r["closed_at"] and iso(r["closed_at"])),
                "lines": [dict(line) for line in r["lines"]],
            }
            for r in order["returns"]
        ]
        self.revise(at, f"order:{order['id']}", {"returns": returns, "updated_at": iso(at)})
