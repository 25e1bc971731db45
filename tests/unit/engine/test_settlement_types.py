"""Settlement by balance transaction type: only the REFUND rows of a refund transaction say
whether, and in which payout, its money left the balance.

shopify-admin-api.md §13 documents ``sourceOrderTransactionId`` for every type ("the id of the
Order Transaction that resulted in this balance transaction") and does not say which types fill
it; Shopify's REST fixtures fill it on CHARGE rows too. So a REFUND_ADJUSTMENT (or ADJUSTMENT,
or a REFUND_FAILURE not yet happened at ``as_of``) may name the refund's transaction, or may
not: each dataset below holds for both.

Every dataset is order 100 with Loop return 12345 refunded by refund 500 (note "Loop RMA
#12345"): one 20.00 transaction 600 processed 15 days before ``as_of``, past the 10 days
UNSETTLED_REFUND allows. ``as_of`` is 2026-11-01 02:00 UTC.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_builders import bt, keyset, order, payout, refund, ret, rline, run, txn

RMA = "12345"
UNSETTLED = {("UNSETTLED_REFUND", "transaction=600")}
# Balance transaction types that may name the refund's transaction and are not its money out.
OTHER_TYPES = ["REFUND_ADJUSTMENT", "ADJUSTMENT", "REFUND_FAILURE"]


def base() -> list[object]:
    """The return, its order, paid payout 700 and failed payout 701, refund 500 (no balance
    transaction yet)."""
    return [
        ret(RMA),
        order(),
        payout("700"),
        payout("701", status="FAILED"),
        refund(
            "500",
            f"Loop RMA #{RMA}",
            (txn("600", "20.00", days=15),),
            lines=(rline("1345", "SKU-A"),),
        ),
    ]


def other(kind: str, *, payout: str | None = "700", status: str = "PAID") -> object:
    """A ``kind`` row naming transaction 600; a REFUND_FAILURE is dated after ``as_of`` (it has
    not happened yet for this run, so the refund did not bounce)."""
    days = -2 if kind == "REFUND_FAILURE" else 1
    return bt("8700", "600", "1.00", kind=kind, payout=payout, status=status, days=days)


# name -> (records, expected (category, scope) set, the match table's payout_ids for RMA 12345)
CASES: dict[str, tuple[list[object], set[tuple[str, str]], str | None]] = {
    "settled: the REFUND row is in paid payout 700": (
        [*base(), bt("8600", "600", "20.00")],
        set(),
        "700",
    ),
    "unsettled: the REFUND row is still pending after 15 days": (
        [*base(), bt("8600", "600", "20.00", payout=None)],
        UNSETTLED,
        None,
    ),
    "unsettled: the REFUND row is in failed payout 701": (
        [*base(), bt("8600", "600", "20.00", payout="701", status="FAILED")],
        UNSETTLED,
        "701",
    ),
}
for _kind in OTHER_TYPES:
    CASES |= {
        f"unsettled: REFUND row pending, a {_kind} of it in paid payout 700": (
            [*base(), other(_kind), bt("8600", "600", "20.00", payout=None)],
            UNSETTLED,
            None,
        ),
        f"settled: REFUND row paid in 700, a {_kind} of it in failed payout 701": (
            [*base(), other(_kind, payout="701", status="FAILED"), bt("8600", "600", "20.00")],
            set(),
            "700",
        ),
        f"unsettled: only a {_kind} of it, in paid payout 700, no REFUND row": (
            [*base(), other(_kind)],
            UNSETTLED,
            None,
        ),
    }


@pytest.mark.parametrize("name", list(CASES))
def test_only_refund_rows_settle_a_refund(name: str) -> None:
    records, expected, payout_ids = CASES[name]
    result = run(*records)
    assert keyset(result) == expected
    row = result.matches.set_index("rma").loc[RMA]
    assert (None if row["payout_ids"] in ("", None) else row["payout_ids"]) == payout_ids


@pytest.mark.parametrize("kind", OTHER_TYPES)
def test_a_pending_refund_is_not_in_the_payout_of_another_row(kind: str) -> None:
    """Finance reads where the refund's own money is: not in payout 700, which holds only
    the other row."""
    records = [*base(), other(kind), bt("8600", "600", "20.00", payout=None)]
    (finding,) = run(*records).findings
    assert finding.payout_id is None
    assert "700" not in finding.detail


@pytest.mark.parametrize("kind", ["REFUND_ADJUSTMENT", "ADJUSTMENT"])
def test_payout_tieout_counts_only_refund_rows(kind: str) -> None:
    """Payout 700 holds refund 500's REFUND row (-20.00) and a 1.00 adjustment of it: the
    tie-out's refunds are the REFUND row alone, against a -20.00 summary."""
    records = [*base(), other(kind), bt("8600", "600", "20.00")]
    records[2] = payout("700", refunds_gross="-20.00")
    tie = run(*records).payout_tieout.set_index("payout_id").loc["700"]
    assert (tie["refunds_count"], tie["refunds_matched"]) == (1, 1)
    assert (tie["refunds_sum"], tie["difference"]) == (Decimal("-20.00"), Decimal("0.00"))


@pytest.mark.parametrize(("status", "how"), [("FAILED", "failed"), ("CANCELED", "was cancelled")])
def test_a_refund_in_a_failed_payout_names_the_payout_in_the_detail_it_always_had(
    status: str, how: str
) -> None:
    """Refund 500's REFUND row sits in payout 701, which failed (or Shopify cancelled). A later
    payout may have paid it again, and Shopify gives only that payout's retried total
    (``retriedPayoutsGross``): docs/findings.md says so. The detail keeps its wording: finance
    acknowledges these once the retry is checked, and an acknowledged finding whose detail
    changes opens again (one reopened by an upgrade's new wording is noise)."""
    records = [*base(), bt("8600", "600", "20.00", payout="701", status=status)]
    records[3] = payout("701", status=status)
    (finding,) = run(*records).findings
    assert finding.payout_id == "701"
    assert finding.detail == f"refund transaction's payout 701 {how}"
