"""Review 18: ``runs`` reads a PostgreSQL store no run has created yet without creating it.

docs/commands.md "runs": "it changes nothing", and a store not created yet "is said so, and not
created". ``cli_runs._missing_sqlite`` checks an SQLite file only; on PostgreSQL ``runs`` opens
the store through ``open_store``, which creates the shop's ``[store] schema``, migrates it and
claims it for the shop: an operator checking whether a new shop (or a mistyped schema) ever
ran leaves a new, empty store behind, claimed for that slug and domain.

Dataset: no run; a schema name no test has created, on the server RECON_TEST_POSTGRES_URL names.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from test_cli import recon


def test_runs_on_a_postgresql_schema_not_created_yet_says_so_and_creates_nothing(
    tmp_path: Path,
) -> None:
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    schema = f"newshop_{uuid.uuid4().hex[:10]}"
    config = tmp_path / "config" / "recon.toml"
    config.parent.mkdir()
    config.write_text(f'[store]\nurl = "{base}"\nschema = "{schema}"\n', encoding="utf-8")
    admin = create_engine(base)
    exists = text("SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = :name")
    try:
        result = recon("runs", "--config", str(config))
        assert result.returncode == 0, result.stderr
        assert "no runs" in result.stdout, result.stdout
        with admin.begin() as conn:
            assert conn.execute(exists, {"name": schema}).scalar_one() == 0
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
