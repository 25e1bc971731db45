"""Fixtures shared by the unit tests: a private PostgreSQL schema when a test server is named, and
a store on each dialect for modules that define their own ``clock``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from recon.clock import VirtualClock
    from recon.store.sql import SqlStore


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A private schema in the database RECON_TEST_POSTGRES_URL names, dropped afterwards."""
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    schema = f"recon_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: VirtualClock
) -> Iterator[SqlStore]:
    """A fresh store on SQLite, then on PostgreSQL (skipped without a test server), read by the
    module's own ``clock`` fixture. A module that defines ``store`` itself keeps its own."""
    from recon.store.sql import SqlStore

    url = (
        f"sqlite:///{tmp_path / 'recon.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    mirror = SqlStore(url, clock=clock)
    yield mirror
    mirror.close()
