"""Report fixtures: a small, fixed set of findings, matches, payouts, actions and store credit.

Dataset: two currencies (USD, EUR), five open findings across finance/warehouse/cx, one resolved,
one finding whose detail is a formula-injection attempt, one carrying customer PII, and a
previous run with one finding that is gone now (resolved by absence).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook

from recon.models import Category, Finding, FindingStatus, Owner, Severity
from recon.remediation.ledger import ActionView
from recon.remediation.views import report_row
from recon.reporting.data import ReportData
from recon.reporting.figures import build_report_data

AS_OF = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
INJECTION = '=HYPERLINK("http://x","y")'


def finding(category: Category, scope: str, amount: str, currency: str, **extra: Any) -> Finding:
    defaults: dict[str, Any] = {
        "severity": Severity.HIGH,
        "owner": Owner.FINANCE,
        "first_seen": AS_OF - timedelta(days=3),
        "last_seen": AS_OF,
    }
    defaults.update(extra)
    return Finding(
        key=f"{category.value}|{scope}",
        category=category,
        amount_at_risk=Decimal(amount),
        currency=currency,
        **defaults,
    )


def sample_findings() -> list[Finding]:
    return [
        finding(
            Category.MISSING_REFUND,
            "rma=12345701",
            "48.60",
            "USD",
            rma="12345701",
            shopify_order_id="5444175757553",
            shopify_order_name="#7400123",
            detail="Loop refunded 48.60; no Shopify refund",
            next_step="Create the refund",
        ),
        finding(
            Category.DUPLICATE_REFUND,
            "rma=12345702",
            "120.00",
            "USD",
            severity=Severity.CRITICAL,
            rma="12345702",
            shopify_order_id="5444175757554",
            shopify_refund_ids=("901", "902"),
            detail=INJECTION,
            next_step="+1 review",
        ),
        finding(
            Category.AMOUNT_MISMATCH,
            "rma=12345703",
            "15.25",
            "EUR",
            rma="12345703",
            detail="-1",
            next_step="@SUM(1)",
            first_seen=AS_OF - timedelta(days=10),
            status=FindingStatus.OPEN,
        ),
        finding(
            Category.MISSING_RESTOCK,
            "rma=12345704,line=77",
            "30.00",
            "USD",
            severity=Severity.MEDIUM,
            owner=Owner.WAREHOUSE,
            rma="12345704",
            sku="SKU-1",
            detail="<script>alert(1)</script>",
            next_step="Adjust inventory",
        ),
        finding(
            Category.REFUND_FAILED,
            "refund=903",
            "22.10",
            "EUR",
            owner=Owner.CX,
            rma="12345705",
            detail="Customer jane.doe@example.com, +1 555-123-4567 waiting",
            next_step="Call the customer",
            status=FindingStatus.OPEN,
        ),
        finding(
            Category.STALE_RETURN,
            "rma=12345699",
            "10.00",
            "USD",
            severity=Severity.LOW,
            owner=Owner.CX,
            status=FindingStatus.RESOLVED,
            resolved_at=AS_OF,
        ),
    ]


def previous_findings() -> list[Finding]:
    return [
        finding(Category.AMOUNT_MISMATCH, "rma=12345703", "15.25", "EUR", status=FindingStatus.NEW),
        finding(Category.REFUND_FAILED, "refund=903", "22.10", "EUR", owner=Owner.CX),
        finding(Category.UNKNOWN_RMA, "refund=800", "5.00", "USD"),  # gone now → resolved
    ]


def sample_matches() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "rma": "12345690",
                "shopify_order_id": "5444175757550",
                "shopify_order_name": "#7400100",
                "state": "closed",
                "outcome": "refund",
                "currency": "USD",
                "loop_refund": Decimal("20.00"),
                "loop_gift_card": Decimal("0.00"),
                "refund_ids": "801",
                "refunded_total": Decimal("20.00"),
                "match_method": "note",
                "match_confidence": 1.0,
                "transaction_ids": "701",
                "payout_ids": "601",
                "payout_statuses": "PAID",
            },
            {
                "rma": "12345691",
                "shopify_order_id": "5444175757551",
                "shopify_order_name": "=1+1",
                "state": "closed",
                "outcome": "refund",
                "currency": "EUR",
                "loop_refund": Decimal("7.50"),
                "loop_gift_card": Decimal("0.00"),
                "refund_ids": "802,803",
                "refunded_total": Decimal("7.50"),
                "match_method": "heuristic",
                "match_confidence": 0.9,
                "transaction_ids": "702",
                "payout_ids": None,
                "payout_statuses": None,
            },
        ]
    )


def sample_payouts() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "payout_id": "601",
                "issued_at": datetime(2026, 10, 20, tzinfo=UTC),
                "status": "PAID",
                "transaction_type": "DEPOSIT",
                "currency": "USD",
                "refunds_count": 2,
                "refunds_matched": 1,
                "refunds_unmatched": 1,
                "refunds_unmatched_sum": Decimal("-4.00"),
                "refunds_sum": Decimal("20.00"),
                "summary_refunds_gross": Decimal("21.00"),
                "difference": Decimal("-1.00"),
                "refund_failures_count": 1,
                "refund_failures_sum": Decimal("12.50"),
            },
        ]
    )


def sample_actions() -> list[dict[str, Any]]:
    """Intents as the runner hands them to the reports (``report_row`` of ledger views)."""
    refund = ActionView(
        id=1,
        key="k-1",
        kind="refund",
        category="MISSING_REFUND",
        rma="12345701",
        order_id="5444175757553",
        amount="48.60",
        currency="USD",
        state="proposed",
        reason="=cmd|' /C calc'!A0",
        result_id=None,
        details={"lines": [{"line_item_id": "2001", "quantity": 1, "restock_type": "RETURN"}]},
        created_at=AS_OF,
        updated_at=AS_OF,
    )
    restock = ActionView(
        id=2,
        key="k-2",
        kind="restock",
        category="MISSING_RESTOCK",
        rma="12345702",
        order_id="5444175757554",
        amount=None,
        currency=None,
        state="done",
        reason="",
        result_id="gid://shopify/InventoryAdjustmentGroup/9",
        details={"line_item_id": "2002", "location_id": "4001", "quantity": 1, "units": ["L1"]},
        created_at=AS_OF,
        updated_at=AS_OF,
        approved_by="cli:finance",
    )
    return [report_row(refund), report_row(restock)]


def sample_store_credit() -> list[dict[str, Any]]:
    return [
        {
            "rma": "12345705",
            "order_name": "#7400130",
            "gift_card_amount": Decimal("12.00"),
            "issued_amount": Decimal("12.00"),
            "currency": "EUR",
            "gift_card_id": "44",
            "status": "issued",
        },
    ]


def make_data(**overrides: Any) -> ReportData:
    arguments: dict[str, Any] = {
        "findings": sample_findings(),
        "matches": sample_matches(),
        "payout_tieout": sample_payouts(),
        "actions": sample_actions(),
        "store_credit": sample_store_credit(),
        "previous_findings": previous_findings(),
        "shop": "sandbox",
        "shop_domain": "recon-sandbox.myshopify.com",
        "period_start": date(2026, 10, 1),
        "period_end": date(2026, 11, 1),  # exclusive
        "run_id": "run-20261101",
        "as_of": AS_OF,
    }
    arguments.update(overrides)
    return build_report_data(**arguments)


def sheet_rows(path: Path, name: str) -> list[dict[str, Any]]:
    """A workbook sheet's rows as {header: value}, blank rows left out."""
    sheet = load_workbook(path)[name]
    header = [c.value for c in sheet[1]]
    rows = sheet.iter_rows(min_row=2, values_only=True)
    return [dict(zip(header, r, strict=True)) for r in rows if any(v is not None for v in r)]
