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
# The reason of a restock Shopify refused as stale (``CHANGE_FROM_QUANTITY_STALE``: stock moved
# between recon's read and its write, shopify-admin-api.md §11, §17): the compare-and-swap failed,
# nothing was written. Unless an earlier send's answer was lost, the next run plans its units
# again under the next key, compared from a fresh read (``facts.stale_refusals``,
# ``succession.past_held``); only rows ended with this reason count, so a refusal recorded
# before recon re-planned them (a human may have restocked by hand) stays in review.
REFUSED_STALE = "refused as stale: stock moved since recon read it (changeFromQuantity)"
# The report rows' status of such a refusal the next run plans again (``runner._report_rows``):
# not waiting for a person, who would restock by hand what recon restocks too.
PLANNED_AGAIN_STATUS = "stale, planned again"
# How many stale refusals in a row of one restock's units are planned again: a shop whose stock
# moves between every read and write would otherwise get a new intent every night for good.
STALE_REPLANS = 3
# ``resend_reason``'s figure the earlier sends carried: "changeFromQuantity 7 (was 5)".
_WAS = re.compile(r"changeFromQuantity \S+ \(was (-?\d+)\)")


def sends_write(before: str | None, after: str, reason: str | None) -> bool:
    """Whether a trail event (``before`` → ``after``, its ``reason``) sent the write: a move to
    ``sending``, or a resend from it (sending → sending with a resend's reason). A note that
    keeps the state (a failed re-read on ``sending`` or ``unknown``) sent nothing."""
    if after != "sending":
        return False
    why = reason or ""
    return before != "sending" or why == RESENDING or why.startswith(RESENDING_REREAD)


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
