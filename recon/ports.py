"""The ports between the pure core and the adapters (sources, store, mailer).

Adapters implement these Protocols; ``bootstrap`` wires the concrete ones; tests use fakes.
Every iterator yields typed records or ``Quarantined`` entries: a bad record never stops a run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopReturnRecord,
    OrderRecord,
    OrderStamp,
    PayoutRecord,
    Quarantined,
    RefundRecord,
)

LOOP_STATES = ("open", "closed", "cancelled", "expired", "review")


class LoopSource(Protocol):
    """Reads Loop returns (the Detailed Returns List)."""

    def iter_returns(
        self, start: datetime, end: datetime, state: str
    ) -> Iterator[LoopReturnRecord | Quarantined]:
        """Returns of one state updated in [start, end); the window may exceed 120 days (split)."""
        ...

    def iter_details(
        self, records: Sequence[LoopReturnRecord]
    ) -> Iterator[LoopReturnRecord | Quarantined]:
        """Mirrored returns completed from Get Return Details (their ``refunds[]``); one whose
        details still cannot be read comes as it was, followed by its entry."""
        ...


class ShopifySource(Protocol):
    """Reads Shopify orders, refunds, payouts, balance transactions and gift cards."""

    def iter_orders_by_id(self, ids: Sequence[str]) -> Iterator[OrderRecord | Quarantined]:
        """Orders by numeric id (``nodes(ids:)``); unknown ids are skipped."""
        ...

    def iter_refunded_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderRecord | Quarantined]:
        """Orders updated in [start, end) that carry refunds (the sweep for unknown RMAs)."""
        ...

    def iter_updated_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderStamp | Quarantined]:
        """Every order updated in [start, end), id and update time only (which to read in full)."""
        ...

    def iter_refunds_by_id(self, ids: Sequence[str]) -> Iterator[RefundRecord | Quarantined]:
        """Refund details (lines, transactions) by numeric refund id, inner connections followed."""
        ...

    def iter_payouts(self, start: datetime, end: datetime) -> Iterator[PayoutRecord | Quarantined]:
        """Shopify Payments payouts issued in [start, end)."""
        ...

    def iter_balance_transactions(
        self, start: datetime, end: datetime
    ) -> Iterator[BalanceTransactionRecord | Quarantined]:
        """Shopify Payments balance transactions processed in [start, end)."""
        ...

    def iter_balance_transactions_by_id(
        self, ids: Sequence[str]
    ) -> Iterator[BalanceTransactionRecord | Quarantined]:
        """Balance transactions by numeric id; an id that resolves to null is quarantined."""
        ...

    def iter_gift_cards(
        self, start: datetime, end: datetime
    ) -> Iterator[GiftCardRecord | Quarantined]:
        """Gift cards created in [start, end) by an API client (Loop's store credit)."""
        ...
