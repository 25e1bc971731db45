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
    """

    error_rate: float = 0.0
    latency_seconds: float = 0.0
    throttle_storm: bool = False
    drop_write_rate: float = 0.0
    seed: int = 0
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
