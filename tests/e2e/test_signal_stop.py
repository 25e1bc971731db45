"""SIGTERM or Ctrl-C stops a nightly run (or a backfill) at its next safe point, and the next
run (the same backfill command) resumes.

recon runs ``run_recon.py run`` (or ``backfill``) in a child process, as cron or systemd would
start it, against a sandbox shop served here (it outlives the child). The sandbox holds one
request of the child's until the test has sent its signal, so the signal lands at a known step:
in the middle of the sync, while a refund is being written, or in a backfill's second window.
What an operator checks afterwards: the process ended soon, non-zero, saying what was done and
that the next run resumes; the run lock is free; the write in flight was finished (the ledger
holds no intent half-sent) and no other was started; the backfill kept its committed window and
nothing of the one it was reading; and the next run completes the night (the backfill's rerun
reads only the windows left).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, str(_ROOT))

from shop_config import real_shop_config  # noqa: E402

from recon.backfill import loop_window  # noqa: E402
from recon.lock import RunLockRow  # noqa: E402
from recon.remediation.actions import ActionState  # noqa: E402
from recon.remediation.ledger import list_actions  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.state import SandboxState  # noqa: E402
from recon.sandbox.world import Plan  # noqa: E402
from recon.store.sql import SqlStore  # noqa: E402
from recon.sync import all_streams  # noqa: E402
from tests.integration.sandbox_helpers import _WrappingServer  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHOP = "signal-stop"
EXIT_TIMEOUT = 30.0  # seconds from the signal to the child's exit, a held request included


class RealClock:
    """Real time (the sandbox's clock; the child's is the system clock)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass
class Hold:
    """An ASGI wrapper that holds the first request ``matches`` accepts until ``release``.

    ``reached`` is set when that request arrives; ``requests`` counts every request, and
    ``after_release`` those that arrived once the held one was let go; ``queries`` holds each
    request's query string.
    """

    matches: Any
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    requests: int = 0
    after_release: int = 0
    held: bool = False
    queries: list[bytes] = field(default_factory=list)

    def wrap(self, app: Any) -> Any:
        async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            self.requests += 1
            self.queries.append(scope.get("query_string", b""))
            if self.release.is_set():
                self.after_release += 1
            if not self.held and self.matches(scope, body):
                self.held = True
                self.reached.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.02)
            sent = False

            async def replay() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    await asyncio.sleep(3600)  # as a server would: no more body
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            await app(scope, replay, send)

        return wrapped


@dataclass
class Shop:
    state: SandboxState
    server: Any
    config: Path
    tmp: Path
    loop: Hold
    shopify: Hold

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.tmp / 'recon.db'}"


def _config(tmp: Path, server: Any) -> Path:
    return real_shop_config(tmp, server, SHOP)


def _never(scope: dict[str, Any], body: bytes) -> bool:
    return False


def _shop(tmp: Path, loop_hold: Any, shopify_hold: Any) -> Iterator[Shop]:
    clock = RealClock()
    world, _truth = generate_world(seed=4, returns=200, now=clock.now().replace(microsecond=0))
    world.shop.plan = Plan.PLUS  # a big bucket: throttling is not what this is about
    world.shop.bucket_size = 20_000
    state = SandboxState(world, clock=clock)
    loop, shopify = Hold(loop_hold), Hold(shopify_hold)
    server = _WrappingServer(state, {"loop": loop.wrap, "shopify": shopify.wrap})
    with server:
        yield Shop(state, server, _config(tmp, server), tmp, loop, shopify)


def _third_loop_request(scope: dict[str, Any], body: bytes) -> bool:
    _third_loop_request.seen = getattr(_third_loop_request, "seen", 0) + 1  # type: ignore[attr-defined]
    return _third_loop_request.seen == 3  # type: ignore[attr-defined]


def _refund_write(scope: dict[str, Any], body: bytes) -> bool:
    return b"mutation RefundCreate" in body


@pytest.fixture
def shop_held_in_sync(tmp_path: Path) -> Iterator[Shop]:
    """Loop's third request (the sync has begun, both APIs are being read) is held."""
    _third_loop_request.seen = 0  # type: ignore[attr-defined]
    yield from _shop(tmp_path, _third_loop_request, _never)


@pytest.fixture
def shop_held_in_a_refund(tmp_path: Path) -> Iterator[Shop]:
    """The first refund recon writes is held."""
    yield from _shop(tmp_path, _never, _refund_write)


