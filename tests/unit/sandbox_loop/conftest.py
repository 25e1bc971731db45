"""Fixtures for the Loop emulator tests: a virtual clock and a TestClient factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from loop_worlds import NOW, TestClient, make_world

from recon.clock import VirtualClock
from recon.sandbox.loop import create_loop_app
from recon.sandbox.state import SandboxState
from recon.sandbox.world_loop import LoopReturn


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NOW)


@pytest.fixture
def loop_client(clock: VirtualClock) -> Iterator[Callable[..., TestClient]]:
    """Build a TestClient for a world: ``loop_client(returns, rate_limit=False)``."""
    clients: list[TestClient] = []

    def build(returns: list[LoopReturn], *, rate_limit: bool = False) -> TestClient:
        state = SandboxState(make_world(returns), clock=clock)
        client = TestClient(create_loop_app(state, rate_limit=rate_limit))
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
