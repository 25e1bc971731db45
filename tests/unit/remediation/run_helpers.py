"""Running remediation end to end against the FakeGateway; checking what Shopify ends up with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from remediation_world import SHOP, settings, standard_contexts, standard_findings
from sqlalchemy import select

from recon.config import RemediationMode
from recon.lock import RunLock
from recon.remediation.executor import ApplyReport, Executor
from recon.remediation.facts import ledger_facts
from recon.remediation.ledger import ActionRow
from recon.remediation.planner import TERMINAL_STATES, plan_actions

TTL = timedelta(minutes=10)


class SimulatedCrashError(Exception):
    """Raised by the crash hook in place of os._exit: the run stops exactly there."""


def crash_once_at(name: str) -> Any:
    fired: list[str] = []

    def hook(point: str) -> None:
        if point == name and not fired:
            fired.append(point)
            raise SimulatedCrashError(point)

    return hook


def run(
    sessions,
    gateway,
    clock,
    *,
    mode=RemediationMode.APPLY,
    crash=None,
    policy=None,
    contexts=None,
    findings=None,
    holder="run-a",
    run_id="run-1",
    ledger=True,
    renew=False,
    include_test_orders=False,
    timezone="UTC",
    interrupt=None,
) -> ApplyReport:
    """One remediation run: plan (knowing the ledger, as the runner does), take the lease,
    record, apply, release (not on a crash)."""
    policy = policy or settings()
    facts = None
    if ledger:
        with sessions() as session:
            facts = ledger_facts(session, SHOP)
    plan = plan_actions(
        standard_findings() if findings is None else findings,
        policy,
        contexts or standard_contexts(),
        shop=SHOP,
        ledger=facts,
    )
    lock = RunLock(sessions, clock)
    executor = Executor(
        sessions,
        gateway,
        policy,
        clock,
        shop=SHOP,
        crash=crash or (lambda _point: None),
        renew=(lambda lease: lock.renew(lease, TTL)) if renew else None,
        include_test_orders=include_test_orders,
        timezone=timezone,
        interrupt=interrupt,
    )
    lease = lock.acquire(SHOP, holder, TTL)
    report = executor.run(plan, mode, lease, run_id)
    lock.release(lease)
    return report


def intents(sessions) -> list[ActionRow]:
    with sessions() as session:
        return list(session.scalars(select(ActionRow).order_by(ActionRow.id)))


def assert_done_exactly_once(sessions, gateway) -> None:
    """One refund for ...701 (restocking its unit), one restock for ...702, one tag; all done."""
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1
    moves = gateway.state["adjustments"]
    assert [(m["via"], m["item"], m["delta"]) for m in moves] == [
        ("refund", "gid://shopify/InventoryItem/3001", 1),
        ("adjust", "gid://shopify/InventoryItem/3002", 1),
    ]
    assert gateway.available("3001") == 6 and gateway.available("3002") == 8
    assert gateway.state["orders"]["gid://shopify/Order/1001"]["tags"] == ["recon:loop-closed"]
    rows = intents(sessions)
    assert [r.state for r in rows] == ["done", "done", "done"]
    assert all(r.state in TERMINAL_STATES for r in rows)
