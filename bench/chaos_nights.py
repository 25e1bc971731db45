"""What one night of the chaos campaign gets, and how its end is judged.

Each faulted night draws from the campaign's random stream: its ``[sandbox.faults]``, now and
then ``[remediation]`` limits tight enough to hold its writes for a later night, and the new
returns that arrive with planted discrepancies (``recon.sandbox.arrivals``). A run that fails
(exit 2, a ``ReconError``) passes only when the night's faults explain its error class:
retries outlasted under 5xx, a throttle storm, a write answer lost. Anything else, a
``StoreError`` say, is a bug the campaign names.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from recon.sandbox.arrivals import ARRIVALS
from recon.sandbox.faults import Faults

KILLED, RECON_ERROR = 137, 2
# ``chaos_child.py`` prints a failed run's error as ``recon failed: <class>: <message>``.
FAILED_LINE = "recon failed: {cls}: {message}"
_FAILED = re.compile(r"^recon failed: (\w+): (.*)$", re.MULTILINE)

# The error classes each fault explains (recon.errors). A lost write answer is an unknown
# outcome; 5xx outlast retries (either API, or both) and make writes' outcomes unknown; a
# throttle storm outlasts the throttle budget.
EXPLAINED_BY: dict[str, frozenset[str]] = {
    "error_rate": frozenset(
        {
            "RetryExhaustedError",
            "RetryBudgetExhaustedError",
            "SourcesFailedError",
            "OutcomeUnknownError",
        }
    ),
    "drop_write_rate": frozenset({"OutcomeUnknownError"}),
    "throttle_storm": frozenset(
        {"ThrottledError", "RetryExhaustedError", "RetryBudgetExhaustedError"}
    ),
}

DEFAULT_LIMITS = {
    "max_refund_amount": '{ USD = "100000", EUR = "100000", CAD = "100000", GBP = "100000" }',
    "max_run_total": '{ USD = "1000000", EUR = "1000000", CAD = "1000000", GBP = "1000000" }',
    "max_run_count": "1000",
}
# Limits a night may draw: past any of them the run holds every write (all or nothing) and a
# later night, within the defaults, sends them.
TIGHT_LIMITS: tuple[dict[str, str], ...] = (
    {"max_run_count": "1"},
    {"max_daily_count": "1"},
    {"max_run_total": '{ USD = "20", EUR = "20", CAD = "20", GBP = "20" }'},
)


def draw_faults(rng: random.Random) -> Faults:
    """One night's faults, drawn from the campaign's random stream."""
    return Faults(
        error_rate=rng.choice([0.0, 0.02, 0.05, 0.1, 0.2]),
        drop_write_rate=rng.choice([0.0, 0.1, 0.3, 0.6]),
        throttle_storm=rng.random() < 0.1,
        latency_seconds=rng.choice([0.0, 0.0, 0.005, 0.02]),
        loop_cursor_without_id=rng.random() < 0.3,
        loop_omit_refund_object=rng.random() < 0.3,
        throttled_status=rng.choice([200, 429]),
        cost_multiplier=rng.choice([1.0, 1.0, 1.5]),
        payout_refunds_positive=rng.random() < 0.2,
        seed=rng.randrange(2**31),
    )


def draw_limits(rng: random.Random) -> dict[str, str]:
    """The night's ``[remediation]`` limits that differ from the defaults: one night in four
    one tight enough to hold its writes."""
    return dict(rng.choice(TIGHT_LIMITS)) if rng.random() < 0.25 else {}


def draw_arrivals(rng: random.Random) -> list[str]:
    """The discrepancies the night's new returns bring (0-3, names of ``ARRIVALS``)."""
    return rng.choices(sorted(ARRIVALS), k=rng.choice([0, 1, 1, 2, 3]))


def describe(faults: Faults) -> dict[str, Any]:
    """The faults that are on, by name (the defaults left out)."""
    default = Faults()
    names = [n for n in vars(default) if not n.startswith("_") and n != "seed"]
    return {n: getattr(faults, n) for n in names if getattr(faults, n) != getattr(default, n)}


def limits_toml(limits: dict[str, str]) -> str:
    """The ``[remediation]`` limit lines: the defaults, with ``limits`` over them."""
    return "\n".join(f"{k} = {v}" for k, v in (DEFAULT_LIMITS | limits).items())


@dataclass(frozen=True)
class Failure:
    """A failed run's error, as the child printed it."""

    cls: str
    message: str


def read_failure(stderr: str) -> Failure | None:
    """The error a failed run printed (the last, if several); None if it printed none."""
    found = _FAILED.findall(stderr)
    return Failure(*found[-1]) if found else None


def judge_exit(code: int, stderr: str, faults: Faults, crash_at: str | None) -> str | None:
    """Why a night's exit is a violation, or None when the night explains it: 0 always; 137
    when it was killed at a crash point; 2 when one of its faults explains the error class."""
    if code == 0 or (code == KILLED and crash_at is not None):
        return None
    tail = stderr.strip()[-600:]
    if code != RECON_ERROR:
        return f"run ended with exit code {code}: {tail}"
    failure = read_failure(stderr)
    if failure is None:
        return f"exit 2 with no error named: {tail}"
    on = describe(faults)
    if any(failure.cls in EXPLAINED_BY.get(name, ()) for name in on):
        return None
    because = ", ".join(sorted(on)) or "none"
    return f"exit 2 the faults ({because}) do not explain: {failure.cls}: {failure.message}"
