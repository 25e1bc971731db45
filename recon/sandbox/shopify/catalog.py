"""The emulator's read models over the world: sorted indexes and id lookups."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from recon.sandbox.shopify.search import (
    Key,
    SortedIndex,
    cursor_position,
    encode_cursor,
    micros,
    take_page,
)
from recon.sandbox.state import SandboxState
from recon.sandbox.world import (
    BalanceTransaction,
    GiftCard,
    InventoryItem,
    Location,
    Order,
    Payout,
)

R = TypeVar("R")
Node = dict[str, Any]
KeyFn = Callable[[Any, datetime], int]


def effective_updated(order: Order, now: datetime) -> datetime:
    """Order ``updatedAt`` as of now: its latest visible change (itself, refunds, transactions)."""
    latest = order.created_at
    if latest < order.updated_at <= now:
        latest = order.updated_at
    for refund in order.refunds:
        if latest < refund.created_at <= now:
            latest = refund.created_at
    for txn in order.transactions:
        if latest < txn.processed_at <= now:
            latest = txn.processed_at
    return latest


def order_events(order: Order) -> Iterable[datetime]:
    """Every moment at which an order's visibility, sort keys or search fields can change."""
    yield order.created_at
    yield order.updated_at
    yield from (r.created_at for r in order.refunds)
    yield from (t.processed_at for t in order.transactions)
    yield from (r.created_at for r in order.returns)


