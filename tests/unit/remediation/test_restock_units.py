"""Restocks are planned per unit: the units a finding names, each under one key only."""

from __future__ import annotations

from decimal import Decimal

from remediation_world import SHOP, T0, finding, make_order, make_return, settings
from run_helpers import intents, run

from recon.config import RemediationMode, WarehouseEvent
from recon.models import Category, ReturnLine
from recon.remediation.guards import restock_conflict_reason
from recon.remediation.ledger import approve, reject
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
    # A MISSING_RESTOCK still naming both units (stale): the ledger check leaves M2002 out.
    stale = finding(Category.MISSING_RESTOCK, RMA, line="2002").model_copy(
        update={"loop_line_item_ids": ("L2002", "M2002")}
    )
    plan = plan_actions(
        [finding(Category.MISSING_REFUND, RMA), stale],
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


def graded_context(*graded: str) -> dict[str, RmaContext]:
    """Return 12345702 in transit with units A, B and C of line 2002; ``graded`` inspected."""
    ret = make_return(RMA, "2002", refund="90.00")
    units = tuple(
        ret.lines[0].model_copy(
            update={"line_item_id": u, "price": Decimal("30.00"), "inspected": u in graded}
        )
        for u in ("A", "B", "C")
    )
    update = {"lines": units, "label_status": "in_transit", "was_processed": False}
    return {RMA: RmaContext(ret.model_copy(update={**update, "state": "open"}), make_order())}


def adjusted(gateway) -> int:
    return sum(m["delta"] for m in gateway.state["adjustments"] if m["via"] == "adjust")


def test_a_unit_whose_restock_got_no_answer_is_not_planned_again(sessions, gateway, clock):
    """Units graded one per night (restock after inspection); B's answer is lost, so the
    engine, reading the ledger before B's intent is resolved, names B again beside C."""
    policy = settings(restock_after=WarehouseEvent.INSPECTED)
    run(sessions, gateway, clock, findings=[restock_finding("A")], contexts=graded_context("A"),
        policy=policy, run_id="n0")  # fmt: skip
    gateway.drop = {"adjust"}
    run(sessions, gateway, clock, findings=[restock_finding("B")],
        contexts=graded_context("A", "B"), policy=policy, run_id="n1")  # fmt: skip
    run(sessions, gateway, clock, findings=[restock_finding("B", "C")],
        contexts=graded_context("A", "B", "C"), policy=policy, run_id="n2")  # fmt: skip
    assert adjusted(gateway) == 3  # one per unit: B is not restocked a second time
    assert {(i.subject, i.state) for i in intents(sessions)} == {
        ("2002@4001", "done"), ("2002@4001/B", "done"), ("2002@4001/C", "done"),
    }  # fmt: skip


def test_the_executor_refuses_a_unit_recon_restocked_under_another_key(sessions, gateway, clock):
    run(sessions, gateway, clock, findings=[restock_finding("M2002")],
        contexts=two_unit_context(), run_id="n0")  # fmt: skip
    # A plan made without the ledger (as a stale engine view would) names the unit again.
    run(sessions, gateway, clock, findings=[restock_finding("L2002", "M2002")],
        contexts=two_unit_context(), run_id="n1", ledger=False)  # fmt: skip
    assert adjusted(gateway) == 1
    second = next(i for i in intents(sessions) if i.subject == "2002@4001")
    assert second.state == "needs_review" and "M2002 already restocked" in second.reason


def test_a_ledger_id_the_return_no_longer_lists_still_counts_as_a_unit():
    ledger = LedgerFacts(restocked={(RMA, "2002"): ("gone",)})
    context = {RMA: RmaContext(make_return(RMA, "2002"), make_order())}
    plan = plan_actions([finding(Category.MISSING_REFUND, RMA)], settings(), context, shop=SHOP,
                        ledger=ledger)  # fmt: skip
    (refund,) = plan.actions
    assert [x["restock_type"] for x in refund.details["lines"]] == ["NO_RESTOCK"]


def test_a_repeated_loop_id_restocks_as_many_units_as_named():
    ((_, ctx),) = two_unit_context().items()
    lines = tuple(u.model_copy(update={"line_item_id": "777"}) for u in ctx.loop_return.lines)
    context = {RMA: RmaContext(ctx.loop_return.model_copy(update={"lines": lines}), ctx.order)}
    plan = plan_actions([restock_finding("777")], settings(), context, shop=SHOP)
    (action,) = restocks(plan)
    assert action.details["quantity"] == 1


def test_units_graded_on_different_nights_are_restocked_in_approval_mode(sessions, gateway, clock):
    """Approval mode, restock after inspection: night 1 grades A (a restock of A is proposed
    under the line's key, A being every unit past the event); before finance approves, B and C
    are graded too, and the restock of all three wants the same key. Finance approves what is
    proposed each morning: every unit ends up restocked, once."""
    policy = settings(restock_after=WarehouseEvent.INSPECTED)
    nights = [("A",), *[("A", "B", "C")] * 4]
    for night, graded in enumerate(nights):
        run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, policy=policy,
            findings=[restock_finding(*graded)], contexts=graded_context(*graded),
            run_id=f"n{night}")  # fmt: skip
        proposed = [i.id for i in intents(sessions) if i.state == "proposed"]
        if proposed:
            with sessions() as session, session.begin():
                approve(session, SHOP, proposed, actor="finance", now=T0)
    assert adjusted(gateway) == 3


