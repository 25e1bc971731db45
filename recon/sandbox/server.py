"""Serve both emulators over real HTTP (uvicorn in background threads); the ``sandbox`` command."""

from __future__ import annotations

import contextlib
import importlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import uvicorn
from rich.console import Console

from recon.errors import ConfigError, ReconError
from recon.sandbox.faults import Faults
from recon.sandbox.state import SandboxState

_START_TIMEOUT = 15.0  # seconds of real time for uvicorn to come up
_STOP_TIMEOUT = 10.0


class OffsetClock:
    """Real time, shifted so it starts at the world's ``now`` (implements ``recon.clock.Clock``)."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class _Dated:
    """An ASGI wrapper that dates every response by the emulators' clock (HTTP ``Date``, as the
    real APIs send it): uvicorn's own is the wall clock, while the world runs on its own (a
    ``VirtualClock`` shared with recon, or real time shifted to the world's ``now``), and recon
    compares ``Date`` with its clock to find a skewed host clock (``recon.sync``)."""

    def __init__(self, app: Any, state: SandboxState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def dated(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                date = format_datetime(self.state.now().astimezone(UTC), usegmt=True).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", date)]}
            await send(message)

        await self.app(scope, receive, dated)


class _ThreadServer(uvicorn.Server):
    """A uvicorn server for a background thread: signals belong to the main thread."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Listener:
    """One app served from a socket bound up front, so port 0 has a known real port at once."""

    def __init__(self, name: str, app: Any, host: str, port: int) -> None:
        self.name = name
        try:
            self.sock = socket.create_server((host, port), reuse_port=False)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen for {name} on {host}:{port}: {exc.strerror}"
            ) from None
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            date_header=False,  # ``_Dated`` sends the world's time instead
            timeout_graceful_shutdown=2,
        )
        self.server = _ThreadServer(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name=f"sandbox-{name}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def wait_started(self, deadline: float) -> None:
        while not self.server.started:
            if not self.thread.is_alive():
                raise ReconError(f"the {self.name} emulator stopped while starting")
            if time.monotonic() > deadline:
                raise ReconError(f"the {self.name} emulator did not start in {_START_TIMEOUT:.0f}s")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(_STOP_TIMEOUT)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(_STOP_TIMEOUT)
        self.sock.close()


class SandboxServer:
    """The Shopify and Loop emulators on localhost ports, sharing one ``SandboxState``.

    Use as a context manager, or call ``start()`` and ``stop()``. Port 0 picks a free port; the
    real one is in ``shopify_base_url`` / ``loop_base_url`` as soon as ``start()`` returns.
    """

    def __init__(
        self,
        state: SandboxState,
        *,
        host: str = "127.0.0.1",
        shopify_port: int = 0,
        loop_port: int = 0,
        loop_rate_limit: bool = False,
        serve_shopify: bool = True,
    ) -> None:
        self.state = state
        self.host = host
        self._ports = {"shopify": shopify_port, "loop": loop_port}
        self._loop_rate_limit = loop_rate_limit
        self._serve_shopify = serve_shopify
        self._listeners: dict[str, _Listener] = {}

    def _apps(self) -> dict[str, Any]:
        from recon.sandbox.loop import create_loop_app

        apps: dict[str, Any] = {
            "loop": create_loop_app(self.state, rate_limit=self._loop_rate_limit)
        }
        if self._serve_shopify:
            # Imported lazily: the Shopify emulator is a sibling package with its own schema load.
            shopify = importlib.import_module("recon.sandbox.shopify")
            apps["shopify"] = shopify.create_shopify_app(self.state)
        return {name: _Dated(app, self.state) for name, app in apps.items()}

    def start(self) -> SandboxServer:
        """Bind, serve in background threads, and return once both accept connections.

        Raises:
            ConfigError: a port cannot be bound (in use, or not allowed).
            ReconError: an emulator failed to start.
        """
        if self._listeners:
            return self
        try:
            for name, app in self._apps().items():
                self._listeners[name] = _Listener(name, app, self.host, self._ports[name])
            for listener in self._listeners.values():
                listener.thread.start()
            deadline = time.monotonic() + _START_TIMEOUT
            for listener in self._listeners.values():
                listener.wait_started(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers and release their ports (idempotent)."""
        listeners, self._listeners = self._listeners, {}
        for listener in listeners.values():
            if listener.thread.is_alive():
                listener.stop()
            else:
                listener.sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _url(self, name: str) -> str:
        listener = self._listeners.get(name)
        if listener is None:
            raise ReconError(f"the {name} emulator is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{listener.port}"

    @property
    def shopify_base_url(self) -> str:
        """``http://HOST:PORT``; the client appends ``/admin/api/{version}/graphql.json``."""
        return self._url("shopify")

    @property
    def loop_base_url(self) -> str:
        """``http://HOST:PORT/api``; the client appends ``/{version}/warehouse/return/list``."""
        return self._url("loop") + "/api"

    @property
    def shopify_token(self) -> str:
        return self.state.shopify_token

    @property
    def loop_api_key(self) -> str:
        return self.state.loop_api_key


def _load_state(
    world_path: Path | None, seed: int, returns: int, faults: Faults | None = None
) -> SandboxState:
    if world_path is not None:
        from recon.sandbox.world_io import load_world

        world = load_world(world_path)
    else:
        generator = importlib.import_module("recon.sandbox.generator")
        world, _truth = generator.generate_world(seed=seed, returns=returns)
    return SandboxState(world, clock=OffsetClock(world.now), faults=faults)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` instead of killing the process mid-response."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve_until_interrupted(
    *,
    world_path: Path | None,
    seed: int,
    returns: int,
    host: str,
    shopify_port: int,
    loop_port: int,
    console: Console,
    faults: Faults | None = None,
) -> None:
    """Serve a world (loaded, or generated from ``seed``) until Ctrl-C or SIGTERM, then stop.

    The sandbox clock runs in real time from the world's ``now``. The Loop rate limit is on, as
    it is on the real API.

    Raises:
        WorldError: the world file is invalid.
        ConfigError: a port cannot be bound.
    """
    state = _load_state(world_path, seed, returns, faults)
    stop = threading.Event()
    server = SandboxServer(
        state, host=host, shopify_port=shopify_port, loop_port=loop_port, loop_rate_limit=True
    )
    with _stop_on_signals(stop), server:
        source = str(world_path) if world_path else f"generated (seed {seed}, {returns} returns)"
        lines = [
            f"world:        {source}, now {state.now().isoformat()}",
            f"shopify:      {server.shopify_base_url}  (token {server.shopify_token})",
            f"loop:         {server.loop_base_url}  (X-Authorization {server.loop_api_key})",
            "press Ctrl-C to stop",
        ]
        for line in lines:
            console.print(line, soft_wrap=True, highlight=False, markup=False)
        console.file.flush()  # a pipe is block-buffered; whoever reads the URLs needs them now
        while not stop.wait(0.2):
            pass
    console.print("sandbox stopped", highlight=False)
