"""Which shop a store belongs to: claimed on first open, checked on every open after.

One Shopify shop is talked to by one slug: the remediation ledger's idempotency keys carry the
slug (``actions.idempotency_key``), so two slugs for one domain would send a refund under two
keys, which Shopify's ``@idempotent`` cannot tell apart. A store (an SQLite file, a PostgreSQL
schema) holds one shop; on PostgreSQL, whose schemas hold an agency's shops side by side, a
slug is also refused a domain another schema's shop claimed. Stores in two databases (an old
SQLite file and a new PostgreSQL, both running during a move) cannot see each other: the
re-read of the order before each write (``remediation.guards``) is what remains between them.

Mixed into ``SqlStore``, which provides ``session``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.errors import ConfigError, StoreError
from recon.sources.redact import redact_database_url
from recon.store import tables as tbl

# The other schemas of this database that hold a recon store recording domains, and which this
# role may read (a schema granted to another shop's role alone is not seen). A shared database
# also holds other applications' schemas: a ``store_owner`` table counts only with every column
# recon's has (an app's own ``store_owner (domain)`` is no store, and no claim).
# Listings of the other schemas' claims, when one is dropped while it is read (``_rival_claims``).
_LIST_ATTEMPTS = 3
_STORES_BESIDE = """
SELECT n.nspname FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = 'store_owner' AND c.relkind IN ('r', 'p')
  AND n.nspname <> current_schema()
  AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
  AND (SELECT count(*) FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = c.oid AND NOT a.attisdropped
         AND a.attname IN ('id', 'shop', 'domain', 'claimed_at')) = 4
ORDER BY n.nspname
"""


def same_domain(domain: str) -> str:
    """``domain`` as compared: host names ignore letter case (``Acme.myshopify.com``)."""
    return domain.strip().lower()


class Ownership:
    """The store's owner (shop slug and domain); mixed into ``SqlStore``."""

    clock: Clock

    def session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError  # pragma: no cover - SqlStore overrides it

    def _claim(self, shop: str, domain: str | None, url: str, schema: str | None) -> None:
        """Record ``shop`` (and ``domain``) as the store's owner, or check that they are.

        A store claimed before domains were recorded takes the first domain that opens it.

        Raises:
            ConfigError: the store belongs to another shop, or to this slug at another domain,
                or another schema's shop (another slug) claimed ``domain`` first.
        """
        try:
            with self.session() as s:
                _lock_domain(s, domain)
                owner = s.get(tbl.StoreOwnerRow, 1)
                if owner is None:
                    if domain is not None:
                        _refuse_rival(s, shop, domain, None)
                    row = tbl.StoreOwnerRow(
                        id=1, shop=shop, domain=domain, claimed_at=self.clock.now()
                    )
                    s.add(row)
                    return
                owner_shop, owner_domain = owner.shop, owner.domain
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise  # not a lost race: the database's own error, not "no row was found"
            # another process claimed it between the read and the insert
            owner_shop, owner_domain = self._owner()
        shown = redact_database_url(url)
        where = f"schema {schema!r} of {shown}" if schema else shown
        if owner_shop != shop:
            if domain is not None and same_domain(owner_domain or "") == same_domain(domain):
                raise ConfigError(
                    f"the store at {where} belongs to shop {owner_shop!r}, not {shop!r}, and "
                    f"both talk to {same_domain(domain)}: one Shopify shop under two slugs "
                    "would send its refunds under two sets of idempotency keys, so one could "
                    f'go out twice; use [shop] slug = "{owner_shop}" for this shop'
                )
            raise ConfigError(
                f"the store at {where} belongs to shop {owner_shop!r}, not {shop!r}: give each "
                "shop its own SQLite file, or its own [store] schema on PostgreSQL"
            )
        if domain is None:
            return
        owner_domain = self._hold_domain(shop, domain)
        if same_domain(owner_domain) != same_domain(domain):
            raise ConfigError(
                f"the store at {where} belongs to shop {shop!r} at {owner_domain!r}, not "
                f"{domain!r}: a config copied for another shop kept this shop's [shop] slug; "
                "give the other shop its own slug (and store)"
            )

    def _hold_domain(self, shop: str, domain: str) -> str:
        """The domain this store's shop talks to, first adopting ``domain`` if none is recorded.

        The adoption is conditional, so of two processes adopting at once one domain lands and
        the other is checked against it. A domain another schema's shop holds is not adopted;
        of two schemas already holding one domain (claimed before this check), the later claim
        gives way.

        Raises:
            ConfigError: another slug holds ``domain`` (``_refuse_rival``).
        """
        with self.session() as s:
            _lock_domain(s, domain)
            owner = s.get_one(tbl.StoreOwnerRow, 1)
            if owner.domain is None:
                _refuse_rival(s, shop, domain, None)
                s.execute(
                    update(tbl.StoreOwnerRow)
                    .where(tbl.StoreOwnerRow.id == 1, tbl.StoreOwnerRow.domain.is_(None))
                    .values(domain=domain)
                )
                s.expire(owner)
                return s.get_one(tbl.StoreOwnerRow, 1).domain or domain
            if same_domain(owner.domain) == same_domain(domain):
                _refuse_rival(s, shop, domain, owner.claimed_at)
            return owner.domain

    def _owner(self) -> tuple[str, str | None]:
        """The owner's slug and domain."""
        with self.session() as s:
            owner = s.get_one(tbl.StoreOwnerRow, 1)
            return owner.shop, owner.domain


