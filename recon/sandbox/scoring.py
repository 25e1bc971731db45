"""Score a run's findings against a sandbox ground truth: precision and recall per category."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from recon.models import CLOSED_STATUSES, Finding
from recon.sandbox.truth import GroundTruth


@dataclass(frozen=True)
class CategoryScore:
    """Counts for one category; precision/recall are 1.0 when there is nothing to find or report."""

    category: str
    expected: int
    found: int
    true_positives: int

    @property
    def precision(self) -> float:
        return 1.0 if self.found == 0 else self.true_positives / self.found

    @property
    def recall(self) -> float:
        return 1.0 if self.expected == 0 else self.true_positives / self.expected


@dataclass(frozen=True)
class Score:
    """Per-category scores plus the keys that were missed or reported wrongly."""

    categories: dict[str, CategoryScore]
    missed: frozenset[str]
    unexpected: frozenset[str]
    amount_mismatches: tuple[str, ...]

    @property
    def perfect(self) -> bool:
        return not self.missed and not self.unexpected and not self.amount_mismatches


def score(findings: Iterable[Finding], truth: GroundTruth) -> Score:
    """Compare open findings with the planted ones by ``key``, and their amounts at risk."""
    found = {f.key: f for f in findings if f.status not in CLOSED_STATUSES}
    expected = {p.key: p for p in truth.findings}
    categories: dict[str, CategoryScore] = {}
    names = {f.category.value for f in found.values()} | {p.category for p in expected.values()}
    for name in sorted(names):
        exp = {k for k, p in expected.items() if p.category == name}
        got = {k for k, f in found.items() if f.category.value == name}
        categories[name] = CategoryScore(name, len(exp), len(got), len(exp & got))
    wrong_amounts = tuple(
        sorted(
            key
            for key in expected.keys() & found.keys()
            if expected[key].amount_at_risk != found[key].amount_at_risk
            or (expected[key].currency or None) != (found[key].currency or None)
        )
    )
    return Score(
        categories=categories,
        missed=frozenset(expected.keys() - found.keys()),
        unexpected=frozenset(found.keys() - expected.keys()),
        amount_mismatches=wrong_amounts,
    )
