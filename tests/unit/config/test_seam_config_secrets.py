"""Seams of this session's settings changes: paths resolved through symlinks, and the API
credentials refused at start."""

from __future__ import annotations

import os
from pathlib import Path

import h11
import pytest

from recon.bootstrap import check_ready
from recon.config import load_settings
from recon.errors import ConfigError

FILE = '[shop]\nslug = "acme"\ndomain = "acme.myshopify.com"\n[store]\nurl = "sqlite:///var/x.db"\n'


def _configmap(project: Path) -> Path:
    """``project/config`` as Kubernetes mounts a ConfigMap: ``recon.toml`` is a link to
    ``..data/recon.toml``, ``..data`` a link to the timestamped folder holding the file."""
    config = project / "config"
    stamped = config / "..2026_11_30_02_00_00.123456789"
    stamped.mkdir(parents=True)
    (stamped / "recon.toml").write_text(FILE, encoding="utf-8")
    (config / "..data").symlink_to(stamped.name)
    (config / "recon.toml").symlink_to(Path("..data") / "recon.toml")
    return config / "recon.toml"


def _linked_elsewhere(project: Path) -> Path:
    """``project/config/recon.toml`` a link to the shop's file kept elsewhere (``/etc/recon``)."""
    kept = project.parent / "etc" / "recon" / "acme.toml"
    kept.parent.mkdir(parents=True)
    kept.write_text(FILE, encoding="utf-8")
    (project / "config").mkdir(parents=True)
    (project / "config" / "recon.toml").symlink_to(kept)
    return project / "config" / "recon.toml"


@pytest.mark.parametrize("layout", [_configmap, _linked_elsewhere], ids=["configmap", "etc"])
def test_a_project_whose_config_file_is_a_link_keeps_its_store(
    tmp_path: Path, layout: object
) -> None:
    """``config/recon.toml`` in the project, itself a symlink (a Kubernetes ConfigMap mount,
    or a link to the shop's file under /etc): before 4ab1759 its relative store, reports and
    outbox were the project's; now ``path.resolve()`` takes the link's target folder as the
    base (not named ``config``), so the upgrade opens a second, empty mirror under
    ``config/..2026_11_30_.../var/`` (a read-only volume that changes at every ConfigMap
    update) or ``/etc/recon/var``: every finding new again, ledger and watermarks left behind,
    the symptom the change meant to fix."""
    project = tmp_path / "project"
    assert callable(layout)
    path = layout(project)
    settings = load_settings(path)
    assert settings.store.url == f"sqlite:///{project}/var/x.db"
    assert settings.reports.dir == project / "reports"


@pytest.mark.parametrize("value", ["loopkey-7Hq2Zr9Wm4 ", " loopkey-7Hq2Zr9Wm4"])
def test_a_key_pasted_with_a_space_at_an_end_fails_before_the_run(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check added in 8a5f21a/3e8c41e refuses what no HTTP header carries, but only line
    breaks, control and non-ASCII characters: a key pasted with a space at either end passes
    ``check_ready`` and every request fails in h11 exactly as the newline did ("Illegal header
    value", a TransportError the sync retries until the run gives up, exit 1)."""
    config = tmp_path / "config" / "recon.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[shop]\nslug = "acme"\ndomain = "acme.myshopify.com"\n', encoding="utf-8")
    settings = load_settings(config)
    monkeypatch.setenv("RECON_SHOPIFY_TOKEN", "shpat_fine")
    monkeypatch.setenv("RECON_LOOP_API_KEY", value)
    # What the first request does with it: h11 refuses the header (httpx's own check).
    headers = [("Host", "loop"), ("X-Authorization", os.environ["RECON_LOOP_API_KEY"])]
    with pytest.raises(h11.LocalProtocolError, match="Illegal header value"):
        h11.Request(method="GET", target="/", headers=headers)
    with pytest.raises(ConfigError, match="RECON_LOOP_API_KEY"):
        check_ready(settings)
