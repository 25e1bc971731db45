"""The host clock against the APIs', over real HTTP: the emulators date their answers by the
world's clock (as Shopify and Loop date theirs by their own), and a host clock found ahead of
an API's by more than a quarter of the look-back sets that API's watermarks by the API's clock.

Dataset: a generated world (seed 31, 40 returns) served on a ``VirtualClock`` that recon shares.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.clock import Clock, VirtualClock  # noqa: E402
from recon.ports import LOOP_STATES  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sync import all_streams, loop_stream, run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)

SETTINGS = sync_settings_for_tests(initial_days=400, lookback_hours=4)
BEHIND = timedelta(hours=3)


class SlowDate:
    """An ASGI wrapper that dates every answer ``BEHIND`` the emulator's clock (a host clock
    3 hours ahead of Shopify's, as seen from recon)."""

    def __init__(self, app: Any, clock: Clock) -> None:
        self.app, self.clock = app, clock

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def redate(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                date = format_datetime(self.clock.now() - BEHIND, usegmt=True).encode()
                headers = [(k, v) for k, v in message["headers"] if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", date)]}
            await send(message)

        await self.app(scope, receive, redate if scope["type"] == "http" else send)


def _world() -> Any:
    world, _truth = generate_world(seed=31, returns=40, future_days=0)
    return normalise_generated_world(world)


@pytest.mark.slow
def test_the_emulators_date_their_answers_by_the_worlds_clock(tmp_path: Path) -> None:
    """A clean night: both APIs' Date headers agree with recon's clock (to the second, and the
    time in flight), so every watermark is the night's time."""
    with sandbox_rig(_world(), tmp_path) as rig:
        until = rig.clock.now()
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        for client in (rig.loop, rig.shopify):
            reading = client.server_clock.reading()
            assert reading is not None
            assert timedelta(0) <= reading.host_ahead <= timedelta(seconds=2), reading
        assert {rig.store.get_watermark(s) for s in all_streams()} == {until}


@pytest.mark.slow
def test_a_host_clock_ahead_of_shopifys_sets_shopifys_watermarks_by_shopifys_clock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder: dict[str, Any] = {}

    def wrap(app: Any) -> Any:
        holder["app"] = SlowDate(app, holder["clock"])
        return holder["app"]

    world = _world()
    holder["clock"] = clock = VirtualClock(world.now)
    with sandbox_rig(world, tmp_path, clock=clock, shopify_wrapper=wrap) as rig:
        until = rig.clock.now()
        with caplog.at_level(logging.WARNING, logger="recon"):
            run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        shopify_marks = {rig.store.get_watermark(s) for s in all_streams()} - {
            rig.store.get_watermark(loop_stream(state)) for state in LOOP_STATES
        }
        loop_marks = {rig.store.get_watermark(loop_stream(state)) for state in LOOP_STATES}
    (mark,) = shopify_marks
    assert until - BEHIND - timedelta(seconds=1) <= mark <= until - BEHIND  # Date: to the second
    assert loop_marks == {until}
    (warning,) = [r.getMessage() for r in caplog.records if "host clock" in r.getMessage()]
    assert "ahead of Shopify's" in warning and "NTP" in warning
