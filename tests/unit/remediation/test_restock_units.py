"""Restocks are planned per unit: the units a finding names, each under one key only."""

from __future__ import annotations

from decimal import Decimal

from remediation_world import SHOP, finding, make_order, make_return, settings
from run_helpers import intents, run

from recon.models import Category, ReturnLine
from recon.remediation.guards import restock_conflict_reason
from recon.remediation.planner import ActionKind, LedgerFacts, RmaContext, plan_actions

RMA = "12345702"


def two_unit_context() -> dict[str, RmaContext]:
    """Return 12345702 of two received units of line item 2002: Loop lines L2002 and M2002."""
    ret = make_return(RMA, "2002", refund="60.00")
    second = ReturnLine(
        line_item_id="M2002",
        provider_line_item_id="2002",
        sku="SKU-2002",
        price=Decimal("30.00"),
        refund=Decimal("30.00"),
        restock_location_id="4001",
    )
    first = ret.lines[0].model_copy(update={"price": Decimal("30.00")})
    return {RMA: RmaContext(ret.model_copy(update={"lines": (first, second)}), make_order())}


def restock_finding(*units: str):
    return finding(Category.MISSING_RESTOCK, RMA, line="2002").model_copy(
        update={"loop_line_item_ids": units}
    )


def restocks(plan):
    return [a for a in plan.actions if a.kind is ActionKind.RESTOCK]


def test_only_the_named_unit_is_restocked_under_a_key_naming_it():
    plan = plan_actions([restock_finding("M2002")], settings(), two_unit_context(), shop=SHOP)
    (action,) = restocks(plan)
    assert action.details["quantity"] == 1 and action.details["units"] == ["M2002"]
    assert action.subject == "2002@4001/M2002"


def test_every_unit_of_the_line_keeps_the_line_key():
    plan = plan_actions(
        [restock_finding("L2002", "M2002")], settings(), two_unit_context(), shop=SHOP
    )
    (action,) = restocks(plan)
    assert action.details["quantity"] == 2 and action.subject == "2002@4001"


def test_a_stale_finding_never_restocks_the_same_unit_twice(sessions, gateway, clock):
    findings = [restock_finding("M2002")]
    for night in ("run-1", "run-2"):
        run(sessions, gateway, clock, findings=findings, contexts=two_unit_context(), run_id=night)
    moves = [m for m in gateway.state["adjustments"] if m["via"] == "adjust"]
    assert [(m["item"], m["delta"]) for m in moves] == [("gid://shopify/InventoryItem/3002", 1)]
    assert [i.state for i in intents(sessions)] == ["done"]


def test_a_refund_leaves_out_the_unit_recon_restocked():
    ledger = LedgerFacts(restocked={(RMA, "2002"): ("M2002",)})
    plan = plan_actions(
        [finding(Category.MISSING_REFUND, RMA)],
        settings(),
        two_unit_context(),
        shop=SHOP,
        ledger=ledger,
    )
    (refund,) = plan.actions
    lines = {
        (x["restock_type"], x["quantity"], tuple(x.get("units", ())))
        for x in refund.details["lines"]
    }
    assert lines == {("RETURN", 1, ("L2002",)), ("NO_RESTOCK", 1, ())}
    returned = next(x for x in refund.details["lines"] if x["restock_type"] == "RETURN")
    assert returned["ledger_units"] == 1


def test_the_refund_guard_counts_restocks_since_the_plan():
    line = {"line_item_id": "2002", "restock_type": "RETURN", "quantity": 1, "ledger_units": 1}
    assert restock_conflict_reason(RMA, [line], {(RMA, "2002"): ("M2002",)}) is None
    reason = restock_conflict_reason(RMA, [line], {(RMA, "2002"): ("M2002", "L2002")})
    assert reason is not None and "restocked twice" in reason
    legacy = {k: v for k, v in line.items() if k != "ledger_units"}  # any restock conflicts
    assert restock_conflict_reason(RMA, [legacy], {(RMA, "2002"): ("M2002",)}) is not None
