"""Date ranges the commands cannot honour as typed are refused (exit 2), naming the option and
the value, before anything is built or read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.test_cli import recon


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        ("2026-10-01", "2026-10-01T12:00:00", "--to"),  # half a day: the book was empty
        ("2026-10-01T06:00:00", "2026-10-03", "--from"),  # the 6 hours were silently dropped
        ("2026-10-01", "2026-10-05T18:30:00", "--to"),  # the evening of the 5th dropped
    ],
)
def test_a_report_range_of_part_days_exits_2_naming_the_option(
    config: Path, start: str, end: str, named: str
) -> None:
    """The book covers whole days of the shop: `--to D+12h` built an empty book (the range
    read as D..D) and exited 0; a time on a day was dropped without a word. Refused, naming
    the option and the value; no book is written."""
    result = recon("report", "--from", start, "--to", end, "--config", str(config))
    assert result.returncode == 2, result.stderr
    value = start if named == "--from" else end
    assert named in result.stderr and value in result.stderr, result.stderr
    assert "whole day" in result.stderr
    assert not (config.parent.parent / "reports" / "sandbox" / "month-end").exists()


def test_a_report_range_ending_before_it_starts_names_both_values(config: Path) -> None:
    result = recon("report", "--from", "2026-10-05", "--to", "2026-10-01", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "--to 2026-10-01" in result.stderr and "--from 2026-10-05" in result.stderr


def test_an_empty_backfill_range_exits_2_naming_the_options(config: Path) -> None:
    """It reached the backfill itself (the sandbox served, the run lock taken) before saying
    "backfill start ... is not before end ...", naming no option."""
    result = recon(
        "backfill", "--from", "2026-07-01", "--to", "2026-07-01", "--config", str(config)
    )
    assert result.returncode == 2, result.stderr
    assert "--to 2026-07-01" in result.stderr and "--from 2026-07-01" in result.stderr