def _propose(sessions, gateway, clock, graded, policy, night, *, mode=RemediationMode.APPROVAL):
    run(sessions, gateway, clock, mode=mode, policy=policy, findings=[restock_finding(*graded)],
        contexts=graded_context(*graded), run_id=night)  # fmt: skip
    return [(i.state, i.details["units"]) for i in intents(sessions)]


def test_a_proposed_restock_whose_units_changed_is_replaced_in_the_same_run(
    sessions, gateway, clock
):
    """Night 1 proposes A's restock; before finance approves, B and C are graded too. Night 2
    withdraws the stale proposal (naming only A) and proposes the restock of A, B and C under
    a new key at once: finance approves what it is shown, and every unit goes back, once."""
    policy = settings(restock_after=WarehouseEvent.INSPECTED)
    _propose(sessions, gateway, clock, ("A",), policy, "n0")
    states = _propose(sessions, gateway, clock, ("A", "B", "C"), policy, "n1")
    assert states == [("needs_review", ["A"]), ("proposed", ["A", "B", "C"])]
    stale, current = intents(sessions)
    assert stale.reason.startswith("superseded:") and current.key != stale.key
    with sessions() as session, session.begin():
        approve(session, SHOP, [current.id], actor="finance", now=T0)
    _propose(sessions, gateway, clock, ("A", "B", "C"), policy, "n2")
    assert adjusted(gateway) == 3


def test_a_proposed_restock_whose_location_changed_is_replaced_in_the_same_run(
    sessions, gateway, clock
):
    """Night 1 proposes the restock at location 4001; Loop then moves the return's restock
    location to 4002: the stale proposal is withdrawn, not left beside the current one."""
    approval, named = RemediationMode.APPROVAL, [restock_finding("L2002")]
    run(sessions, gateway, clock, mode=approval, findings=named, contexts=two_unit_context(),
        run_id="n0")  # fmt: skip
    ((rma, ctx),) = two_unit_context().items()
    moved = tuple(
        u.model_copy(update={"restock_location_id": "4002"}) for u in ctx.loop_return.lines
    )
    context = {rma: RmaContext(ctx.loop_return.model_copy(update={"lines": moved}), ctx.order)}
    run(sessions, gateway, clock, mode=approval, findings=named, contexts=context, run_id="n1")
    rows = [(i.state, i.details["location_id"]) for i in intents(sessions)]
    assert rows == [("needs_review", "4001"), ("proposed", "4002")]
    assert intents(sessions)[0].reason.startswith("superseded:")


