"""Review 22C: one slug for two Shopify shops, each in its own PostgreSQL schema of one server.

An agency copies ``shops/acme.toml`` to ``shops/beta.toml`` for a new client, sets the new
``[shop] domain`` and ``[store] schema``, and keeps ``slug = "acme"``. On one store recon
refuses that ("a config copied for another shop kept this shop's [shop] slug; give the other
shop its own slug", README "Many shops"), and across schemas it refuses the reverse (one
domain under two slugs). This direction is let through: beta runs as shop "acme". Everything
recon keys by the slug outside the store is then shared by two shops: the report folders
(``reports/acme/<day>/``, ``latest``, the day's run count), the outbox (a run resends the
waiting mail whose ``X-Recon-Shop`` is its slug, to its own recipients: beta's finance gets
acme's report), ``outbox list``/``retry``, and every log line's ``shop=acme``.
"""

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


@pytest.mark.xfail(
    strict=True,
    reason="review22C: a second domain under an existing slug in another PostgreSQL schema is "
    "not refused: two shops share reports/<slug>/, the outbox's mail and the log's shop=",
)
def test_a_copied_config_that_kept_the_slug_for_another_domain_is_refused(
    tmp_path: Path,
) -> None:
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    suffix = uuid.uuid4().hex[:8]
    shops = tmp_path / "shops"  # one install: both files share reports/ and the outbox
    acme = _settings(
        shops / "acme.toml",
        "acme",
        f"acme-{suffix}.myshopify.com",
        f'url = "{base}"\nschema = "acme_{suffix}"\n',
    )
    beta = _settings(
        shops / "beta.toml",
        "acme",  # kept from the copy
        f"beta-{suffix}.myshopify.com",
        f'url = "{base}"\nschema = "beta_{suffix}"\n',
    )
    admin = create_engine(base)
    try:
        assert recon("quarantine", "--config", str(acme)).returncode == 0  # acme claims it
        result = recon("quarantine", "--config", str(beta))
        assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
        assert f"acme-{suffix}.myshopify.com" in result.stderr, result.stderr
    finally:
        with admin.begin() as conn:
            for schema in (f"acme_{suffix}", f"beta_{suffix}"):
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
