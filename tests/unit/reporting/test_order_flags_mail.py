"""The lines about orders whose Shopify test flag is unknown, in each team's e-mail.

Dataset: order 5002 was mirrored before recon read ``Order.test`` (unknown flag), 5003 is a
live order. Open findings: finance's MISSING_REFUND and the warehouse's MISSING_RESTOCK on
5002's return (RMA 1002), and a MISSING_RESTOCK on 5003's (RMA 1003). Each mail counts the open
findings on the unknown orders among those it lists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from report_samples import finding, make_data

from recon.config import DeliverySettings, Settings
from recon.delivery import build_messages
from recon.models import Category, Owner
from recon.service import order_flags
from recon.store.sql import SqlStore
from tests.fakes import make_order, make_return

AT = datetime(2026, 10, 20, tzinfo=UTC)


def _findings() -> list[Any]:
    def restock(i: int) -> Any:
        return finding(
            Category.MISSING_RESTOCK, f"rma=100{i}|line=1", "0", "USD",
            rma=f"100{i}", shopify_order_id=f"500{i}", owner=Owner.WAREHOUSE,
        )  # fmt: skip

    refund = finding(Category.MISSING_REFUND, "rma=1002", "12.02", "USD", rma="1002",
                     shopify_order_id="5002")  # fmt: skip
    return [refund, restock(2), restock(3)]


def _bodies(message: EmailMessage) -> tuple[str, str]:
    parts = [message.get_body(preferencelist=(kind,)) for kind in ("plain", "html")]
    return tuple(str(p.get_content()) for p in parts if p is not None)  # type: ignore[return-value]


def test_each_team_mail_counts_the_open_findings_on_unknown_orders_it_lists(
    tmp_path: Path,
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    store.upsert_returns([make_return(i, AT) for i in (2, 3)])
    store.upsert_orders([make_order(2, AT).model_copy(update={"test": None}), make_order(3, AT)])
    findings = _findings()
    flags = order_flags(Settings(), store.load_snapshot(), findings)
    store.close()
    delivery = DeliverySettings(
        outbox_dir=tmp_path / "outbox",
        recipients={"finance": ["fin@example.com"], "warehouse": ["wh@example.com"]},
    )
    messages = {
        str(m["X-Recon-Team"]): m
        for m in build_messages(make_data(findings=findings, order_flags=flags), delivery)
    }
    label = "Orders whose Shopify test flag is not known yet: "
    for team, on_them in (("finance", 2), ("warehouse", 1)):
        for body in _bodies(messages[team]):
            assert f"{label}1 ({on_them} open finding(s) on them)" in body, (team, body)
