"""The frozen set of mirrored records the engine and reports read (no API calls needed)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from recon.models import (
    BalanceTransactionRecord,
    Finding,
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
    # (kind, id) of records an open quarantine entry rejected: the mirror may hold an older
    # copy, but what the vendor holds now could not be read (recon.store.quarantine).
    unreadable: frozenset[tuple[str, str]] = frozenset()
    # Ids of orders Shopify answered null for by id (deleted in Shopify, or older than 60 days
    # without read_all_orders), mirrored or only named by a Loop return: recon writes nothing to
    # them and asks for them again seldom (``recon.store.visibility``).
    not_visible: frozenset[str] = frozenset()


def on_test_orders(snapshot: Snapshot, findings: Iterable[Finding]) -> frozenset[str]:
    """Keys of the findings that name what ``without_test_orders`` leaves out of ``snapshot``:
    a test order, a Loop return or a refund on one, or only left-out balance transactions'
    order transactions (a finding naming no order, return, refund or transaction is kept).

    Such a finding raised before the order read as a test order is absent from the run
    because the order is left out, not because it was fixed (``lifecycle.merge``).
    """
    test = frozenset(o.id for o in snapshot.orders if o.test)
    rmas = {r.id for r in snapshot.returns if r.provider_order_id in test}
    refunds = {f.id for f in snapshot.refunds if f.order_id in test}
    transactions = {t.id for f in snapshot.refunds if f.order_id in test for t in f.transactions}
    transactions |= {
        b.source_order_transaction_id
        for b in snapshot.balance_transactions
        if (b.test or b.order_id in test) and b.source_order_transaction_id
    }

    def left_out(f: Finding) -> bool:
        return (
            f.shopify_order_id in test
            or f.rma in rmas
            or any(r in refunds for r in f.shopify_refund_ids)
            or (bool(f.transaction_ids) and set(f.transaction_ids) <= transactions)
        )

    return frozenset(f.key for f in findings if left_out(f))


def describe_left_out(left_out: Iterable[tuple[str, int]]) -> str:
    """``"returns 2, balance transactions 3"``: what the test-order filter left out."""
    return ", ".join(f"{kind.replace('_', ' ')} {count}" for kind, count in left_out)


def without_test_orders(snapshot: Snapshot) -> tuple[Snapshot, dict[str, int]]:
    """The snapshot without Shopify test orders and what hangs on them, and how many of each
    kind were left out (only kinds with some).

    A test order (``Order.test``: placed through a test gateway) moved no money, so nothing on
    it is owed or at risk: its Loop returns, refunds (with their transactions), balance
    transactions and store credit are left out, and so are test-mode balance transactions of
    any order (they are never paid out). Payouts stay. A Loop return whose order is not in the
    mirror cannot be told apart and is kept: reconciled as a live order's.
    """
    test = frozenset(o.id for o in snapshot.orders if o.test)
    kept = replace(
        snapshot,
        orders=tuple(o for o in snapshot.orders if not o.test),
        returns=tuple(r for r in snapshot.returns if r.provider_order_id not in test),
        refunds=tuple(r for r in snapshot.refunds if r.order_id not in test),
        balance_transactions=tuple(
            b for b in snapshot.balance_transactions if not b.test and b.order_id not in test
        ),
        gift_cards=tuple(g for g in snapshot.gift_cards if g.order_id not in test),
    )
    left_out = {
        kind.name: len(getattr(snapshot, kind.name)) - len(getattr(kept, kind.name))
        for kind in fields(Snapshot)
    }
    return kept, {kind: count for kind, count in left_out.items() if count}
