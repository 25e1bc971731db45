"""When a returned unit counts as back in the warehouse (docs/findings.md "Vocabulary").

The remediation planner decides with ``warehouse_event_happened`` what the engine decides in
``classify_stock``; the truth-table cases on inspected units check the engine's side.
"""

from __future__ import annotations

import pytest
from engine_builders import line, ret

from recon.config import WarehouseEvent
from recon.remediation.units import warehouse_event_happened

# (state, label, processed, inspected) → (received, processed, inspected)
TABLE = [
    (("open", "in_transit", False, False), (False, False, False)),
    (("open", "delivered", False, False), (True, False, False)),
    (("open", "in_transit", False, True), (True, False, True)),  # graded: it is in the warehouse
    (("closed", None, True, False), (True, True, False)),
    (("closed", "in_transit", False, False), (False, False, False)),
]


@pytest.mark.parametrize(("unit", "expected"), TABLE)
def test_warehouse_events(
    unit: tuple[str, str | None, bool, bool], expected: tuple[bool, ...]
) -> None:
    state, label, processed, inspected = unit
    unit_line = line("1345", "SKU-A", inspected=inspected)
    loop_return = ret("12345", state=state, label=label, processed=processed, lines=(unit_line,))
    events = (WarehouseEvent.RECEIVED, WarehouseEvent.PROCESSED, WarehouseEvent.INSPECTED)
    got = tuple(warehouse_event_happened(loop_return, unit_line, e) for e in events)
    assert got == expected
