"""Shared state of both emulators: the world, the clock, what is visible now, and id minting."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from recon.clock import Clock, VirtualClock
from recon.sandbox.faults import Faults
from recon.sandbox.world import BalanceTransaction, Order, Payout, World
from recon.sandbox.world_loop import LoopReturn

SHOPIFY_TOKEN = "shpat_sandbox_not_a_secret"  # noqa: S105 - the sandbox's published credential
LOOP_API_KEY = "loop_sandbox_not_a_secret"


class SandboxState:
    """The world both emulators serve, guarded by one lock.

    Visibility: a record exists once the clock passes its creation time; ``revisions`` of the world
    apply once their ``at`` has passed (``refresh`` applies them, idempotently). Writes through the
    emulators mutate the world in place under ``lock``.
    """

    def __init__(
        self,
        world: World,
        clock: Clock | None = None,
        faults: Faults | None = None,
        shopify_token: str = SHOPIFY_TOKEN,
        loop_api_key: str = LOOP_API_KEY,
    ) -> None:
        self.world = world
        self.clock: Clock = clock or VirtualClock(world.now)
        self.faults = faults or Faults()
        self.shopify_token = shopify_token
        self.loop_api_key = loop_api_key
        self.lock = threading.RLock()
        self._applied_revisions = 0
        self._pending = sorted(world.revisions, key=lambda r: r.at)
        self.orders_by_id: dict[str, Order] = {o.id: o for o in world.orders}
        self.returns_by_id: dict[str, LoopReturn] = {r.id: r for r in world.loop_returns}
        self.payouts_by_id: dict[str, Payout] = {p.id: p for p in world.payouts}
        self.balance_by_id: dict[str, BalanceTransaction] = {
            b.id: b for b in world.balance_transactions
        }
        self._next_id = self._max_id() + 1

    def _max_id(self) -> int:
        ids: list[int] = [0]
        for order in self.world.orders:
            ids.append(int(order.id))
            ids.extend(int(x.id) for x in order.line_items)
            ids.extend(int(x.id) for x in order.transactions)
            for shopify_return in order.returns:
                ids.append(int(shopify_return.id))
                ids.extend(int(x.id) for x in shopify_return.lines)
            for refund in order.refunds:
                ids.append(int(refund.id))
                ids.extend(int(x.id) for x in refund.lines)
        ids.extend(int(g.id) for g in self.world.gift_cards)
        ids.extend(int(b.id) for b in self.world.balance_transactions)
        ids.extend(int(p.id) for p in self.world.payouts)  # minted last by the generator
        return max(ids)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def revision_count(self) -> int:
        """How many revisions have been applied so far (indexes rebuild when it changes)."""
        return self._applied_revisions

    def mint_id(self) -> str:
        """A fresh numeric id for a record the emulator creates."""
        with self.lock:
            value = self._next_id
            self._next_id += 1
            return str(value)

    def adopt(
        self,
        *,
        orders: Sequence[Order],
        returns: Sequence[LoopReturn],
        balance: Sequence[BalanceTransaction],
    ) -> None:
        """Add records made while the shop runs (``recon.sandbox.arrivals``): both emulators
        serve them from the next request (their indexes rebuild when a list grows)."""
        with self.lock:
            self.world.orders.extend(orders)
            self.world.loop_returns.extend(returns)
            self.world.balance_transactions.extend(balance)
            self.orders_by_id.update((o.id, o) for o in orders)
            self.returns_by_id.update((r.id, r) for r in returns)
            self.balance_by_id.update((b.id, b) for b in balance)
            self._next_id = max(self._next_id, self._max_id() + 1)

    def refresh(self) -> None:
        """Apply every revision whose time has come (call at the start of each request)."""
        now = self.now()
        with self.lock:
            while self._applied_revisions < len(self._pending):
                revision = self._pending[self._applied_revisions]
                if revision.at > now:
                    break
                self._apply(revision.target, revision.set)
                self._applied_revisions += 1

    def _apply(self, target: str, values: dict[str, Any]) -> None:
        kind, _, record_id = target.partition(":")
        tables: dict[str, dict[str, Any]] = {
            "loop_return": self.returns_by_id,
            "order": self.orders_by_id,
            "payout": self.payouts_by_id,
            "balance_transaction": self.balance_by_id,
        }
        record = tables[kind].get(record_id)
        if record is None:
            return
        updated = record.model_validate({**record.model_dump(), **values})
        for name in values:
            setattr(record, name, getattr(updated, name))

    # -- visibility ------------------------------------------------------------------------------

    def visible_orders(self) -> Iterator[Order]:
        now = self.now()
        return (o for o in self.world.orders if o.created_at <= now)

    def visible_returns(self) -> Iterator[LoopReturn]:
        now = self.now()
        return (r for r in self.world.loop_returns if r.created_at <= now)

    def visible_payouts(self) -> Iterator[Payout]:
        now = self.now()
        return (p for p in self.world.payouts if p.issued_at <= now)

    def visible_balance_transactions(self) -> Iterator[BalanceTransaction]:
        now = self.now()
        return (b for b in self.world.balance_transactions if b.transaction_date <= now)