def _lock_domain(session: Session, domain: str | None) -> None:
    """On PostgreSQL, take turns with every process claiming ``domain`` in this database.

    Held to the commit, so a shop claiming the domain in another schema at the same moment
    waits, then sees this claim (READ COMMITTED reads each statement afresh).
    """
    if domain is not None and session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"recon-domain:{same_domain(domain)}"},
        )


def _refuse_rival(session: Session, shop: str, domain: str, claimed_at: datetime | None) -> None:
    """Refuse ``shop`` if another slug in another schema of this database claimed ``domain``.

    ``claimed_at`` is this store's own claim on the domain (None: it has none yet, and any
    rival's stands). Two claims made before this check existed: the earlier one stands, then
    the schema first by name.

    Raises:
        ConfigError: naming the other slug, its schema and how to fix it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return  # one SQLite file, one store: another file is another database
    here = session.execute(text("SELECT current_schema()")).scalar_one()
    rivals = _rival_claims(session, shop, domain)
    for rival_schema, rival, rival_claimed in sorted(rivals, key=lambda r: (r[2], r[0])):
        if claimed_at is not None and (claimed_at, here) < (rival_claimed, rival_schema):
            continue  # this store claimed the domain first: the other gives way
        when = rival_claimed.astimezone(UTC)
        release = f"UPDATE {_name(rival_schema)}.store_owner SET domain = NULL"  # noqa: S608 - shown, not run
        raise ConfigError(
            f"shop {shop!r} talks to {same_domain(domain)}, which shop {rival!r} claimed "
            f"(schema {rival_schema!r} of this database, {when:%Y-%m-%d %H:%M} UTC): "
            "one Shopify shop under two slugs would send its refunds under two sets of "
            f'idempotency keys, so one could go out twice; use [shop] slug = "{rival}" and '
            f'[store] schema = "{rival_schema}" for this shop, or, if that schema is retired, '
            f'stop its cron and release its claim: {release} (README, "Many shops")'
        )


def _rival_claims(session: Session, shop: str, domain: str) -> list[Any]:
    """(schema, shop, claimed_at) of the other schemas' claims on ``domain``.

    The schemas are listed, then read in one query. A schema dropped in between (another
    shop retired, a test's schema removed) failed that query, and so every command of every
    shop on the server while it lasted; the read runs in a savepoint and is made again with a
    fresh list when a table it names is gone (SQLSTATE 42P01), a few times at most.
    """
    for attempt in range(1, _LIST_ATTEMPTS + 1):
        beside = list(session.execute(text(_STORES_BESIDE)).scalars())
        if not beside:
            return []
        params: dict[str, object] = {"domain": same_domain(domain), "shop": shop}
        parts = []
        for n, name in enumerate(beside):
            params[f"s{n}"] = name
            # The schema names are the catalog's, quoted; every value is bound.
            parts.append(
                f"SELECT CAST(:s{n} AS text), shop, claimed_at FROM {_name(name)}.store_owner"  # noqa: S608
                " WHERE id = 1 AND shop <> :shop AND lower(trim(domain)) = :domain"
            )
        try:
            with session.begin_nested():
                return list(session.execute(text(" UNION ALL ".join(parts)), params).all())
        except ProgrammingError as exc:
            if attempt == _LIST_ATTEMPTS or getattr(exc.orig, "sqlstate", None) != "42P01":
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _name(identifier: str) -> str:
    """``identifier`` quoted as an SQL name (inner quotes doubled)."""
    return '"' + identifier.replace('"', '""') + '"'
