"""The words the ledger's trail records for resends and for sends Shopify ran nothing of: the
daily limits, the ledger's facts and the reports read them back from ``action_events``."""

from __future__ import annotations

import re
from typing import Any

# The reason of a resend (sending → sending); a note on an in-flight intent (its re-read failed,
# left for the next run) is sending → sending too, but sends nothing.
RESENDING = "resending with the same key and variables"
# The reason of an in-flight intent whose send Shopify ran nothing of (a throttle outlasted): it
# stays for the next run's re-read and resend, and moved nothing of the day (``daily``).
NOT_RUN = "not run by Shopify"
# What the reports call such an intent (its ledger state is still ``unknown``): not done, and
# sent again by the next run; unlike a write with no answer, it cannot have gone through.
NOT_RUN_STATUS = "not run"
# The reason of the resend of a restock none of whose sends Shopify ran (each THROTTLED): the
# same key, its compare quantity read again (``WritePreparer.restock_resend``). It leaves
# ``unknown``, never ``sending``, so ``daily`` counts it as any send from another state.
RESENDING_REREAD = "resending with the same key, stock read again"
# ``resend_reason``'s figure the earlier sends carried: "changeFromQuantity 7 (was 5)".
_WAS = re.compile(r"changeFromQuantity \S+ \(was (-?\d+)\)")


def not_run(state: object, reason: object) -> bool:
    """Whether an intent in flight (``sending``/``unknown``) is there because Shopify ran none
    of its send (``NOT_RUN``: THROTTLED or 429, "the request did not execute",
    shopify-admin-api.md §17), as a report row's ``status`` and ``reason`` say."""
    return state in ("sending", "unknown") and str(reason or "").startswith(NOT_RUN)


def resend_reason(sent: dict[str, Any] | None, resent: dict[str, Any]) -> str:
    """The trail's reason for a resend: RESENDING, or what changed in a restock's figure."""
    if sent is None or sent == resent:
        return RESENDING
    before, now = (v["input"]["changes"][0]["changeFromQuantity"] for v in (sent, resent))
    return (
        f"{RESENDING_REREAD}: changeFromQuantity {now} (was {before}); Shopify ran none of "
        "the earlier sends (throttled)"
    )


def reread_before(reason: str) -> int | None:
    """The ``changeFromQuantity`` the sends before a resend with the stock read again carried
    (the ``was`` of ``resend_reason``), or None for any other reason."""
    found = _WAS.search(reason) if reason.startswith(RESENDING_REREAD) else None
    return None if found is None else int(found.group(1))
