"""Tiny record builders for engine truth tables (one line per record in the tests)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from recon.config import EngineSettings
from recon.engine import Frames, ReconResult, build_frames, reconcile
from recon.engine.frames import (
    BALANCE_COLUMNS,
    GIFT_CARD_COLUMNS,
    ORDER_COLUMNS,
    PAYOUT_COLUMNS,
    REFUND_COLUMNS,
    REFUND_LINE_COLUMNS,
    RETURN_COLUMNS,
    RETURN_LINE_COLUMNS,
    TRANSACTION_COLUMNS,
    empty_frame,
)
from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    LoopRefundRecord,
    LoopReturnRecord,
    OrderRecord,
    PayoutRecord,
    RefundLineRecord,
    RefundRecord,
    ReturnLine,
    TransactionRecord,
)

AS_OF = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def line(
    pli: str, sku: str, price: str = "20.00", *, inspected: bool = False, uid: str | None = None
) -> ReturnLine:
    """One returned unit; ``uid`` is its Loop line item id (default ``9<pli>``)."""
    return ReturnLine(
        line_item_id=uid or "9" + pli,
        provider_line_item_id=pli,
        sku=sku,
        price=Decimal(price),
        refund=Decimal(price),
        inspected=inspected,
    )


def ret(
    rma: str,
    order: str = "100",
    *,
    state: str = "closed",
    refund: str = "20.00",
    gift_card: str = "0",
    currency: str = "USD",
    lines: tuple[ReturnLine, ...] | None = None,
    label: str | None = "delivered",
    processed: bool = True,
    outcome: str = "refund",
    created_days: float = 5,
    total: str | None = None,
    provider_refund_ids: tuple[str, ...] = (),
) -> LoopReturnRecord:
    lines = lines if lines is not None else (line("1" + rma[-3:], "SKU-A"),)
    return LoopReturnRecord(
        id=rma,
        state=state,
        outcome=outcome,
        created_at=ago(created_days),
        updated_at=ago(1),
        provider_order_id=order,
        order_name=f"#{order}",
        currency=currency,
        total=Decimal(total or refund),
        refund=Decimal(refund),
        gift_card=Decimal(gift_card),
        label_status=label,
        was_processed=processed,
        lines=lines,
        refunds=tuple(LoopRefundRecord(provider_refund_id=p) for p in provider_refund_ids),
    )


def order(
    oid: str = "100",
    *,
    currency: str = "USD",
    presentment: str | None = None,
    return_status: str | None = "RETURNED",
) -> OrderRecord:
    return OrderRecord(
        id=oid,
        name=f"#{oid}",
        updated_at=ago(1),
        currency=currency,
        presentment_currency=presentment or currency,
        return_status=return_status,
    )


def txn(
    tid: str,
    amount: str,
    *,
    status: str = "SUCCESS",
    gateway: str = "shopify_payments",
    days: float | None = 2,
    shop_amount: str | None = None,
    currency: str = "USD",
    shop_currency: str = "USD",
    order_id: str = "100",
) -> TransactionRecord:
    return TransactionRecord(
        id=tid,
        order_id=order_id,
        refund_id=None,
        kind="REFUND",
        status=status,
        gateway=gateway,
        amount=Decimal(amount),
        currency=currency,
        amount_shop=Decimal(shop_amount or amount),
        shop_currency=shop_currency,
        processed_at=None if days is None else ago(days),  # None: Shopify left it null
    )


def rline(pli: str, sku: str, *, qty: int = 1, restocked: bool = True) -> RefundLineRecord:
    return RefundLineRecord(
        id=None,
        line_item_id=pli,
        sku=sku,
        quantity=qty,
        restock_type="RETURN" if restocked else "NO_RESTOCK",
        restocked=restocked,
    )


def refund(
    fid: str,
    note: str | None,
    txns: tuple[TransactionRecord, ...],
    *,
    order_id: str = "100",
    lines: tuple[RefundLineRecord, ...] = (),
    currency: str = "USD",
    shop_currency: str = "USD",
    days: float = 2,
) -> RefundRecord:
    txns = tuple(t.model_copy(update={"refund_id": fid, "order_id": order_id}) for t in txns)
    total = sum((t.amount for t in txns), Decimal(0))
    return RefundRecord(
        id=fid,
        order_id=order_id,
        note=note,
        created_at=ago(days),
        processed_at=ago(days),
        total=total,
        currency=currency,
        total_shop=sum((t.amount_shop for t in txns), Decimal(0)),
        shop_currency=shop_currency,
        lines=lines,
        transactions=txns,
    )


def bt(
    bid: str,
    source_txn: str,
    amount: str,
    *,
    payout: str | None = "700",
    status: str = "PAID",
    kind: str = "REFUND",
    tied: bool = True,
    days: float = 1,
) -> BalanceTransactionRecord:
    """A balance transaction of ``source_txn``: a REFUND is money out, a REFUND_FAILURE money
    back; ``tied=False`` leaves ``sourceOrderTransactionId`` empty (only ``sourceId`` names it)."""
    money = Decimal(amount) if kind == "REFUND_FAILURE" else -Decimal(amount)
    return BalanceTransactionRecord(
        id=bid,
        type=kind,
        source_type="REFUND",
        source_id=source_txn,
        source_order_transaction_id=source_txn if tied else None,
        order_id="100",
        amount=money,
        fee=Decimal(0),
        net=money,
        currency="USD",
        transaction_date=ago(days),
        payout_id=payout,
        payout_status=status if payout else "PENDING",
    )


def payout(pid: str = "700", *, status: str = "PAID", refunds_gross: str = "0") -> PayoutRecord:
    return PayoutRecord(
        id=pid,
        issued_at=ago(1),
        status=status,
        currency="USD",
        net=Decimal(0),
        refunds_gross=Decimal(refunds_gross),
    )


def gift(gid: str, note: str, value: str = "20.00") -> GiftCardRecord:
    return GiftCardRecord(
        id=gid, created_at=ago(1), note=note, initial_value=Decimal(value), currency="USD"
    )


def empty_frames() -> Frames:
    """Every frame empty, with its columns: a test puts in only the frames it needs."""
    return Frames(
        *(
            empty_frame(columns)
            for columns in (
                RETURN_COLUMNS,
                RETURN_LINE_COLUMNS,
                ORDER_COLUMNS,
                REFUND_COLUMNS,
                REFUND_LINE_COLUMNS,
                TRANSACTION_COLUMNS,
                PAYOUT_COLUMNS,
                BALANCE_COLUMNS,
                GIFT_CARD_COLUMNS,
            )
        )
    )


def frames_of(*records: object) -> Frames:
    """Sort mixed records by type into build_frames' arguments."""

    def of(kind: type) -> list:  # type: ignore[type-arg]
        return [r for r in records if isinstance(r, kind)]

    return build_frames(
        of(LoopReturnRecord),
        of(OrderRecord),
        of(RefundRecord),
        of(PayoutRecord),
        of(BalanceTransactionRecord),
        of(GiftCardRecord),
    )


