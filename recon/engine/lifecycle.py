"""Finding lifecycle across runs: new → open → resolved, or acknowledged (DESIGN decision 7);
left out when its order turns out to be a Shopify test order."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime

from recon.models import CLOSED_STATUSES, Category, Finding, FindingStatus


def merge(
    previous: list[Finding],
    current: list[Finding],
    now: datetime,
    *,
    left_out: AbstractSet[str] = frozenset(),
) -> list[Finding]:
    """Carry statuses from the previous run's findings into this run's, by ``key``.

    - first time seen → ``new`` (first_seen = last_seen = now);
    - seen before and new/open → ``open`` (first_seen kept, last_seen = now);
    - acknowledged → stays ``acknowledged`` (with who acknowledged it and why) while what it
      says is unchanged: amount at risk and currency, detail, and the ids it names (refunds,
      transactions, units); else back to ``open`` (someone must look again);
    - previously resolved and back → ``new`` with a fresh first_seen (a new occurrence: the old
      one was closed; a regression should be as loud as a first sighting);
    - previously new/open/acknowledged and absent now → ``resolved`` (resolved_at = now), or
      ``left_out`` (resolved_at = now) when its key is in ``left_out``: it names a Shopify test
      order or what hangs on it (``recon.store.snapshot.on_test_orders``), so it is absent
      because the engine no longer reconciles it, not because anything was fixed;
    - previously resolved or left out and still absent → dropped (the store keeps the history);
      back → ``new``, as above.

    Returns the current findings (input order) followed by the newly closed ones (by key).
    """
    before = {f.key: f for f in previous}
    merged = [_carry(before.get(f.key), f, now) for f in current]
    present = {f.key for f in current}
    closed = [
        p.model_copy(update={"status": _closing(key, left_out), "resolved_at": now})
        for key, p in sorted(before.items())
        if key not in present and p.status not in CLOSED_STATUSES
    ]
    return merged + closed


def _closing(key: str, left_out: AbstractSet[str]) -> FindingStatus:
    return FindingStatus.LEFT_OUT if key in left_out else FindingStatus.RESOLVED


def _carry(prev: Finding | None, cur: Finding, now: datetime) -> Finding:
    if prev is None or prev.status in CLOSED_STATUSES:
        update = {"status": FindingStatus.NEW, "first_seen": now}
    elif prev.status is FindingStatus.ACKNOWLEDGED and _same(prev, cur):
        update = {
            "status": FindingStatus.ACKNOWLEDGED,
            "first_seen": prev.first_seen or now,
            "acknowledged_by": prev.acknowledged_by,
            "acknowledged_note": prev.acknowledged_note,
            "acknowledged_at": prev.acknowledged_at,
        }
    else:
        update = {"status": FindingStatus.OPEN, "first_seen": prev.first_seen or now}
    return cur.model_copy(update={**update, "last_seen": now, "resolved_at": None})


def _same(prev: Finding, cur: Finding) -> bool:
    """Whether a finding says what it said when it was acknowledged."""
    return (
        prev.amount_at_risk == cur.amount_at_risk
        and prev.currency == cur.currency
        and prev.detail == cur.detail
        and prev.shopify_refund_ids == cur.shopify_refund_ids
        and prev.transaction_ids == cur.transaction_ids
        and prev.loop_line_item_ids == cur.loop_line_item_ids
    )


def unreported_closures(
    stored: list[Finding], muted: AbstractSet[Category], unshown: AbstractSet[str]
) -> tuple[list[Finding], frozenset[str]]:
    """The findings an earlier run closed whose report never went out (``unshown``): those
    this report lists as resolved or left out, and the keys of those it passes over, being of
    a muted category.

    A muted category's closures are not announced, and the report that passes them over
    counts as having shown them: unmuted months later, the category's old news is not
    "resolved since the last report that went out".
    """
    closed = [f for f in stored if f.key in unshown]
    listed = [f for f in closed if f.category not in muted]
    return listed, frozenset(f.key for f in closed if f.category in muted)
