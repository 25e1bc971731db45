"""The words the ledger's trail records for resends and for sends Shopify ran nothing of: the
daily limits, the ledger's facts and the reports read them back from ``action_events``."""

from __future__ import annotations

from typing import Any

# The reason of a resend (sending → sending); a note on an in-flight intent (its re-read failed,
# left for the next run) is sending → sending too, but sends nothing.
RESENDING = "resending with the same key and variables"
# The reason of an in-flight intent whose send Shopify ran nothing of (a throttle outlasted): it
# stays for the next run's re-read and resend, and moved nothing of the day (``daily``).
NOT_RUN = "not run by Shopify"
# The reason of the resend of a restock none of whose sends Shopify ran (each THROTTLED): the
# same key, its compare quantity read again (``WritePreparer.restock_resend``). It leaves
# ``unknown``, never ``sending``, so ``daily`` counts it as any send from another state.
RESENDING_REREAD = "resending with the same key, stock read again"


def resend_reason(sent: dict[str, Any] | None, resent: dict[str, Any]) -> str:
    """The trail's reason for a resend: RESENDING, or what changed in a restock's figure."""
    if sent is None or sent == resent:
        return RESENDING
    before, now = (v["input"]["changes"][0]["changeFromQuantity"] for v in (sent, resent))
    return (
        f"{RESENDING_REREAD}: changeFromQuantity {now} (was {before}); Shopify ran none of "
        "the earlier sends (throttled)"
    )
