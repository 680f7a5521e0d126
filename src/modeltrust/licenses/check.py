"""``check_license``: one model's licences, lineage, verdict and checklist, as one report.

Orchestration only: read the lineage through the source, identify each node's licences against
the knowledge base, assess them for the use profile. Nothing here prints or exits.
"""

from __future__ import annotations

from dataclasses import dataclass

from modeltrust.findings import Finding, Location, Severity
from modeltrust.licenses.identify import NodeLicense, identify
from modeltrust.licenses.kb import KnowledgeBase, default_kb
from modeltrust.licenses.lineage import DEFAULT_MAX_DEPTH, Lineage, walk_lineage
from modeltrust.licenses.obligations import (
    ChecklistItem,
    EffectiveLicense,
    UseProfile,
    Verdict,
    assess,
)
from modeltrust.rules import LIC_METADATA_UNREADABLE
from modeltrust.sources.interface import Source


@dataclass(frozen=True, slots=True)
class LicenseReport:
    target: str
    source_kind: str
    repo_id: str | None
    revision: str | None
    use: UseProfile
    lineage: Lineage
    licenses: dict[str, NodeLicense]
    """Each readable lineage node's licences, by node key."""
    effective: tuple[EffectiveLicense, ...]
    verdict: Verdict
    checklist: tuple[ChecklistItem, ...]
    findings: tuple[Finding, ...]
    kb: KnowledgeBase
    max_depth: int

    @property
    def effective_ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.effective)

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def at_or_above(self, threshold: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity >= threshold)


def check_license(
    source: Source,
    use: UseProfile | None = None,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    kb: KnowledgeBase | None = None,
) -> LicenseReport:
    """Check the model at ``source`` (and its ancestors) for the use described by ``use``."""
    use = use or UseProfile()
    kb = kb or default_kb()
    lineage = walk_lineage(source, max_depth=max_depth)
    licenses = {
        node.key: identify(node.facts, kb)
        for node in lineage.nodes
        if node.status == "ok" and node.facts is not None
    }
    assessment = assess(lineage, licenses, kb, use)
    unreadable = [
        LIC_METADATA_UNREADABLE.finding(
            Location(f"{node.display.rstrip('/')}/{problem.path}"),
            f"{'The model' if node.depth == 0 else repr(node.display)}: {problem.message}.",
            severity=Severity.LOW if problem.access else None,
        )
        for node in lineage.nodes
        if node.facts is not None
        for problem in node.facts.problems
    ]
    findings = sorted(
        [*unreadable, *lineage.findings, *assessment.findings],
        key=lambda f: (-f.severity, f.rule_id),
    )
    return LicenseReport(
        target=source.ref,
        source_kind=source.kind,
        repo_id=source.repo_id,
        revision=source.revision,
        use=use,
        lineage=lineage,
        licenses=licenses,
        effective=assessment.effective,
        verdict=assessment.verdict,
        checklist=assessment.checklist,
        findings=tuple(findings),
        kb=kb,
        max_depth=max_depth,
    )
