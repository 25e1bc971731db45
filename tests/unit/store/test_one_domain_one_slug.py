"""One Shopify shop is talked to by one slug per store: two slugs for one domain would keep two
ledgers whose idempotency keys (``idempotency_key(shop_slug, rma, ...)``) differ, so Shopify's
``@idempotent`` could not stop the second of two refunds.

SQLite gives each shop a file, and a file belongs to its first shop; on PostgreSQL each shop has
a schema of its own, so the claim on a domain is checked across the database's schemas.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from recon.errors import ConfigError
from recon.store.sql import SqlStore

Opener = Callable[..., SqlStore]


def test_a_second_slug_for_the_same_domain_on_one_sqlite_store_is_told_which_slug_to_use(
    tmp_path: Path,
) -> None:
    """A copied config given a new slug but still the first shop's domain: the store is
    refused (as any other shop's is), and the error says it is the same Shopify shop, so the
    fix is to keep the slug that claimed it, not to give the copy a store of its own."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    SqlStore(url, shop="acme", domain="acme.myshopify.com").close()
    with pytest.raises(ConfigError) as refused:
        SqlStore(url, shop="acme-eu", domain="ACME.myshopify.com")
    message = str(refused.value)
    assert "belongs to shop 'acme', not 'acme-eu'" in message
    assert "acme.myshopify.com" in message
    assert 'slug = "acme"' in message


@pytest.fixture
def schemas() -> Iterator[tuple[Opener, str]]:
    """Open stores in schemas of one database (RECON_TEST_POSTGRES_URL), and a domain no other
    test uses; the schemas are dropped afterwards."""
    base = os.environ.get("RECON_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set RECON_TEST_POSTGRES_URL=postgresql+psycopg://... to run")
    suffix = uuid.uuid4().hex[:8]
    made: set[str] = set()

    def open_store(schema: str, shop: str | None, domain: str | None) -> SqlStore:
        made.add(f"{schema}_{suffix}")
        return SqlStore(base, schema=f"{schema}_{suffix}", shop=shop, domain=domain)

    yield open_store, f"shop-{suffix}.myshopify.com"
    admin = create_engine(base)
    with admin.begin() as conn:
        for schema in made:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def test_a_second_slug_for_a_domain_another_schema_claimed_is_refused(
    schemas: tuple[Opener, str],
) -> None:
    """The agency's two configs for one shop, a schema each on one server: the second slug
    is refused (exit 2) naming the slug and schema that hold the domain, and records no claim,
    so the first shop still opens and another domain under the second slug is fine."""
    open_store, domain = schemas
    open_store("acme", "acme", domain).close()
    with pytest.raises(ConfigError) as refused:
        open_store("acme_eu", "acme-eu", domain.upper())
    message = str(refused.value)
    assert "shop 'acme'" in message and "schema 'acme_" in message and domain in message
    assert 'slug = "acme"' in message
    open_store("acme", "acme", domain).close()
    open_store("acme_eu", "acme-eu", "other-" + domain).close()  # corrected: its own shop


def test_of_two_slugs_already_holding_one_domain_the_later_claim_is_refused(
    schemas: tuple[Opener, str],
) -> None:
    """Stores claimed before this check (both slugs running for months): the slug that
    claimed the domain first goes on, the later one is refused from now on."""
    open_store, domain = schemas
    open_store("acme", "acme", domain).close()
    later = open_store("acme_eu", "acme-eu", "other-" + domain)
    with later.session() as s:  # as an older version left it: a second claim on the domain
        s.execute(
            text("UPDATE store_owner SET domain = :d, claimed_at = claimed_at + :later"),
            {"d": domain, "later": timedelta(days=1)},
        )
    later.close()
    open_store("acme", "acme", domain).close()
    with pytest.raises(ConfigError, match="'acme'"):
        open_store("acme_eu", "acme-eu", domain)


def test_a_released_claim_lets_the_new_slug_take_the_domain(
    schemas: tuple[Opener, str],
) -> None:
    """The slug was renamed on purpose (a new schema): once the retired schema's claim is
    released (its domain cleared, as the error says), the new slug opens, and the retired
    one is refused from then on."""
    open_store, domain = schemas
    retired = open_store("acme", "acme", domain)
    with retired.session() as s:
        s.execute(text("UPDATE store_owner SET domain = NULL"))
    retired.close()
    open_store("acme_eu", "acme-eu", domain).close()
    with pytest.raises(ConfigError, match="'acme-eu'"):
        open_store("acme", "acme", domain)


def test_two_slugs_claiming_one_domain_at_once_leave_one_claim(
    schemas: tuple[Opener, str],
) -> None:
    """Both configs' first runs start in the same minute: exactly one slug gets the domain."""
    open_store, domain = schemas
    shops = ["s1", "s2", "s3", "s4"]
    for shop in shops:  # made and migrated first: Alembic's migrations are not thread-safe
        open_store(shop, None, None).close()

    def claim(shop: str) -> str:
        try:
            open_store(shop, shop, domain).close()
        except ConfigError:
            return "refused"
        return "claimed"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(claim, shops))
    assert sorted(outcomes) == ["claimed", "refused", "refused", "refused"]


def test_a_schema_dropped_while_the_claims_are_read_fails_no_other_shop(
    schemas: tuple[Opener, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another shop's schema is dropped between the listing of the schemas and the read of
    their claims (a retired shop removed, on a server many shops share): that read failed
    ("store_owner does not exist") and so did every command of every other shop while it
    lasted. The claims are read again with a fresh list, and a rival claim is still found."""
    from recon.store import owner

    open_store, domain = schemas
    open_store("acme", "acme", domain).close()
    real_text = owner.text
    listed: list[str] = []

    def one_gone(sql: str) -> object:
        if sql is owner._STORES_BESIDE and not listed:
            listed.append(sql)  # the first listing names a schema dropped since
            return real_text(f"SELECT 'dropped_{uuid.uuid4().hex[:8]}' UNION ALL ({sql})")
        return real_text(sql)

    monkeypatch.setattr(owner, "text", one_gone)
    open_store("acme_eu", "acme-eu", "other-" + domain).close()
    assert listed
    listed.clear()
    with pytest.raises(ConfigError, match="'acme'"):
        open_store("acme_uk", "acme-uk", domain)
    assert listed
