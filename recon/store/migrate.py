"""Run the mirror's Alembic migrations programmatically (ini and scripts ship in the package)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from recon.errors import StoreError

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config() -> Config:
    """The packaged Alembic configuration (script location resolved next to this file)."""
    return Config(str(ALEMBIC_INI))


def upgrade_to_head(engine: Engine, now: datetime | None = None) -> None:
    """Upgrade the database behind ``engine`` to the newest revision; a no-op when already there.

    ``now`` dates what a migration records (the store's clock; default the system's).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused a migration (the caller wraps it).
    """
    config = alembic_config()
    if current_revision(engine) == ScriptDirectory.from_config(config).get_current_head():
        return  # the usual open: no lock taken, so a long write by a run does not hold it up
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes opening one schema at once would both run the migrations; the
            # second then fails on the catalog (duplicate type). The lock lasts to commit.
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext('recon-migrate:' || current_schema()))"
            )
        elif connection.dialect.name == "sqlite":
            # The same on SQLite (two `outbox retry` on a fresh store): both read "no revision"
            # and the second failed creating a table the first had made ("cannot open the
            # mirror"). The write lock, taken before Alembic reads the revision, makes the
            # second wait (busy_timeout) and then find the store at head; the migrations run
            # in this one transaction, so a crash leaves no half-made store either.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        # env.py migrates this connection instead of opening its own (one engine, one file).
        config.attributes["connection"] = connection
        config.attributes["now"] = now
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def create_schema(connection: Connection, schema: str) -> None:
    """Create ``schema`` unless it exists.

    Only when it is missing: PostgreSQL checks the database's CREATE right before it looks
    whether the schema exists, even for ``CREATE SCHEMA IF NOT EXISTS``, and a role that does
    not own the database lacks that right by default. With the schema made by the DBA and
    granted to recon's role (least privilege), every command failed to open the store.

    Raises:
        StoreError: the schema is missing and this role may not create it (names both).
    """
    found = connection.exec_driver_sql(
        "SELECT 1 FROM pg_namespace WHERE nspname = %(schema)s", {"schema": schema}
    ).first()
    if found is not None:
        return
    role, allowed = connection.exec_driver_sql(
        "SELECT current_user, has_database_privilege(current_database(), 'CREATE')"
    ).one()
    if not allowed:
        # Quoted as SQL names: PostgreSQL folds an unquoted "Recon" to another role, "recon",
        # and a hyphen ("recon-app") is a syntax error.
        raise StoreError(
            f"[store] schema {schema!r} does not exist and role {role!r} may not create it: "
            f"have the database's owner run CREATE SCHEMA {_name(schema)} AUTHORIZATION "
            f"{_name(role)} (or grant {_name(role)} CREATE on the database)"
        )
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def _name(identifier: str) -> str:
    """``identifier`` quoted as an SQL name (``"recon-app"``; inner quotes doubled)."""
    return '"' + identifier.replace('"', '""') + '"'
