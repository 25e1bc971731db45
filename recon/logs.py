"""Log output of a command: one stderr handler, secrets redacted, every line naming the shop."""

from __future__ import annotations

import logging

from recon.sources.redact import RedactingFilter

FORMAT = "%(asctime)s %(levelname)s shop=%(shop)s %(name)s: %(message)s"


class ShopFilter(logging.Filter):
    """Stamps each record with the shop the command works for (``-`` before settings load).

    An agency's cron or scheduler output of several shops often ends up in one log: a line
    without its shop (a refused credential, a retry) cannot be acted on.
    """

    def __init__(self, shop: str = "-") -> None:
        super().__init__()
        self.shop = shop

    def filter(self, record: logging.LogRecord) -> bool:
        record.shop = self.shop
        return True


def configure_logging(verbose: bool) -> None:
    """One stderr handler with the redacting and shop filters, for every command."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.addFilter(ShopFilter())
    handler.setFormatter(logging.Formatter(FORMAT))
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Alembic announces its plugins at INFO while the settings load (the database driver is
    # checked then): before the shop is known, and of no use to an operator.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def name_shop(shop: str) -> None:
    """Name ``shop`` on every line the root logger's handlers write from now on."""
    for handler in logging.getLogger().handlers:
        for existing in handler.filters:
            if isinstance(existing, ShopFilter):
                existing.shop = shop
