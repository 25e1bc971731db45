"""Nothing is written to a Shopify test order (``Order.test``: no money moved): no refund, no
restock, no tag.

The engine leaves test orders out, but the mirror can be wrong about one: an order mirrored
before recon read the flag has no ``test`` value (it reads as unknown, ``None``), and an order
can be read as live by the sync and as test by the re-read right before the write. Dataset:
the remediation world (order 1001: RMA ...701 unpaid with a unit to restock, ...702's unit to
restock, a tag), with Shopify's answer or the mirror's copy of the order marked test.
"""

from __future__ import annotations

from fakes import ORDER
from remediation_world import SHOP, settings, standard_contexts, standard_findings
from run_helpers import intents, run

from recon.config import RemediationMode
from recon.models import Category
from recon.remediation.ledger import approve
from recon.remediation.planner import ActionKind, Disposition, plan_actions
from recon.remediation.runner import contexts_for
from recon.store.snapshot import Snapshot


def _shopify_says_test(gateway) -> None:
    gateway.state["orders"][ORDER]["test"] = True


def _money_and_stock(gateway) -> tuple[list[object], list[object]]:
    return gateway.refunds_with("Loop RMA"), gateway.state["adjustments"]


def test_the_re_read_before_a_refund_or_restock_finds_a_test_order_and_writes_nothing(
    sessions, gateway, clock
):
    """The mirror said live; Shopify says test right before the writes: none is sent."""
    _shopify_says_test(gateway)
    report = run(sessions, gateway, clock)
    by_kind = {o.kind: o for o in report.applied}
    for kind in (ActionKind.REFUND, ActionKind.RESTOCK):
        outcome = by_kind[kind]
        assert outcome.state == "needs_review", outcome
        assert "order 1001 is a Shopify test order" in outcome.reason
    assert _money_and_stock(gateway) == ([], [])
    kinds = [kind for kind, _key, _variables in gateway.calls]
    assert "refund" not in kinds and "adjust" not in kinds


def test_the_re_read_before_a_tag_finds_a_test_order_and_tags_nothing(sessions, gateway, clock):
    """A STATUS_DRIFT tag moves no money, but recon writes nothing to a test order at all."""
    _shopify_says_test(gateway)
    report = run(sessions, gateway, clock)
    (tag,) = [o for o in report.applied if o.kind == ActionKind.ANNOTATE]
    assert tag.state == "needs_review"
    assert "order 1001 is a Shopify test order" in tag.reason
    assert gateway.state["orders"][ORDER]["tags"] == []
    assert "tags" not in [kind for kind, _key, _variables in gateway.calls]


def test_a_tag_in_flight_is_not_resent_to_an_order_now_read_as_test(sessions, gateway, clock):
    gateway.lose = {"tags"}
    run(sessions, gateway, clock)
    _shopify_says_test(gateway)
    report = run(sessions, gateway, clock, run_id="run-2")
    (tag,) = [o for o in report.recovered if o.kind == ActionKind.ANNOTATE]
    assert tag.state == "needs_review" and "not resent" in tag.reason
    assert "order 1001 is a Shopify test order" in tag.reason
    assert gateway.state["orders"][ORDER]["tags"] == []


def test_a_refund_in_flight_is_not_resent_to_an_order_now_read_as_test(sessions, gateway, clock):
    """The first send never arrived; by the next run the re-read says test: no resend."""
    gateway.lose = {"refund", "adjust"}
    run(sessions, gateway, clock)
    _shopify_says_test(gateway)
    report = run(sessions, gateway, clock, run_id="run-2")
    states = {o.kind: (o.state, o.reason) for o in report.recovered}
    for kind in (ActionKind.REFUND, ActionKind.RESTOCK):
        state, reason = states[kind]
        assert state == "needs_review" and "order 1001 is a Shopify test order" in reason
    assert _money_and_stock(gateway) == ([], [])
    assert [kind for kind, _key, _variables in gateway.calls] == ["refund", "adjust", "tags"]


def test_a_development_store_writes_to_its_test_orders(sessions, gateway, clock):
    """``[engine] include_test_orders = true`` reconciles test orders, so it remediates them."""
    _shopify_says_test(gateway)
    run(sessions, gateway, clock, include_test_orders=True)
    refunds, moves = _money_and_stock(gateway)
    assert len(refunds) == 1 and len(moves) == 2
    assert [r.state for r in intents(sessions)] == ["done", "done", "done"]


def _unknown_flag_contexts():
    """The mirror's order 1001 was stored before recon read ``Order.test``: its flag is unknown
    (contexts as the runner builds them from the snapshot)."""
    standard = standard_contexts()
    order = standard["12345701"].order.model_copy(update={"test": None})
    returns = tuple(ctx.loop_return for ctx in standard.values())
    return contexts_for(Snapshot(returns=returns, orders=(order,)))


