"""Planner truth table: which findings become which actions under which policy."""

from __future__ import annotations

from decimal import Decimal

import pytest
from remediation_world import (
    finding,
    make_order,
    make_return,
    settings,
    standard_contexts,
    standard_findings,
)

from recon.models import Category
from recon.remediation.planner import (
    ActionKind,
    Disposition,
    RmaContext,
    idempotency_key,
    plan_actions,
)

ALL = ["MISSING_REFUND", "MISSING_RESTOCK", "STATUS_DRIFT"]


@pytest.mark.parametrize(
    ("auto_apply", "max_refund", "expected"),
    [
        # policy                      per-refund cap  → disposition of (refund, restock, annotate)
        (ALL, "500.00", ("auto", "auto", "auto")),
        ([], "500.00", ("approval", "approval", "approval")),
        (["MISSING_RESTOCK"], "500.00", ("approval", "auto", "approval")),
        (ALL, "40.00", ("review", "auto", "auto")),  # 48.60 > 40.00: a human decides
        (ALL, "48.60", ("auto", "auto", "auto")),  # at the cap is allowed
    ],
)
def test_dispositions_follow_policy(auto_apply, max_refund, expected):
    plan = plan_actions(
        standard_findings(),
        settings(auto_apply=auto_apply, max_refund_amount={"USD": Decimal(max_refund)}),
        standard_contexts(),
        shop="sandbox",
    )
    kinds = [a.kind for a in plan.actions]
    refund, *rest = expected
    if refund == "review":  # the refund waits for a human: 701's unit is restocked on its own
        assert kinds == [
            ActionKind.REFUND,
            ActionKind.RESTOCK,
            ActionKind.RESTOCK,
            ActionKind.ANNOTATE,
        ]
        expected = (refund, rest[0], *rest)
    else:  # the refund restocks 701's unit (RETURN)
        assert kinds == [ActionKind.REFUND, ActionKind.RESTOCK, ActionKind.ANNOTATE]
    assert tuple(a.disposition.value for a in plan.actions) == expected


@pytest.mark.parametrize(
    ("delivered", "restock_finding", "expected_lines", "expected_restocks"),
    [
        # unit received: the refund restocks it (RETURN) and no separate restock is planned
        (True, True, [("2001", "RETURN", "4001")], 0),
        # unit still in transit: refund without restock; nothing to restock yet
        (False, False, [("2001", "NO_RESTOCK", None)], 0),
    ],
)
def test_refund_restocks_received_units_once(
    delivered, restock_finding, expected_lines, expected_restocks
):
    findings = [finding(Category.MISSING_REFUND, "12345701")]
    if restock_finding:
        findings.append(finding(Category.MISSING_RESTOCK, "12345701", line="2001"))
    contexts = {
        "12345701": RmaContext(
            make_return("12345701", "2001", delivered=delivered, processed=delivered), make_order()
        )
    }
    plan = plan_actions(findings, settings(), contexts, shop="sandbox")
    refund = next(a for a in plan.actions if a.kind is ActionKind.REFUND)
    lines = [
        (x["line_item_id"], x["restock_type"], x["location_id"]) for x in refund.details["lines"]
    ]
    assert lines == expected_lines
    assert sum(a.kind is ActionKind.RESTOCK for a in plan.actions) == expected_restocks
    if restock_finding:
        assert any("restocked by the planned refund" in s for s in plan.skipped)


def test_refund_carries_loop_amount_and_rma_note():
    plan = plan_actions(standard_findings(), settings(), standard_contexts(), shop="sandbox")
    refund = plan.actions[0]
    assert refund.amount == Decimal("48.60")
    assert refund.details["amount"] == "48.60"
    assert refund.details["note"] == "Loop RMA #12345701"
    annotate = plan.actions[2]
    assert annotate.details == {"tags": ["recon:loop-closed"]}


@pytest.mark.parametrize(
    ("max_count", "max_total", "tripped"),
    [
        (50, "5000.00", None),
        (2, "5000.00", "max_run_count 2"),  # three auto actions
        (50, "40.00", "max_run_total 40.00 USD"),  # the 48.60 refund alone is over
        (3, "48.60", None),
    ],
)
def test_circuit_breaker(max_count, max_total, tripped):
    plan = plan_actions(
        standard_findings(),
        settings(max_run_count=max_count, max_run_total={"USD": Decimal(max_total)}),
        standard_contexts(),
        shop="sandbox",
    )
    if tripped is None:
        assert plan.breaker is None
    else:
        assert plan.breaker is not None and tripped in plan.breaker


def test_currency_neither_shop_nor_presentment_goes_to_review():
    plan = plan_actions(
        standard_findings()[:1], settings(), standard_contexts(currency="EUR"), shop="sandbox"
    )
    assert plan.actions[0].disposition is Disposition.REVIEW
    assert "currency mismatch" in plan.actions[0].reason


def test_keys_are_deterministic_and_distinct():
    first = plan_actions(standard_findings(), settings(), standard_contexts(), shop="sandbox")
    again = plan_actions(standard_findings(), settings(), standard_contexts(), shop="sandbox")
    assert [a.key for a in first.actions] == [a.key for a in again.actions]
    assert len({a.key for a in first.actions}) == 3
    assert first.actions[0].key == idempotency_key("sandbox", "12345701", ActionKind.REFUND, 1)
    assert idempotency_key("sandbox", "12345701", ActionKind.REFUND, 2) != first.actions[0].key
    assert idempotency_key("other-shop", "12345701", ActionKind.REFUND, 1) != first.actions[0].key


def test_findings_without_mirror_data_are_skipped_with_reason():
    plan = plan_actions(standard_findings(), settings(), {}, shop="sandbox")
    assert [a.kind for a in plan.actions] == [ActionKind.ANNOTATE]  # the order id is on the finding
    assert len(plan.skipped) == 3
