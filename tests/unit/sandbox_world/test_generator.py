"""The scenario generator: deterministic, every category planted, and its ground truth exact."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from world_checker import derive, quantized

from recon.clock import VirtualClock
from recon.errors import WorldError
from recon.models import Category
from recon.sandbox.generator import generate_world, write_scenario
from recon.sandbox.state import SandboxState
from recon.sandbox.truth import GroundTruth
from recon.sandbox.world import World
from recon.sandbox.world_io import dump_world, load_world, parse_world


def _compare(world: World, truth: GroundTruth) -> list[str]:
    """Differences between the literal re-derivation of docs/findings.md and the recorded truth."""
    derived = derive(world)
    recorded = {f.key: f for f in truth.findings}
    problems = [f"only derived: {k}" for k in derived.keys() - recorded.keys()]
    problems += [f"only in truth: {k}" for k in recorded.keys() - derived.keys()]
    names = {o.id: o.name for o in world.orders}
    for key in derived.keys() & recorded.keys():
        d, t = derived[key], recorded[key]
        got = (quantized(d), d.currency, d.rma, d.order_id, names[d.order_id], d.refund_ids)
        want = (
            t.amount_at_risk,
            t.currency,
            t.rma,
            t.shopify_order_id,
            t.shopify_order_name,
            t.shopify_refund_ids,
        )
        if got != want:
            problems.append(f"{key}: derived {got}, truth {want}")
    return problems


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_truth_is_exactly_what_the_rules_derive(seed: int) -> None:
    world, truth = generate_world(seed=seed, returns=300)
    assert _compare(world, truth) == []
    assert len(truth.findings) >= 17


def test_truth_stays_exact_with_activity_after_now() -> None:
    world, truth = generate_world(seed=9, returns=300, future_days=7)
    assert _compare(world, truth) == []


@pytest.mark.parametrize("returns", [60, 300])
def test_every_category_is_planted(returns: int) -> None:
    _world, truth = generate_world(seed=11, returns=returns)
    assert {f.category for f in truth.findings} == {c.value for c in Category}


def test_plants_scale_to_about_a_tenth_of_returns() -> None:
    _world, truth = generate_world(seed=2, returns=2000)
    assert 160 <= len({f.rma or f.key for f in truth.findings}) <= 260


def test_same_seed_same_file_and_other_seed_differs() -> None:
    first, _ = generate_world(seed=42, returns=120, future_days=3)
    again, _ = generate_world(seed=42, returns=120, future_days=3)
    other, _ = generate_world(seed=43, returns=120, future_days=3)
    assert first.model_dump_json() == again.model_dump_json()
    assert first.model_dump_json() != other.model_dump_json()


def test_counts_ids_and_names() -> None:
    world, truth = generate_world(seed=5, returns=200, orders=400)
    assert len(world.loop_returns) == 200
    assert len(world.orders) == 400
    assert sum(truth.clean_cases.values()) > 100
    assert [o.name for o in world.orders][:3] == ["#1001", "#1002", "#1003"]
    assert [o.created_at for o in world.orders] == sorted(o.created_at for o in world.orders)
    assert all(re.fullmatch(r"\d{8}", r.id) for r in world.loop_returns)
    shopify_ids = [o.id for o in world.orders] + [
        t.id for o in world.orders for t in o.transactions
    ]
    shopify_ids += [f.id for o in world.orders for f in o.refunds] + [
        b.id for b in world.balance_transactions
    ]
    assert all(re.fullmatch(r"\d{8,13}", i) for i in shopify_ids)
    assert len(shopify_ids) == len(set(shopify_ids))
    assert world.shop.currency == "USD" and len(world.shop.locations) == 2
    assert min(o.created_at for o in world.orders) >= world.now - timedelta(days=140)


def test_payout_summaries_add_up() -> None:
    world, _ = generate_world(seed=6, returns=300)
    rows: dict[str, list] = {}
    for row in world.balance_transactions:
        if row.payout_id:
            rows.setdefault(row.payout_id, []).append(row)
    for payout in world.payouts:
        mine = rows[payout.id]
        assert payout.net == sum(r.net for r in mine)
        assert payout.summary.refunds_fee_gross == sum(r.amount for r in mine if r.type == "REFUND")
        assert payout.summary.charges_gross == sum(r.amount for r in mine if r.type == "CHARGE")


def test_future_activity_appears_only_after_now() -> None:
    world, truth = generate_world(seed=8, returns=300, future_days=5)
    planted = {  # UNSETTLED_REFUND plants a refund whose balance transaction stays PENDING
        f.key.removeprefix("UNSETTLED_REFUND|transaction=")
        for f in truth.findings
        if f.category == "UNSETTLED_REFUND"
    }
    now, end = world.now, world.now + timedelta(days=5)
    assert world.revisions and all(now < r.at <= end for r in world.revisions)
    assert any(r.created_at > now for r in world.loop_returns)
    assert any(p.issued_at > now for p in world.payouts)
    assert any(f.created_at > now for o in world.orders for f in o.refunds)
    clock = VirtualClock(now)
    state = SandboxState(world, clock=clock)
    open_now = sum(r.state == "open" for r in world.loop_returns if r.created_at <= now)
    clock.advance(timedelta(days=6))
    state.refresh()  # every revision applies and still validates
    assert sum(r.state == "open" for r in world.loop_returns if r.created_at <= now) < open_now
    assert all(
        b.payout_status != "PENDING"
        for b in world.balance_transactions
        if b.transaction_date < now - timedelta(days=10)
        and b.source_order_transaction_id not in planted
        and not b.test  # test mode: never paid out
    )


def test_round_trip_and_scenario_files(tmp_path: Path) -> None:
    world_file, truth_file = write_scenario(tmp_path / "deep" / "w.json", seed=3, returns=80)
    assert truth_file == tmp_path / "deep" / "w.truth.json"
    world, truth = generate_world(seed=3, returns=80)
    assert load_world(world_file) == world
    assert GroundTruth.model_validate_json(truth_file.read_text()) == truth
    again = tmp_path / "again.json"
    dump_world(load_world(world_file), again)
    assert again.read_text() == world_file.read_text()


def test_invalid_world_names_the_bad_path(tmp_path: Path) -> None:
    world, _ = generate_world(seed=1, returns=5)
    data = json.loads(world.model_dump_json())
    data["orders"][0]["line_items"][0]["price"] = "12,50"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(WorldError, match=r"orders\[0\]\.line_items\[0\]\.price"):
        load_world(bad)
    data["orders"][0]["line_items"][0]["price"] = "12.50"
    data["loop_returns"][0]["provider_order_id"] = "999"
    with pytest.raises(WorldError, match=r"loop_returns\[0\]\.provider_order_id"):
        parse_world(data)
    bad.write_text("{not json")
    with pytest.raises(WorldError, match="not JSON"):
        load_world(bad)
    with pytest.raises(WorldError, match="cannot read"):
        load_world(tmp_path / "missing.json")
