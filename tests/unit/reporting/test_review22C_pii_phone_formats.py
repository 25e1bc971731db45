"""Review 22C: phone numbers in the shapes customers and staff write them reach the mailed
report although ``[reports] include_customer_pii`` is false.

``recon.reporting.safety`` says a phone number is one with "a leading + or separators between
digit groups" (so RMAs and Shopify ids, long bare digit strings, are kept). An international
number written in the groups of two France uses ("+33 6 12 34 56 78") or a UK mobile in its
two groups ("+44 7700 900123") has both, as has the US shape with no space after the area code
("(555)123-4567"); none is scrubbed. Such text reaches the Exceptions sheet and report.html
through the free text a person writes: an acknowledgement's note (the row's next step), a
rejection's reason.
"""

from __future__ import annotations

import pytest
from report_samples import make_data, sample_findings

from recon.models import FindingStatus
from recon.reporting.safety import PHONE_PLACEHOLDER, clean_text

PHONES = ["+33 6 12 34 56 78", "(555)123-4567", "+44 7700 900123"]


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_number_in_an_acknowledgement_note_is_scrubbed(phone: str) -> None:
    """CX acknowledges a MISSING_REFUND paid by hand and notes how the customer was reached;
    finance's Exceptions row (its next step carries the note) must not show the number."""
    first, *rest = sample_findings()
    note = f"refunded by hand, customer called from {phone}"
    acked = first.model_copy(
        update={
            "status": FindingStatus.ACKNOWLEDGED,
            "acknowledged_by": "cli:ann",
            "acknowledged_note": note,
        }
    )
    data = make_data(findings=[acked, *rest])
    row = next(r for r in data.exception_rows() if r.key == first.key)
    assert "refunded by hand" in row.next_step, row.next_step
    assert PHONE_PLACEHOLDER in row.next_step, row.next_step
    digits = "".join(ch for ch in phone if ch.isdigit())
    shown = "".join(ch for ch in row.next_step if ch.isdigit())
    assert digits[-7:] not in shown, row.next_step


@pytest.mark.parametrize("phone", ["+1 555 123 4567", "(555) 123-4567", "555-123-4567"])
def test_the_shapes_the_scrubber_knows_are_removed(phone: str) -> None:
    """The baseline: the same sentence with a phone shape ``_PHONE`` knows loses the number."""
    assert (
        clean_text(f"customer called from {phone}") == f"customer called from {PHONE_PLACEHOLDER}"
    )
