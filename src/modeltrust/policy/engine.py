"""From every check's findings to one verdict, as the policy says.

Each finding is placed in an area (security, license, documentation, fairness) by its rule id and
gets the outcome of that area's thresholds: ``fail``, ``warn`` or ``pass``. The policy then adds
its own findings (MT-POL): licences or licence properties it refuses, a use its profile may not
make, documentation below its minimum, fairness evidence it requires. Exceptions are applied last:
a valid one waives the findings it matches (each waiver is reported as MT-POL-008 with its reason,
approver and expiry); an expired one waives nothing and is reported as MT-POL-007.

The verdict is the worst outcome; its reasons list every finding that produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from modeltrust import rules
from modeltrust.findings import Finding, Location
from modeltrust.policy.model import Action, Area, LicenseProperty, Policy, PolicyException

if TYPE_CHECKING:
    from modeltrust.cards.coverage import CoverageReport
    from modeltrust.fairness.result import FairnessResult
    from modeltrust.licenses.check import LicenseReport
    from modeltrust.licenses.kb import LicenseEntry

Outcome = Literal["fail", "warn", "pass", "waived"]
Status = Literal["pass", "warn", "fail"]
_AREA_PREFIXES: tuple[tuple[str, Area], ...] = (
    ("MT-LIC-", "license"),
    ("MT-LIN-", "license"),
    ("MT-DOC-", "documentation"),
    ("MT-FAIR-", "fairness"),
    ("MT-POL-", "policy"),
)
_UNWAIVABLE = frozenset({rules.POL_EXCEPTION_EXPIRED.id, rules.POL_WAIVED.id})
_REASON_CHARS = 300


def area_of(rule_id: str) -> Area:
    """The area a rule belongs to; every scanner rule is ``security``."""
    for prefix, area in _AREA_PREFIXES:
        if rule_id.startswith(prefix):
            return area
    return "security"


@dataclass(frozen=True, slots=True)
class Decision:
    """One finding and what the policy made of it."""

    finding: Finding
    area: Area
    outcome: Outcome
    exception: PolicyException | None = None
    """The exception that waived it (outcome ``waived``) or that had expired."""


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    reasons: tuple[str, ...]
    waived: tuple[Decision, ...] = ()
    expired: tuple[PolicyException, ...] = ()


@dataclass(frozen=True, slots=True)
class Evaluation:
    decisions: tuple[Decision, ...]
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the checks found about one model, for the policy to judge."""

    subject: str
    """How the model is named in locations: ``org/name@sha`` or the folder."""
    repo_id: str | None
    findings: tuple[Finding, ...]
    """Scanner findings (the security area)."""
    license: LicenseReport | None = None
    documentation: CoverageReport | None = None
    fairness: FairnessResult | None = None


def evaluate(policy: Policy, evidence: Evidence, *, today: date | None = None) -> Evaluation:
    """Judge ``evidence`` by ``policy``; ``today`` decides which exceptions have expired."""
    today = today or date.today()
    raw: list[tuple[Finding, Action]] = []
    for finding in _all_findings(evidence):
        area = area_of(finding.rule_id)
        raw.append((finding, policy.thresholds.for_area(area).action(finding.severity)))
    raw.extend(_policy_findings(policy, evidence))
    decisions: list[Decision] = []
    expired: dict[PolicyException, None] = {}
    for finding, action in raw:
        decision = _apply_exceptions(policy, evidence, finding, action, today)
        decisions.append(decision)
        if decision.exception is not None and decision.outcome != "waived":
            expired[decision.exception] = None
    extra = [_expired(exc, evidence) for exc in expired]
    waived = tuple(d for d in decisions if d.outcome == "waived")
    extra.extend(_waiver(d) for d in waived)
    everything = (*decisions, *extra)
    return Evaluation(everything, _verdict(everything, waived, tuple(expired)))


def _expired(exc: PolicyException, evidence: Evidence) -> Decision:
    finding = rules.POL_EXCEPTION_EXPIRED.finding(
        Location(evidence.subject),
        f"The exception for {exc.label} expired; the findings it covered count again. Its "
        f"reason was: {exc.reason}",
        evidence=f"expires {exc.expires}",
    )
    return Decision(finding, "policy", "warn", exc)


def _waiver(d: Decision) -> Decision:
    exc = d.exception
    label = exc.label if exc is not None else "an exception"
    reason = exc.reason if exc is not None else ""
    finding = rules.POL_WAIVED.finding(
        d.finding.location,
        f"{d.finding.rule_id} ({d.finding.severity.label}) was waived by the exception for "
        f"{label}: {reason}",
        evidence=f"{d.finding.rule_id}: {d.finding.message[:200]}",
    )
    return Decision(finding, "policy", "pass", exc)


def _all_findings(evidence: Evidence) -> list[Finding]:
    found = list(evidence.findings)
    if evidence.license is not None:
        found.extend(evidence.license.findings)
    if evidence.documentation is not None:
        found.extend(evidence.documentation.findings)
    if evidence.fairness is not None:
        found.extend(evidence.fairness.findings)
    return found


def _apply_exceptions(
    policy: Policy, evidence: Evidence, finding: Finding, action: Action, today: date
) -> Decision:
    area = area_of(finding.rule_id)
    if finding.rule_id in _UNWAIVABLE or action == "pass":
        return Decision(finding, area, action)
    stale: PolicyException | None = None
    for exc in policy.exceptions:
        if not exc.matches(finding.rule_id, evidence.repo_id, finding.location.path):
            continue
        if not exc.expired(today):
            return Decision(finding, area, "waived", exc)
        stale = stale or exc
    return Decision(finding, area, action, stale)