def test_an_approved_restock_whose_units_changed_is_not_replaced_unseen(sessions, gateway, clock):
    """Approved for A; then B and C are graded. A plan-only night leaves the approved intent as
    it is (a human approved it; it goes to review when a run would send it), and no second
    restock of A is proposed beside it."""
    policy = settings(restock_after=WarehouseEvent.INSPECTED)
    _propose(sessions, gateway, clock, ("A",), policy, "n0")
    with sessions() as session, session.begin():
        approve(session, SHOP, [intents(sessions)[0].id], actor="finance", now=T0)
    states = _propose(sessions, gateway, clock, ("A", "B", "C"), policy, "n1",
                      mode=RemediationMode.PLAN)  # fmt: skip
    assert states == [("approved", ["A"])]
    states = _propose(sessions, gateway, clock, ("A", "B", "C"), policy, "n2")
    assert states[0][0] == "needs_review" and "would now differ" in intents(sessions)[0].reason
    assert adjusted(gateway) == 0


def test_a_proposed_restock_a_refund_took_over_is_still_proposed_when_that_refund_is_rejected(
    sessions, gateway, clock
):
    """Night 1: the unit is back, Loop's return not closed yet: its restock is proposed. Night
    2: the return closed, the refund is proposed and would restock the unit (RETURN), so the
    restock is not planned. Finance rejects the refund: night 3 the restock is what puts the
    unit back, and finance can still approve it (it must not be stuck in review)."""
    restock = finding(Category.MISSING_RESTOCK, "12345701", line="2001")
    refund = finding(Category.MISSING_REFUND, "12345701")
    approval = RemediationMode.APPROVAL
    run(sessions, gateway, clock, mode=approval, findings=[restock], run_id="n0")
    run(sessions, gateway, clock, mode=approval, findings=[refund, restock], run_id="n1")
    (refund_row,) = [i for i in intents(sessions) if i.kind == "refund"]
    with sessions() as session, session.begin():
        reject(session, SHOP, [refund_row.id], actor="finance", now=T0)
    run(sessions, gateway, clock, mode=approval, findings=[refund, restock], run_id="n2")
    proposed = [i.id for i in intents(sessions) if i.kind == "restock" and i.state == "proposed"]
    assert len(proposed) == 1
    with sessions() as session, session.begin():
        approve(session, SHOP, proposed, actor="finance", now=T0)
    run(sessions, gateway, clock, mode=approval, findings=[refund, restock], run_id="n3")
    assert gateway.available("3001") == 6  # 5 before: put back once


def test_a_restock_whose_location_moved_back_is_proposed_again(sessions, gateway, clock):
    """Proposed at 4001; Loop moves the restock location to 4002 (4001's proposal superseded),
    then back to 4001: the restock at 4001 is proposed again, not left in review for good, and
    once approved the unit goes back, once."""
    approval, named = RemediationMode.APPROVAL, [restock_finding("L2002")]
    ((rma, ctx),) = two_unit_context().items()
    moved = tuple(
        u.model_copy(update={"restock_location_id": "4002"}) for u in ctx.loop_return.lines
    )
    at_4002 = {rma: RmaContext(ctx.loop_return.model_copy(update={"lines": moved}), ctx.order)}
    for night, context in (("n0", two_unit_context()), ("n1", at_4002), ("n2", two_unit_context())):
        run(sessions, gateway, clock, mode=approval, findings=named, contexts=context,
            run_id=night)  # fmt: skip
    rows = [(i.state, i.details["location_id"]) for i in intents(sessions)]
    assert rows == [("needs_review", "4001"), ("needs_review", "4002"), ("proposed", "4001")]
    with sessions() as session, session.begin():
        approve(session, SHOP, [intents(sessions)[-1].id], actor="finance", now=T0)
    run(sessions, gateway, clock, mode=approval, findings=named, contexts=two_unit_context(),
        run_id="n3")  # fmt: skip
    assert adjusted(gateway) == 1
