"""Findings on orders that turn out to be Shopify test orders are left out, not resolved.

Before recon read ``Order.test`` (or before it read an order again after that upgrade), a return
on a test order raised findings like a live one. Once the order reads as a test order the engine
leaves it out, so those findings are absent from the run, and the lifecycle called them
``resolved``: finance reads that as "fixed". They are ``left_out`` instead.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from engine_builders import AS_OF

from recon.engine.findings_json import read_findings_json, write_findings_json
from recon.engine.lifecycle import merge
from recon.models import Category, Finding, FindingStatus, Owner, Severity
from recon.store.snapshot import Snapshot, on_test_orders
from tests.fakes import balance_for, make_order, make_refund, make_return

LATER = AS_OF + timedelta(days=1)


def _finding(key: str, status: FindingStatus = FindingStatus.OPEN, **ids: object) -> Finding:
    return Finding(
        key=key,
        category=Category(key.split("|")[0]),
        severity=Severity.HIGH,
        owner=Owner.FINANCE,
        amount_at_risk=Decimal("10.00"),
        currency="USD",
        status=status,
        first_seen=AS_OF,
        last_seen=AS_OF,
        **ids,  # type: ignore[arg-type]
    )


def test_an_open_finding_left_out_is_not_resolved_then_drops_like_one() -> None:
    on_test = _finding("MISSING_REFUND|rma=1001")
    fixed = _finding("MISSING_REFUND|rma=1002")
    merged = merge([on_test, fixed], [], LATER, left_out={on_test.key})
    by_key = {f.key: f for f in merged}
    assert by_key[on_test.key].status is FindingStatus.LEFT_OUT
    assert by_key[on_test.key].resolved_at == LATER  # when it was left out
    assert by_key[fixed.key].status is FindingStatus.RESOLVED
    assert merge(merged, [], LATER + timedelta(days=1), left_out={on_test.key}) == []
    back = merge(merged, [_finding(on_test.key)], LATER + timedelta(days=1))
    assert back[0].status is FindingStatus.NEW  # include_test_orders turned on: a new sighting


def test_an_acknowledged_finding_left_out_is_left_out_too() -> None:
    acked = _finding("MISSING_REFUND|rma=1001", FindingStatus.ACKNOWLEDGED)
    (merged,) = merge([acked], [], LATER, left_out={acked.key})
    assert merged.status is FindingStatus.LEFT_OUT


def _snapshot() -> Snapshot:
    """Orders 5001 (test) and 5002 (live), each with a return, a refund and its balance
    transaction; 5002's balance transaction is a test-mode one."""
    refunds = tuple(make_refund(i, AS_OF, make_return(i, AS_OF).refund) for i in (1, 2))
    balance = tuple(balance_for(i, refunds[i - 1], "6000") for i in (1, 2))
    return Snapshot(
        returns=tuple(make_return(i, AS_OF) for i in (1, 2)),
        orders=(
            make_order(1, AS_OF, (refunds[0].id,)).model_copy(update={"test": True}),
            make_order(2, AS_OF, (refunds[1].id,)),
        ),
        refunds=refunds,
        balance_transactions=(balance[0], balance[1].model_copy(update={"test": True})),
    )


def test_which_findings_hang_on_what_the_test_order_filter_leaves_out() -> None:
    """Truth table: (finding, its ids, expected left out)."""
    snapshot = _snapshot()
    refund1, refund2 = snapshot.refunds
    txn1, txn2 = (f.transactions[0].id for f in snapshot.refunds)
    table = [
        (_finding("MISSING_REFUND|rma=1001", rma="1001", shopify_order_id="5001"), True),
        (_finding("MISSING_REFUND|rma=1001,x", rma="1001"), True),  # order id not named
        (_finding(f"UNKNOWN_RMA|refund={refund1.id}", shopify_refund_ids=(refund1.id,)), True),
        (_finding(f"UNSETTLED_REFUND|transaction={txn1}", transaction_ids=(txn1,)), True),
        (_finding(f"UNSETTLED_REFUND|transaction={txn2}", transaction_ids=(txn2,)), True),
        (_finding("MISSING_REFUND|rma=1002", rma="1002", shopify_order_id="5002"), False),
        (_finding(f"UNKNOWN_RMA|refund={refund2.id}", shopify_refund_ids=(refund2.id,)), False),
        (_finding("STALE_RETURN|rma=9999", rma="9999"), False),  # order not mirrored: kept
    ]
    expected = {f.key for f, left_out in table if left_out}
    assert on_test_orders(snapshot, [f for f, _ in table]) == expected


def test_findings_json_carries_the_left_out_status(tmp_path: Path) -> None:
    (left,) = merge(
        [_finding("MISSING_REFUND|rma=1001")], [], LATER, left_out={"MISSING_REFUND|rma=1001"}
    )
    path = tmp_path / "findings.json"
    write_findings_json(path, [left], shop="s", run_id="r", as_of=LATER)
    (item,) = json.loads(path.read_text())["findings"]
    assert item["status"] == "left_out" and item["resolved_at"] is not None
    assert read_findings_json(path)[1][0].status is FindingStatus.LEFT_OUT


def test_a_left_out_finding_cannot_be_acknowledged(tmp_path: Path) -> None:
    from recon.errors import ConfigError
    from recon.store.sql import SqlStore

    key = "MISSING_REFUND|rma=1001"
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}")
    try:
        store.save_findings(merge([_finding(key)], [], LATER, left_out={key}))
        with pytest.raises(ConfigError, match="is left_out: nothing to acknowledge"):
            store.acknowledge_findings([key], by="finance", note="checked")
    finally:
        store.close()
