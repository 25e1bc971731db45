"""Chaos campaign: many nights of recon against one sandbox shop under random faults, checked.

``python bench/chaos_campaign.py [--nights 30] [--seed 1] [--returns 120] [--crash-rate 0.25]``

One generated world is served here (both emulators, real HTTP); each night recon runs in a
child process (``chaos_child.py``), as cron would run it, remediation applying refunds,
restocks and order tags. The world moves: it is generated as of the last night, and each night
the clock advances a day, so its records appear as their time comes; new returns arrive with
planted discrepancies (``recon.sandbox.arrivals``: missing refunds, missing restocks, short
refunds) and Shopify Payments pays out. Each faulted night draws its ``[sandbox.faults]`` (5xx
rate, dropped write answers, a throttle storm, latency, cursors without ids, 429 for THROTTLED,
a wrong query cost, ...), now and then ``[remediation]`` limits that hold its writes for a
later night (``chaos_nights.py``), and now and then is killed at a point of its write path.
Two clean nights follow. After every night the invariants (``recon.sandbox.invariants``) are
checked against the emulators' own state, and a failed run is accepted only when the night's
faults explain its error; after each clean night also that every intent ended and no record
was lost, and after the second (a night's findings are read before its writes) that the
findings equal the ground truth (planted as of the last night, plus every arrival, less what
recon fixed) and that every planted fix landed. Prints each night's faults, the writes applied
and the checks; exits 1 on a violation, naming the night, the seed and the RMA. Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bench.chaos_nights import (
    describe,
    draw_arrivals,
    draw_faults,
    draw_limits,
    judge_exit,
    limits_toml,
)
from recon.clock import SystemClock
from recon.engine.findings_json import read_findings_json
from recon.remediation.crash import CRASH_ENV, CRASH_POINTS
from recon.remediation.ledger import ActionView, list_actions
from recon.sandbox import invariants as inv
from recon.sandbox import landed
from recon.sandbox.arrivals import arrive, hold_until_whole, pay_out
from recon.sandbox.faults import Faults
from recon.sandbox.generator import generate_world
from recon.sandbox.server import SandboxServer
from recon.sandbox.state import SandboxState
from recon.sandbox.world import Plan
from recon.sources.shopify_unread import NOT_VISIBLE
from recon.store.sql import SqlStore
from recon.store.tables import LoopReturnRow, OrderRow, QuarantineRow, UnseenOrderRow

ROOT = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("chaos_child.py")
SHOP = "chaos"
CLEAN_NIGHTS = 2
EVERY_NIGHT = ("money", "stock", "ledgered", "landed", "visibility")
CLEAN_NIGHT = (*EVERY_NIGHT, "records", "settled")
SCORED_NIGHT = (*CLEAN_NIGHT, "findings", "fixed")


@dataclass
class Night:
    """One night: what was done to it, how the run ended, what was checked and broken."""

    number: int
    faults: dict[str, Any]
    crash_at: str | None
    limits: dict[str, str] = field(default_factory=dict)
    arrived: list[str] = field(default_factory=list)
    exit_code: int = 0
    checked: tuple[str, ...] = ()
    violations: list[inv.Violation] = field(default_factory=list)
    stderr: str = ""
    seconds: float = 0.0
    refunds: int = 0  # refunds recon's run applied in the emulator tonight
    restocks: int = 0  # stock movements recon's run applied tonight
    waiting: int = 0  # intents not ended after the night (held by a limit, in flight, ...)

    @property
    def writes(self) -> int:
        return self.refunds + self.restocks


CONFIG = """
[shop]
slug = "{shop}"
base_url = "{shopify}"
token_env = "RECON_SHOPIFY_TOKEN"

[loop]
base_url = "{loop}"
api_key_env = "RECON_LOOP_API_KEY"

[sandbox]
enabled = false

[store]
url = "{store}"

[sync]
initial_days = 150
http_timeout_seconds = 10
max_retries = 4
retry_budget_seconds = 60      # a faulted night gives up in a minute, not half an hour
throttle_budget_seconds = 20   # a throttle storm ends the night instead of waiting it out

