"""Build a ``Snapshot`` from the mirror, for everything or for one period.

A period [start, end) takes the records that belong to it plus what they need to be reconciled:
returns alive in the period (created before ``end``, updated at or after ``start``) or on an
order whose refund bounced in it (a REFUND_FAILURE dated in the period), refunds processed in it
or on those orders, the orders of both, balance transactions in it or settling those refunds'
transactions (and bounces naming them only by ``sourceId``, by order), payouts issued in it or
carrying those balance transactions with every balance transaction they carry, gift cards
created in it or since its oldest return was created.

``load_payout_context`` takes what ties a period's payouts' refunds to their RMAs whatever the
month each refund or return belongs to (context for the payout tie-out only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopReturnRecord,
    OrderRecord,
    PayoutRecord,
    Record,
    RefundRecord,
)
from recon.store import tables as tbl
from recon.store.id_sets import among
from recon.store.rows import rebuild
from recon.store.snapshot import Snapshot

M = TypeVar("M", bound=Record)
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _load(session: Session, row: Any, model: type[M], where: ColumnElement[bool] | None) -> list[M]:
    query = select(row.record, row.raw)
    if where is not None:
        query = query.where(where)
    records = [rebuild(model, record, raw) for record, raw in session.execute(query)]
    return sorted(records, key=lambda r: str(getattr(r, "id", "")))


def _between(column: InstrumentedAttribute[Any], start: datetime, end: datetime) -> Any:
    return (column >= start) & (column < end)


def load_snapshot(session: Session, start: datetime | None, end: datetime | None) -> Snapshot:
    """Records for [start, end), or all records when both are None (an open side is unbounded)."""
    if start is None and end is None:
        return Snapshot(
            returns=tuple(_load(session, tbl.LoopReturnRow, LoopReturnRecord, None)),
            orders=tuple(_load(session, tbl.OrderRow, OrderRecord, None)),
            refunds=tuple(_load(session, tbl.RefundRow, RefundRecord, None)),
            payouts=tuple(_load(session, tbl.PayoutRow, PayoutRecord, None)),
            balance_transactions=tuple(
                _load(session, tbl.BalanceTransactionRow, BalanceTransactionRecord, None)
            ),
            gift_cards=tuple(_load(session, tbl.GiftCardRow, GiftCardRecord, None)),
        )
    lo = start or _EARLIEST
    hi = end or _LATEST
    ret = tbl.LoopReturnRow
    bt = tbl.BalanceTransactionRow
    # A refund that bounces in this period (REFUND_FAILURE dated in it) is this period's money
    # event even when the refund and its return are older: their orders come in whole.
    bounced_orders: set[str] = set(
        session.scalars(
            select(bt.order_id).where(
                (bt.type == "REFUND_FAILURE")
                & _between(bt.transaction_date, lo, hi)
                & bt.order_id.is_not(None)
            )
        )
    )
    returns = _load(
        session,
        ret,
        LoopReturnRecord,
        or_(
            (ret.created_at < hi) & (ret.updated_at >= lo),
            among(ret.provider_order_id, bounced_orders),
        ),
    )
    order_ids = {r.provider_order_id for r in returns if r.provider_order_id} | bounced_orders
    # An order with activity in the period (a return, a refund or a bounce) comes in whole: all
    # its returns and refunds up to the period's end. A refund of 30 September on an order with
    # an October return, or an October refund of a return last updated in September, read
    # without its own return, was a refund nobody could explain (UNMATCHED_REFUND, UNKNOWN_RMA).
    order_ids |= set(
        session.scalars(
            select(tbl.RefundRow.order_id).where(_between(tbl.RefundRow.processed_at, lo, hi))
        )
    )
    loaded = {r.id for r in returns}
    returns += [
        r
        for r in _load(
            session,
            ret,
            LoopReturnRecord,
            (ret.created_at < hi) & among(ret.provider_order_id, order_ids),
        )
        if r.id not in loaded
    ]
    returns.sort(key=lambda r: r.id)
    refunds = _load(session, tbl.RefundRow, RefundRecord, among(tbl.RefundRow.order_id, order_ids))
    orders = _load(
        session,
        tbl.OrderRow,
        OrderRecord,
        among(tbl.OrderRow.id, order_ids | {f.order_id for f in refunds}),
    )
    txn_ids = {t.id for f in refunds for t in f.transactions}
    balance = _load(
        session,
        bt,
        BalanceTransactionRecord,
        or_(
            _between(bt.transaction_date, lo, hi),
            among(bt.source_order_transaction_id, txn_ids),
            # A bounce named only by sourceId (engine/link.py ``bounced``), dated outside the
            # window: found by its order, so the refund it undoes is not counted as paid.
            (bt.type == "REFUND_FAILURE")
            & bt.source_order_transaction_id.is_(None)
            & among(bt.order_id, {f.order_id for f in refunds}),
        ),
    )
    payout_ids = {b.payout_id for b in balance if b.payout_id}
    payouts = _load(
        session,
        tbl.PayoutRow,
        PayoutRecord,
        or_(_between(tbl.PayoutRow.issued_at, lo, hi), among(tbl.PayoutRow.id, payout_ids)),
    )
    # A payout is tied out whole: a payout issued on the 1st carries refunds of the month before,
    # and its summary counts them (without them its refunds sum short of it).
    carried = _load(
        session, bt, BalanceTransactionRecord, among(bt.payout_id, {p.id for p in payouts})
    )
    balance = sorted({b.id: b for b in (*balance, *carried)}.values(), key=lambda b: b.id)
    # A return of the period may have been credited before it (opened and credited in September,
    # closed on Oct 2): its card is no older than the return, so cards since the oldest come in.
    since = min([lo, *(r.created_at for r in returns)])
    gift_cards = _load(
        session, tbl.GiftCardRow, GiftCardRecord, _between(tbl.GiftCardRow.created_at, since, hi)
    )
    return Snapshot(
        returns=tuple(returns),
        orders=tuple(orders),
        refunds=tuple(refunds),
        payouts=tuple(payouts),
        balance_transactions=tuple(balance),
        gift_cards=tuple(gift_cards),
    )


def load_payout_context(
    session: Session,
    payout_ids: Iterable[str],
    end: datetime,
    rma_patterns: Sequence[str] | None = None,
) -> Snapshot:
    """What ties these payouts' refunds to their RMAs: the payouts, every balance transaction
    they carry, the orders those settle, every refund on those orders created before ``end``,
    and the Loop returns created before ``end`` on those orders or named by those refunds'
    notes (``rma_patterns``, the engine's; its defaults when None).

    A payout issued on Oct 4 carries refunds of September whose Loop returns are September's:
    they are none of October's records, but a refund is tied to its RMA on its own order, or
    by the RMA its note names (engine/link.py), so those are all that is needed. A return
    Loop sent without a Shopify order id is linked by the note alone: loaded by order only, it
    was missing here, and October's Payouts sheet counted a refund September's book tied to
    its RMA as one no RMA explains. This is context for the payout tie-out, not records of the
    period: the month-end workbook takes no finding and no Matched row from it.
    """
    from recon.config import DEFAULT_RMA_PATTERNS
    from recon.engine.rma import parse_rmas  # the engine's own parser (it loads pandas)

    bt, txn, ret = tbl.BalanceTransactionRow, tbl.TransactionRow, tbl.LoopReturnRow
    payouts = _load(session, tbl.PayoutRow, PayoutRecord, among(tbl.PayoutRow.id, payout_ids))
    balance = _load(
        session, bt, BalanceTransactionRecord, among(bt.payout_id, {p.id for p in payouts})
    )
    # A balance transaction names its order; the order transaction it settles names it too.
    settled = {b.source_order_transaction_id for b in balance if b.source_order_transaction_id}
    order_ids = {b.order_id for b in balance if b.order_id} | set(
        session.scalars(select(txn.order_id).where(among(txn.id, settled)))
    )
    refunds = tbl.RefundRow
    loaded = _load(
        session,
        refunds,
        RefundRecord,
        among(refunds.order_id, order_ids) & (refunds.processed_at < end),
    )
    patterns = DEFAULT_RMA_PATTERNS if rma_patterns is None else tuple(rma_patterns)
    named = {rma for refund in loaded for rma in parse_rmas(refund.note, patterns)}
    returns = {
        r.id: r
        for where in (among(ret.provider_order_id, order_ids), among(ret.id, named))
        for r in _load(session, ret, LoopReturnRecord, where & (ret.created_at < end))
    }
    return Snapshot(
        returns=tuple(returns[key] for key in sorted(returns)),
        orders=tuple(_load(session, tbl.OrderRow, OrderRecord, among(tbl.OrderRow.id, order_ids))),
        refunds=tuple(loaded),
        payouts=tuple(payouts),
        balance_transactions=tuple(balance),
    )
