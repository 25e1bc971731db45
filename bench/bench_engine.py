"""Benchmark the engine at scale against a plain datacompy two-table compare.

``python bench/bench_engine.py [--returns 1000000] [--runs 3]`` builds returns, lines, refunds,
refund lines, transactions, balance transactions and payouts directly as DataFrames (vectorised
numpy, seeded) with their id codes (``with_codes``, as ``build_frames`` does; timed and counted),
runs ``reconcile`` end to end, then times ``datacompy.PandasCompare`` (1.x name of ``Compare``)
of the returns frame against the refunds frame joined on the RMA. A first run warms the process
up and is printed but not counted; the median of the next ``--runs`` runs is reported for both
sides. Prints wall times, the engine's CPU time (all threads: steadier than wall time on a
shared machine), peak RSS and the ratio (goal ≤ 1.0).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from recon.config import EngineSettings
from recon.engine import Frames, reconcile
from recon.engine.frames import (
    GIFT_CARD_COLUMNS,
    ORDER_COLUMNS,
    empty_frame,
    with_codes,
)

AS_OF = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _ids(start: int, n: int) -> np.ndarray:
    return (np.arange(start, start + n)).astype(str).astype(object)


def build(n: int, seed: int = 7) -> Frames:
    """~2% of returns carry a discrepancy (missing refund, short refund, unsettled, no restock)."""
    rng = np.random.default_rng(seed)
    rma = _ids(10_000_000, n)
    order_id = _ids(5_000_000_000, n)
    refund_minor = rng.integers(500, 50_000, n)
    created = pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(1, 20, n), unit="D")
    returns = pd.DataFrame({
        "rma": rma, "state": "closed", "outcome": "refund", "created_at": created,
        "order_id": order_id, "order_name": "#" + pd.Series(order_id).str[-7:],
        "currency": "USD", "total_minor": refund_minor, "refund_minor": refund_minor,
        "gift_card_minor": np.zeros(n, dtype="int64"), "label_status": "delivered",
        "was_processed": True,
    })  # fmt: skip
    pli = _ids(7_000_000_000, n)
    sku = ("SKU-" + pd.Series(rng.integers(0, 5000, n)).astype(str)).to_numpy(dtype=object)
    return_lines = pd.DataFrame({
        "rma": rma, "line_item_id": _ids(9_000_000_000, n), "provider_line_item_id": pli,
        "sku": sku, "price_minor": refund_minor, "inspected": True, "restock_location_id": "1",
    })  # fmt: skip
    has_refund = rng.random(n) > 0.01
    m = int(has_refund.sum())
    refund_id = _ids(3_000_000_000, m)
    short = np.where(rng.random(m) < 0.005, 100, 0)
    refunds = pd.DataFrame({
        "refund_id": refund_id, "order_id": order_id[has_refund],
        "note": "Loop RMA #" + pd.Series(rma[has_refund]), "processed_at": created[has_refund],
        "currency": "USD", "shop_currency": "USD",
    })  # fmt: skip
    refund_lines = pd.DataFrame({
        "refund_id": refund_id, "line_item_id": pli[has_refund], "sku": sku[has_refund],
        "quantity": np.ones(m, dtype="int64"), "restocked": rng.random(m) > 0.005,
        "location_id": "1",
    })  # fmt: skip
    txn_id = _ids(4_000_000_000, m)
    amount = refund_minor[has_refund] - short
    transactions = pd.DataFrame({
        "transaction_id": txn_id, "order_id": order_id[has_refund], "refund_id": refund_id,
        "kind": "REFUND", "status": "SUCCESS", "gateway": "shopify_payments",
        "amount_minor": amount, "currency": "USD", "amount_shop_minor": amount,
        "shop_currency": "USD", "processed_at": created[has_refund],
    })  # fmt: skip
    settled = rng.random(m) > 0.005
    payout_no = rng.integers(0, 1000, int(settled.sum()))
    payout_ids = _ids(600_000, 1000)
    balance = pd.DataFrame({
        "balance_transaction_id": _ids(8_000_000_000, int(settled.sum())), "type": "REFUND",
        "source_order_transaction_id": txn_id[settled], "amount_minor": -amount[settled],
        "currency": "USD", "payout_id": payout_ids[payout_no], "payout_status": "PAID",
        "transaction_date": created[has_refund][settled],
    })  # fmt: skip
    payouts = pd.DataFrame({
        "payout_id": payout_ids, "issued_at": pd.Timestamp(AS_OF), "status": "PAID",
        "transaction_type": "DEPOSIT",
        "currency": "USD", "refunds_gross_minor": np.zeros(1000, dtype="int64"),
    })  # fmt: skip
    orders = empty_frame(ORDER_COLUMNS)
    # Loop's record of the refund of each refunded return (refunds[].provider_refund_id): the
    # engine checks it against the notes (AMBIGUOUS_RMA when they disagree; here they agree).
    return_refunds = pd.DataFrame({"rma": rma[has_refund], "provider_refund_id": refund_id})
    return Frames(
        returns,
        return_lines,
        orders,
        refunds,
        refund_lines,
        transactions,
        payouts,
        balance,
        empty_frame(GIFT_CARD_COLUMNS),
        return_refunds,
    )


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def run_datacompy(frames: Frames) -> float:
    """Plain two-table compare: Loop's returns against Shopify's refunds joined on the RMA.

    Both sides carry every value column the two tables share (order id, currency, amount), so
    datacompy compares what the engine compares, row for row. The refund side's RMA (parsed
    from the note) and amount (its transaction) are prepared outside the timed section: that
    favours datacompy, the engine's time includes both.
    """
    import datacompy

    left = frames.returns[["rma", "order_id", "currency", "refund_minor"]].rename(
        columns={"refund_minor": "amount"}
    )
    paid = frames.transactions.groupby("refund_id")["amount_minor"].sum()
    right = pd.DataFrame({
        "rma": frames.refunds["note"].str.removeprefix("Loop RMA #").to_numpy(),
        "order_id": frames.refunds["order_id"].to_numpy(),
        "currency": frames.refunds["currency"].to_numpy(),
        "amount": frames.refunds["refund_id"].map(paid).fillna(0).astype("int64").to_numpy(),
    })  # fmt: skip
    start = time.perf_counter()
    compare = datacompy.PandasCompare(left, right, join_columns="rma", abs_tol=0, rel_tol=0)
    compare.matches()
    compare.report()
    return time.perf_counter() - start


def profile(frames: Frames, where: str = r"recon/engine", lines: int = 25) -> None:
    """Run ``reconcile`` again under cProfile; print the steps in ``where`` (a regex of file
    paths) by cumulative time, ``lines`` of them."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    reconcile(frames, EngineSettings(), AS_OF)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(where, lines)


