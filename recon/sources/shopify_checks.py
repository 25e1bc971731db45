"""What the Shopify client checks in every answer: top-level errors, granted scopes, served version.

Error handling follows shopify-admin-api.md §16-17: ACCESS_DENIED is a missing scope (fail the run
with the scope's name), MAX_COST_EXCEEDED is a page too dear (the caller shrinks it and retries),
anything else top-level is a failed page. The 60-day rule (§1, §5) is why the scopes are read at
start-up: without ``read_all_orders`` older orders are silently absent, not reported as errors.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from recon.errors import AuthError, FatalHTTPError, RequestRejectedError
from recon.sources.http import request_id
from recon.sources.pacing import requested_cost

logger = logging.getLogger(__name__)

_AUTH_CODES = frozenset({"ACCESS_DENIED", "UNAUTHORIZED", "FORBIDDEN"})
# Codes that are no rejection of the document: an internal error may have run part of it, and
# THROTTLED is retried by the sender (it never gets here; a write so answered must be resent).
_MAY_HAVE_RUN = frozenset({"INTERNAL_SERVER_ERROR", "THROTTLED"})
ALL_ORDERS_SCOPE = "read_all_orders"
PAYOUTS_SCOPE = "read_shopify_payments_payouts"
# Root fields recon reads and the scope each needs (shopify-admin-api.md §3).
FIELD_SCOPES: Mapping[str, str] = {
    "shopifyPaymentsAccount": PAYOUTS_SCOPE,
    "giftCards": "read_gift_cards",
    "orders": "read_orders",
    "order": "read_orders",
    "inventoryItem": "read_inventory",
    "location": "read_inventory",
}
# What goes missing without a scope, for the start-up warning.
SCOPE_CONSEQUENCES: Mapping[str, str] = {
    ALL_ORDERS_SCOPE: (
        "orders created more than 60 days ago are invisible to recon (absent from searches, "
        "null when fetched by id): backfills and month-ends over older orders will be "
        "incomplete and those orders are quarantined as not visible"
    ),
    PAYOUTS_SCOPE: "payouts and balance transactions cannot be read: payout reconciliation fails",
}


class CostExceededError(FatalHTTPError):
    """MAX_COST_EXCEEDED: the query asked for more than 1,000 points (§15).

    ``requested`` is Shopify's own figure for the refused query, when it gave one.
    """

    def __init__(self, message: str, requested: float | None) -> None:
        super().__init__(message)
        self.requested = requested


def errors_of(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Top-level ``errors`` as a list of objects (strings wrapped as messages)."""
    errors = body.get("errors")
    if not isinstance(errors, list):
        return [] if errors is None else [{"message": str(errors)}]
    return [error if isinstance(error, Mapping) else {"message": str(error)} for error in errors]


def code_of(error: Mapping[str, Any]) -> str:
    """``extensions.code`` of one error, or ``""``."""
    extensions = error.get("extensions")
    return str(extensions.get("code", "")) if isinstance(extensions, Mapping) else ""


def raise_for_errors(body: Mapping[str, Any], response: httpx.Response) -> None:
    """Raise for a body with top-level errors; return quietly when there are none.

    Raises:
        AuthError: ACCESS_DENIED (and kin), naming the missing scope when it can be told.
        CostExceededError: MAX_COST_EXCEEDED, carrying Shopify's requested cost.
        RequestRejectedError: errors and no ``data``: the document was rejected unrun.
        FatalHTTPError: any other top-level error; partial data is a failed page too (§16).
    """
    errors = errors_of(body)
    if not errors:
        return
    codes = {code_of(error) for error in errors}
    messages = "; ".join(str(error.get("message", ""))[:200] for error in errors[:3])
    where = f"shopify (X-Request-Id {request_id(response)})"
    denied = [error for error in errors if code_of(error) in _AUTH_CODES]
    if denied:
        raise AuthError(f"{where}: access denied: {_denied_detail(denied)}; {messages}")
    if "MAX_COST_EXCEEDED" in codes:
        requested = requested_cost(body.get("extensions"))
        raise CostExceededError(
            f"{where}: query cost over the 1,000-point cap: {messages}",
            requested if requested is not None else _error_cost(errors),
        )
    said = f"{where}: GraphQL errors {sorted(codes - {''})}: {messages}"
    # How refundCreate reports a key conflict is unverified (§10): a top-level one means its
    # first request did or may run, so it is no rejection of the document either.
    idempotency = "IDEMPOTEN" in f"{' '.join(map(str, codes))} {messages}".upper()
    if body.get("data") is None and not codes & _MAY_HAVE_RUN and not idempotency:
        # The whole document was rejected (§16: "no data"): nothing ran, not even a mutation.
        # An internal error may have run part of it, and partial data is a failed page.
        raise RequestRejectedError(said)
    raise FatalHTTPError(said)


def _denied_detail(errors: Iterable[Mapping[str, Any]]) -> str:
    """Which scope is missing, from each denied error's path (or the server's requiredAccess)."""
    details: list[str] = []
    for error in errors:
        path = error.get("path")
        field = str(path[0]) if isinstance(path, list) and path else None
        scope = FIELD_SCOPES.get(field or "")
        extensions = error.get("extensions")
        required = extensions.get("requiredAccess") if isinstance(extensions, Mapping) else None
        if scope is not None:
            details.append(f"{field} needs the {scope} scope; grant it to the app and reinstall")
        elif required:
            details.append(f"{field or 'a field'} needs {str(required)[:120]}")
    return "; ".join(dict.fromkeys(details)) or "the app lacks a scope"


def _error_cost(errors: Iterable[Mapping[str, Any]]) -> float | None:
    """``extensions.cost`` of a MAX_COST_EXCEEDED error (Shopify puts the figure there too)."""
    for error in errors:
        extensions = error.get("extensions")
        value = extensions.get("cost") if isinstance(extensions, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def granted_scopes(data: Mapping[str, Any]) -> frozenset[str] | None:
    """Handles from ``currentAppInstallation { accessScopes { handle } }``; None if unreadable."""
    installation = data.get("currentAppInstallation")
    scopes = installation.get("accessScopes") if isinstance(installation, Mapping) else None
    if not isinstance(scopes, list):
        return None
    return frozenset(
        str(scope["handle"])
        for scope in scopes
        if isinstance(scope, Mapping) and isinstance(scope.get("handle"), str)
    )


def warn_missing_scopes(granted: frozenset[str]) -> list[str]:
    """Log one warning per missing scope that silently hides data; returns the missing ones."""
    missing = [scope for scope in SCOPE_CONSEQUENCES if scope not in granted]
    for scope in missing:
        logger.warning("shopify: the app lacks the %s scope: %s", scope, SCOPE_CONSEQUENCES[scope])
    return missing


class VersionWatch:
    """Warns once when Shopify serves another API version than the pinned one (§2 falls forward)."""

    def __init__(self, requested: str) -> None:
        self.requested = requested
        self.served: str | None = None
        self._lock = threading.Lock()

    def check(self, response: httpx.Response) -> None:
        """Note the ``X-Shopify-API-Version`` header; the first mismatch is logged as a warning."""
        served = response.headers.get("X-Shopify-API-Version")
        if not served or served == self.requested:
            return
        with self._lock:
            if self.served is not None:
                return
            self.served = served
        logger.warning(
            "shopify: asked for API version %s but was served %s (the pinned version is no longer "
            "available; Shopify fell forward): check the changelog and update shop.api_version",
            self.requested,
            served,
        )
