"""Review 18: the one-domain-one-slug check across PostgreSQL schemas (``recon.store.owner``).

The check reads the ``store_owner`` table of every other schema of the database. A database is
often shared: recon's schemas beside other applications' own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from recon.store.sql import SqlStore


@pytest.fixture
def shared_database() -> Iterator[tuple[str, str]]:
    """(the database URL, a suffix for this test's schemas); the schemas are dropped after."""
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    suffix = uuid.uuid4().hex[:8]
    yield base, suffix
    admin = create_engine(base)
    with admin.begin() as conn:
        for schema in (f"storefront_{suffix}", f"acme_{suffix}"):
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@pytest.mark.xfail(
    strict=True,
    reason="review18: another application's store_owner table (with a domain column) "
    "stops every recon store in the database from opening",
)
def test_another_applications_store_owner_table_does_not_stop_recon(
    shared_database: tuple[str, str],
) -> None:
    """The agency's PostgreSQL also holds its storefront app, whose schema has a table named
    ``store_owner`` with a ``domain`` column (a name any shop app may use), and nothing else
    recon knows. The integration engineer sets ``[store] schema = "acme"`` for a new shop: its
    first run must claim the store and go on (the other table is no recon store, so it claims
    no domain). Today ``_STORES_BESIDE`` takes any ``store_owner`` with a ``domain`` column
    for a recon store, and the rival query asks it for ``shop``, ``claimed_at`` and ``id``:
    the open fails (a ``StoreError`` the first-claim path misreads as a race), every night."""
    base, suffix = shared_database
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA storefront_{suffix}"))
        conn.execute(
            text(
                f"CREATE TABLE storefront_{suffix}.store_owner "
                "(owner_id serial PRIMARY KEY, email text, domain text)"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO storefront_{suffix}.store_owner (email, domain) "
                "VALUES ('owner@example.com', :domain)"
            ),
            {"domain": f"acme-{suffix}.myshopify.com"},
        )
    admin.dispose()
    store = SqlStore(
        base, schema=f"acme_{suffix}", shop="acme", domain=f"acme-{suffix}.myshopify.com"
    )
    try:
        with store.session() as s:
            owner = s.execute(text("SELECT shop, domain FROM store_owner")).one()
    finally:
        store.close()
    assert tuple(owner) == ("acme", f"acme-{suffix}.myshopify.com")
