"""Two shops of an agency on one PostgreSQL server, a schema each, applying at the same time:
one shop's intents, circuit breaker, run lock and ledger never touch the other's.

Both shops' Loop accounts use the same RMA numbers (they are per account), so a ledger read
across shops would show up as the other shop's restocks, states or keys.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from remediation_world import T0, FakeGateway, settings, standard_contexts, standard_findings
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from recon.clock import VirtualClock
from recon.config import RemediationMode
from recon.lock import RunLock
from recon.remediation.executor import ApplyReport, Executor
from recon.remediation.facts import ledger_facts
from recon.remediation.ledger import list_actions
from recon.remediation.planner import plan_actions
from recon.store.sql import SqlStore

SHOPS = ("acme", "beta")


@pytest.fixture
def stores() -> Iterator[dict[str, SqlStore]]:
    """Each shop's store in a schema of its own on RECON_TEST_POSTGRES_URL, dropped afterwards."""
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    suffix = uuid.uuid4().hex[:8]
    clock = VirtualClock(T0)
    opened = {s: SqlStore(base, clock=clock, schema=f"{s}_{suffix}", shop=s) for s in SHOPS}
    yield opened
    for store in opened.values():
        store.close()
    admin = create_engine(base)
    with admin.begin() as conn:
        for shop in SHOPS:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {shop}_{suffix} CASCADE"))
    admin.dispose()


def _apply(store: SqlStore, shop: str, gateway: FakeGateway, policy: Any) -> ApplyReport:
    """One apply-mode night of ``shop`` against its own Shopify (``gateway``)."""
    sessions = sessionmaker(store.engine, expire_on_commit=False)
    clock = VirtualClock(T0)
    with sessions() as session:
        facts = ledger_facts(session, shop)
    plan = plan_actions(standard_findings(), policy, standard_contexts(), shop=shop, ledger=facts)
    lock = RunLock(sessions, clock)
    lease = lock.acquire(shop, f"run-{shop}", timedelta(minutes=10))
    try:
        executor = Executor(sessions, gateway, policy, clock, shop=shop)
        return executor.run(plan, RemediationMode.APPLY, lease, f"{shop}-night")
    finally:
        lock.release(lease)


def test_one_shops_breaker_and_ledger_leave_the_other_shop_alone(stores):
    """acme's limits trip its circuit breaker (refunds over its max_run_total); beta, running
    at the same moment with the same RMAs, applies its refund, restock and tag once. acme's
    Shopify sees no write, acme lists only its own held intents, and a second night of beta
    writes nothing again (its ledger is its own, not acme's unsent intents)."""
    gateways = {shop: FakeGateway() for shop in SHOPS}
    policies = {"acme": settings(max_run_total={"USD": Decimal("10.00")}), "beta": settings()}
    reports: dict[str, ApplyReport] = {}
    errors: list[BaseException] = []

    def night(shop: str) -> None:
        try:
            reports[shop] = _apply(stores[shop], shop, gateways[shop], policies[shop])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=night, args=(shop,)) for shop in SHOPS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert reports["acme"].halted and "max_run_total" in reports["acme"].halted
    assert reports["beta"].halted is None
    assert gateways["acme"].state["adjustments"] == []
    assert gateways["acme"].refunds_with("Loop RMA #12345701") == []
    assert len(gateways["beta"].refunds_with("Loop RMA #12345701")) == 1
    assert gateways["beta"].available("3002") == 8
    for shop in SHOPS:
        with sessionmaker(stores[shop].engine)() as session:
            listed = list_actions(session, shop)
        assert {view.state for view in listed} == ({"planned"} if shop == "acme" else {"done"}), (
            shop
        )
    _apply(stores["beta"], "beta", gateways["beta"], policies["beta"])
    assert len(gateways["beta"].refunds_with("Loop RMA #12345701")) == 1
    assert gateways["beta"].available("3002") == 8