@dataclass
class Table(Generic[R]):
    """Visible records of one kind, with a sorted index per sort key built on first use.

    Valid until ``next_change`` (the first future event of any record) or until the list grows;
    writes through the emulator call ``touch``/``add`` so a write costs O(n) memmove, not a rebuild.
    """

    records: list[R]
    now: datetime
    keys: dict[str, KeyFn]
    visible_at: Callable[[R], datetime]
    events: Callable[[R], Iterable[datetime]]
    by_id: dict[int, R] = field(default_factory=dict)
    size: int = 0
    next_change: datetime | None = None
    deep_page_cap: int | None = None  # objects one query may page through (§1: 25,000)
    _indexes: dict[str, SortedIndex] = field(default_factory=dict)
    _current: dict[str, dict[int, Key]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.size = len(self.records)
        for record in self.records:
            for moment in self.events(record):
                if moment > self.now and (self.next_change is None or moment < self.next_change):
                    self.next_change = moment
            if self.visible_at(record) <= self.now:
                self.by_id[int(record.id)] = record  # type: ignore[attr-defined]

    def index(self, sort_key: str) -> SortedIndex:
        """The index for a sort key (unknown keys fall back to ID)."""
        sort_key = sort_key if sort_key in self.keys else "ID"
        if sort_key not in self._indexes:
            fn = self.keys[sort_key]
            current = {rid: (fn(rec, self.now), rid) for rid, rec in self.by_id.items()}
            self._current[sort_key] = current
            self._indexes[sort_key] = SortedIndex(list(current.values()))
        return self._indexes[sort_key]

    def key_of(self, sort_key: str, record_id: int) -> Key:
        sort_key = sort_key if sort_key in self.keys else "ID"
        self.index(sort_key)
        return self._current[sort_key][record_id]

    def touch(self, record: R, now: datetime) -> None:
        """Re-key a record changed by a write (or add a new one)."""
        rid = int(record.id)  # type: ignore[attr-defined]
        self.by_id[rid] = record
        self.size = len(self.records)
        self.now = max(self.now, now)
        for name, index in self._indexes.items():
            old = self._current[name].get(rid)
            if old is not None:
                index.remove(old)
            new = (self.keys[name](record, self.now), rid)
            index.insert(new)
            self._current[name][rid] = new

    def fresh(self, now: datetime, records: list[R]) -> bool:
        return (
            records is self.records
            and len(records) == self.size
            and now >= self.now
            and (self.next_change is None or now < self.next_change)
        )


def _t(fn: Callable[[Any], datetime]) -> KeyFn:
    return lambda record, _now: micros(fn(record))


ORDER_KEYS: dict[str, KeyFn] = {
    "ID": lambda o, _n: int(o.id),
    "CREATED_AT": _t(lambda o: o.created_at),
    "PROCESSED_AT": _t(lambda o: o.processed_at or o.created_at),
    "UPDATED_AT": lambda o, now: micros(effective_updated(o, now)),
}
PAYOUT_KEYS: dict[str, KeyFn] = {
    "ID": lambda p, _n: int(p.id),
    "ISSUED_AT": _t(lambda p: p.issued_at),
}
BALANCE_KEYS: dict[str, KeyFn] = {
    "ID": lambda b, _n: int(b.id),
    "PROCESSED_AT": _t(lambda b: b.transaction_date),
}
GIFT_CARD_KEYS: dict[str, KeyFn] = {
    "ID": lambda g, _n: int(g.id),
    "CREATED_AT": _t(lambda g: g.created_at),
}


class Catalog:
    """Read models of one sandbox state; call ``orders()`` etc. with the request's now."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._tables: dict[str, Table[Any]] = {}
        self._revision_times = sorted(r.at for r in state.world.revisions)
        self._owner: dict[str, dict[str, str]] = {}
        self._owner_size = -1
        self._inventory: dict[str, InventoryItem] = {}

    def _next_revision(self, now: datetime) -> datetime | None:
        position = bisect.bisect_right(self._revision_times, now)
        return self._revision_times[position] if position < len(self._revision_times) else None

    def _table(self, name: str, records: list[R], now: datetime, **spec: Any) -> Table[R]:
        table = self._tables.get(name)
        if table is None or not table.fresh(now, records):
            table = Table(records, now, **spec)
            revision = self._next_revision(now)
            if revision is not None and (table.next_change is None or revision < table.next_change):
                table.next_change = revision
            self._tables[name] = table
        table.deep_page_cap = self.state.world.shop.deep_page_cap
        return table

    def orders(self, now: datetime) -> Table[Order]:
        return self._table(
            "orders",
            self.state.world.orders,
            now,
            keys=ORDER_KEYS,
            visible_at=lambda o: o.created_at,
            events=order_events,
        )

    def payouts(self, now: datetime) -> Table[Payout]:
        return self._table(
            "payouts",
            self.state.world.payouts,
            now,
            keys=PAYOUT_KEYS,
            visible_at=lambda p: p.issued_at,
            events=lambda p: (p.issued_at,),
        )

    def balance_transactions(self, now: datetime) -> Table[BalanceTransaction]:
        return self._table(
            "balance",
            self.state.world.balance_transactions,
            now,
            keys=BALANCE_KEYS,
            visible_at=lambda b: b.transaction_date,
            events=lambda b: (b.transaction_date,),
        )

    def gift_cards(self, now: datetime) -> Table[GiftCard]:
        return self._table(
            "gift_cards",
            self.state.world.gift_cards,
            now,
            keys=GIFT_CARD_KEYS,
            visible_at=lambda g: g.created_at,
            events=lambda g: (g.created_at,),
        )

    def owner(self, kind: str, record_id: str) -> Order | None:
        """The order holding a line item, refund, transaction or return (not visibility)."""
        if self._owner_size != len(self.state.world.orders):
            self.reindex_owners()
        order_id = self._owner.get(kind, {}).get(record_id)
        return None if order_id is None else self.state.orders_by_id.get(order_id)

    def reindex_owners(self) -> None:
        owners: dict[str, dict[str, str]] = {
            k: {} for k in ("LineItem", "Refund", "OrderTransaction", "Return")
        }
        for order in self.state.world.orders:
            self.note_children(order, owners)
        self._owner = owners
        self._owner_size = len(self.state.world.orders)

    def note_children(self, order: Order, owners: dict[str, dict[str, str]] | None = None) -> None:
        """Record which order owns each child record (called after a write adds children)."""
        target = self._owner if owners is None else owners
        for line in order.line_items:
            target.setdefault("LineItem", {})[line.id] = order.id
        for refund in order.refunds:
            target.setdefault("Refund", {})[refund.id] = order.id
        for txn in order.transactions:
            target.setdefault("OrderTransaction", {})[txn.id] = order.id
        for ret in order.returns:
            target.setdefault("Return", {})[ret.id] = order.id

    def inventory_item(self, item_id: str) -> InventoryItem | None:
        inventory = self.state.world.inventory
        if len(self._inventory) != len(inventory):
            self._inventory = {item.id: item for item in inventory}
        return self._inventory.get(item_id)

    def location(self, location_id: str) -> Location | None:
        return next((loc for loc in self.state.world.shop.locations if loc.id == location_id), None)


def page_connection(
    table: Table[R],
    args: dict[str, Any],
    default_sort: str,
    accept: Callable[[R], bool],
    render: Callable[[R], Node],
    bounds: tuple[int | None, int | None] = (None, None),
) -> Node:
    """A root connection page over a catalog table: work is O(log n + records scanned).

    Raises:
        GraphQLError: for bad page sizes or cursors.
    """
    sort_key = str(args.get("sortKey") or default_sort)
    index = table.index(sort_key)
    page = take_page(index, args, lambda key: accept(table.by_id[key[1]]), bounds)
    keys, has_next = page.keys, page.has_next
    forwards = args.get("last") is None
    start = cursor_position(args.get("after")) if forwards else 0
    cap = table.deep_page_cap
    if forwards and cap is not None and start + len(keys) >= cap:
        # Deep pagination stops here: no next page, although more records may match (§1, §5).
        keys, has_next = keys[: max(0, cap - start)], False
    records = [table.by_id[key[1]] for key in keys]

    def cursor(offset: int) -> str:
        return encode_cursor(keys[offset], start + offset + 1 if forwards else None)

    return {
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": page.has_previous,
            "startCursor": cursor(0) if keys else None,
            "endCursor": cursor(len(keys) - 1) if keys else None,
        },
        "nodes": lambda info, **_: [render(r) for r in records],
        "edges": lambda info, **_: [
            {"cursor": cursor(i), "node": render(r)} for i, r in enumerate(records)
        ],
    }
