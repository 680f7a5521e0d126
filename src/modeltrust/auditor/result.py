"""What one audit returns: every check's result, the files, and the policy's verdict.

Frozen dataclasses only; renderers (JSON, SARIF, HTML, terminal) read them and never re-run a
check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modeltrust.findings import Finding, Severity

if TYPE_CHECKING:
    from modeltrust.cards.coverage import CoverageReport
    from modeltrust.fairness.result import FairnessResult
    from modeltrust.licenses.check import LicenseReport
    from modeltrust.policy.engine import Evaluation, Verdict
    from modeltrust.policy.model import Policy


@dataclass(frozen=True, slots=True)
class AuditFile:
    """One file of the model. ``scanned`` is False for files no loader reads (Markdown, licence
    texts, images), which the licence and documentation checks read and the scanner skips."""

    path: str
    size: int | None
    sha256: str | None
    formats: tuple[str, ...] = ()
    scanned: bool = True
    cached: bool = False


@dataclass(frozen=True, slots=True)
class CacheSummary:
    enabled: bool
    hits: int = 0
    misses: int = 0
    location: str | None = None


@dataclass(frozen=True, slots=True)
class FairnessRequest:
    """Evaluation predictions to audit for fairness (the ``fairness`` extra)."""

    data: tuple[str, ...]
    label: str
    prediction: str
    sensitive: tuple[str, ...]
    privileged: tuple[str, ...] = ()
    positive_label: str | None = None
    score: str | None = None


@dataclass(frozen=True, slots=True)
class Hooks:
    """Progress callbacks for a person watching; all optional, called from the audit's thread."""

    stage: Callable[[str], None] | None = None
    download: Callable[[str, int, int | None], None] | None = None
    """(path, bytes so far, total bytes or None)."""
    scan_total: Callable[[int], None] | None = None
    scan_file: Callable[[str, int], None] | None = None


@dataclass(frozen=True, slots=True)
class AuditResult:
    target: str
    source_kind: str
    repo_id: str | None
    revision: str | None
    display: str
    policy: Policy
    policy_origin: str
    files: tuple[AuditFile, ...]
    scan_findings: tuple[Finding, ...]
    license: LicenseReport
    documentation: CoverageReport
    fairness: FairnessResult | None
    evaluation: Evaluation
    cache: CacheSummary
    downloaded_bytes: int = 0
    tool_version: str = ""
    started_at: str = ""
    duration_s: float = 0.0

    @property
    def verdict(self) -> Verdict:
        return self.evaluation.verdict

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding of every area, policy findings included, worst first."""
        return tuple(
            sorted(
                (d.finding for d in self.evaluation.decisions),
                key=lambda f: (-f.severity, f.rule_id, f.location.display_path),
            )
        )

    def severity_counts(self) -> dict[Severity, int]:
        counts = dict.fromkeys(sorted(Severity, reverse=True), 0)
        for d in self.evaluation.decisions:
            counts[d.finding.severity] += 1
        return counts
