"""Two commands opening a store nobody has made yet, at the same moment (two ``outbox retry``,
cron and the scheduler after a deploy): both open it, neither fails with "cannot open the
mirror", and the store they made is whole (at the newest revision, claimed once)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.script import ScriptDirectory

from recon.store.migrate import alembic_config, current_revision
from recon.store.sql import SqlStore

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()

# Each child waits for the same instant, then opens the store as a command does.
CHILD = """
import sys, time
from recon.store.sql import SqlStore
start = float(sys.argv[2])
while time.time() < start:
    pass
SqlStore(sys.argv[1], shop="acme", domain="acme.myshopify.com").close()
print("opened")
"""


def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Three processes, started together on a path where no store exists yet: each ends 0
    having opened it (before, all but the first to migrate failed: "table ... already
    exists"), and the store is at the newest revision."""
    url = f"sqlite:///{tmp_path / 'fresh' / 'recon.db'}"
    start = time.time() + 2.0  # after the children have imported recon
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    children = [
        subprocess.Popen(  # noqa: S603 (this interpreter, this file's own code)
            [sys.executable, "-c", CHILD, url, repr(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    results = [child.communicate(timeout=60) for child in children]
    codes = [child.returncode for child in children]
    assert codes == [0, 0, 0], [err[-600:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["opened"] * 3
    store = SqlStore(url, shop="acme", domain="acme.myshopify.com")
    try:
        assert current_revision(store.engine) == HEAD
    finally:
        store.close()


def test_threads_opening_a_new_postgresql_store_at_once_all_succeed(postgres_url: str) -> None:
    """The same on PostgreSQL, in a schema that exists but is empty (a DBA made it, or the
    server's default one): four engines migrate it at once and all open it (the migrations
    take turns on an advisory lock)."""

    def open_one(_: int) -> str | None:
        store = SqlStore(postgres_url, shop="acme", domain="acme.myshopify.com")
        try:
            return current_revision(store.engine)
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        revisions = list(pool.map(open_one, range(4)))
    assert revisions == [HEAD] * 4
