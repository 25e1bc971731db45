"""``runs``: what an operator reads about the shop's last nights without writing SQL.

Dataset: four runs a day apart, oldest first: a backfill that read 1,200 records, an ``ok``
nightly (310 records, 7 open findings), a nightly refused by the run lock, and a nightly that
failed on refused credentials (exit 3, recorded with its error).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_cli import recon

from recon.bootstrap import open_store
from recon.clock import VirtualClock
from recon.config import load_settings
from recon.errors import AuthError
from recon.store.bookkeeping import RunStatus

START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _record_runs(config: Path, env: dict[str, str]) -> list[str]:
    """The dataset's runs, as the services record them; their ids, oldest first."""
    clock = VirtualClock(START)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        store = open_store(load_settings(config), clock=clock)
    try:
        backfill = store.start_run("backfill")
        clock.advance(timedelta(minutes=40))
        store.finish_run(backfill, RunStatus.OK, {"records": {"order": 1000, "return": 200},
                                                  "quarantined": 2, "windows": 4})  # fmt: skip
        clock.advance(timedelta(days=1))
        nightly = store.start_run("nightly")
        clock.advance(timedelta(minutes=3))
        stats = {"sync": {"records": {"order": 300, "return": 10}, "quarantined": 0},
                 "findings": 7}  # fmt: skip
        store.finish_run(nightly, RunStatus.OK, stats)
        clock.advance(timedelta(days=1))
        refused = store.record_refused_run("nightly", "the run lock is held by backfill@host")
        clock.advance(timedelta(days=1))
        failed = store.start_run("nightly")
        clock.advance(timedelta(seconds=5))
        error = AuthError("Shopify refused the token (401)")
        store.finish_run(failed, RunStatus.FAILED, {"error": f"AuthError: {error}",
                                                    "exit_code": error.exit_code})  # fmt: skip
    finally:
        store.close()
    return [backfill, nightly, refused, failed]


def _lines(stdout: str, ids: list[str]) -> list[str]:
    """The table's row for each run id, in the order printed."""
    rows = [line for line in stdout.splitlines() if any(i in line for i in ids)]
    return sorted(rows, key=stdout.index)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_runs_lists_the_latest_newest_first_with_status_exit_times_and_figures(
    config: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env = {}
    if backend == "postgresql":
        env["RECON_STORE__URL"] = request.getfixturevalue("postgres_url")
    ids = _record_runs(config, env)
    result = recon("runs", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert "times UTC" in result.stdout
    failed, refused, nightly, backfill = _lines(result.stdout, ids)
    assert ids[3] in failed and "failed" in failed and " 3 " in failed
    assert "2026-11-04 02:43:00" in failed  # started three days and 43 minutes after START
    assert "Shopify refused the token (401)" in failed
    assert ids[2] in refused and "refused" in refused and " 4 " in refused
    assert "the run lock is held by backfill@host" in refused
    assert ids[1] in nightly and "ok" in nightly and " 0 " in nightly
    assert "310 records" in nightly and "7 open findings" in nightly
    assert "2026-11-02 02:40:00" in nightly and "2026-11-02 02:43:00" in nightly
    assert "backfill" in backfill and "1,200 records" in backfill and "2 held" in backfill


def test_runs_limit_keeps_the_newest(config: Path) -> None:
    ids = _record_runs(config, {})
    result = recon("runs", "--limit", "2", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert [i for i in ids if i in result.stdout] == ids[2:]


def test_runs_before_any_store_says_so_and_creates_nothing(config: Path) -> None:
    result = recon("runs", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "no runs for sandbox" in result.stdout and "does not exist yet" in result.stdout
    assert "Traceback" not in result.stderr
    assert not (config.parent.parent / "var" / "recon.db").exists()


def test_runs_limit_below_one_is_refused(config: Path) -> None:
    result = recon("runs", "--limit", "0", "-c", str(config))
    assert result.returncode == 2
    assert "--limit" in result.stderr
