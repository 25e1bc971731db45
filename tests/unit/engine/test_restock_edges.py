"""Restock rules on inputs at their edges: the engine reads them without failing the run."""

from __future__ import annotations

from engine_builders import keyset, order, ret, run

from recon.models import Category

RMA = "12345"


def test_a_return_listed_without_lines_and_a_unit_recon_restocked_fail_no_run() -> None:
    """The run's only return, 12345, is listed by Loop with no line items (``line_items`` null
    reads as none), and recon's ledger restocked a unit of it earlier (its line item id not
    recorded). No unit can be priced, so no stock finding; the return's money finding is still
    raised. The engine raised an IndexError: the whole run failed and no report went out."""
    records = [ret(RMA, lines=()), order()]
    result = run(*records, restocked={(RMA, ""): ("9001",)})
    assert keyset(result) == {(Category.MISSING_REFUND.value, f"rma={RMA}")}
