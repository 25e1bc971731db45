"""Seeded scenario generator: a sandbox world of clean cases and planted discrepancies, and truth.

The world is built as plain dicts and turned into models without validation (fast; tests
validate generated worlds by re-loading them). Clean cases must raise no
finding under ``docs/findings.md`` with default settings; the planters in ``plants.py`` each break
one return or refund and record exactly the findings that break produces. Format:
``docs/world-format.md``. The pieces: ``builder_shopify`` and ``builder`` (the ``Builder``
primitives), ``construct`` (models without validation), ``scenario_cases`` (clean cases),
``plants_money`` and ``plants_stock`` (planted discrepancies), ``scenario_limits`` (a clean case
and a plant at each threshold), ``scenario_future`` (activity after *now*) and ``plants`` (the mix).
"""

from __future__ import annotations

import gc
from datetime import datetime
from pathlib import Path

from recon.sandbox.builder import Builder
from recon.sandbox.builder_shopify import (
    DAY,
    DEFAULT_NOW,
    PAYOUT_EVERY,
    PAYOUT_LAG,
    RATES,
    SHOP_CURRENCY,
    SHOPIFY_PAYMENTS,
    ZERO,
    Sku,
    iso,
)
from recon.sandbox.construct import Json, construct
from recon.sandbox.plants import populate
from recon.sandbox.truth import GroundTruth
from recon.sandbox.world import World
from recon.sandbox.world_io import dump_world, truth_path

# Names that lived here before the split into builder/construct; still importable from here.
__all__ = [
    "DAY",
    "DEFAULT_NOW",
    "PAYOUT_EVERY",
    "PAYOUT_LAG",
    "RATES",
    "SHOPIFY_PAYMENTS",
    "SHOP_CURRENCY",
    "ZERO",
    "Builder",
    "Json",
    "Sku",
    "construct",
    "generate_world",
    "iso",
    "write_scenario",
]


def generate_world(
    *,
    seed: int,
    returns: int,
    orders: int | None = None,
    now: datetime | None = None,
    future_days: int = 0,
) -> tuple[World, GroundTruth]:
    """Build a seeded world with ``returns`` Loop returns and its ground truth as of ``now``.

    ``orders`` is the total order count (default about ``returns * 1.3``); orders beyond those the
    returns need are plain sales. ``future_days`` adds activity after ``now`` (returns created and
    closed later, refunds landing later, payouts issued later) for simulated nights.

    Raises:
        ValueError: if ``returns`` is negative.
    """
    if returns < 0:
        raise ValueError("returns must be zero or more")
    # Millions of fresh dicts and no cycles: the cyclic GC would rescan them all again and again
    # (measured: 49 s instead of 10 s for 100,000 returns), so it pauses while we build.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        builder = Builder(
            seed=seed,
            now=now or DEFAULT_NOW,
            future_days=max(future_days, 0),
            n_skus=max(40, min(2000, returns // 20)),
        )
        total = orders if orders is not None else round(returns * 1.3)
        populate(builder, returns=returns, orders=total)
        return builder.finish()
    finally:
        if was_enabled:
            gc.enable()


def write_scenario(
    out: Path, *, seed: int, returns: int, orders: int | None = None
) -> tuple[Path, Path]:
    """Write a generated world to ``out`` and its truth beside it; return both paths.

    Raises:
        OSError: if the files cannot be written.
    """
    world, truth = generate_world(seed=seed, returns=returns, orders=orders)
    out.parent.mkdir(parents=True, exist_ok=True)
    dump_world(world, out)
    truth_file = truth_path(out)
    truth_file.write_text(truth.model_dump_json(), encoding="utf-8")
    return out, truth_file
