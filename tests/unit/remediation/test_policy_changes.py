"""Intents recorded under one policy and sent under another: the mode and ``auto_apply`` of the
run that sends decide.

The world is remediation_world's: order 1001, RMA 12345701 owed 48.60 (MISSING_REFUND).
"""

from __future__ import annotations

from remediation_world import SHOP, T0, finding, settings
from run_helpers import intents, run
from sqlalchemy import event

from recon.config import RemediationMode
from recon.models import Category
from recon.remediation.ledger import approve, reject

APPROVAL, APPLY = RemediationMode.APPROVAL, RemediationMode.APPLY
REFUND = finding(Category.MISSING_REFUND, "12345701")
MARKER = "Loop RMA #12345701"


def refund_states(sessions) -> list[str]:
    return [r.state for r in intents(sessions) if r.kind == "refund"]


def _approve(sessions, ids) -> None:
    with sessions() as session, session.begin():
        approve(session, SHOP, list(ids), actor="finance", now=T0)


def test_a_refund_the_breaker_held_is_not_sent_in_approval_mode_without_approval(
    sessions, gateway, clock
):
    """Apply mode planned the refund but the breaker held it; finance switches the shop to
    approval mode. Approval mode sends only what someone approved: the refund waits, proposed."""
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=settings(max_run_count=0))
    assert refund_states(sessions) == ["planned"]
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id="run-2")
    assert gateway.refunds_with(MARKER) == []
    assert refund_states(sessions) == ["proposed"]
    (row,) = intents(sessions)
    _approve(sessions, [row.id])
    run(sessions, gateway, clock, mode=APPROVAL, findings=[REFUND], run_id="run-3")
    assert len(gateway.refunds_with(MARKER)) == 1 and refund_states(sessions) == ["done"]


def test_a_refund_planned_under_auto_apply_waits_once_its_category_leaves_it(
    sessions, gateway, clock
):
    """MISSING_REFUND was auto-applied, the breaker held tonight's refund, then the merchant
    took MISSING_REFUND out of auto_apply: apply mode must not send it unattended."""
    held = settings(auto_apply=["MISSING_REFUND"], max_run_count=0)
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=held)
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=settings(auto_apply=[]),
        run_id="run-2")  # fmt: skip
    assert gateway.refunds_with(MARKER) == []
    assert refund_states(sessions) == ["proposed"]


def test_an_intent_rejected_while_the_run_is_sending_others_is_not_sent(sessions, gateway, clock):
    """Apply mode sends three intents; while it sends the first, finance rejects the second
    (`actions reject`). The rejection stands: the restock is not sent, and the run goes on to
    the third instead of failing."""
    rejected: list[int] = []

    def reject_the_restock() -> None:
        if not rejected:
            restock = next(r for r in intents(sessions) if r.kind == "restock")
            with sessions() as session, session.begin():
                reject(session, SHOP, [restock.id], actor="finance", now=T0)
            rejected.append(restock.id)

    gateway.on_write = reject_the_restock
    report = run(sessions, gateway, clock, mode=APPLY)
    assert [r.state for r in intents(sessions)] == ["done", "rejected", "done"]
    assert [c[0] for c in gateway.calls] == ["refund", "tags"]
    assert [o.state for o in report.applied] == ["done", "rejected", "done"]


def test_a_reject_landing_while_the_run_records_its_plan_stands(sessions, gateway, clock):
    """The refund waits, proposed; the merchant adds MISSING_REFUND to auto_apply, and finance
    rejects the refund just as tonight's run records its plan (after the run read the intent,
    before it wrote it). The rejection stands: the run does not promote the intent it read as
    proposed to planned, so nothing is sent."""
    run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], policy=settings(auto_apply=[]))
    (row,) = intents(sessions)
    engine = sessions.kw["bind"]
    fired: list[str] = []

    def reject_first(_conn, _cursor, statement, *_args) -> None:
        if (
            not fired
            and statement.lstrip().upper().startswith(("UPDATE", "INSERT"))
            and "run_lock" not in statement
        ):
            fired.append(statement)
            with sessions() as session, session.begin():
                reject(session, SHOP, [row.id], actor="finance", now=T0, reason="not owed")

    event.listen(engine, "before_cursor_execute", reject_first)
    try:
        run(sessions, gateway, clock, mode=APPLY, findings=[REFUND], run_id="run-2")
    finally:
        event.remove(engine, "before_cursor_execute", reject_first)
    assert fired
    assert gateway.refunds_with(MARKER) == []
    assert refund_states(sessions) == ["rejected"]