def _time_engine(returns: int) -> tuple[float, float, float, int, Frames]:
    """Fresh frames (untimed), then their id codes and ``reconcile`` timed: (codes s, classify s,
    CPU s of both, findings, coded frames).

    Id codes are built by ``build_frames`` in a real run. They are engine work (datacompy gets its
    frames as they are), so the headline ratio counts them; the classification alone is printed
    beside it.
    """
    frames = build(returns)
    cpu = time.process_time()  # all threads: beside wall time, a gauge on a shared machine
    start = time.perf_counter()
    frames = with_codes(frames)
    codes_s = time.perf_counter() - start
    start = time.perf_counter()
    result = reconcile(frames, EngineSettings(), AS_OF)
    engine_s = time.perf_counter() - start
    return codes_s, engine_s, time.process_time() - cpu, len(result.findings), frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", type=int, default=1_000_000)
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs after the warm-up run (median reported)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print where the engine's time goes (cProfile)"
    )
    args = parser.parse_args()
    # Run 0 warms the process up for both sides: lazy imports, first calls, and the allocator
    # (the first run pays page faults for memory later runs reuse; datacompy, always timed after
    # an engine run, would otherwise get warm memory while the engine's first run did not). It is
    # printed, not counted. Each run builds fresh frames, so nothing computed is carried over.
    timed: list[tuple[float, float, float]] = []
    cpus: list[float] = []
    engine_rss = 0.0
    for run in range(args.runs + 1):
        codes_s, engine_s, cpu_s, findings, frames = _time_engine(args.returns)
        engine_rss = max(engine_rss, _peak_rss_mb())
        compare_s = run_datacompy(frames)
        label = "warm-up run (cold process, not counted)" if run == 0 else f"run {run}"
        print(
            f"{label}: engine {codes_s + engine_s:.2f} s ({codes_s:.2f} s id codes + "
            f"{engine_s:.2f} s classification; CPU {cpu_s:.2f} s), {findings:,} findings; "
            f"datacompy.PandasCompare {compare_s:.2f} s"
        )
        if run:
            timed.append((codes_s, engine_s, compare_s))
            cpus.append(cpu_s)
        if args.profile and run == args.runs:
            profile(frames)
        del frames
    engine = statistics.median(c + e for c, e, _ in timed)
    classify = statistics.median(e for _, e, _ in timed)
    compare = statistics.median(d for _, _, d in timed)
    print(
        f"engine: {args.returns:,} returns, median of {len(timed)} runs {engine:.2f} s "
        f"(classification {classify:.2f} s; CPU {statistics.median(cpus):.2f} s), "
        f"peak RSS {engine_rss:,.0f} MB"
    )
    print(f"datacompy.PandasCompare: median {compare:.2f} s, peak RSS {_peak_rss_mb():,.0f} MB")
    print(
        f"ratio engine/datacompy: {engine / compare:.2f} "
        f"(classification alone {classify / compare:.2f}; goal <= 1.0); "
        f"peak memory {engine_rss:,.0f} MB (goal < 4096 MB)"
    )


if __name__ == "__main__":
    main()
