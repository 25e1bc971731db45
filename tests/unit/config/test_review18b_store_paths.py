"""Review 18b: an SQLite URL naming its driver has its relative path read from the project too.

Settings accept any SQLite URL (``StoreSettings._database_url``: the backend is ``sqlite``), so
``sqlite+pysqlite:///var/recon.db`` is a valid store. ``config_load._resolve_paths`` makes a
relative store path relative to the project directory holding ``config/`` only for URLs
spelled ``sqlite:///``: with the driver named, the path stays relative and every command opens
(and creates) ``var/recon.db`` under whatever directory it was started from. A nightly run from
cron (started in $HOME) and one by hand from the project then use two mirrors: each has its own
watermarks and its own ledger of refunds sent, so a refund one sent is not known to the other;
and ``runs`` (``cli_runs._missing_store``) says the store "does not exist yet" from anywhere but
the directory the run started in.

Dataset: a project in tmp_path with config/recon.toml naming the store relatively; commands
started from another directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from recon.bootstrap import open_store
from recon.config import load_settings


def _project(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "project" / "config" / "recon.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")
    return config


def test_a_relative_store_path_with_the_driver_named_is_the_project_s(tmp_path: Path) -> None:
    settings = load_settings(_project(tmp_path, "sqlite+pysqlite:///var/x.db"))
    database = make_url(settings.store.url).database
    assert database == str(tmp_path / "project" / "var" / "x.db")


def test_a_command_started_elsewhere_opens_the_project_s_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator looks for the mirror where the config says: under the project's var/."""
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(_project(tmp_path, "sqlite+pysqlite:///var/x.db"))
    store = open_store(settings)
    store.close()
    assert (tmp_path / "project" / "var" / "x.db").is_file()
    assert not (elsewhere / "var" / "x.db").exists()
