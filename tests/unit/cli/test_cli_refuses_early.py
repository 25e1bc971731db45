"""A bad config or argument is refused before the heavy modules load: cron learns of it at
once, not after the ~1.5 s pandas, SQLAlchemy, httpx and the reporting code take to import.

Each case runs the real entry point (``recon.cli.main``) in its own process and reports, after
it exits, which of the heavy modules it had imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = {"pandas", "numpy", "sqlalchemy", "httpx", "openpyxl", "jinja2", "apscheduler"}
WATCHED = sorted(HEAVY | {"pydantic"})  # pydantic: the settings' models, `--help` needs none
MARK = "modules loaded:"
# The entry point as run_recon.py calls it; whatever way it ends (SystemExit included), the
# watched modules it imported are printed last on stderr.
WRAPPER = f"""
import sys
from recon.cli import main
try:
    main()
finally:
    loaded = [m for m in {WATCHED!r} if m in sys.modules]
    print({MARK!r}, ",".join(loaded), file=sys.stderr)
"""


def _loaded(result: subprocess.CompletedProcess[str]) -> set[str]:
    last = result.stderr.rstrip().splitlines()[-1]
    assert last.startswith(MARK), result.stderr
    return set(filter(None, last.removeprefix(MARK).strip().split(",")))


def _recon(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    return subprocess.run(  # noqa: S603 - our own entry point with fixed arguments
        [sys.executable, "-c", WRAPPER, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def _bad_config(tmp_path: Path) -> str:
    path = tmp_path / "recon.toml"
    path.write_text('[store]\nurl = "sqlite:///var/recon.db"\n[sync]\nlookback_hour = 1\n')
    return str(path)


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["backfill", "--from", "2026-01-01", "--to", "2026-02-01"],
        ["report", "--month", "2026-01"],
        ["runs"],
        ["findings", "list"],
        ["schedule"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_a_bad_config_is_refused_before_the_heavy_modules_load(
    tmp_path: Path, command: list[str]
) -> None:
    result = _recon(*command, "--config", _bad_config(tmp_path))
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert "sync.lookback_hour: unknown key (did you mean lookback_hours?)" in message
    assert "Traceback" not in message
    assert _loaded(result) & HEAVY == set()


def test_a_backfill_range_that_ends_before_it_starts_is_refused_at_once() -> None:
    # Refused before the settings are read: no config needed to show it.
    result = _recon("backfill", "--from", "2026-02-01", "--to", "2026-01-01")
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert "backfill: --to 2026-01-01 must be after --from 2026-02-01" in message
    assert _loaded(result) & HEAVY == set()


def test_help_is_answered_without_the_settings_models() -> None:
    result = _recon("--help")
    assert result.returncode == 0, result.stderr
    for command in ("run", "backfill", "schedule", "findings", "quarantine", "outbox"):
        assert command in result.stdout
    assert _loaded(result) == set()
