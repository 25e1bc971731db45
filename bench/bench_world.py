"""Benchmark: generate a scenario world and write it; anchor: 100,000 returns in under 60 s."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from recon.sandbox.generator import generate_world
from recon.sandbox.world_io import dump_world

GOAL_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    world, truth = generate_world(seed=args.seed, returns=args.returns)
    generated = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "world.json"
        dump_start = time.perf_counter()
        dump_world(world, path)
        written = time.perf_counter() - dump_start
        size = path.stat().st_size
    records = (
        len(world.orders)
        + len(world.loop_returns)
        + len(world.balance_transactions)
        + len(world.payouts)
        + len(world.gift_cards)
        + sum(len(o.transactions) + len(o.refunds) for o in world.orders)
    )
    print(
        f"generate {args.returns} returns: {generated:.1f} s (goal {GOAL_SECONDS:.0f} s, "
        f"ratio {generated / GOAL_SECONDS:.2f})"
    )
    print(
        f"write world: {written:.1f} s, {size / 1e6:.1f} MB; "
        f"{records} records, {records / generated:,.0f} records/s; "
        f"{len(truth.findings)} planted findings"
    )


if __name__ == "__main__":
    main()
