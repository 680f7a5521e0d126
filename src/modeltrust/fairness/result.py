"""What a fairness audit asks for (:class:`Settings`) and what it returns (:class:`FairnessResult`).

Plain frozen dataclasses of Python floats and strings: renderers and callers never need numpy.
A value that is undefined (a zero denominator) is NaN; a ratio over a zero rate can be infinite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from modeltrust.errors import UsageError
from modeltrust.fairness.counts import CountTable
from modeltrust.findings import Finding, Severity

Clause = tuple[tuple[str, str], ...]
Interval = tuple[float, float]
FOUR_FIFTHS = 0.8
DEFAULT_CHECKS = ("fairlearn.demographic_parity_ratio", "aif360.disparate_impact")


@dataclass(frozen=True, slots=True)
class Settings:
    """How to audit. ``privileged`` is a list of clauses, each a list of (column, value) pairs:
    a row is privileged when it matches every pair of at least one clause (AIF360's list of
    dicts). ``checks=None`` means the default checks (the four-fifths rule on selection rates)."""

    privileged: tuple[Clause, ...] = ()
    positive_label: str | None = None
    multiclass: bool = False
    threshold: float = FOUR_FIFTHS
    checks: tuple[str, ...] | None = None
    max_difference: float = 0.1
    min_group_size: int = 30
    n_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    alpha: float = 2.0
    concentration: float = 1.0

    def validate(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise UsageError(f"--threshold must be in (0, 1], got {self.threshold}.")
        if not self.max_difference >= 0.0:
            raise UsageError(f"--max-difference must be >= 0, got {self.max_difference}.")
        if self.min_group_size < 0:
            raise UsageError("--min-group-size must be >= 0.")
        if self.n_resamples < 0 or self.n_resamples > 1_000_000:
            raise UsageError("--bootstrap must be between 0 (no intervals) and 1,000,000.")
        if not 0.0 < self.confidence < 1.0:
            raise UsageError(f"--confidence must be in (0, 1), got {self.confidence}.")
        if not math.isfinite(self.alpha):
            raise UsageError("--alpha must be a finite number.")
        if not (math.isfinite(self.concentration) and self.concentration >= 0):
            raise UsageError("--concentration must be a finite number >= 0.")
        if self.multiclass and self.positive_label is not None:
            raise UsageError(
                "--positive-label has no effect with --multiclass: every class is audited "
                "against the rest. Leave one of them out."
            )


def parse_privileged(texts: Sequence[str]) -> tuple[Clause, ...]:
    """``["sex=male,race=white", "race=asian"]``: (male AND white) OR asian."""
    clauses = []
    for text in texts:
        pairs = []
        for part in text.split(","):
            column, sep, value = part.partition("=")
            if not sep or not column.strip():
                raise UsageError(
                    f"--privileged '{text}' is not COL=VALUE[,COL=VALUE]: write for example "
                    "--privileged sex=male."
                )
            pairs.append((column.strip(), value.strip()))
        clauses.append(tuple(pairs))
    return tuple(clauses)


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group: its values (one per sensitive column), counts, rates and rate intervals."""

    values: tuple[str, ...]
    privileged: bool | None
    counts: Mapping[str, float]
    rates: Mapping[str, float]
    intervals: Mapping[str, Interval]


@dataclass(frozen=True, slots=True)
class ClassResult:
    """Everything about one positive class (the one class of a binary audit, or one class
    against the rest). Metric names are exactly the libraries' names."""

    positive: str
    groups: tuple[GroupResult, ...]
    overall: Mapping[str, float]
    fairlearn: Mapping[str, float]
    aif360: Mapping[str, float]
    aif360_dataset: Mapping[str, float]
    intervals: Mapping[str, Interval]  # "fairlearn.<name>", "aif360.<name>", ...


@dataclass(frozen=True, slots=True)
class Check:
    """One threshold test: ``metric`` passes when its value lies in [low, high]."""

    metric: str
    positive: str
    value: float
    interval: Interval | None
    low: float
    high: float
    status: Literal["pass", "fail", "undefined"]
    uncertain: bool


@dataclass(frozen=True, slots=True)
class FairnessResult:
    table: CountTable
    settings: Settings
    mode: Literal["binary", "multiclass"]
    classes: tuple[ClassResult, ...]
    checks: tuple[Check, ...]
    findings: tuple[Finding, ...]
    sensitive: tuple[str, ...] = ()
    empty_intersections: tuple[tuple[str, ...], ...] = ()
    duration_s: float = 0.0
    tool_version: str = ""
    started_at: str = ""

    def at_or_above(self, threshold: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity >= threshold)

    @property
    def passed(self) -> bool:
        return all(c.status == "pass" for c in self.checks)
