"""Faults on demand for the sandbox: 5xx, latency, throttle storms, dropped write responses."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    """What the emulators should do wrong, and how often. All rates are probabilities 0..1.

    ``drop_write_rate``: the write is applied, then the connection is closed with no response (the
    client sees a transport error: an unknown outcome). ``throttle_storm``: every Shopify query is
    answered THROTTLED until turned off. ``latency_seconds`` is real sleep on the server, for
    benchmarks only.

    Loop fidelity switches (loop-returns-api.md §6 trap 4, §10.1/§10.3: behaviour that is only
    observed or unverified, so both cases are exercised): ``loop_omit_refund_object`` leaves
    ``shopify_refund_object`` out of list items (``refunds[]`` is then only on the details
    endpoint); ``loop_cursor_without_id`` issues cursors keyed on the timestamp alone, as in Loop's
    sample, so rows sharing the page-edge second are skipped by the next page.
    ``loop_zone_hours`` (§6 trap 6: the zone of ``from``/``to`` is unknown): when not 0, the list
    endpoint ignores any zone written on ``from``/``to`` and reads their digits as wall time in a
    shop zone that many hours ahead of UTC (-5: New York in winter), so a window sent in UTC lands
    that many hours off. ``loop_oldest_first`` serves list pages oldest first (§6 trap 5: Loop
    documents no order; the default is newest first). ``loop_php_nulls`` sends list items as a PHP
    service may: a zero ``handling_fee`` as ``null`` and an ``outcomes_processed_at`` with nothing
    processed as ``[]`` (PHP's empty associative array).

    Shopify fidelity switch: ``payout_refunds_positive`` sends ``summary.refundsFeeGross`` as a
    positive figure. Balance transactions of refunds are negative (shopify-admin-api.md §13); the
    summary's sign is not stated, so the tie-out is tested with either. ``shopify_short_decimals``
    prints amounts the way Shopify's own payloads do (``"348.0"``, ``"12.3"``) instead of with
    the currency's decimals (``"348.00"``). ``shopify_nodes_omit_nulls`` leaves the ids
    ``nodes(ids:)`` cannot show out of its list instead of answering ``null`` in place (§6: the
    Relay convention of nulls in place is unverified for Shopify).
    """

    error_rate: float = 0.0
    latency_seconds: float = 0.0
    throttle_storm: bool = False
    drop_write_rate: float = 0.0
    seed: int = 0
    # Scales the Shopify emulator's requested query cost: the client's static estimate is then
    # wrong as a live schema's can be, and MAX_COST_EXCEEDED can fire (shopify-admin-api.md §15).
    cost_multiplier: float = 1.0
    # HTTP status of a THROTTLED answer: live Shopify's is not settled (200 or 429, §15).
    throttled_status: int = 200
    loop_omit_refund_object: bool = False
    loop_cursor_without_id: bool = False
    loop_zone_hours: float = 0.0
    loop_oldest_first: bool = False
    loop_php_nulls: bool = False
    payout_refunds_positive: bool = False
    shopify_short_decimals: bool = False
    shopify_nodes_omit_nulls: bool = False
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def server_error(self) -> bool:
        """True when this request should fail with a 5xx before doing anything."""
        return self._roll(self.error_rate)

    def drop_write(self) -> bool:
        """True when this write's response should be dropped after the write is applied."""
        return self._roll(self.drop_write_rate)