def run(
    *records: object,
    restocked: Mapping[tuple[str, str], Sequence[str]] | None = None,
    settings: EngineSettings | None = None,
) -> ReconResult:
    return reconcile(
        frames_of(*records), settings or EngineSettings(), AS_OF, restocked_by_recon=restocked
    )


def keyset(result: ReconResult) -> set[tuple[str, str]]:
    return {(f.category.value, f.key.split("|", 1)[1]) for f in result.findings}


def one_refund_of_two_returns(note: str) -> ReconResult:
    """Returns 12345 and 12346 on order 100 (20.00 each), both refunded by one 40.00 refund
    500 (``note``) paid out in payout 700."""
    return run(
        ret("12345"),
        ret("12346", lines=(line("1346", "SKU-A"),)),
        order(),
        payout(),
        refund(
            "500",
            note,
            (txn("600", "40.00"),),
            lines=(rline("1345", "SKU-A"), rline("1346", "SKU-A")),
        ),
        bt("8600", "600", "40.00"),
    )


@contextmanager
def without_pyarrow() -> Iterator[None]:
    """Inside, the engine runs as on a server without pyarrow: its import fails (None in
    ``sys.modules``), so notes are read by the Python parser. Restored on the way out."""
    names = {"pyarrow", "pyarrow.compute"} | {n for n in sys.modules if n.startswith("pyarrow.")}
    saved = {name: sys.modules.get(name) for name in names}
    try:
        sys.modules.update(dict.fromkeys(saved))  # None in sys.modules: ImportError
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
