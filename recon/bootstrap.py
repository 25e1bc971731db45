"""Composition root: the only place that builds concrete adapters from settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from recon.clock import Clock, SystemClock, VirtualClock
from recon.config import Settings
from recon.sandbox.truth import GroundTruth
from recon.sources.redact import protect_root_handlers

if TYPE_CHECKING:
    from recon.sandbox.server import SandboxServer
    from recon.sources.loop import LoopClient
    from recon.sources.retry_budget import RetryBudget
    from recon.sources.shopify import ShopifyClient
    from recon.store.sql import SqlStore

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything a run needs, wired. Built by ``build_app``; tests build their own."""

    settings: Settings
    clock: Clock
    store: SqlStore
    loop: LoopClient
    shopify: ShopifyClient
    truth: GroundTruth | None = None  # set when running on a generated sandbox world
    sandbox: SandboxServer | None = None
    extras: dict[str, object] = field(default_factory=dict)
    retry_budgets: tuple[RetryBudget, ...] = ()  # one per API; each run starts them afresh

    def start_retry_budgets(self) -> None:
        """Give a new run the whole retry budget of each API (``[sync] retry_budget``)."""
        for budget in self.retry_budgets:
            budget.reset()


def _sandbox_world(settings: Settings) -> tuple[object, GroundTruth | None]:
    from recon.sandbox.generator import generate_world
    from recon.sandbox.truth import GroundTruth
    from recon.sandbox.world_io import load_world, truth_path

    if settings.sandbox.world is not None:
        world = load_world(settings.sandbox.world)
        tpath = truth_path(settings.sandbox.world)
        truth = GroundTruth.model_validate_json(tpath.read_text()) if tpath.exists() else None
        return world, truth
    return generate_world(seed=settings.sandbox.seed, returns=settings.sandbox.returns)


@contextmanager
def build_app(settings: Settings, *, clock: Clock | None = None) -> Iterator[App]:
    """Build the adapters for one run and close them afterwards.

    With ``[sandbox] enabled`` the Shopify and Loop emulators are started on localhost from the
    configured world (or a generated one) and recon talks to them over real HTTP with the same
    clients it uses for the real APIs. The sandbox and recon share one virtual clock that starts at
    the world's ``now``, so pacing waits cost no wall time.

    Raises:
        ConfigError: a secret's environment variable is unset (real shops only).
        WorldError: the configured world file is invalid.
    """
    from recon.sources.http import RetryPolicy
    from recon.sources.loop import LoopClient
    from recon.sources.retry_budget import RetryBudget
    from recon.sources.shopify import ShopifyClient

    with ExitStack() as stack:
        truth: GroundTruth | None = None
        server = None
        if settings.sandbox.enabled:
            from recon.sandbox.server import SandboxServer
            from recon.sandbox.state import SandboxState

            world, truth = _sandbox_world(settings)
            clock = clock or VirtualClock(world.now)  # type: ignore[attr-defined]
            from recon.sandbox.faults import Faults

            faults = Faults(**settings.sandbox.faults.model_dump())
            state = SandboxState(world, clock=clock, faults=faults)  # type: ignore[arg-type]
            server = SandboxServer(
                state,
                host=settings.sandbox.host,
                shopify_port=settings.sandbox.shopify_port,
                loop_port=settings.sandbox.loop_port,
            )
            stack.enter_context(server)
            shopify_base, loop_base = server.shopify_base_url, server.loop_base_url
            token, api_key = server.shopify_token, server.loop_api_key
        else:
            clock = clock or SystemClock()
            shopify_base = settings.shop.base_url or f"https://{settings.shop.domain}"
            loop_base = settings.loop.base_url
            token = settings.secret(settings.shop.token_env, header=True)
            api_key = settings.secret(settings.loop.api_key_env, header=True)

        protect_root_handlers([token, api_key])
        timeout = httpx.Timeout(settings.sync.http_timeout_seconds)
        # [sync] max_retries counts the retries after the first try, for every request.
        policy = RetryPolicy(max_attempts=settings.sync.max_retries + 1)
        # [sync] retry_budget(_seconds): per run, one budget per API (recon.sources.retry_budget).
        loop_budget, shopify_budget = (
            RetryBudget(
                api,
                retries=settings.sync.retry_budget,
                seconds=settings.sync.retry_budget_seconds,
                throttle_seconds=settings.sync.throttle_budget_seconds,
            )
            for api in ("loop", "shopify")
        )
        shopify_http = stack.enter_context(httpx.Client(timeout=timeout))
        loop_http = stack.enter_context(httpx.Client(timeout=timeout))
        store = open_store(settings, clock)
        stack.callback(getattr(store, "close", lambda: None))
        yield App(
            settings=settings,
            clock=clock,
            store=store,
            loop=LoopClient(
                loop_http,
                base_url=loop_base,
                api_version=settings.loop.api_version,
                api_key=api_key,
                clock=clock,
                page_size=settings.loop.page_size,
                window_days=settings.loop.window_days,
                policy=policy,
                retry_budget=loop_budget,
                details_reask_stop_after=settings.loop.details_reask_stop_after,
            ),
            shopify=ShopifyClient(
                shopify_http,
                base_url=shopify_base,
                api_version=settings.shop.api_version,
                token=token,
                clock=clock,
                policy=policy,
                retry_budget=shopify_budget,
            ),
            truth=truth,
            sandbox=server,
            retry_budgets=(loop_budget, shopify_budget),
        )


