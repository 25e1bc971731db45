"""Scenario builder, Shopify side: catalog, orders, transactions, balance, refunds and payouts."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from recon.money import quantize
from recon.sandbox.construct import Json
from recon.sandbox.world import to_utc_iso

DEFAULT_NOW = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SHOP_CURRENCY = "USD"
SHOPIFY_PAYMENTS = "shopify_payments"
# Presentment currencies of multi-currency orders: shop amount = presentment amount * rate.
RATES = {"USD": Decimal("1"), "EUR": Decimal("1.0842"), "CAD": Decimal("0.7316")}
# Payouts go out every 3 days; a balance transaction joins the first payout at least 3 days after
# it, so anything older than ~6 days is paid out (well inside the 10-day UNSETTLED threshold).
PAYOUT_EVERY = timedelta(days=3)
PAYOUT_LAG = timedelta(days=3)
ZERO = Decimal("0")


@dataclass(frozen=True)
class Sku:
    """One catalog variant."""

    sku: str
    title: str
    variant_id: str
    inventory_item_id: str
    price: Decimal  # shop currency


def iso(moment: datetime) -> str:
    """JSON form of a timestamp inside a revision's ``set`` (kept JSON-native for round trips)."""
    return to_utc_iso(moment)


class ShopifyBuilder:
    """The Shopify half of a world under construction: id minting, time helpers, shop records."""

    def __init__(self, *, seed: int, now: datetime, future_days: int, n_skus: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = now
        self.future_days = future_days
        self._shopify_ids = itertools.count(5_400_000_000_001)
        self.locations = [
            {"id": self.sid(), "name": "Main warehouse"},
            {"id": self.sid(), "name": "Returns center"},
        ]
        self.catalog = [self._sku(i) for i in range(n_skus)]
        self.orders: list[Json] = []
        self.balance: list[Json] = []
        self._auto_settle: list[Json] = []
        self.revisions: list[Json] = []
        self.payouts: list[Json] = []
        self._sale: dict[str, Json] = {}  # order id -> its shopify_payments sale
        self.orders_by_id: dict[str, Json] = {}
        self.plain_orders: list[Json] = []  # plain sales old enough to get a return later

    # -- ids and time ---------------------------------------------------------------------------

    def sid(self) -> str:
        """A fresh 13-digit Shopify id (one sequence for every Shopify type keeps them unique)."""
        return str(next(self._shopify_ids))

    def ago(self, low: float, high: float) -> datetime:
        """A whole-second moment between ``high`` and ``low`` days before now."""
        return self.now - timedelta(seconds=int(self.rng.uniform(low, high) * 86400))

    def later(
        self, start: datetime, low: float, high: float, *, cap: datetime | None = None
    ) -> datetime:
        moment = start + timedelta(seconds=int(self.rng.uniform(low, high) * 86400))
        return min(moment, cap) if cap is not None else moment

    def _sku(self, index: int) -> Sku:
        style = ("TEE", "HOOD", "JEAN", "CAP", "SOCK", "COAT", "SKRT", "BOOT")[index % 8]
        size = ("XS", "S", "M", "L", "XL")[(index // 8) % 5]
        price = Decimal(self.rng.randrange(12, 180)) + Decimal(
            self.rng.choice(("0.00", "0.50", "0.99"))
        )
        return Sku(
            f"{style}-{index:04d}-{size}",
            f"{style.title()} {index} {size}",
            self.sid(),
            self.sid(),
            price,
        )

    # -- Shopify orders -------------------------------------------------------------------------

    def order(
        self,
        at: datetime,
        *,
        lines: int = 2,
        presentment: str = SHOP_CURRENCY,
        gift_card_tender: Decimal = ZERO,
        quantity: int | None = None,
    ) -> Json:
        """An order for ``lines`` distinct SKUs (``quantity`` each, else 1-2), paid and settled."""
        rate = RATES[presentment]
        items = self._line_items(lines, rate, presentment, quantity)
        order: Json = {
            "id": self.sid(),
            "name": "",
            "created_at": at,
            "updated_at": at,
            "processed_at": at,
            "currency": SHOP_CURRENCY,
            "presentment_currency": presentment,
            "exchange_rate": rate,
            "line_items": items,
            "transactions": [],
            "refunds": [],
            "returns": [],
        }
        total = sum((li["price_shop"] * li["quantity"] for li in items), ZERO)
        if gift_card_tender > 0:
            self._txn(order, "SALE", "gift_card", gift_card_tender, at)
        sale = self._txn(order, "SALE", SHOPIFY_PAYMENTS, total - gift_card_tender, at)
        self._sale[order["id"]] = sale
        fee = quantize(sale["amount_shop"] * Decimal("0.029") + Decimal("0.30"), SHOP_CURRENCY)
        self._balance(order, sale, "CHARGE", sale["amount_shop"], fee)
        self.orders.append(order)
        self.orders_by_id[order["id"]] = order
        return order

    def _line_items(
        self, lines: int, rate: Decimal, presentment: str, quantity: int | None = None
    ) -> list[Json]:
        """``lines`` distinct catalog SKUs priced in the presentment currency, quantity 1-2 each
        unless ``quantity`` is given."""
        items: list[Json] = []
        for sku in self.rng.sample(self.catalog, lines):
            price = sku.price if rate == 1 else quantize(sku.price / rate, presentment)
            items.append(
                {
                    "id": self.sid(),
                    "sku": sku.sku,
                    "title": sku.title,
                    "variant_id": sku.variant_id,
                    "inventory_item_id": sku.inventory_item_id,
                    "quantity": quantity or self.rng.choice((1, 1, 2)),
                    "price": price,
                    "price_shop": sku.price,
                }
            )
        return items

    def presentment(self, order: Json, shop_amount: Decimal) -> Decimal:
        rate: Decimal = order["exchange_rate"]
        if rate == 1:
            return shop_amount
        return quantize(shop_amount / rate, order["presentment_currency"])

    def _txn(
        self,
        order: Json,
        kind: str,
        gateway: str,
        amount_shop: Decimal,
        at: datetime,
        *,
        status: str = "SUCCESS",
        refund_id: str | None = None,
    ) -> Json:
        txn: Json = {
            "id": self.sid(),
            "kind": kind,
            "status": status,
            "gateway": gateway,
            "amount": self.presentment(order, amount_shop),
            "amount_shop": amount_shop,
            "processed_at": at,
            "refund_id": refund_id,
        }
        if kind == "REFUND":
            sale = self._sale[order["id"]]
            txn["parent_id"] = sale["id"]
        if status in ("FAILURE", "ERROR"):
            txn["error_code"] = "CARD_DECLINED"
        order["transactions"].append(txn)
        return txn

    def _balance(
        self,
        order: Json,
        txn: Json,
        kind: str,
        amount: Decimal,
        fee: Decimal = ZERO,
        *,
        settle: str = "auto",
    ) -> Json:
        row: Json = {
            "id": self.sid(),
            "type": kind,
            "source_type": kind,
            # The order transaction, as Shopify's REST fixtures show it on refund rows.
            "source_id": txn["id"],
            "source_order_transaction_id": txn["id"],
            "order_id": order["id"],
            "currency": SHOP_CURRENCY,
            "amount": amount,
            "fee": fee,
            "net": amount - fee,
            "transaction_date": txn["processed_at"],
            "payout_id": None,
            "payout_status": "PENDING",
        }
        self.balance.append(row)
        if settle == "auto":
            self._auto_settle.append(row)
        return row

    def bounce(self, order: Json, txn: Json, at: datetime, *, tied: bool = True) -> Json:
        """The card refund ``txn`` bounced at ``at``: Shopify Payments books a REFUND_FAILURE
        (money back to the shop, paid out on schedule); the order transaction stays SUCCESS.

        ``tied=False`` leaves ``sourceOrderTransactionId`` empty and names the transaction by
        ``sourceId`` only: whether Shopify fills the first on failures is unverified, so the
        sandbox serves both.
        """
        row = self._balance(
            order, {**txn, "processed_at": at}, "REFUND_FAILURE", txn["amount_shop"]
        )
        row["source_type"] = "REFUND"
        if not tied:
            row["source_order_transaction_id"] = None
        return row

    def units(self, order: Json, count: int) -> list[Json]:
        """``count`` returnable units (order line items, one entry per unit) of an order."""
        pool = [li for li in order["line_items"] for _ in range(li["quantity"])]
        return self.rng.sample(pool, min(count, len(pool)))

    # -- refunds --------------------------------------------------------------------------------

    def refund(
        self,
        order: Json,
        at: datetime,
        *,
        units: Sequence[Json] = (),
        restock: bool = True,
        pays: Iterable[tuple[str, Decimal, str]] = (),
        note: str | None = None,
        settle: str = "auto",
        return_id: str | None = None,
    ) -> Json:
        """A Shopify refund: one line per refunded line item, one REFUND transaction per payment.

        ``pays`` holds (gateway, shop amount, status); ``settle`` is ``auto`` (a balance transaction
        paid out on schedule), ``pending`` (never paid out) or ``none`` (no balance transaction).
        """
        refund: Json = {
            "id": self.sid(),
            "note": note,
            "created_at": at,
            "processed_at": at,
            "lines": [],  # filled below, after the refund's own id is minted
            "return_id": return_id,
        }
        refund["lines"] = self._refund_lines(order, units, restock)
        for gateway, amount, status in pays:
            txn = self._txn(
                order, "REFUND", gateway, amount, at, status=status, refund_id=refund["id"]
            )
            if gateway == SHOPIFY_PAYMENTS and status == "SUCCESS" and settle != "none":
                self._balance(order, txn, "REFUND", -amount, settle=settle)
        order["refunds"].append(refund)
        return refund

    def _refund_lines(self, order: Json, units: Sequence[Json], restock: bool) -> list[Json]:
        """One refund line per refunded line item, its quantity the number of units of it."""
        lines: list[Json] = []
        for line_id, qty in Counter(li["id"] for li in units).items():
            item = next(li for li in order["line_items"] if li["id"] == line_id)
            lines.append(
                {
                    "id": self.sid(),
                    "line_item_id": line_id,
                    "quantity": qty,
                    "restock_type": "RETURN" if restock else "NO_RESTOCK",
                    "restocked": restock,
                    "location_id": self.locations[0]["id"] if restock else None,
                    "subtotal": item["price"] * qty,
                }
            )
        return lines

    @staticmethod
    def line_item(order: Json, line_id: str) -> Json:
        return next(li for li in order["line_items"] if li["id"] == line_id)

    # -- payouts and revisions ------------------------------------------------------------------

    def revise(self, at: datetime, target: str, values: Json) -> None:
        """A change to a top-level record at ``at`` (values JSON-native, as in the file)."""
        self.revisions.append({"at": at, "target": target, "set": values})

    def _inventory(self, sku: Sku) -> Json:
        return {
            "id": sku.inventory_item_id,
            "variant_id": sku.variant_id,
            "sku": sku.sku,
            "available": {loc["id"]: self.rng.randrange(0, 60) for loc in self.locations},
        }

    def _assign_payouts(self) -> None:
        """Group auto-settled balance transactions into payouts on a fixed schedule."""
        anchor = self.now - DAY
        horizon = self.now + self.future_days * DAY
        slots: dict[int, list[Json]] = {}
        for row in self._auto_settle:
            if self.orders_by_id.get(row["order_id"], {}).get("test"):
                row["test"] = True  # test mode: no payout ever takes it
                continue
            k = math.ceil((row["transaction_date"] + PAYOUT_LAG - anchor) / PAYOUT_EVERY)
            slots.setdefault(k, []).append(row)
        for k in sorted(slots):
            issued = anchor + k * PAYOUT_EVERY
            if issued > horizon:
                continue  # stays PENDING past the simulated horizon
            payout = self.payout(slots[k], issued, "PAID")
            if issued > self.now:  # joins its payout later, via a revision
                for row in slots[k]:
                    row.update(payout_id=None, payout_status="PENDING")
                    self.revise(
                        issued,
                        f"balance_transaction:{row['id']}",
                        {"payout_id": payout["id"], "payout_status": "PAID"},
                    )

    def payout(self, rows: list[Json], issued: datetime, status: str) -> Json:
        """A payout holding ``rows``; its summary and net add up from them."""
        payout_id = self.sid()
        charges = sum((r["amount"] for r in rows if r["type"] == "CHARGE"), ZERO)
        fees = sum((r["fee"] for r in rows if r["type"] == "CHARGE"), ZERO)
        refunds = sum((r["amount"] for r in rows if r["type"] == "REFUND"), ZERO)
        net = sum((r["net"] for r in rows), ZERO)
        for row in rows:
            row.update(payout_id=payout_id, payout_status=status)
        payout: Json = {
            "id": payout_id,
            "issued_at": issued,
            "status": status,
            "currency": SHOP_CURRENCY,
            "transaction_type": "DEPOSIT" if net >= 0 else "WITHDRAWAL",
            "net": net,
            "summary": {
                "charges_gross": charges,
                "charges_fee": fees,
                "refunds_fee_gross": refunds,
            },
        }
        self.payouts.append(payout)
        return payout
