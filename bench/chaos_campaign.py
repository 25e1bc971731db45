"""Chaos campaign: many nights of recon against one sandbox shop under random faults, checked.

``python bench/chaos_campaign.py [--nights 30] [--seed 1] [--returns 120] [--crash-rate 0.25]``

One generated world is served here (both emulators, real HTTP); each night recon runs in a
child process (``chaos_child.py``), as cron would run it, remediation applying refunds,
restocks and order tags. Each night draws its ``[sandbox.faults]`` from the seed (5xx rate,
dropped write answers, a throttle storm, latency, cursors without ids, 429 for THROTTLED, a
wrong query cost, ...) and now and then kills the run at a point of its write path. Two clean
nights follow. After every night the invariants (``recon.sandbox.invariants``) are checked
against the emulators' own state; after each clean night also that every intent ended and no
record was lost, and after the second (a night's findings are read before its writes) that
the findings equal the ground truth. Prints each night's faults and checks; exits 1 on a
violation, naming the night, the seed and the RMA. Not part of the test suite.
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

from recon.clock import SystemClock
from recon.engine.findings_json import read_findings_json
from recon.remediation.crash import CRASH_ENV, CRASH_POINTS
from recon.remediation.ledger import ActionView, list_actions
from recon.sandbox import invariants as inv
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
KILLED, RECON_ERROR = 137, 2
EVERY_NIGHT = ("money", "stock", "ledgered", "visibility")
CLEAN_NIGHT = (*EVERY_NIGHT, "records", "settled")
SCORED_NIGHT = (*CLEAN_NIGHT, "findings")


@dataclass
class Night:
    """One night: what was done to it, how the run ended, what was checked and broken."""

    number: int
    faults: dict[str, Any]
    crash_at: str | None
    exit_code: int = 0
    checked: tuple[str, ...] = ()
    violations: list[inv.Violation] = field(default_factory=list)
    stderr: str = ""
    seconds: float = 0.0


def draw_faults(rng: random.Random) -> Faults:
    """One night's faults, drawn from the campaign's random stream."""
    return Faults(
        error_rate=rng.choice([0.0, 0.02, 0.05, 0.1, 0.2]),
        drop_write_rate=rng.choice([0.0, 0.1, 0.3, 0.6]),
        throttle_storm=rng.random() < 0.1,
        latency_seconds=rng.choice([0.0, 0.0, 0.005, 0.02]),
        loop_cursor_without_id=rng.random() < 0.3,
        loop_omit_refund_object=rng.random() < 0.3,
        throttled_status=rng.choice([200, 429]),
        cost_multiplier=rng.choice([1.0, 1.0, 1.5]),
        payout_refunds_positive=rng.random() < 0.2,
        seed=rng.randrange(2**31),
    )


def describe(faults: Faults) -> dict[str, Any]:
    """The faults that are on, by name (the defaults left out)."""
    default = Faults()
    names = [n for n in vars(default) if not n.startswith("_") and n != "seed"]
    return {n: getattr(faults, n) for n in names if getattr(faults, n) != getattr(default, n)}


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
max_refund_amount = {{ USD = "100000", EUR = "100000", CAD = "100000", GBP = "100000" }}
max_run_total = {{ USD = "1000000", EUR = "1000000", CAD = "1000000", GBP = "1000000" }}
max_run_count = 1000

[reports]
dir = "{tmp}/reports"

[delivery]
outbox_dir = "{tmp}/outbox"
"""


class Campaign:
    """One sandbox shop served from this process, and the nights run against it."""

    def __init__(self, seed: int, returns: int, tmp: Path, child_timeout: float = 240) -> None:
        self.seed, self.tmp, self.child_timeout = seed, tmp, child_timeout
        self.clock = SystemClock()  # real time, moved forward a minute a night (``shift``)
        world, self.truth = generate_world(
            seed=seed, returns=returns, now=self.clock.now().replace(microsecond=0)
        )
        world.shop.plan = Plan.PLUS  # throttling comes from the faults, not a small bucket
        world.shop.bucket_size = 20_000
        self.state = SandboxState(world, clock=self.clock)
        self.baseline = inv.take_baseline(self.state)
        self.store_url = f"sqlite:///{tmp / 'recon.db'}"
        self.config = tmp / "recon.toml"

    @contextmanager
    def served(self) -> Iterator[Campaign]:
        with SandboxServer(self.state) as server:
            text = CONFIG.format(
                shop=SHOP,
                shopify=server.shopify_base_url,
                loop=server.loop_base_url,
                store=self.store_url,
                tmp=self.tmp,
            )
            self.config.write_text(text, encoding="utf-8")
            yield self

    def night(
        self,
        number: int,
        faults: Faults,
        crash_at: str | None,
        checks: tuple[str, ...] = EVERY_NIGHT,
    ) -> Night:
        """Run one night under ``faults``, then check the invariants named in ``checks``."""
        self.clock.shift += timedelta(minutes=1)
        self.state.faults = faults
        night = Night(number, describe(faults), crash_at)
        started = time.monotonic()
        code, stderr, summary = self._run_child(crash_at)
        night.seconds = time.monotonic() - started
        self.state.faults = Faults()
        night.exit_code, night.stderr = code, stderr
        faulted = describe(faults) or crash_at
        allowed = {0, RECON_ERROR} | ({KILLED} if crash_at else set()) if faulted else {0}
        if code not in allowed:
            why = f"run ended with exit code {code}: {stderr.strip()[-600:]}"
            night.violations.append(inv.Violation("run failed", None, why))
        night.checked = checks
        night.violations += self.check(checks, summary)
        return night

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
        found += inv.check_stock(self.state, self.baseline)
        found += inv.check_ledgered(self.state, self.baseline, ledger)
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
            found += inv.check_findings(findings, self.truth)
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
    night after); stops at the first night with a violation."""
    rng = random.Random(seed)
    done: list[Night] = []
    with tempfile.TemporaryDirectory(prefix="recon-chaos-") as scratch:
        campaign = Campaign(seed, returns, tmp or Path(scratch))
        out(f"chaos campaign: seed {seed}, {returns} returns, {nights} nights + 2 clean")
        with campaign.served():
            for number in range(1, nights + 3):
                clean = number > nights
                faults = Faults() if clean else (draw or draw_faults)(rng)
                crash = None
                if not clean and rng.random() < crash_rate:
                    crash = rng.choice(CRASH_POINTS)
                checks = SCORED_NIGHT if number == nights + 2 else CLEAN_NIGHT
                night = campaign.night(number, faults, crash, checks if clean else EVERY_NIGHT)
                done.append(night)
                out(_line(night, clean))
                for violation in night.violations:
                    out(f"  VIOLATION night {number} seed {seed}: {violation}")
                if night.violations:
                    break
    return done


def _line(night: Night, clean: bool) -> str:
    label = "clean" if clean else (", ".join(f"{k}={v}" for k, v in night.faults.items()) or "-")
    crash = f" crash@{night.crash_at}" if night.crash_at else ""
    verdict = "ok" if not night.violations else f"{len(night.violations)} violation(s)"
    return (
        f"night {night.number:>3} [{label}]{crash}: exit {night.exit_code} in "
        f"{night.seconds:.1f} s; checked {', '.join(night.checked)}: {verdict}"
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
    print(
        f"{len(nights)} night(s) in {time.monotonic() - started:.0f} s; exit codes {exits}; "
        f"crashes planned {sum(1 for n in nights if n.crash_at)}; violations {len(broken)}"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
