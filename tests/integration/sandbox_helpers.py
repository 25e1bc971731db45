"""A sandbox rig for integration tests: both emulators over real HTTP, the real clients, a mirror.

``sandbox_rig(world, tmp_path)`` starts a ``SandboxServer`` on ``world`` with one clock shared by
the emulators and the clients (a ``VirtualClock`` by default, so pacing never sleeps for real),
builds ``LoopClient`` + ``ShopifyClient`` on one ``httpx.Client`` whose requests are logged per API,
and opens a ``SqlStore`` on a SQLite file under ``tmp_path``. ``mirror_records`` reads every
mirrored table back as ``{table: {id: record JSON}}`` so two mirrors can be compared with ``==``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from recon.backfill import backfill
from recon.clock import Clock, VirtualClock
from recon.config import SyncSettings
from recon.sandbox.faults import Faults
from recon.sandbox.server import SandboxServer
from recon.sandbox.state import SandboxState
from recon.sandbox.world import Order, Refund, RefundLine, RestockType, World
from recon.sources.http import RetryPolicy
from recon.sources.loop import LoopClient
from recon.sources.retry_budget import RetryBudget
from recon.sources.shopify import ShopifyClient
from recon.store import tables as tbl
from recon.store.sql import SqlStore

SHOPIFY_VERSION = "2026-04"
LOOP_VERSION = "2026-07"
# Every table that mirrors an API record (each has ``id`` and ``record``).
MIRROR_TABLES = (
    tbl.LoopReturnRow,
    tbl.OrderRow,
    tbl.RefundRow,
    tbl.PayoutRow,
    tbl.BalanceTransactionRow,
    tbl.GiftCardRow,
)

AppWrapper = Callable[[Any], Any]


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the HTTP layer sent it."""

    api: str  # "loop" or "shopify"
    method: str
    path: str
    params: dict[str, str]
    body: bytes


@dataclass
class RequestLog:
    """An httpx ``request`` event hook that records every request, by API (thread-safe)."""

    loop_port: int | None = None
    requests: list[LoggedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, request: httpx.Request) -> None:
        api = "loop" if request.url.port == self.loop_port else "shopify"
        entry = LoggedRequest(
            api=api,
            method=request.method,
            path=request.url.path,
            params=dict(request.url.params),
            body=request.content,
        )
        with self._lock:
            self.requests.append(entry)

    def count(self, api: str | None = None) -> int:
        """Requests sent so far (to one API, or to both)."""
        with self._lock:
            return sum(1 for r in self.requests if api is None or r.api == api)


class _WrappingServer(SandboxServer):
    """A ``SandboxServer`` whose apps are wrapped by API name (to corrupt responses in a test).

    Workaround: ``SandboxServer`` has no public hook for wrapping its apps, so ``_apps`` is
    extended here; see the report for the hook this asks for.
    """

    def __init__(
        self, state: SandboxState, wrappers: Mapping[str, AppWrapper], **kwargs: Any
    ) -> None:
        super().__init__(state, **kwargs)
        self._wrappers = dict(wrappers)

    def _apps(self) -> dict[str, Any]:
        apps = super()._apps()
        for name, wrap in self._wrappers.items():
            apps[name] = wrap(apps[name])
        return apps


@dataclass
class SandboxRig:
    """A running sandbox and everything a sync needs to talk to it."""

    clock: Clock
    state: SandboxState
    server: SandboxServer
    http: httpx.Client
    loop: LoopClient
    shopify: ShopifyClient
    store: SqlStore
    log: RequestLog
    tmp_path: Path

    def new_store(self, name: str) -> SqlStore:
        """Another, empty mirror on a SQLite file beside the first one."""
        return SqlStore(f"sqlite:///{self.tmp_path / name}", clock=self.clock)


def normalise_generated_world(world: World) -> World:
    """Work around a generator bug: transaction ``error_code`` must be an enum value.

    The generator writes ``card_declined``; Shopify's ``OrderTransactionErrorCode`` is
    ``CARD_DECLINED``, and the emulator refuses to render the lower-case value (a GraphQL error on
    RefundsById). Remove once the generator writes the enum form.
    """
    for order in world.orders:
        for txn in order.transactions:
            if txn.error_code:
                txn.error_code = txn.error_code.upper()
    return world


def build_clients(
    http: httpx.Client,
    *,
    shopify_url: str,
    loop_url: str,
    shopify_token: str,
    loop_api_key: str,
    clock: Clock,
    loop_page_size: int = 750,
    policy: RetryPolicy | None = None,
    budgets: Mapping[str, RetryBudget] | None = None,
) -> tuple[LoopClient, ShopifyClient]:
    """The two real clients on one httpx client; ``budgets`` by API name (``loop``, ``shopify``)."""
    budgets = budgets or {}
    loop = LoopClient(
        http,
        base_url=loop_url,
        api_version=LOOP_VERSION,
        api_key=loop_api_key,
        clock=clock,
        page_size=loop_page_size,
        policy=policy,
        retry_budget=budgets.get("loop"),
    )
    shopify = ShopifyClient(
        http,
        base_url=shopify_url,
        api_version=SHOPIFY_VERSION,
        token=shopify_token,
        clock=clock,
        policy=policy,
        retry_budget=budgets.get("shopify"),
    )
    return loop, shopify


