"""More records in one second than one Shopify query can page through, read whole over real HTTP.

Shopify stops a paginated query at 25,000 objects (shopify-admin-api.md §1, §5): the last page
says ``hasNextPage: false`` although more match. recon's windows are sorted by their own time,
so a query that reaches the cap asks again from its last row's second; when every row it read
shares one second (a bulk update, an import, a payout's batch of transactions) that query cannot
start later. Here the emulator's cap is 5 and more than 5 records of each windowed list share
one second, with records before and after it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.sandbox.world_io import parse_world  # noqa: E402
from recon.sync import all_streams, run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    mirror_records,
    sandbox_rig,
    sync_settings_for_tests,
)

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
CROWDED = datetime(2026, 11, 20, 9, 30, 15, tzinfo=UTC)  # the one second more than the cap share
CAP = 5
IN_THE_SECOND = 12  # per list: more than two queries' worth
AROUND = (-timedelta(hours=2), -timedelta(seconds=1), timedelta(seconds=1), timedelta(hours=3))


def _moments() -> list[datetime]:
    """Twelve moments inside CROWDED's second (a few ms apart), then four around it."""
    inside = [CROWDED + timedelta(milliseconds=70 * n) for n in range(IN_THE_SECOND)]
    return inside + [CROWDED + shift for shift in AROUND]


def _order(n: int, at: datetime) -> dict[str, Any]:
    """Order 7000+n, created a day before ``at``; refunded 1.00 of its 100.00 at ``at``."""
    oid, sale, created = str(7000 + n), str(710000 + n), at - timedelta(days=1)
    return {
        "id": oid,
        "name": f"#{oid}",
        "created_at": created.isoformat(),
        "updated_at": created.isoformat(),
        "currency": "USD",
        "presentment_currency": "USD",
        "line_items": [
            {
                "id": str(720000 + n),
                "sku": f"SKU-{n}",
                "title": "Thing",
                "variant_id": "900",
                "inventory_item_id": "800",
                "quantity": 1,
                "price": "100.00",
            }
        ],
        "transactions": [
            {"id": sale, "kind": "SALE", "amount": "100.00", "processed_at": created.isoformat()},
            {
                "id": str(730000 + n),
                "kind": "REFUND",
                "amount": "1.00",
                "processed_at": at.isoformat(),
                "parent_id": sale,
                "refund_id": str(740000 + n),
            },
        ],
        "refunds": [{"id": str(740000 + n), "note": None, "created_at": at.isoformat()}],
    }


def _world() -> Any:
    # Ids run against time inside the second (the highest id first), so neither order of ties
    # lines them up with the ids by chance.
    moments = _moments()
    ids = [*range(len(moments[:IN_THE_SECOND]), 0, -1), *range(50, 50 + len(AROUND))]
    return parse_world(
        {
            "now": NOW.isoformat(),
            "shop": {"locations": [{"id": "1", "name": "Main"}], "deep_page_cap": CAP},
            "inventory": [{"id": "800", "variant_id": "900", "sku": "SKU", "available": {"1": 5}}],
            "orders": [_order(n, at) for n, at in zip(ids, moments, strict=True)],
            "payouts": [
                {
                    "id": str(81000 + n),
                    "issued_at": at.isoformat(),
                    "status": "PAID",
                    "currency": "USD",
                    "net": "10.00",
                }
                for n, at in zip(ids, moments, strict=True)
            ],
            "balance_transactions": [
                {
                    "id": str(82000 + n),
                    "type": "CHARGE",
                    "currency": "USD",
                    "amount": "10.00",
                    "net": "10.00",
                    "transaction_date": at.isoformat(),
                }
                for n, at in zip(ids, moments, strict=True)
            ],
            "gift_cards": [
                {
                    "id": str(83000 + n),
                    "created_at": at.isoformat(),
                    "note": f"Loop store credit {n}",
                    "initial_value": "5.00",
                    "balance": "5.00",
                    "currency": "USD",
                }
                for n, at in zip(ids, moments, strict=True)
            ],
        }
    )


@pytest.mark.slow
def test_more_records_in_one_second_than_the_cap_are_all_mirrored(tmp_path: Path) -> None:
    """Each list holds 16 records, 12 of them in one second: the first night's sync mirrors all
    16 of each (refunded orders, payouts, balance transactions, gift cards), and a second night
    finds nothing new and loses nothing."""
    with sandbox_rig(_world(), tmp_path) as rig:
        rig.shopify.deep_page_cap = CAP
        settings = sync_settings_for_tests(initial_days=30)
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        first = mirror_records(rig.store)
        assert all(rig.store.get_watermark(s) is not None for s in all_streams())
        rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        second = mirror_records(rig.store)
    expected = len(_moments())
    for table in ("orders", "payouts", "balance_transactions", "gift_cards"):
        assert len(first[table]) == expected, table
    assert second == first
