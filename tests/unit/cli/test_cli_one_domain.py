"""One Shopify shop under two slugs, as the agency's settings meet it on the command line: the
second slug's run is refused (exit 2) before it syncs or writes, and is told which slug to use."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from test_cli import recon


def _settings(path: Path, slug: str, domain: str, store: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[shop]\nslug = "{slug}"\ndomain = "{domain}"\n'
        f"[sandbox]\nenabled = true\nreturns = 5\n[store]\n{store}",
        encoding="utf-8",
    )
    return path


def test_a_second_slug_for_a_domain_on_another_postgresql_schema_runs_nothing(
    tmp_path: Path,
) -> None:
    """acme's settings copied to a second file as acme-eu (its own schema on the same server)
    for the same shop: acme-eu's apply run exits 2 naming acme, its schema and the fix; it
    records no run, no claim and no intent, so nothing can go to Shopify under its keys."""
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    suffix = uuid.uuid4().hex[:8]
    domain = f"acme-{suffix}.myshopify.com"
    acme = _settings(
        tmp_path / "acme" / "config" / "recon.toml",
        "acme",
        domain,
        f'url = "{base}"\nschema = "acme_{suffix}"\n',
    )
    eu = _settings(
        tmp_path / "eu" / "config" / "recon.toml",
        "acme-eu",
        domain.upper(),
        f'url = "{base}"\nschema = "eu_{suffix}"\n',
    )
    admin = create_engine(base)
    try:
        assert recon("quarantine", "--config", str(acme)).returncode == 0  # acme claims it
        result = recon("run", "--config", str(eu), "--mode", "apply")
        assert result.returncode == 2, result.stderr
        assert "shop 'acme'" in result.stderr and f"acme_{suffix}" in result.stderr
        assert 'slug = "acme"' in result.stderr
        with admin.begin() as conn:
            for table in ("store_owner", "runs", "orders", "remediation_actions"):
                count = conn.execute(text(f"SELECT count(*) FROM eu_{suffix}.{table}"))
                assert count.scalar_one() == 0, table
    finally:
        with admin.begin() as conn:
            for schema in (f"acme_{suffix}", f"eu_{suffix}"):
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def test_a_second_slug_for_the_domain_on_the_same_sqlite_file_is_told_the_slug(
    tmp_path: Path,
) -> None:
    """The same on one SQLite file: refused as any other shop is, and told it is the same
    Shopify shop, so the fix is the first slug, not a store of its own (which would refund
    the shop under a second set of keys)."""
    store = f'url = "sqlite:///{tmp_path / "shared.db"}"\n'
    acme = _settings(tmp_path / "acme.toml", "acme", "acme.myshopify.com", store)
    eu = _settings(tmp_path / "eu.toml", "acme-eu", "acme.myshopify.com", store)
    assert recon("quarantine", "--config", str(acme)).returncode == 0
    result = recon("run", "--config", str(eu), "--mode", "apply")
    assert result.returncode == 2, result.stderr
    assert "both talk to acme.myshopify.com" in result.stderr
    assert 'slug = "acme"' in result.stderr