def run_clock(settings: Settings) -> Clock:
    """The clock the shop's runs date their run lock by: the wall clock, or in the sandbox the
    world's (``build_app``: a virtual clock from the world's ``now``).

    A command that takes the lock outside a run (``findings ack``) reads the lease by it: by
    the wall clock, a sandbox run's live lease, dated by a world weeks behind, read as lapsed
    and was taken over in the middle of the run.

    Raises:
        WorldError: the configured world file is invalid.
    """
    if not settings.sandbox.enabled:
        return SystemClock()
    if settings.sandbox.world is None:
        from recon.sandbox.generator import DEFAULT_NOW  # a generated world's now

        return VirtualClock(DEFAULT_NOW)
    from recon.sandbox.world_io import load_world

    return VirtualClock(load_world(settings.sandbox.world).now)


def check_ready(settings: Settings) -> None:
    """Check what a run needs before any run starts: the output directories can be written and
    the credentials' environment variables are set (``schedule`` calls this when it starts, so
    a misconfiguration is not found at 02:00 and every night after).

    Raises:
        ConfigError: naming the key or variable at fault.
    """
    from recon.deliverables import check_output_dirs

    check_output_dirs(settings)
    if not settings.sandbox.enabled:
        settings.secret(settings.shop.token_env, header=True)
        settings.secret(settings.loop.api_key_env, header=True)
    smtp = settings.delivery.smtp
    if settings.delivery.mode == "smtp" and smtp.username_env:
        settings.secret(smtp.username_env)
        settings.secret(smtp.password_env)


def open_store(settings: Settings, clock: Clock | None = None) -> SqlStore:
    """The shop's store as settings name it: URL, ``[store] schema``, claimed for the shop.

    Every command opens the store through here, so none reads another schema or shop.

    Raises:
        StoreError: the store cannot be opened or migrated.
        ConfigError: a bad ``[store] schema``, or the store belongs to another shop.
    """
    from recon.store.sql import SqlStore  # SQLAlchemy and the migrations load on first use

    _ensure_store_dir(settings.store.url)
    return SqlStore(
        settings.store.url,
        clock=clock,
        schema=settings.store.schema_,
        shop=settings.shop.slug,
        domain=settings.shop.domain,
    )


def _ensure_store_dir(url: str) -> None:
    from recon.config_load import sqlite_file

    named = sqlite_file(url)
    if named is not None:
        named[1].parent.mkdir(parents=True, exist_ok=True)
