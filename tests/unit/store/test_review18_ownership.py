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

from recon.store.owner import _refuse_rival
from recon.store.sql import SqlStore


class _RolledBackError(Exception):
    """Raised to end a session's transaction with a rollback (nothing it made is kept)."""


@pytest.fixture
def store_schema() -> Iterator[tuple[SqlStore, str]]:
    """A migrated recon store in a schema of its own (not claimed yet), and a suffix."""
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    suffix = uuid.uuid4().hex[:8]
    store = SqlStore(base, schema=f"acme_{suffix}")
    yield store, suffix
    store.close()
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS acme_{suffix} CASCADE"))
    admin.dispose()


def test_another_applications_store_owner_table_claims_no_domain(
    store_schema: tuple[SqlStore, str],
) -> None:
    """The agency's PostgreSQL also holds its storefront app, whose schema has a table named
    ``store_owner`` with a ``domain`` column (a name any shop app may use) and none of
    recon's columns. A new shop's first run (``[store] schema = "acme"``) must claim its store:
    that table is no recon store and claims no domain. Today ``_STORES_BESIDE`` takes any
    ``store_owner`` with a ``domain`` column for a recon store and the rival query asks it for
    ``shop``, ``claimed_at`` and ``id``: the query fails, and ``SqlStore`` (``_claim``, which
    reads a ``StoreError`` as a lost first-claim race) stops every run on every store of the
    database with "mirror transaction failed: No row was found when one was required".

    The other application's schema is made inside the check's own transaction and rolled back,
    so no other test sharing the database sees it."""
    store, suffix = store_schema
    domain = f"acme-{suffix}.myshopify.com"
    with pytest.raises(_RolledBackError), store.session() as s:
        s.execute(text(f"CREATE SCHEMA storefront_{suffix}"))
        s.execute(
            text(
                f"CREATE TABLE storefront_{suffix}.store_owner "
                "(owner_id serial PRIMARY KEY, email text, domain text)"
            )
        )
        s.execute(
            text(
                f"INSERT INTO storefront_{suffix}.store_owner (email, domain) "
                "VALUES ('owner@example.com', :domain)"
            ),
            {"domain": domain},
        )
        _refuse_rival(s, "acme", domain, None)  # the first claim's check: no rival here
        raise _RolledBackError
