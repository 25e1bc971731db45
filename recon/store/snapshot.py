"""The frozen set of mirrored records the engine and reports read (no API calls needed)."""

from __future__ import annotations

from dataclasses import dataclass

from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopReturnRecord,
    OrderRecord,
    PayoutRecord,
    RefundRecord,
)


@dataclass(frozen=True)
class Snapshot:
    """Records rebuilt from the mirror, each tuple sorted by id."""

    returns: tuple[LoopReturnRecord, ...] = ()
    orders: tuple[OrderRecord, ...] = ()
    refunds: tuple[RefundRecord, ...] = ()
    payouts: tuple[PayoutRecord, ...] = ()
    balance_transactions: tuple[BalanceTransactionRecord, ...] = ()
    gift_cards: tuple[GiftCardRecord, ...] = ()
