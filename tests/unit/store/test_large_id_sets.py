"""Id sets bigger than a statement's bound-parameter limit (PostgreSQL 65,535; SQLite 32,766
by default): a period with activity on that many orders, a plan of that many intents.

Each of these failed on PostgreSQL ("number of parameters must be between 0 and 65535"): the
period's snapshot (the run stopped), and the ledger's row locks a plan and ``actions approve``
take.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from recon.clock import VirtualClock
from recon.fetch import Batch
from recon.remediation.ledger import ActionRow, claim, claim_keys
from recon.sources.shopify_unread import NOT_VISIBLE, not_visible
from recon.store.sql import SqlStore
from recon.store.tables import Base
from recon.sync import commit_batch
from tests.fakes import EPOCH, make_order, make_return

# Past PostgreSQL's 65,535 parameters per statement (and SQLite's default 32,766).
MANY = 66_000


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[SqlStore]:
    """A fresh mirror in a private schema of RECON_TEST_POSTGRES_URL (SQLite runs the same
    statements in every other store test; this build's SQLite binds 250,000 parameters)."""
    mirror = SqlStore(postgres_url, clock=VirtualClock(EPOCH))
    yield mirror
    mirror.close()


def test_a_period_with_activity_on_more_orders_than_a_statement_binds_loads_whole(
    pg_store: SqlStore,
) -> None:
    """Every return of the period comes in: they are read again by their orders' ids (an order
    with activity in the period comes in whole), one id per order."""
    returns = [make_return(i, EPOCH) for i in range(MANY)]
    pg_store.upsert_returns(returns)

    snapshot = pg_store.load_snapshot(EPOCH - timedelta(days=1), EPOCH + timedelta(days=1))

    assert sorted(r.id for r in snapshot.returns) == sorted(r.id for r in returns)


@pytest.fixture
def pg_ledger(postgres_url: str) -> Iterator[Callable[[], Session]]:
    engine = create_engine(postgres_url)
    Base.metadata.create_all(engine)
    yield sessionmaker(engine)
    engine.dispose()


def _intents(sessions: Callable[[], Session], n: int) -> list[int]:
    rows = [
        {
            "key": f"restock|{i}",
            "shop": "acme",
            "rma": str(i),
            "kind": "restock",
            "subject": f"line-{i}",
            "n": 1,
            "category": "MISSING_RESTOCK",
            "finding_key": f"MISSING_RESTOCK|rma={i}",
            "order_id": str(5000 + i),
            "state": "proposed",
            "reason": "",
            "details": {},
            "created_at": EPOCH,
            "updated_at": EPOCH,
        }
        for i in range(n)
    ]
    with sessions.begin() as session:  # type: ignore[attr-defined]
        session.execute(insert(ActionRow), rows)
        return sorted(session.scalars(text("SELECT id FROM remediation_actions")))


def test_a_plan_of_more_intents_than_a_statement_binds_locks_them_all(
    pg_ledger: Callable[[], Session],
) -> None:
    ids = _intents(pg_ledger, MANY)
    with pg_ledger.begin() as session:  # type: ignore[attr-defined]
        locked = claim(session, reversed(ids))
        assert [row.id for row in locked] == ids  # in id order: the deadlock-free order
        claim_keys(
            session, [f"restock|{i}" for i in range(MANY)] + [f"new|{uuid.uuid4().hex[:20]}"]
        )


def test_a_night_that_finds_more_orders_out_of_sight_than_a_statement_binds_records_them(
    pg_store: SqlStore,
) -> None:
    """The first nightly after the Order.test upgrade re-reads every mirrored order by id; a
    shop without read_all_orders gets null for each one older than 60 days. The night commits
    and records them all as not visible (it failed on the bound-parameter limit, every night)."""
    orders = [make_order(i, EPOCH) for i in range(MANY)]
    pg_store.upsert_orders(orders)
    gone = [not_visible("order", f"gid://shopify/Order/{o.id}", NOT_VISIBLE) for o in orders]

    commit_batch(pg_store, Batch(quarantined=gone), run_id=None)

    assert pg_store.orders_not_visible() == sorted(o.id for o in orders)
