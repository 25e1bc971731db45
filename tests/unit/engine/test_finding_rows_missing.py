"""A missing value in a finding row is no value in the finding, whatever pandas calls it.

Frames given to ``reconcile`` with pandas' nullable dtypes (``string``, ``Int64``, Arrow)
hold a missing value as ``pd.NA`` (``NaT`` for a time), not ``None``/``NaN``: turned into text,
it reached ``findings.json`` as the RMA, order or payout "<NA>", an id no one can look up.
"""

from __future__ import annotations

import pandas as pd
import pytest

from recon.engine.classify_common import rows, to_findings
from recon.models import Category


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA, pd.NaT], ids=repr)
def test_a_missing_id_in_a_finding_row_is_none_in_the_finding(missing: object) -> None:
    hit = pd.DataFrame({"x": [1]})
    finding_rows = rows(
        Category.UNMATCHED_REFUND,
        hit,
        scope="refund=7001",
        rma=[missing],
        order_id=[missing],
        order_name=[missing],
        payout_id=[missing],
        sku=[missing],
        location_id=[missing],
        amount_minor=[1050],
        currency=["EUR"],
        detail=["a refund no return names"],
    )
    (finding,) = to_findings(finding_rows, pd.Series(dtype=object))
    assert finding.rma is None
    assert finding.shopify_order_id is None and finding.shopify_order_name is None
    assert (finding.payout_id, finding.sku, finding.location_id) == (None, None, None)
    assert str(finding.amount_at_risk) == "10.50" and finding.currency == "EUR"
    assert "<NA>" not in finding.model_dump_json() and "NaT" not in finding.model_dump_json()
