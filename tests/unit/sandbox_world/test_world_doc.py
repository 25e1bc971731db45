"""docs/world-format.md: its examples are real (the world validates, the truth parses)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from world_checker import derive

from recon.sandbox.truth import GroundTruth
from recon.sandbox.world_io import parse_world

DOC = Path(__file__).resolve().parents[3] / "docs" / "world-format.md"


def _json_blocks() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_minimal_example_world_validates_and_raises_nothing() -> None:
    world = parse_world(json.loads(_json_blocks()[0]), source="docs/world-format.md")
    assert len(world.orders) == 1 and world.loop_returns[0].id == "12000001"
    assert derive(world) == {}


def test_truth_example_parses() -> None:
    truth = GroundTruth.model_validate(json.loads(_json_blocks()[1]))
    assert truth.findings[0].key == "MISSING_REFUND|rma=12000003"
