"""Every answer the Shopify emulator gives recon in a nightly apply run is one Shopify could give.

recon's documents are validated against the real 2026-04 schema
(tests/unit/test_graphql_documents.py); this is the other direction. The emulator executes on its
own SDL, whose custom scalars pass through whatever a resolver returns, so a float for ``Money``, a
zone-less ``DateTime``, a bare numeric id or an enum value Shopify does not have would go unnoticed
there while recon's tests kept passing. Each request recon sent and the emulator's answer are
recorded and walked against the document and the real schema (``tests/schema_answers.py``).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from graphql import get_operation_ast, parse

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the walker is imported by path
    sys.path.insert(0, _ROOT)

from test_nightly_sandbox import sandbox_settings  # noqa: E402

from recon.bootstrap import build_app  # noqa: E402
from recon.config import RemediationMode  # noqa: E402
from recon.sandbox.scoring import score  # noqa: E402
from recon.sandbox.shopify.app import ShopifyEngine  # noqa: E402
from recon.service import run_nightly  # noqa: E402
from tests.schema_answers import answer_problems  # noqa: E402

pytestmark = pytest.mark.e2e

Exchange = tuple[dict[str, Any], dict[str, Any]]


def _record(monkeypatch: pytest.MonkeyPatch) -> list[Exchange]:
    exchanges: list[Exchange] = []
    answer = ShopifyEngine.run

    def run(self: ShopifyEngine, version: str, body: dict[str, Any]) -> tuple[Any, bool]:
        payload, mutated = answer(self, version, body)
        exchanges.append((body, payload))
        return payload, mutated

    monkeypatch.setattr(ShopifyEngine, "run", run)
    return exchanges


def _name(body: dict[str, Any]) -> str:
    operation = get_operation_ast(parse(body["query"]), body.get("operationName"))
    return operation.name.value if operation is not None and operation.name else "?"


def _throttled(error: dict[str, Any]) -> bool:
    return bool(error.get("extensions", {}).get("code") == "THROTTLED")


@pytest.mark.parametrize("short_decimals", [False, True])
def test_every_answer_in_an_apply_run_conforms_to_shopifys_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short_decimals: bool
) -> None:
    """With ``shopify_short_decimals`` the amounts come as in Shopify's own payloads ("348.0"):
    the run must still find exactly the planted truth and apply each missing refund once."""
    exchanges = _record(monkeypatch)
    settings = sandbox_settings(tmp_path, seed=4, returns=200)
    settings.remediation.mode = RemediationMode.APPLY
    settings.remediation.auto_apply = ["MISSING_REFUND", "MISSING_RESTOCK", "STATUS_DRIFT"]
    settings.sandbox.faults.shopify_short_decimals = short_decimals
    with build_app(settings) as app:
        outcome = run_nightly(app)
        assert app.truth is not None
        result = score(outcome.findings, app.truth)
        planted = {p.rma for p in app.truth.findings if p.category == "MISSING_REFUND"}
    assert result.perfect, (sorted(result.missed), sorted(result.unexpected))
    done = [a["rma"] for a in outcome.actions if a["kind"] == "refund" and a["state"] == "done"]
    assert sorted(done) == sorted(planted)
    asked = Counter(_name(body) for body, _ in exchanges)
    # Reads of every kind and each write recon makes, or the test proves little.
    assert {"OrdersPage", "RefundsById", "Payouts", "BalanceTransactions", "GiftCards"} <= set(
        asked
    )
    assert {"RefundCreate", "InventoryAdjust", "TagsAdd", "SuggestedRefund"} <= set(asked)
    amounts = [a for _, payload in exchanges for a in _amounts(payload.get("data"))]
    assert any(len(a.partition(".")[2]) == 1 for a in amounts) == short_decimals
    problems: list[str] = []
    for body, payload in exchanges:
        name = _name(body)
        errors = payload.get("errors") or []
        if errors and all(_throttled(e) for e in errors):
            # Shopify's THROTTLED answer (examples/shopify/graphql-throttled-error.json).
            if "data" in payload or payload["extensions"]["cost"]["actualQueryCost"] is not None:
                problems.append(f"{name}: THROTTLED with data or an actual cost: {payload}")
            continue
        if errors:
            problems.append(f"{name}: errors {errors}")
            continue
        found = answer_problems(body["query"], payload, body.get("variables"))
        problems += [f"{name}: {p}" for p in found]
    assert problems == []


def _amounts(data: Any) -> list[str]:
    """Every ``amount`` string in an answer."""
    if isinstance(data, list):
        return [a for item in data for a in _amounts(item)]
    if isinstance(data, dict):
        own = [data["amount"]] if isinstance(data.get("amount"), str) else []
        return own + [a for key, value in data.items() if key != "amount" for a in _amounts(value)]
    return []
