"""docs/findings.md's category table is what the engine emits: every category, with the
severity and owning team the findings carry (``recon.engine.classify_common.RULES``).

Finance routes and triages by that table (who gets the e-mail, what is critical); a category
the engine emits that the table lacks, or a team the table names that the code does not use,
sends a break to the wrong desk without anyone noticing.
"""

from __future__ import annotations

import re
from pathlib import Path

from recon.engine.classify_common import RULES
from recon.models import Category

ROOT = Path(__file__).resolve().parents[3]


def _documented() -> dict[str, tuple[str, str]]:
    """``category -> (severity, owner)`` from the table under "## Categories"."""
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    section = text.split("## Categories", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        found = re.match(r"^\| `([A-Z_]+)` \|", line)
        if found:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[found.group(1)] = (cells[-2], cells[-1])
    return rows


def test_the_table_lists_every_category_with_the_severity_and_owner_the_code_uses() -> None:
    emitted = {
        category.value: (severity.value, owner.value)
        for category, (severity, owner, _) in RULES.items()
    }
    assert _documented() == emitted


def test_every_category_has_a_rule() -> None:
    assert set(RULES) == set(Category)


def test_the_readme_names_every_category() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What recon finds", 1)[1].split("\n## ", 1)[0]
    assert sorted(c.value for c in Category if f"`{c.value}`" not in section) == []