def _start(shop: Shop, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RECON_")}
    env["RECON_SHOPIFY_TOKEN"] = shop.state.shopify_token
    env["RECON_LOOP_API_KEY"] = shop.state.loop_api_key
    return subprocess.Popen(  # noqa: S603 - our own entry point, with our own interpreter
        [sys.executable, str(_ROOT / "run_recon.py"), *args, "--config", str(shop.config)],
        cwd=_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop_at(shop: Shop, hold: Hold, child: subprocess.Popen[str], *signals: int) -> str:
    """Wait for the held request, send ``signals``, let the request go; the child's output."""
    assert hold.reached.wait(90), "the child never reached the held request"
    for sent in signals:
        child.send_signal(sent)
        time.sleep(0.3)
    hold.release.set()
    try:
        out, err = child.communicate(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        pytest.fail(f"the child ran on after the signal:\n{out[-2000:]}\n{err[-2000:]}")
    return out + err


def _lock_is_free(shop: Shop) -> bool:
    store = SqlStore(shop.store_url, clock=RealClock())
    try:
        with sessionmaker(store.engine)() as session:
            row = session.scalar(select(RunLockRow).where(RunLockRow.shop == SHOP))
        return row is None or row.expires_at.replace(tzinfo=UTC) <= datetime.now(UTC)
    finally:
        store.close()


def _watermarks(shop: Shop) -> dict[str, datetime | None]:
    store = SqlStore(shop.store_url, clock=RealClock())
    try:
        return {stream: store.get_watermark(stream) for stream in all_streams()}
    finally:
        store.close()


def _ledger_states(shop: Shop) -> list[str]:
    store = SqlStore(shop.store_url, clock=RealClock())
    try:
        with sessionmaker(store.engine)() as session:
            return [str(a.state) for a in list_actions(session, SHOP)]
    finally:
        store.close()


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_sync_stops_the_run_and_the_next_run_completes(
    shop_held_in_sync: Shop, sent: int
) -> None:
    shop = shop_held_in_sync
    child = _start(shop, "run")
    output = _stop_at(shop, shop.loop, child, sent)
    name = signal.Signals(sent).name
    assert child.returncode == 128 + sent, output
    assert name in output and "during the sync" in output, output
    assert "next run" in output, output
    # Both readers stopped: at most one request of each API that was already on its way.
    assert shop.loop.after_release + shop.shopify.after_release <= 2, output
    assert _lock_is_free(shop)
    assert set(_watermarks(shop).values()) == {None}  # nothing of the sync was kept
    again = _start(shop, "run")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    assert None not in set(_watermarks(shop).values())


def test_sigterm_during_a_refund_finishes_that_write_and_starts_no_other(
    shop_held_in_a_refund: Shop,
) -> None:
    shop = shop_held_in_a_refund
    child = _start(shop, "run")
    output = _stop_at(shop, shop.shopify, child, signal.SIGTERM)
    assert child.returncode == 128 + signal.SIGTERM, output
    assert "SIGTERM" in output and "during remediation" in output, output
    assert "1 write" in output and "next run" in output, output
    states = _ledger_states(shop)
    assert states.count(ActionState.DONE) == 1, states  # the write in flight, finished
    assert ActionState.SENDING not in states and ActionState.UNKNOWN not in states, states
    assert _lock_is_free(shop)
    again = _start(shop, "run")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    finished = _ledger_states(shop)
    assert ActionState.PLANNED not in finished and ActionState.SENDING not in finished, finished


def test_a_second_signal_exits_at_once(shop_held_in_sync: Shop) -> None:
    shop = shop_held_in_sync
    child = _start(shop, "run")
    _second_signal_exits_at_once(shop, child)


def test_ctrl_c_stops_a_scheduled_run_in_progress_then_the_schedule(
    shop_held_in_sync: Shop,
) -> None:
    """``schedule --now``: the run at start is held in its sync; Ctrl-C stops that run at its
    next safe point and the scheduler with it, non-zero."""
    shop = shop_held_in_sync
    child = _start(shop, "schedule", "--cron", "0 2 1 1 *", "--now")
    output = _stop_at(shop, shop.loop, child, signal.SIGINT)
    assert child.returncode == 130, output
    assert "SIGINT" in output and "during the sync" in output and "next run" in output, output
    assert _lock_is_free(shop)
    assert set(_watermarks(shop).values()) == {None}


def test_a_signal_stops_an_idle_schedule_at_once(shop_held_in_sync: Shop) -> None:
    shop = shop_held_in_sync
    child = _start(shop, "schedule", "--cron", "0 2 1 1 *")  # not before New Year
    assert child.stdout is not None
    assert "scheduled:" in child.stdout.readline()
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=10)
    assert child.returncode == 0, out + err
    assert "no run was in progress" in out, out + err
    assert shop.loop.requests == 0


WINDOW_DAYS = 10


def _backfill_windows() -> list[tuple[datetime, datetime]]:
    """The three windows of the last 30 days (to today's midnight, UTC) a backfill reads."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=3 * WINDOW_DAYS)
    step = timedelta(days=WINDOW_DAYS)
    return [(start + step * i, start + step * (i + 1)) for i in range(3)]


def _loop_from(query: bytes) -> datetime:
    (value,) = parse_qs(query.decode())["from"]
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _second_window_read(scope: dict[str, Any], body: bytes) -> bool:
    """Loop's first request of the backfill's second window (the first one is committed); its
    ``from`` is a little before the window's start (``recon.backfill.loop_window``)."""
    windows = _backfill_windows()
    return _loop_from(scope.get("query_string", b"")) == loop_window(windows[1], windows)[0]


@pytest.fixture
def shop_held_in_a_backfill_window(tmp_path: Path) -> Iterator[Shop]:
    """A backfill of three windows whose second window's first Loop request is held."""
    for shop in _shop(tmp_path, _second_window_read, _never):
        text = shop.config.read_text(encoding="utf-8")
        text = text.replace("[sync]\n", f"[sync]\nbackfill_window_days = {WINDOW_DAYS}\n", 1)
        # The backfill begins where the first nightly would read from, so it sets the
        # watermarks (``recon.backfill._advance_watermarks``).
        text = text.replace("initial_days = 150\n", f"initial_days = {3 * WINDOW_DAYS}\n", 1)
        shop.config.write_text(text, encoding="utf-8")
        yield shop


def _completed_windows(
    shop: Shop, start: datetime, end: datetime
) -> set[tuple[datetime, datetime]]:
    store = SqlStore(shop.store_url, clock=RealClock())
    try:
        return store.completed_windows(start, end)
    finally:
        store.close()


def test_sigterm_stops_a_backfill_mid_window_and_the_rerun_resumes_after_the_committed_one(
    shop_held_in_a_backfill_window: Shop,
) -> None:
    shop = shop_held_in_a_backfill_window
    windows = _backfill_windows()
    start, end = windows[0][0], windows[-1][1]
    command = ("backfill", "--from", f"{start:%Y-%m-%d}", "--to", f"{end:%Y-%m-%d}")
    child = _start(shop, *command)
    output = _stop_at(shop, shop.loop, child, signal.SIGTERM)
    assert child.returncode == 128 + signal.SIGTERM, output
    assert "SIGTERM: the backfill stopped during window 2 of 3" in output, output
    assert "nothing of that window was kept; 1 of 3 window(s) committed" in output, output
    assert " ".join(command) in output, output  # the command that resumes
    assert _lock_is_free(shop)
    assert _completed_windows(shop, start, end) == {windows[0]}
    assert set(_watermarks(shop).values()) == {None}
    asked_before = len(shop.loop.queries)

    again = _start(shop, *command)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    assert "backfill done" in out, out + err
    rerun = [_loop_from(q) for q in shop.loop.queries[asked_before:]]
    # The committed window is not read again (Loop's side of the second starts a little early).
    assert rerun and min(rerun) >= loop_window(windows[1], windows)[0], rerun
    assert _completed_windows(shop, start, end) == set(windows)
    assert set(_watermarks(shop).values()) == {end}


def test_a_second_signal_stops_a_backfill_at_once(shop_held_in_a_backfill_window: Shop) -> None:
    shop = shop_held_in_a_backfill_window
    windows = _backfill_windows()
    child = _start(
        shop,
        "backfill",
        "--from",
        f"{windows[0][0]:%Y-%m-%d}",
        "--to",
        f"{windows[-1][1]:%Y-%m-%d}",
    )
    _second_signal_exits_at_once(shop, child)


def _reading(stream: Any, lines: list[str]) -> threading.Thread:
    """A thread that appends each line ``stream`` gives to ``lines`` until it closes."""
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")), daemon=True)
    reader.start()
    return reader


def _second_signal_exits_at_once(shop: Shop, child: subprocess.Popen[str]) -> None:
    """Two SIGTERMs while ``child`` waits on the held request: it exits at once, saying so.

    The second is sent once the child has said it got the first: two sent before it runs its
    handler are one pending signal (POSIX does not queue them), which a loaded machine made
    happen with a fixed 0.3 s between them.
    """
    assert shop.loop.reached.wait(90), "the child never reached the held request"
    out_lines: list[str] = []
    err_lines: list[str] = []
    readers = [_reading(child.stdout, out_lines), _reading(child.stderr, err_lines)]
    child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 60
    while not any("stopping at the next safe point" in line for line in err_lines):
        assert time.monotonic() < deadline, "the child never said it got the first SIGTERM"
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=10)  # the held request is still held
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    finally:
        shop.loop.release.set()
        for reader, stream in zip(readers, (child.stdout, child.stderr), strict=True):
            reader.join(10)
            if stream is not None:
                stream.close()  # as ``communicate`` does: an open pipe warns in a later test
    out, err = "".join(out_lines), "".join(err_lines)
    assert child.returncode == 128 + signal.SIGTERM, out + err
    assert "at once" in out + err, out + err
