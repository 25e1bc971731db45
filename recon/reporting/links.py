"""Admin links recon builds from ids it parsed itself (never from free text)."""

from __future__ import annotations

import re
from urllib.parse import quote

# ASCII digits, the whole string: ``\d`` also takes other scripts' digits, and ``$`` a
# trailing newline, neither of which an id recon links to has.
_DIGITS = re.compile(r"\A[0-9]{1,30}\Z")
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def shop_handle(shop_domain: str) -> str:
    """The store handle in admin URLs: ``acme.myshopify.com`` → ``acme``.

    Raises:
        ValueError: if the domain does not give a valid handle.
    """
    handle = shop_domain.strip().lower().removeprefix("https://").split(".", 1)[0]
    if not _HANDLE.match(handle):
        raise ValueError(f"cannot derive a store handle from {shop_domain!r}")
    return handle


def shopify_order_url(shop_domain: str, order_id: str | None) -> str | None:
    """Admin link of an order (format assumed: admin.shopify.com/store/<handle>/orders/<id>)."""
    if not order_id or not _DIGITS.match(order_id):
        return None  # only numeric ids recon parsed itself make links
    return f"https://admin.shopify.com/store/{quote(shop_handle(shop_domain))}/orders/{order_id}"


def loop_return_url(rma: str | None) -> str | None:
    """Loop admin link of a return (format assumed: admin.loopreturns.com/returns/<rma>)."""
    if not rma or not _DIGITS.match(rma):
        return None
    return f"https://admin.loopreturns.com/returns/{rma}"
