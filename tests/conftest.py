"""Fixtures every level of the tests shares: a private PostgreSQL schema when a test server is
named (``RECON_TEST_POSTGRES_URL``); and the root logger put back as it was after each test."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Generator, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """A command run in the test process (``cli.main()``) replaces the root logger's handlers
    with its stderr handler, bound to the test's captured stderr: closed once the test ends, so
    every later warning of the worker printed "--- Logging error ---" (into the CI log when a
    thread logged between tests). Around the whole test (its setup, call and teardown, where
    pytest adds and removes its own handlers), not in a fixture."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return (yield)
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)  # a no-op for those still there
        root.setLevel(level)


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
