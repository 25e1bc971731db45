"""Benchmark the engine's fixed cost: ``reconcile`` on a handful of records.

``python bench/bench_engine_small.py [--returns 10] [--calls 300] [--profile]`` builds
``bench_engine.build(n)``'s frames (vectorised, seeded) with their id codes, plants four breaks
so every classifier has something to say (a missing refund, a short refund, an unsettled refund,
an unrestocked line), warms the process up, then times ``--calls`` reconciles of those frames and
prints the median and p90 per call in ms and the findings of one call.

A shop never notices this cost; the test suite does: the truth tables and the hypothesis
properties (tests/unit/engine) call ``reconcile`` thousands of times on inputs this size, so it
is mostly pandas' per-operation overhead that CI pays for. ``--profile`` prints one call's
cProfile, sorted by cumulative time, restricted to recon/engine and pandas.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from bench_engine import AS_OF, build, profile

from recon.config import EngineSettings
from recon.engine import Frames, reconcile
from recon.engine.frames import with_codes


def small_frames(n: int) -> Frames:
    """``build(n)`` with one break of each common kind planted (n >= 4).

    Return 0's refund is gone (with its lines, transaction, balance transaction and Loop's record
    of it), return 1 was refunded 1.00 short, return 2's refund never reached a payout and
    return 3's line was refunded without a restock.
    """
    frames = build(n)
    gone = frames.refunds["refund_id"].iloc[0]
    txn_gone = frames.transactions.loc[frames.transactions["refund_id"] == gone, "transaction_id"]
    unsettled = frames.transactions["transaction_id"].iloc[2]
    balance = frames.balance_transactions
    balance = balance[
        ~balance["source_order_transaction_id"].isin([*txn_gone.tolist(), unsettled])
    ].reset_index(drop=True)
    transactions = frames.transactions[frames.transactions["refund_id"] != gone].reset_index(
        drop=True
    )
    transactions.loc[0, ["amount_minor", "amount_shop_minor"]] -= 100  # return 1's refund
    refund_lines = frames.refund_lines[frames.refund_lines["refund_id"] != gone].reset_index(
        drop=True
    )
    refund_lines.loc[2, "restocked"] = np.False_  # return 3's line
    return with_codes(
        Frames(
            frames.returns,
            frames.return_lines,
            frames.orders,
            frames.refunds[frames.refunds["refund_id"] != gone].reset_index(drop=True),
            refund_lines,
            transactions,
            frames.payouts,
            balance,
            frames.gift_cards,
            frames.return_refunds[frames.return_refunds["provider_refund_id"] != gone].reset_index(
                drop=True
            ),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", type=int, default=10)
    parser.add_argument("--calls", type=int, default=300, help="timed calls after the warm-up")
    parser.add_argument(
        "--profile", action="store_true", help="also print one call's cProfile (cumulative)"
    )
    args = parser.parse_args()
    frames = small_frames(max(args.returns, 4))
    settings = EngineSettings()
    # Warm-up: lazy imports, first-call caches (regexes, pandas dispatch), the allocator.
    for _ in range(20):
        result = reconcile(frames, settings, AS_OF)
    cpu = time.process_time()
    times = []
    for _ in range(args.calls):
        start = time.perf_counter()
        reconcile(frames, settings, AS_OF)
        times.append(time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu) / args.calls * 1000
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    print(
        f"engine, {len(frames.returns)} returns: median {statistics.median(ms):.1f} ms, "
        f"p90 {p90:.1f} ms per call ({args.calls} calls; CPU {cpu_ms:.1f} ms per call); "
        f"findings: {sorted(f.category.value for f in result.findings)}"
    )
    if args.profile:
        profile(frames, r"recon/engine|pandas", 60)  # one call: recon/engine's and pandas'


if __name__ == "__main__":
    main()
