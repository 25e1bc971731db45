"""Which shop a store belongs to: claimed on first open, checked on every open after.

Mixed into ``SqlStore``, which provides ``session``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import update
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.errors import ConfigError, StoreError
from recon.sources.redact import redact_database_url
from recon.store import tables as tbl


class Ownership:
    """The store's owner (shop slug and domain); mixed into ``SqlStore``."""

    clock: Clock

    def session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError  # pragma: no cover - SqlStore overrides it

    def _claim(self, shop: str, domain: str | None, url: str, schema: str | None) -> None:
        """Record ``shop`` (and ``domain``) as the store's owner, or check that they are.

        A store claimed before domains were recorded takes the first domain that opens it.

        Raises:
            ConfigError: the store belongs to another shop, or to this slug at another domain.
        """
        try:
            with self.session() as s:
                owner = s.get(tbl.StoreOwnerRow, 1)
                if owner is None:
                    row = tbl.StoreOwnerRow(
                        id=1, shop=shop, domain=domain, claimed_at=self.clock.now()
                    )
                    s.add(row)
                    return
                owner_shop, owner_domain = owner.shop, owner.domain
        except StoreError:  # another process claimed it between the read and the insert
            owner_shop, owner_domain = self._owner()
        shown = redact_database_url(url)
        where = f"schema {schema!r} of {shown}" if schema else shown
        if owner_shop != shop:
            raise ConfigError(
                f"the store at {where} belongs to shop {owner_shop!r}, not {shop!r}: give each "
                "shop its own SQLite file, or its own [store] schema on PostgreSQL"
            )
        if domain is not None and owner_domain is None:
            owner_shop, owner_domain = self._owner(adopt=domain)
        # Host names ignore letter case: a domain corrected to lower case is the same shop.
        if domain is not None and (owner_domain or "").lower() != domain.lower():
            raise ConfigError(
                f"the store at {where} belongs to shop {shop!r} at {owner_domain!r}, not "
                f"{domain!r}: a config copied for another shop kept this shop's [shop] slug; "
                "give the other shop its own slug (and store)"
            )

    def _owner(self, adopt: str | None = None) -> tuple[str, str | None]:
        """The owner's slug and domain, first recording ``adopt`` if no domain is recorded.

        The update is conditional, so of two processes adopting at once one domain lands and
        the other is checked against it.
        """
        if adopt is not None:
            with self.session() as s:
                s.execute(
                    update(tbl.StoreOwnerRow)
                    .where(tbl.StoreOwnerRow.id == 1, tbl.StoreOwnerRow.domain.is_(None))
                    .values(domain=adopt)
                )
        with self.session() as s:
            owner = s.get_one(tbl.StoreOwnerRow, 1)
            return owner.shop, owner.domain
