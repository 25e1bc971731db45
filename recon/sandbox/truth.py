"""A world's ground truth: the discrepancies its generator planted (``<world>.truth.json``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, Field

from recon.sandbox.world_fields import Amount, Currency, WorldModel


class PlantedFinding(WorldModel):
    """One discrepancy the generator planted; field names match ``findings.json``."""

    key: str  # CATEGORY|scope, as docs/findings.md defines it
    category: str
    rma: str | None = None
    shopify_order_name: str | None = None
    shopify_order_id: str | None = None
    shopify_refund_ids: list[str] = Field(default_factory=list)
    amount_at_risk: Amount = Decimal("0")
    currency: Currency | None = None
    sku: str | None = None
    payout_id: str | None = None
    description: str = ""


class GroundTruth(WorldModel):
    """The planted discrepancies of a world, written beside it as ``<world>.truth.json``."""

    format: Literal["recon-truth"] = "recon-truth"
    version: Literal[1] = 1
    seed: int | None = None
    as_of: AwareDatetime
    findings: list[PlantedFinding]
    clean_cases: dict[str, int] = Field(default_factory=dict)
    # Keys clean cases exactly at a time limit raise once the clock passes ``as_of``.
    at_limit: list[str] = Field(default_factory=list)