def _verdict(
    decisions: Sequence[Decision],
    waived: tuple[Decision, ...],
    expired: tuple[PolicyException, ...],
) -> Verdict:
    fails = [d for d in decisions if d.outcome == "fail"]
    warns = [d for d in decisions if d.outcome == "warn"]
    status: Status = "fail" if fails else "warn" if warns else "pass"
    reasons = [_reason(d) for d in (*fails, *warns)]
    if not reasons:
        reasons = ["No finding reaches the policy's warn or fail thresholds."]
    return Verdict(status, tuple(reasons), waived, expired)


def _reason(d: Decision) -> str:
    f = d.finding
    message = f.message if len(f.message) <= _REASON_CHARS else f.message[:_REASON_CHARS] + "…"
    return f"{d.outcome}: {f.rule_id} ({f.severity.label}, {d.area}) at {f.location}: {message}"


# --- the policy's own findings ------------------------------------------------------------------


def _policy_findings(policy: Policy, evidence: Evidence) -> list[tuple[Finding, Action]]:
    out: list[tuple[Finding, Action]] = []
    where = Location(evidence.subject)
    if evidence.license is not None:
        out.extend(_license_findings(policy, evidence.license, where))
    if evidence.documentation is not None:
        out.extend(_documentation_findings(policy, evidence.documentation, where))
    if policy.fairness.required and evidence.fairness is None:
        out.append(
            (
                rules.POL_FAIRNESS_MISSING.finding(
                    where,
                    f"Policy '{policy.name}' requires a fairness audit, and no fairness data "
                    "was given.",
                ),
                policy.fairness.action,
            )
        )
    return [(f, a) for f, a in out if a != "pass"]


def _license_findings(
    policy: Policy, report: LicenseReport, where: Location
) -> list[tuple[Finding, Action]]:
    rule = policy.license
    out: list[tuple[Finding, Action]] = []
    for lic in report.effective:
        names = {lic.id.lower()}
        if lic.entry is not None and lic.entry.spdx:
            names.add(lic.entry.spdx.lower())
        origin = "inherited from a base model" if lic.inherited else "declared by the model"
        if names & set(rule.deny):
            out.append(
                (
                    rules.POL_LICENSE_DENIED.finding(
                        where,
                        f"Licence '{lic.id}' ({origin}) is on the deny list of policy "
                        f"'{policy.name}'.",
                        evidence=lic.id,
                    ),
                    rule.action,
                )
            )
        elif rule.allow and not names & set(rule.allow):
            out.append(
                (
                    rules.POL_LICENSE_DENIED.finding(
                        where,
                        f"Licence '{lic.id}' ({origin}) is not on the allow list of policy "
                        f"'{policy.name}' ({', '.join(rule.allow)}).",
                        evidence=lic.id,
                    ),
                    rule.action,
                )
            )
        out.extend(
            (
                rules.POL_LICENSE_PROPERTY.finding(
                    where,
                    f"Licence '{lic.id}' ({origin}) is {prop}, which policy '{policy.name}' "
                    "does not accept.",
                    evidence=f"{lic.id}: {prop}",
                ),
                rule.action,
            )
            for prop in licence_properties(lic.entry)
            if prop in rule.deny_properties
        )
    outcome = report.verdict.use_permitted
    if outcome != "allowed":
        action: Action = getattr(rule.use_verdict, outcome)
        reasons = "; ".join(report.verdict.reasons) or "no reason recorded"
        out.append(
            (
                rules.POL_USE_NOT_PERMITTED.finding(
                    where,
                    f"For the use profile of policy '{policy.name}' the licence verdict is "
                    f"'{outcome}': {reasons}",
                    evidence=f"use_permitted={outcome}",
                ),
                action,
            )
        )
    return out


def licence_properties(entry: LicenseEntry | None) -> tuple[LicenseProperty, ...]:
    """The properties a policy can refuse, as the knowledge base records them."""
    if entry is None:
        return ("unknown",)
    r, o = entry.restrictions, entry.obligations
    found: list[LicenseProperty] = []
    if entry.commercial_use == "no" or r.non_commercial:
        found.append("non-commercial")
    if r.research_only or entry.category == "research":
        found.append("research-only")
    if entry.category in ("copyleft", "network-copyleft"):
        found.append("copyleft")
    if entry.category == "network-copyleft":
        found.append("network-copyleft")
    if o.share_alike:
        found.append("share-alike")
    if r.acceptable_use or o.include_use_restrictions or o.use_policy:
        found.append("use-restrictions")
    if r.no_improving_other_models:
        found.append("no-improving-other-models")
    if entry.confidence == "unverified":
        found.append("unverified")
    return tuple(found)


def _documentation_findings(
    policy: Policy, report: CoverageReport, where: Location
) -> list[tuple[Finding, Action]]:
    from modeltrust.cards.standards import MUST_HAVE_TOPICS

    rule = policy.documentation
    out: list[tuple[Finding, Action]] = []
    if report.overall < rule.min_score:
        out.append(
            (
                rules.POL_DOC_SCORE.finding(
                    where,
                    f"Documentation score {report.overall:.2f} is below the minimum "
                    f"{rule.min_score:.2f} of policy '{policy.name}'.",
                    evidence=f"score={report.overall:.4f} min_score={rule.min_score}",
                ),
                rule.action,
            )
        )
    for name in rule.required:
        if name in MUST_HAVE_TOPICS:
            present = report.topic_present(name)
        else:
            try:
                present = report.result(name).status == "present"
            except KeyError:
                present = False
        if not present:
            out.append(
                (
                    rules.POL_DOC_REQUIRED.finding(
                        where,
                        f"Policy '{policy.name}' requires '{name}' to be documented, and the "
                        "card does not document it.",
                        evidence=name,
                    ),
                    rule.action,
                )
            )
    return out
