"""``actions`` commands close the store they open: on PostgreSQL, ``actions list``, ``approve``,
``reject`` and ``history`` left their pooled connection open until the garbage collector
dropped it (a ``ResourceWarning``; a server connection held past the command's end).

Dataset: ``test_cli_action_audit``'s ledger, in a private PostgreSQL schema, the store's URL
naming a unique ``application_name`` so the server's ``pg_stat_activity`` counts only the
command's connections.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.unit.cli.json_output import in_env, listed
from tests.unit.cli.test_cli_action_audit import _ledger


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The collector off, so a connection left open stays open until the test counts it."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@pytest.mark.parametrize(
    "command",
    [
        ("actions", "list"),
        ("actions", "history", "1"),
        ("actions", "reject", "2", "--reason", "customer kept it"),
    ],
)
def test_actions_commands_leave_no_connection_open_on_postgresql(
    config: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    no_gc: None,
    command: tuple[str, ...],
) -> None:
    name = f"recon-test-{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_url).update_query_dict({"application_name": name})
    env = {"RECON_STORE__URL": url.render_as_string(hide_password=False)}
    in_env(env, monkeypatch)
    _ledger(config)
    code, out, err = listed(monkeypatch, *command, "-c", str(config), env=env)
    assert code == 0, (out, err)
    admin = create_engine(os.environ.get("RECON_TEST_POSTGRES_URL") or postgres_url)
    count = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    try:
        with admin.connect() as conn:
            assert conn.execute(count, {"name": name}).scalar_one() == 0
    finally:
        admin.dispose()
