"""Frames built directly (as the benchmark builds them) may hold rows with no id: the rules
give the same findings as for the records without them."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from engine_builders import AS_OF, frames_of, keyset, run
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
