"""An agency's PostgreSQL with least privilege: the DBA creates each shop's schema and grants
recon's role that schema, not the right to create schemas in the database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from recon.errors import StoreError
from recon.store.sql import SqlStore


@pytest.fixture
def locked_down() -> Iterator[URL]:
    """A database of its own, whose ``acme`` schema exists (the DBA made it) while recon's role
    may create no schema in it (PostgreSQL's default for a role that does not own the
    database). Skipped where the test role may not create databases."""
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    name = f"recon_priv_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError:
        admin.dispose()
        pytest.skip("the test role may not create a database")
    url = make_url(base).set(database=name)
    try:
        owner = create_engine(url, isolation_level="AUTOCOMMIT")
        with owner.connect() as connection:
            connection.execute(text("CREATE SCHEMA acme"))
            connection.execute(
                text(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC, CURRENT_USER')
            )
        owner.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_schema_the_dba_created_opens_without_the_right_to_create_schemas(
    locked_down: URL,
) -> None:
    """Every command failed (exit 1, "permission denied for database") on such a server:
    the store asked to CREATE SCHEMA IF NOT EXISTS on every open, which PostgreSQL checks
    against the database's CREATE right before it sees the schema exists. The store opens,
    migrates into the schema and keeps its rows there."""
    url = locked_down.render_as_string(hide_password=False)
    store = SqlStore(url, schema="acme", shop="acme", domain="acme.myshopify.com")
    try:
        store.set_watermark("loop.returns.open", store.clock.now())
        assert store.get_watermark("loop.returns.open") is not None
    finally:
        store.close()
    reopened = SqlStore(url, schema="acme", shop="acme", domain="acme.myshopify.com")
    reopened.close()
    admin = create_engine(locked_down)
    with admin.connect() as connection:
        tables = connection.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'acme'")
        ).scalar_one()
    admin.dispose()
    assert tables > 10


def test_a_missing_schema_recon_may_not_create_is_named_in_the_error(locked_down: URL) -> None:
    """Another shop's schema the DBA has not created yet: the error names the schema and what
    to do, not only PostgreSQL's "permission denied for database"."""
    url = locked_down.render_as_string(hide_password=False)
    with pytest.raises(
        StoreError, match=r"schema 'beta' does not exist.*CREATE SCHEMA \"beta\" AUTHORIZATION"
    ):
        SqlStore(url, schema="beta", shop="beta")