[remediation]
mode = "apply"
auto_apply = ["MISSING_REFUND", "MISSING_RESTOCK", "STATUS_DRIFT"]
{limits}

[reports]
dir = "{tmp}/reports"

[delivery]
outbox_dir = "{tmp}/outbox"
"""


class Campaign:
    """One sandbox shop served from this process, and the nights run against it.

    The world is generated as of the last night (real time when the campaign starts), and
    night ``n`` of ``total`` runs ``total - n`` days before it, so its truth holds on the
    night it is scored; records appear as the nights reach their time.
    """

    def __init__(
        self, seed: int, returns: int, tmp: Path, total: int, child_timeout: float = 240
    ) -> None:
        self.seed, self.tmp, self.total, self.child_timeout = seed, tmp, total, child_timeout
        self.clock = SystemClock(shift=timedelta(days=1 - total))
        world, self.truth = generate_world(
            seed=seed, returns=returns, now=SystemClock().now().replace(microsecond=0)
        )
        hold_until_whole(world)  # replayed from days before its end (``arrivals``)
        world.shop.plan = Plan.PLUS  # throttling comes from the faults, not a small bucket
        world.shop.bucket_size = 20_000
        self.state = SandboxState(world, clock=self.clock)
        self.baseline = inv.take_baseline(self.state)
        self.world_rows = frozenset(b.id for b in world.balance_transactions)
        self.store_url = f"sqlite:///{tmp / 'recon.db'}"
        self.config = tmp / "recon.toml"
        self.urls: dict[str, str] = {}

    @contextmanager
    def served(self) -> Iterator[Campaign]:
        with SandboxServer(self.state) as server:
            self.urls = {"shopify": server.shopify_base_url, "loop": server.loop_base_url}
            yield self

    def night(
        self,
        number: int,
        faults: Faults,
        crash_at: str | None,
        checks: tuple[str, ...] = EVERY_NIGHT,
        limits: dict[str, str] | None = None,
        arrivals: tuple[int, list[str]] = (0, []),
    ) -> Night:
        """Move the shop to night ``number`` (its day, payouts, arrivals), run it under
        ``faults`` and ``limits``, then check the invariants named in ``checks``."""
        self.clock.shift = timedelta(days=number - self.total)
        pay_out(self.state, leave=self.world_rows)
        seed, plants = arrivals
        planted = arrive(self.state, seed=seed, plants=plants) if plants else []
        self.truth = self.truth.model_copy(update={"findings": self.truth.findings + planted})
        arrived = {p.shopify_order_id or "" for p in planted}
        self.baseline = inv.extend_baseline(self.baseline, self.state, arrived)
        night = Night(number, describe(faults), crash_at, dict(limits or {}), list(plants))
        self._write_config(night.limits)
        before = self._written()
        self.state.faults = faults
        started = time.monotonic()
        code, stderr, summary = self._run_child(crash_at)
        night.seconds = time.monotonic() - started
        self.state.faults = Faults()
        night.refunds, night.restocks = (
            a - b for a, b in zip(self._written(), before, strict=True)
        )
        night.exit_code, night.stderr = code, stderr
        why = judge_exit(code, stderr, faults, crash_at)
        if why is not None:
            night.violations.append(inv.Violation("run failed", None, why))
        night.checked = checks
        night.violations += self.check(checks, summary)
        night.waiting = len(inv.check_settled(self.ledger()))
        return night

    def _write_config(self, limits: dict[str, str]) -> None:
        text = CONFIG.format(
            shop=SHOP,
            store=self.store_url,
            tmp=self.tmp,
            limits=limits_toml(limits),
            **self.urls,
        )
        self.config.write_text(text, encoding="utf-8")

    def _written(self) -> tuple[int, int]:
        """Refunds and stock movements made since the baseline (recon's, and any other's)."""
        with self.state.lock:
            refunds = sum(
                1
                for order in self.state.world.orders
                for refund in order.refunds
                if refund.id not in self.baseline.refund_ids and refund.idempotency_key
            )
            moves = sum(
                1
                for group in inv.adjustments(self.state)
                if group.id not in self.baseline.adjustment_ids
                and group.source == "inventoryAdjustQuantities"
            )
        return refunds, moves

    def _run_child(self, crash_at: str | None) -> tuple[int, str, dict[str, Any] | None]:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RECON_")}
        env["RECON_SHOPIFY_TOKEN"] = self.state.shopify_token
        env["RECON_LOOP_API_KEY"] = self.state.loop_api_key
        env["CHAOS_CLOCK_SHIFT"] = str(self.clock.shift.total_seconds())
        env["PYTHONPATH"] = str(ROOT)
        if crash_at is not None:
            env[CRASH_ENV] = crash_at
        summary = self.tmp / "summary.json"
        summary.unlink(missing_ok=True)
        try:
            done = subprocess.run(  # noqa: S603 - our own script, with our own interpreter
                [sys.executable, str(CHILD), str(self.config), str(summary)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.child_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return -1, f"no answer in {self.child_timeout:.0f} s", None
        report = json.loads(summary.read_text()) if done.returncode == 0 else None
        return done.returncode, done.stderr[-4000:], report

    def check(self, checks: tuple[str, ...], summary: dict[str, Any] | None) -> list[inv.Violation]:
        """The invariants named in ``checks`` (``EVERY_NIGHT``, ``CLEAN_NIGHT``, ...)."""
        ledger = self.ledger()
        found = inv.check_money(self.state, self.baseline)
        found += inv.check_stock(self.state, self.baseline, ledger)
        found += inv.check_ledgered(self.state, self.baseline, ledger)
        found += landed.check_landed(self.state, self.baseline, ledger)
        if (self.tmp / "recon.db").exists() and {"visibility", "records"} & set(checks):
            mirrored, quarantined, marked = self.mirror()
            if "visibility" in checks:
                found += inv.check_visibility(self.state, marked)
            if "records" in checks:
                found += inv.check_records(self.state, mirrored, quarantined)
        if "settled" in checks:
            found += inv.check_settled(ledger)
        if "findings" in checks and summary is not None:
            _, findings = read_findings_json(Path(summary["findings"]))
            unfixed = landed.left_to_a_person(self.truth, ledger)
            found += inv.check_findings(findings, self.truth, unfixed)
        if "fixed" in checks:
            found += landed.check_fixed(self.state, self.truth, ledger)
        return found

    def ledger(self) -> list[ActionView]:
        if not (self.tmp / "recon.db").exists():
            return []
        store = SqlStore(self.store_url)
        try:
            with sessionmaker(store.engine)() as session:
                return list_actions(session, SHOP)
        finally:
            store.engine.dispose()

    def mirror(self) -> tuple[dict[str, set[str]], dict[str, set[str]], set[str]]:
        """Ids mirrored, and ids with an open quarantine entry, per kind (return, order); and
        the orders recon holds as not visible. An order's not-visible entry is such a mark, not
        a record kept for review: it does not count as quarantined."""
        store = SqlStore(self.store_url)
        try:
            with sessionmaker(store.engine)() as session:
                mirrored = {
                    "return": set(session.scalars(select(LoopReturnRow.id))),
                    "order": set(session.scalars(select(OrderRow.id))),
                }
                marked = set(session.scalars(select(UnseenOrderRow.id)))
                marked |= set(
                    session.scalars(select(OrderRow.id).where(OrderRow.not_visible_at.is_not(None)))
                )
                quarantined: dict[str, set[str]] = {}
                entries = select(QuarantineRow).where(QuarantineRow.resolved_at.is_(None))
                for row in session.scalars(entries):
                    if row.reason == NOT_VISIBLE:
                        marked.add(row.record_id or "")
                    else:
                        quarantined.setdefault(row.kind, set()).add(row.record_id or "")
        finally:
            store.engine.dispose()
        return mirrored, quarantined, marked


def run_campaign(
    nights: int,
    seed: int,
    *,
    returns: int = 120,
    crash_rate: float = 0.25,
    out: Callable[[str], None] = print,
    tmp: Path | None = None,
    draw: Callable[[random.Random], Faults] | None = None,
) -> list[Night]:
    """``nights`` faulted nights, a clean one, and a clean one more whose findings are scored
    (a night's findings are read before its own writes: the clean night's writes show the
    night after); stops at the first night with a violation. New returns arrive on every
    night but the scored one."""
    rng = random.Random(seed)
    done: list[Night] = []
    total = nights + CLEAN_NIGHTS
    with tempfile.TemporaryDirectory(prefix="recon-chaos-") as scratch:
        campaign = Campaign(seed, returns, tmp or Path(scratch), total)
        out(
            f"chaos campaign: seed {seed}, {returns} returns, {nights} nights + "
            f"{CLEAN_NIGHTS} clean, a day apart"
        )
        with campaign.served():
            for number in range(1, total + 1):
                night = campaign.night(number, *_draw(rng, number, nights, crash_rate, draw))
                done.append(night)
                out(_line(night, number > nights))
                for violation in night.violations:
                    out(f"  VIOLATION night {number} seed {seed}: {violation}")
                if night.violations:
                    break
    return done


def _draw(
    rng: random.Random,
    number: int,
    nights: int,
    crash_rate: float,
    draw: Callable[[random.Random], Faults] | None,
) -> tuple[Faults, str | None, tuple[str, ...], dict[str, str], tuple[int, list[str]]]:
    """Night ``number``'s faults, crash point, checks, limits and arrivals."""
    clean, scored = number > nights, number == nights + CLEAN_NIGHTS
    arrivals = (rng.randrange(2**31), [] if scored else draw_arrivals(rng))
    if clean:
        return Faults(), None, SCORED_NIGHT if scored else CLEAN_NIGHT, {}, arrivals
    faults = (draw or draw_faults)(rng)
    crash = rng.choice(CRASH_POINTS) if rng.random() < crash_rate else None
    return faults, crash, EVERY_NIGHT, draw_limits(rng), arrivals


