"""Review 20b (an open finding's next step beside a write an earlier run made): what the
exception report tells finance, CX and the warehouse to do, read as they read it.

Dataset: the report samples (report_samples.py) with one finding and one intent per test, an
intent done by an earlier run (Shopify answered it done), its finding open tonight:

- a ``STATUS_DRIFT`` of order 5444175757560 (return 12345710 closed in Loop, Shopify still
  shows it requested), first seen 8 days ago; recon tagged the order a week ago. The tag does
  not close the return (the rule reads ``return_status`` only): CX still has to.
- a ``MISSING_RESTOCK`` of 12345704 line 77 new tonight for unit L2, received today; recon
  restocked the line's other unit, L1, two months ago (that finding then resolved).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from report_samples import AS_OF, finding, make_data

from recon.models import Category, Finding, FindingStatus, Owner, Severity
from recon.remediation.ledger import ActionView
from recon.remediation.views import report_row


def _done_earlier(id_: int, kind: str, found: Finding, ago: timedelta, **details: Any) -> Any:
    """An intent of ``found``'s key that an earlier run ended done, ``ago`` before tonight."""
    when = AS_OF - ago
    view = ActionView(
        id=id_,
        key=f"k-{id_}",
        kind=kind,
        category=found.category.value,
        rma=found.rma or "",
        order_id=found.shopify_order_id or "",
        amount=None,
        currency=None,
        state="done",
        reason="",
        result_id=f"gid://shopify/Order/{found.shopify_order_id}",
        details=details,
        created_at=when,
        updated_at=when,
        finding_key=found.key,
    )
    return report_row(view)


def _next_step(found: Finding, action: Any) -> str:
    data = make_data(findings=[found], previous_findings=[], actions=[action])
    (row,) = data.exception_rows()
    return row.next_step


def test_a_status_drift_tagged_by_an_earlier_run_still_asks_cx_to_close_the_return() -> None:
    """recon's answer to a STATUS_DRIFT is a tag on the order (DESIGN: "annotate order"), for
    CX: it changes no return status, so the finding stays open until someone closes the return
    in Shopify. Every night after the tag, the report told CX "do not redo it by hand: the
    finding resolves when a run reads the write back from Shopify", in place of "Close the
    return on the Shopify order.": nobody closes it, and the finding never resolves."""
    drift = finding(
        Category.STATUS_DRIFT,
        "order=5444175757560",
        "0",
        "USD",
        severity=Severity.LOW,
        owner=Owner.CX,
        rma="12345710",
        shopify_order_id="5444175757560",
        next_step="Close the return on the Shopify order.",
        first_seen=AS_OF - timedelta(days=8),
        status=FindingStatus.OPEN,
    )
    tag = _done_earlier(21, "annotate", drift, timedelta(days=7), tags=["recon:loop-closed"])
    step = _next_step(drift, tag)
    assert "do not redo it by hand" not in step
    assert "Close the return on the Shopify order." in step


def test_a_restock_done_months_ago_does_not_stand_for_tonights_unit() -> None:
    """The return's second unit of line 77 (L2) was received today: its MISSING_RESTOCK is new
    tonight (the one for L1 resolved two months ago, when recon restocked L1; the engine counts
    recon's done restocks from the ledger, so no read-back is pending for it). The report told
    the warehouse "recon sent restock ... (Loop line items L1) in an earlier run ... do not
    redo it by hand" for L2: the unit is never restocked, and the shelf count stays short."""
    missing = finding(
        Category.MISSING_RESTOCK,
        "rma=12345704,line=77",
        "30.00",
        "USD",
        severity=Severity.MEDIUM,
        owner=Owner.WAREHOUSE,
        rma="12345704",
        shopify_order_id="5444175757555",
        sku="SKU-1",
        loop_line_item_ids=("L2",),
        next_step="Restock the returned units.",
        first_seen=AS_OF,
        status=FindingStatus.NEW,
    )
    restock = _done_earlier(
        22, "restock", missing, timedelta(days=60),
        line_item_id="77", location_id="4001", quantity=1, units=["L1"],
    )  # fmt: skip
    step = _next_step(missing, restock)
    assert "do not redo it by hand" not in step
    assert step == "Restock the returned units."