def test_an_order_whose_test_flag_is_unknown_holds_its_refund_and_restock(sessions, gateway, clock):

    plan = plan_actions(standard_findings(), settings(), _unknown_flag_contexts(), shop=SHOP)
    held = {a.kind: a for a in plan.actions if a.kind in (ActionKind.REFUND, ActionKind.RESTOCK)}
    assert set(held) == {ActionKind.REFUND, ActionKind.RESTOCK}
    for action in held.values():
        assert action.disposition is Disposition.REVIEW
        assert "order 1001 was mirrored before recon read Shopify's test flag" in action.reason
    run(sessions, gateway, clock, contexts=_unknown_flag_contexts())
    assert _money_and_stock(gateway) == ([], [])


def test_an_order_whose_test_flag_is_unknown_gets_no_tag_planned(sessions, gateway, clock):
    """Held as its refund and restock are: nothing is asked of a human, nothing is sent."""
    plan = plan_actions(standard_findings(), settings(), _unknown_flag_contexts(), shop=SHOP)
    assert [a for a in plan.actions if a.kind is ActionKind.ANNOTATE] == []
    assert any("test flag" in why for why in plan.skipped)
    run(sessions, gateway, clock, contexts=_unknown_flag_contexts())
    assert "tags" not in [kind for kind, _key, _variables in gateway.calls]


def test_the_hold_lifts_once_the_order_is_read_again(sessions, gateway, clock):
    run(sessions, gateway, clock, contexts=_unknown_flag_contexts())
    run(sessions, gateway, clock, run_id="run-2")  # the sync read the order: live
    refunds, moves = _money_and_stock(gateway)
    assert len(refunds) == 1 and len(moves) == 2
    assert gateway.state["orders"][ORDER]["tags"] != []


def test_a_development_store_does_not_wait_for_the_flag(sessions, gateway, clock):

    ctx = _unknown_flag_contexts()["12345701"]
    snapshot = Snapshot(returns=(ctx.loop_return,), orders=(ctx.order,))
    assert ctx.order.test is None
    assert contexts_for(snapshot)["12345701"].order_test_unknown
    assert not contexts_for(snapshot, include_test_orders=True)["12345701"].order_test_unknown


def _not_visible_contexts():
    """Order 1001 was deleted in Shopify before the sync could read its flag: the by-id read
    answered null (the mirror records it as not visible)."""
    standard = standard_contexts()
    order = standard["12345701"].order.model_copy(update={"test": None})
    returns = tuple(ctx.loop_return for ctx in standard.values())
    snapshot = Snapshot(returns=returns, orders=(order,), not_visible=frozenset({order.id}))
    return contexts_for(snapshot)


def test_an_order_gone_from_shopify_holds_every_write_and_says_why(sessions, gateway, clock):
    plan = plan_actions(standard_findings(), settings(), _not_visible_contexts(), shop=SHOP)
    held = [a for a in plan.actions if a.kind in (ActionKind.REFUND, ActionKind.RESTOCK)]
    assert {a.kind for a in held} == {ActionKind.REFUND, ActionKind.RESTOCK}
    for action in held:
        assert action.disposition is Disposition.REVIEW
        assert "order 1001 is not visible in Shopify" in action.reason
        assert "deleted" in action.reason
    assert [a for a in plan.actions if a.kind is ActionKind.ANNOTATE] == []
    run(sessions, gateway, clock, contexts=_not_visible_contexts())
    assert _money_and_stock(gateway) == ([], [])
    assert "tags" not in [kind for kind, _key, _variables in gateway.calls]


def test_an_approved_tag_withdrawn_while_its_order_was_not_visible_is_sent_once_it_is_again(
    sessions, gateway, clock
):
    """CX approved the tag; the next run found the order out of sight and withdrew it unsent.
    Once the sync reads the order again the tag is owed again and written, as a refund or
    restock held meanwhile would be (a skip left the withdrawn tag in review for good)."""
    drift = [f for f in standard_findings() if f.category is Category.STATUS_DRIFT]
    run(sessions, gateway, clock, mode=RemediationMode.APPROVAL, findings=drift)
    (tag,) = intents(sessions)
    with sessions() as session, session.begin():
        approve(session, SHOP, [tag.id], actor="cx", now=clock.now())

    run(sessions, gateway, clock, contexts=_not_visible_contexts(), findings=drift, run_id="r2")
    assert [r.state for r in intents(sessions)] == ["needs_review"]
    run(sessions, gateway, clock, findings=drift, run_id="run-3")  # read again: visible

    assert gateway.state["orders"][ORDER]["tags"] == ["recon:loop-closed"]
