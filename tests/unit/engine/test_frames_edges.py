"""Frames built directly (as the benchmark builds them) may hold rows with no id: the rules
give the same findings as for the records without them."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest
from engine_builders import AS_OF, frames_of, keyset, line, order, refund, ret, rline, run, txn
from test_truth_tables import CASES

from recon.config import EngineSettings
from recon.engine import reconcile


def test_a_return_row_with_no_rma_changes_no_link_by_note() -> None:
    """A note naming a return of another order pays it not (findings.md link 1): with a return
    row that has no RMA in the frames, the note linked refund 500 to that other order's return
    all the same (its MISSING_REFUND and the refund's UNKNOWN_RMA were gone)."""
    name = "a note naming a return of another order, no return of its own fits: UNKNOWN_RMA"
    records, expected, _ = CASES[name]
    frames = frames_of(*records)
    # Open, nothing owed, no lines, created today: a row that raises nothing of its own.
    blank = frames.returns.iloc[[0]].assign(
        rma=None, state="open", order_id="102", refund_minor=0, total_minor=0, created_at=AS_OF
    )
    returns = pd.concat([frames.returns, blank], ignore_index=True)
    result = reconcile(replace(frames, returns=returns, codes=None), EngineSettings(), AS_OF)
    assert keyset(result) == expected == keyset(run(*records))


def _two_unsettled_refunds() -> list[object]:
    """Returns 12345 (order 100) and 12346 (order 101), each refunded 20.00 by refund 500
    (transaction 600) and 501 (transaction 601) 20 days ago, neither in any payout."""
    return [
        ret("12345"),
        ret("12346", "101", lines=(line("1346", "SKU-A"),)),
        order(),
        order("101"),
        refund(
            "500",
            "Loop RMA #12345",
            (txn("600", "20.00", days=20),),
            lines=(rline("1345", "SKU-A"),),
        ),
        refund(
            "501",
            "Loop RMA #12346",
            (txn("601", "20.00", days=20),),
            order_id="101",
            lines=(rline("1346", "SKU-A"),),
        ),
    ]


@pytest.mark.parametrize("alone", [False, True], ids=["beside-another", "the-only-one"])
def test_a_refund_transaction_with_no_id_is_left_out_of_settlement(alone: bool) -> None:
    """UNSETTLED_REFUND is keyed by the transaction's id and a balance transaction names it by
    that id: a refund transaction with no id (frames built directly) crashed the run (an
    IndexError when it was the only one, a Finding with transaction id None beside others).
    It is left out of settlement; its money still counts for its refund (no MISSING_REFUND)."""
    records = _two_unsettled_refunds()
    if alone:  # return 12345, its order and refund 500 only
        records = [records[0], records[2], records[4]]
    frames = frames_of(*records)
    txn_rows = frames.transactions.assign(
        transaction_id=frames.transactions["transaction_id"].where(
            frames.transactions["refund_id"] != "500", None
        )
    )
    result = reconcile(replace(frames, transactions=txn_rows, codes=None), EngineSettings(), AS_OF)
    expected = set() if alone else {("UNSETTLED_REFUND", "transaction=601")}
    assert keyset(result) == expected
    row = result.matches.set_index("rma").loc["12345"]
    assert (row["refund_ids"], row["refunded_total"], row["transaction_ids"]) == (
        "500",
        Decimal("20.00"),
        "",
    )


def test_a_refund_transaction_with_no_refund_id_is_unsettled_naming_no_refund() -> None:
    """A refund transaction with no refund id counts for no refund (link.py), but its money
    left the shop and is in no payout: UNSETTLED_REFUND names it by its id and names no
    refund (the run crashed on a Finding with refund id None)."""
    frames = frames_of(*_two_unsettled_refunds())
    txns = frames.transactions
    txn_rows = txns.assign(refund_id=txns["refund_id"].where(txns["refund_id"] != "500", None))
    result = reconcile(replace(frames, transactions=txn_rows, codes=None), EngineSettings(), AS_OF)
    found = {f.key: f for f in result.findings}
    assert found["UNSETTLED_REFUND|transaction=600"].shopify_refund_ids == ()
    assert found["UNSETTLED_REFUND|transaction=600"].amount_at_risk == Decimal("20.00")
    assert found["UNSETTLED_REFUND|transaction=601"].shopify_refund_ids == ("501",)


@pytest.mark.parametrize(
    "note",
    ["Loop RMA #99999", "RMA 12345, 12346", None],
    ids=["unknown-rma", "two-rmas", "no-note"],
)
def test_a_refund_row_with_no_id_raises_what_the_frames_without_it_raise(
    note: str | None,
) -> None:
    """Every refund finding is keyed by the refund's id (``refund=<id>``) and links are kept
    by it: a refund row with no id crashed the run (a Finding naming refund None for its
    UNKNOWN_RMA or AMBIGUOUS_RMA, a ValueError in the heuristic link for one with no note).
    It is left out, as its transactions (which name no refund) already were."""
    records = [
        ret("12345"),
        ret("12346", lines=(line("1346", "SKU-B"),)),
        order(),
        refund("500", "Loop RMA #12345", (txn("600", "20.00"),), lines=(rline("1345", "SKU-A"),)),
        refund("501", note, (txn("601", "20.00"),), lines=(rline("1346", "SKU-B"),)),
    ]
    frames = frames_of(*records)
    blank = frames.refunds["refund_id"] == "501"
    refunds = frames.refunds.assign(refund_id=frames.refunds["refund_id"].where(~blank, None))
    result = reconcile(replace(frames, refunds=refunds, codes=None), EngineSettings(), AS_OF)
    without = reconcile(
        replace(frames, refunds=frames.refunds[~blank], codes=None), EngineSettings(), AS_OF
    )
    assert keyset(result) == keyset(without)
    assert ("MISSING_REFUND", "rma=12346") in keyset(result)  # nothing says 12346 was paid
