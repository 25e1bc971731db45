"""The small world remediation tests run in, and the FakeGateway loaded under a unique name.

The world: order 1001 (USD, 100.00 paid by card) with line items 2001 and 2002 at location 4001.
RMA 12345701 returned one unit of 2001 (received), Loop refunded 48.60 → MISSING_REFUND.
RMA 12345702 returned one unit of 2002 (received) and was refunded in Shopify with NO_RESTOCK →
MISSING_RESTOCK. STATUS_DRIFT on the order.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from recon.config import RemediationSettings
from recon.lock import RunLockRow
from recon.models import (
    Category,
    Finding,
    LoopReturnRecord,
    OrderLine,
    OrderRecord,
    Owner,
    ReturnLine,
    Severity,
)
from recon.remediation.ledger import ActionEventRow, ActionRow
from recon.remediation.planner import RmaContext
from recon.store.tables import Base, FindingRow

# A unique module name: a bare ``fakes`` could collide with another test folder's helper.
_spec = importlib.util.spec_from_file_location(
    "remediation_fakes", Path(__file__).with_name("fakes.py")
)
assert _spec and _spec.loader
remediation_fakes = importlib.util.module_from_spec(_spec)
sys.modules["remediation_fakes"] = remediation_fakes
_spec.loader.exec_module(remediation_fakes)

SHOP = "sandbox"
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def make_return(
    rma: str,
    line: str,
    *,
    refund: str = "48.60",
    currency: str = "USD",
    delivered: bool = True,
    processed: bool = True,
    state: str = "closed",
) -> LoopReturnRecord:
    unit = ReturnLine(
        line_item_id=f"L{line}",
        provider_line_item_id=line,
        sku=f"SKU-{line}",
        price=Decimal(refund),
        refund=Decimal(refund),
        restock_location_id="4001",
    )
    return LoopReturnRecord(
        id=rma,
        state=state,
        outcome="refund",
        created_at=T0 - timedelta(days=9),
        updated_at=T0 - timedelta(days=1),
        provider_order_id="1001",
        order_name="#1001",
        currency=currency,
        total=Decimal(refund),
        refund=Decimal(refund),
        gift_card=Decimal(0),
        label_status="delivered" if delivered else "in_transit",
        was_processed=processed,
        lines=(unit,),
    )


def make_order(currency: str = "USD", presentment: str = "USD") -> OrderRecord:
    return OrderRecord(
        id="1001",
        name="#1001",
        updated_at=T0,
        currency=currency,
        presentment_currency=presentment,
        return_status="IN_PROGRESS",
        lines=(
            OrderLine(id="2001", sku="SKU-2001", quantity=1, inventory_item_id="3001"),
            OrderLine(id="2002", sku="SKU-2002", quantity=1, inventory_item_id="3002"),
        ),
    )


def finding(category: Category, rma: str, *, line: str | None = None) -> Finding:
    scope = "order=1001" if category is Category.STATUS_DRIFT else f"rma={rma}"
    if line:
        scope += f",line={line}"
    return Finding(
        key=f"{category.value}|{scope}",
        category=category,
        severity=Severity.HIGH,
        owner=Owner.FINANCE,
        rma=rma,
        shopify_order_id="1001",
        location_id="4001",
        loop_line_item_ids=(f"L{line}",) if line else (),  # the unit make_return gives the line
    )


def standard_findings() -> list[Finding]:
    """What the engine raises: 701 unpaid and its received unit not restocked (the refund will
    restock it), 702's unit not restocked, and 702's order still open on Shopify."""
    return [
        finding(Category.MISSING_REFUND, "12345701"),
        finding(Category.MISSING_RESTOCK, "12345701", line="2001"),
        finding(Category.MISSING_RESTOCK, "12345702", line="2002"),
        finding(Category.STATUS_DRIFT, "12345702"),
    ]


def standard_contexts(**kwargs: Any) -> dict[str, RmaContext]:
    order = make_order()
    return {
        "12345701": RmaContext(make_return("12345701", "2001", **kwargs), order),
        "12345702": RmaContext(make_return("12345702", "2002", refund="30.00"), order),
    }


def settings(**overrides: Any) -> RemediationSettings:
    values: dict[str, Any] = {"auto_apply": ["MISSING_REFUND", "MISSING_RESTOCK", "STATUS_DRIFT"]}
    values.update(overrides)
    return RemediationSettings(**values)


def sessions_for(url: str) -> Callable[[], Session]:
    engine = create_engine(url)
    # Only remediation's tables: the mirror's are another suite's business (and slow to create).
    tables = [
        ActionRow.__table__, ActionEventRow.__table__, RunLockRow.__table__, FindingRow.__table__
    ]  # fmt: skip
    Base.metadata.create_all(engine, tables=tables)
    return sessionmaker(engine, expire_on_commit=False)


FakeGateway = remediation_fakes.FakeGateway
