"""Review s11: the plain-text mail's wrap filter must never cut a path (e3781ea says so)."""

from __future__ import annotations

import pytest

from recon.reporting.html import TEXT_WIDTH, wrap


@pytest.mark.xfail(
    strict=True,
    reason="review s11: wrap() breaks at every space, so a reports dir with a space "
    "('Finance Reports') is split across two lines and cannot be copied",
)
def test_a_withheld_attachment_path_with_a_space_stays_on_one_line() -> None:
    path = "/srv/Finance Reports/acme/2026-10-21/exceptions.xlsx"
    line = (
        "exceptions.xlsx (31.2 MB) is not attached: it is over [delivery] max_attachment_mb "
        f"(25 MB). It is at {path}."
    )
    folded = wrap(line)
    assert all(len(row) <= TEXT_WIDTH for row in folded.splitlines())
    assert any(path in row for row in folded.splitlines()), folded