def _line(night: Night, clean: bool) -> str:
    label = "clean" if clean else (", ".join(f"{k}={v}" for k, v in night.faults.items()) or "-")
    crash = f" crash@{night.crash_at}" if night.crash_at else ""
    limits = "".join(f" {k}={v}" for k, v in night.limits.items())
    arrived = f" +arrived {','.join(night.arrived)}" if night.arrived else ""
    verdict = "ok" if not night.violations else f"{len(night.violations)} violation(s)"
    return (
        f"night {night.number:>3} [{label}]{crash}{limits}{arrived}: exit {night.exit_code} "
        f"in {night.seconds:.1f} s; applied {night.refunds} refund(s), {night.restocks} "
        f"restock(s), {night.waiting} intent(s) waiting; checked {', '.join(night.checked)}: "
        f"{verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--returns", type=int, default=120)
    parser.add_argument("--crash-rate", type=float, default=0.25)
    args = parser.parse_args(argv)
    started = time.monotonic()
    nights = run_campaign(args.nights, args.seed, returns=args.returns, crash_rate=args.crash_rate)
    broken = [v for n in nights for v in n.violations]
    exits = {
        code: sum(1 for n in nights if n.exit_code == code)
        for code in {n.exit_code for n in nights}
    }
    faulted = [n for n in nights if n.faults or n.crash_at]
    print(
        f"{len(nights)} night(s) in {time.monotonic() - started:.0f} s; exit codes {exits}; "
        f"crashes planned {sum(1 for n in nights if n.crash_at)}; returns arrived "
        f"{sum(len(n.arrived) for n in nights)}; writes applied {sum(n.writes for n in nights)}, "
        f"{sum(n.writes for n in faulted)} on {sum(1 for n in faulted if n.writes)} faulted "
        f"night(s); nights with limits holding writes {sum(1 for n in nights if n.limits)}; "
        f"violations {len(broken)}"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