@contextlib.contextmanager
def sandbox_rig(
    world: World,
    tmp_path: Path,
    *,
    clock: Clock | None = None,
    faults: Faults | None = None,
    loop_rate_limit: bool = False,
    loop_wrapper: AppWrapper | None = None,
    shopify_wrapper: AppWrapper | None = None,
    store_url: str | None = None,
    loop_page_size: int = 750,
    policy: RetryPolicy | None = None,
    budgets: Mapping[str, RetryBudget] | None = None,
) -> Iterator[SandboxRig]:
    """Serve ``world`` and yield the rig; everything is closed on exit.

    ``clock`` defaults to a ``VirtualClock`` at ``world.now``; the emulators and both clients all
    use it, so client pacing (a sleep) is exactly the time the emulators' buckets see pass.
    """
    clock = clock or VirtualClock(world.now)
    state = SandboxState(world, clock=clock, faults=faults)
    kwargs: dict[str, Any] = {"loop_rate_limit": loop_rate_limit}
    wrappers = {
        name: wrap
        for name, wrap in (("loop", loop_wrapper), ("shopify", shopify_wrapper))
        if wrap is not None
    }
    server = (
        _WrappingServer(state, wrappers, **kwargs) if wrappers else SandboxServer(state, **kwargs)
    )
    with server:
        log = RequestLog(loop_port=httpx.URL(server.loop_base_url).port)
        with httpx.Client(timeout=60.0, event_hooks={"request": [log]}) as http:
            loop, shopify = build_clients(
                http,
                shopify_url=server.shopify_base_url,
                loop_url=server.loop_base_url,
                shopify_token=server.shopify_token,
                loop_api_key=server.loop_api_key,
                clock=clock,
                loop_page_size=loop_page_size,
                policy=policy,
                budgets=budgets,
            )
            store = SqlStore(store_url or f"sqlite:///{tmp_path / 'mirror.db'}", clock=clock)
            try:
                yield SandboxRig(clock, state, server, http, loop, shopify, store, log, tmp_path)
            finally:
                store.close()


def mirror_records(store: SqlStore) -> dict[str, dict[str, Any]]:
    """Every mirrored record as JSON, ``{table: {id: record}}`` (sync times left out)."""
    out: dict[str, dict[str, Any]] = {}
    with store.session() as session:
        for model in MIRROR_TABLES:
            rows = session.execute(select(model.id, model.record)).all()  # type: ignore[attr-defined]
            out[str(model.__tablename__)] = {str(row[0]): row[1] for row in rows}
    return out


def sync_settings_for_tests(**overrides: Any) -> SyncSettings:
    """Sync settings for tests: wide backfill windows keep the request count low."""
    return SyncSettings(**{"backfill_window_days": 30, **overrides})


# A change made to one rendered Loop return on the wire (``CorruptReturns``).
Corruption = Callable[[dict[str, Any]], None]


class CorruptReturns:
    """ASGI wrapper around the Loop emulator that corrupts chosen returns in list responses."""

    def __init__(self, app: Any, damage: dict[str, Corruption]) -> None:
        self.app = app
        self.damage = damage

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/warehouse/return/list"):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await self._send(send, start, b"".join(chunks))

        await self.app(scope, receive, capture)

    async def _send(self, send: Any, start: dict[str, Any], body: bytes) -> None:
        if start.get("status") == 200:
            page = json.loads(body)
            for item in page.get("returns", []) if isinstance(page, dict) else page:
                corrupt = self.damage.get(str(item.get("id")))
                if corrupt is not None:
                    corrupt(item)
            body = json.dumps(page).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def backfill_world(rig: SandboxRig, world: World, settings: SyncSettings) -> None:
    """Backfill the rig's mirror from before the world's first record up to its now."""
    backfill(
        rig.store, rig.loop, rig.shopify, rig.clock, settings,
        start=_range_start(world), end=world.now, progress=False,
    )  # fmt: skip


def _range_start(world: World) -> datetime:
    """A day before the oldest record of any kind, so a backfill from here misses nothing."""
    moments = [o.created_at for o in world.orders] + [r.created_at for r in world.loop_returns]
    moments += [p.issued_at for p in world.payouts]
    moments += [b.transaction_date for b in world.balance_transactions]
    return min(moments) - timedelta(days=1)


def restock_one_unit(world: World, order: Order, refund_id: str) -> Refund:
    """One unit of ``order`` back to stock a day after the world's now, no money moved."""
    at = world.now + timedelta(days=1)
    refund = Refund(
        id=refund_id,
        created_at=at,
        processed_at=at,
        lines=[
            RefundLine(
                id=f"{refund_id}1",
                line_item_id=order.line_items[0].id,
                quantity=1,
                restock_type=RestockType.RETURN,
                restocked=True,
                location_id=world.shop.locations[0].id,
                subtotal=Decimal("0"),
            )
        ],
    )
    order.refunds.append(refund)
    return refund
