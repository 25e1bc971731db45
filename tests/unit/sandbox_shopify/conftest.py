"""Fixtures for the Shopify emulator tests: the inline worlds are in ``inline_world``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from recon.sandbox.faults import Faults
from recon.sandbox.world_io import parse_world
from tests.unit.sandbox_shopify.inline_world import T0, Shopify, order_doc, world_doc


@pytest.fixture
def make_shop() -> Callable[..., Shopify]:
    def build(doc: dict[str, Any], faults: Faults | None = None) -> Shopify:
        return Shopify(parse_world(doc), faults)

    return build


@pytest.fixture
def shop(make_shop: Callable[..., Shopify]) -> Shopify:
    """Five orders a day apart; orders 2 and 4 carry a partial and a full refund."""
    orders = [
        order_doc(n, created=T0 + timedelta(days=n - 1), refunded={2: "25.00", 4: "50.00"}.get(n))
        for n in range(1, 6)
    ]
    return make_shop(world_doc(orders))
