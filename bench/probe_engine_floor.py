"""How fast could any engine be? A floor probe for the engine benchmark's goal (issue 4).

``python bench/probe_engine_floor.py [--returns 1000000] [--runs 3]`` builds the same frames as
``bench_engine.py`` and times a deliberately incomplete engine against datacompy's compare:

- five of the rules only (missing refund, amount mismatch, unsettled refund, missing restock,
  SKU mismatch) and the payout totals, written in polars (multi-threaded, Arrow memory);
- no findings objects, no match table, no lifecycle keys, no heuristic links, no ambiguity
  checks, no currency handling: a count of rows per rule is all it returns;
- its input already in polars: the conversion from the engine's pandas frames is timed apart.

It is not recon's engine and no product code uses it. It answers one question: whether the
goal (full classification no slower than datacompy's bare two-table compare) is within reach of
a rewrite. If this partial chain alone takes most of datacompy's time, the other rules, the match
table and the findings cannot fit in what is left.
"""

from __future__ import annotations

import argparse
import statistics
import time

import polars as pl
from bench_engine import build, run_datacompy

_FRAMES = (
    "returns",
    "return_lines",
    "refunds",
    "refund_lines",
    "transactions",
    "balance_transactions",
)
_RMA = r"(?i)(?:loop\s+)?(?:rma|return)\s*[#:]?\s*(\d+)"


def partial_chain(frames: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Rows per rule for five rules and the payout totals (see the module docstring)."""
    refunds = frames["refunds"].with_columns(pl.col("note").str.extract(_RMA, 1).alias("rma"))
    paid = (
        frames["transactions"]
        .filter((pl.col("kind") == "REFUND") & (pl.col("status") == "SUCCESS"))
        .group_by("refund_id")
        .agg(pl.col("amount_minor").sum().alias("paid"), pl.col("transaction_id").first())
    )
    refunds = refunds.join(paid, on="refund_id", how="left")
    returns = frames["returns"].join(
        refunds.select("rma", "refund_id", "paid"), on="rma", how="left"
    )
    settled = paid.join(
        frames["balance_transactions"],
        left_on="transaction_id",
        right_on="source_order_transaction_id",
        how="left",
    )
    lines = frames["return_lines"].join(
        frames["refund_lines"],
        left_on="provider_line_item_id",
        right_on="line_item_id",
        how="left",
        suffix="_refund",
    )
    payouts = frames["balance_transactions"].group_by("payout_id").agg(pl.col("amount_minor").sum())
    return {
        "missing refund": returns.filter(pl.col("refund_id").is_null()).height,
        "amount mismatch": returns.filter(
            pl.col("paid").is_not_null() & ((pl.col("paid") - pl.col("refund_minor")).abs() > 1)
        ).height,
        "unsettled": settled.filter(pl.col("payout_id").is_null()).height,
        "missing restock": lines.filter(pl.col("restocked").not_()).height,
        "sku mismatch": lines.filter(
            pl.col("sku_refund").is_not_null() & (pl.col("sku") != pl.col("sku_refund"))
        ).height,
        "payouts": payouts.height,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs after a warm-up run")
    args = parser.parse_args()
    frames = build(args.returns)
    started = time.perf_counter()
    arrow = {name: pl.from_pandas(getattr(frames, name)) for name in _FRAMES}
    convert = time.perf_counter() - started
    chain, compare = [], []
    for run in range(args.runs + 1):
        started = time.perf_counter()
        counts = partial_chain(arrow)
        took = time.perf_counter() - started
        against = run_datacompy(frames)
        label = "warm-up run (not counted)" if run == 0 else f"run {run}"
        print(f"{label}: partial chain {took:.2f} s, datacompy {against:.2f} s; {counts}")
        if run:
            chain.append(took)
            compare.append(against)
    chain_s, compare_s = statistics.median(chain), statistics.median(compare)
    print(
        f"partial chain (5 rules, no findings, no match table): median {chain_s:.2f} s = "
        f"{chain_s / compare_s:.2f}x datacompy's {compare_s:.2f} s; "
        f"converting the pandas frames to polars: {convert:.2f} s"
    )


if __name__ == "__main__":
    main()
