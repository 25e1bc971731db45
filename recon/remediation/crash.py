"""Crash points (test-only) for the executor's crash sweep.

``crashpoint(name)`` ends the process with ``os._exit(137)`` when the environment variable
``RECON_TEST_CRASH_AT`` equals ``name``. Names, in the order they occur: ``after_intent_commit``,
``after_mark_sending``, ``after_request_sent`` (the write returned, not yet parsed),
``after_response`` (parsed, not yet recorded), ``before_final_commit``.
"""

from __future__ import annotations

import os

CRASH_ENV = "RECON_TEST_CRASH_AT"
# Every crash point of the write path, in the order a write passes them (the sweeps' list).
CRASH_POINTS = (
    "after_intent_commit",
    "after_mark_sending",
    "after_request_sent",
    "after_response",
    "before_final_commit",
)


def crashpoint(name: str) -> None:
    """Die like ``kill -9`` at the named point when ``RECON_TEST_CRASH_AT`` names it."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(137)
