"""The remediation limits' lines (a held run, plan mode's preview) in the team e-mails."""

from __future__ import annotations

import re
from pathlib import Path

from report_samples import make_data
from test_messages import body, settings

from recon.delivery import build_messages
from recon.reporting.html import TEXT_WIDTH

HELD = (
    "remediation halted: circuit breaker: 2 actions exceed max_run_count 1; all or nothing, "
    "none of them was sent: every run holds them until some are rejected (run_recon.py actions "
    "list, then run_recon.py actions reject ID... --reason TEXT) or [remediation] "
    "max_run_count is raised"
)


def _told(tmp_path: Path, held: tuple[str, ...], **overrides: object) -> list[str]:
    """The teams whose mail (plain and HTML) carries the held line."""
    data = make_data(remediation=(HELD,), remediation_held=held, **overrides)
    told = []
    for message in build_messages(data, settings(tmp_path)):
        said = {" ".join(body(message, part).split()) for part in ("plain", "html")}
        if all(HELD in text for text in said):
            told.append(str(message["X-Recon-Team"]))
    return told


def test_finance_and_the_team_whose_writes_were_held_are_told(tmp_path: Path) -> None:
    assert _told(tmp_path, ("MISSING_RESTOCK",)) == ["finance", "warehouse"]
    assert _told(tmp_path, ("MISSING_REFUND", "STATUS_DRIFT")) == ["finance", "cx"]
    assert _told(tmp_path, ()) == ["finance"]  # e.g. a preview within every limit


def test_a_team_with_nothing_else_to_hear_still_hears_its_writes_were_held(
    tmp_path: Path,
) -> None:
    """A team with no open finding gets no mail; one whose writes the limits held does."""
    assert _told(tmp_path, ("MISSING_RESTOCK",), findings=[], previous_findings=None) == [
        "finance",
        "warehouse",
    ]


def test_the_plain_text_mail_wraps_the_limits_lines_without_breaking_ids_or_paths(
    tmp_path: Path,
) -> None:
    """A limits line is one long sentence: a mail reader shows it as one line scrolling off the
    screen. The plain text wraps it under its indent; an id or a path is never cut."""
    path = "/var/lib/recon/reports/sandbox-shop-with-a-long-name/2026-11-01-2/exceptions.xlsx"
    ident = "gid://shopify/Refund/1234567890123-retry-of-intent-42"
    line = f"{HELD}; the intent {ident} waits, the report is at {path}"
    data = make_data(remediation=(line,), remediation_held=())
    finance = build_messages(data, settings(tmp_path))[0]
    text = body(finance, "plain").splitlines()
    start = text.index("Remediation limits:") + 1
    block = text[start : start + next(i for i, t in enumerate(text[start:]) if t[:1] != " ")]
    assert len(block) > 1
    assert all(len(t) <= 78 or " " not in t.strip() for t in block)  # a lone long token stays
    assert " ".join(t.strip() for t in block) == line  # nothing lost, nothing cut
    assert any(t.strip() == path or t.strip().endswith(path) for t in block)


def test_the_plain_text_mail_keeps_each_figure_with_its_currency_or_unit(tmp_path: Path) -> None:
    """Folding at any space left "1,234.50" at the end of one line and "USD" at the start of
    the next, so a reader scanning the amounts saw figures without their currency. Lines of
    every length up to one fold's width are tried, so each break lands on each kind of space."""
    figures = ", ".join(f"{n},234.{n:02d} USD" for n in range(1, 8))
    for pad in range(1, TEXT_WIDTH // 2):
        line = f"{'x' * pad} held 3 refunds ({figures}) and 2 restocks (25 MB, 7 units)"
        data = make_data(remediation=(line,), remediation_held=())
        text = body(build_messages(data, settings(tmp_path))[0], "plain").splitlines()
        start = text.index("Remediation limits:") + 1
        end = start + next(i for i, t in enumerate(text[start:]) if t[:1] != " ")
        block = [t.strip() for t in text[start:end]]
        assert len(block) > 1 and " ".join(block) == line
        for row in block:
            assert not re.search(r"\d$", row.rstrip(",(")), (pad, row)  # its unit went below
            assert not re.match(r"(USD|MB|units)\b", row), (pad, row)  # its figure above
