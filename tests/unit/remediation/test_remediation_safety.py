"""Guards on the money path: real process crashes, stable keys, no float, no uuid4, schema fit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from remediation_world import FakeGateway, sessions_for
from run_helpers import assert_done_exactly_once
from sqlalchemy import create_engine

from recon.remediation.planner import ActionKind, idempotency_key
from recon.remediation.write_inputs import allocate_transactions, refund_line_inputs, restock_input

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CHILD = HERE / "crash_child.py"
REMEDIATION = REPO / "recon" / "remediation"
# Pinned: if this changes, every pending intent would get a new key, i.e. a second refund.
REFUND_KEY_12345701 = "a17da3c7-6ec3-5ee5-824d-e23a4645d8e9"


def _child(*args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RECON_TEST_CRASH_AT"}
    if crash_at:
        env["RECON_TEST_CRASH_AT"] = crash_at
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(CHILD), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def test_real_process_death_after_request_sent_then_rerun_applies_once(tmp_path):
    db, shop = tmp_path / "ledger.db", tmp_path / "shop.json"
    FakeGateway(path=shop)  # seed Shopify's side
    died = _child("run", str(db), str(shop), "run-a", "0", crash_at="after_request_sent")
    assert died.returncode == 137, died.stderr
    assert len(FakeGateway(path=shop).refunds_with("Loop RMA #12345701")) == 1  # Shopify has it
    rerun = _child("run", str(db), str(shop), "run-b", "11")  # after run-a's lease expired
    assert rerun.returncode == 0, rerun.stderr
    assert_done_exactly_once(sessions_for(f"sqlite:///{db}"), FakeGateway(path=shop))


def test_keys_are_stable_across_processes():
    here = idempotency_key("sandbox", "12345701", ActionKind.REFUND, 1)
    there = _child("key")
    assert there.returncode == 0, there.stderr
    assert there.stdout.strip() == here == REFUND_KEY_12345701


def _sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in sorted(REMEDIATION.rglob("*.py"))]


def test_no_float_in_remediation():
    offenders = [str(p) for p, text in _sources() if re.search(r"\bfloat\(", text)]
    assert offenders == []


def test_no_uuid4_in_remediation():
    offenders = [str(p) for p, text in _sources() if "uuid4" in text]
    assert offenders == []
    assert len(_sources()) >= 5  # the scan saw the package


@cache
def _schema():
    from graphql import build_schema

    path = REPO.parent / "shared" / "reference" / "schema" / "shopify-admin-2026-04.graphql"
    if not path.is_file():
        pytest.skip("Shopify schema not beside the repo")
    return build_schema(path.read_text(encoding="utf-8"), assume_valid=True)


def _variable_errors(document: str, variables: dict) -> list[str]:
    from graphql import parse
    from graphql.execution.values import get_variable_values

    operation = parse(
        (REPO / "recon/sources/graphql/mutations" / document).read_text()
    ).definitions[0]
    result = get_variable_values(_schema(), operation.variable_definitions, variables)
    return [e.message for e in result] if isinstance(result, list) else []


def test_built_variables_coerce_against_the_schema():
    from decimal import Decimal

    from recon.remediation.writes import SuggestedRefund, SuggestedTransaction

    suggested = SuggestedRefund(
        "USD",
        "CAD",
        Decimal("60"),
        Decimal("45"),
        Decimal("60"),
        (
            SuggestedTransaction(
                "shopify_payments", "gid://shopify/OrderTransaction/9", Decimal("60"), Decimal("60")
            ),
        ),
    )
    order = "gid://shopify/Order/1"
    lines = [
        {"line_item_id": "2", "quantity": 1, "restock_type": "RETURN", "location_id": "4"},
        {"line_item_id": "3", "quantity": 2, "restock_type": "NO_RESTOCK", "location_id": None},
    ]
    refund = {
        "orderId": order,
        "note": "Loop RMA #1",
        "notify": False,
        "currency": "CAD",
        "refundLineItems": refund_line_inputs(lines),
        "transactions": allocate_transactions(order, Decimal("48.60"), suggested),
    }
    assert _variable_errors("RefundCreate.graphql", {"input": refund, "idempotencyKey": "k"}) == []
    adjust = restock_input("1", "gid://shopify/InventoryItem/3", "gid://shopify/Location/4", 1, 7)
    assert (
        _variable_errors("InventoryAdjust.graphql", {"input": adjust, "idempotencyKey": "k"}) == []
    )
    assert (
        _variable_errors(
            "SuggestedRefund.graphql",
            {"orderId": order, "refundLineItems": refund_line_inputs(lines)},
        )
        == []
    )


def test_migration_creates_exactly_the_ledger_and_lock_tables(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData

    from recon.lock import RunLockRow
    from recon.remediation.ledger import ActionEventRow, ActionRow
    from recon.store.migrate import upgrade_to_head

    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade_to_head(engine)
    ours = MetaData()
    for table in (ActionRow.__table__, ActionEventRow.__table__, RunLockRow.__table__):
        table.to_metadata(ours)
    mine = {"remediation_actions", "action_events", "run_lock"}

    def only_ours(obj, name, type_, reflected, compare_to):
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in mine

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": only_ours})
        assert mine <= set(connection.dialect.get_table_names(connection))
        assert compare_metadata(context, ours) == []
    engine.dispose()
