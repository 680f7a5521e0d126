"""From findings to a verdict: thresholds per area, the policy's own checks, exceptions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from modeltrust import rules
from modeltrust.cards.coverage import assess_coverage
from modeltrust.cards.facts import collect_facts
from modeltrust.findings import Finding, Location, Severity
from modeltrust.licenses.check import check_license
from modeltrust.policy.engine import Evidence, area_of, evaluate, licence_properties
from modeltrust.policy.model import Policy, builtin_policy, parse_policy
from modeltrust.sources import open_source
from tests.hubserver import card

TODAY = date(2026, 6, 1)


def _finding(rule: rules.Rule, path: str = "model.pkl") -> Finding:
    return rule.finding(Location(path), f"{rule.id} seen")


def _evidence(*findings: Finding, repo: str | None = "acme/model") -> Evidence:
    return Evidence(subject="acme/model", repo_id=repo, findings=findings)


def test_areas_follow_rule_ids() -> None:
    assert area_of("MT-PKL-001") == "security"
    assert area_of("MT-GEN-001") == "security"
    assert area_of("MT-LIC-003") == area_of("MT-LIN-001") == "license"
    assert area_of("MT-DOC-001") == "documentation"
    assert area_of("MT-FAIR-001") == "fairness"
    assert area_of("MT-POL-001") == "policy"


def test_thresholds_decide_the_status() -> None:
    default = builtin_policy("default")
    assert evaluate(default, _evidence(), today=TODAY).verdict.status == "pass"
    critical = _finding(rules.PKL_CODE_EXEC)
    result = evaluate(default, _evidence(critical), today=TODAY)
    assert result.verdict.status == "fail"
    assert result.verdict.reasons[0].startswith("fail: MT-PKL-001 (critical, security)")
    medium = rules.GEN_UNRECOGNISED.finding(Location("x.bin"), "odd", severity=Severity.MEDIUM)
    assert evaluate(default, _evidence(medium), today=TODAY).verdict.status == "warn"
    assert (
        evaluate(builtin_policy("strict"), _evidence(medium), today=TODAY).verdict.status == "fail"
    )
    never = parse_policy("thresholds:\n  security: {fail: none, warn: none}\n", "p")
    assert evaluate(never, _evidence(critical), today=TODAY).verdict.status == "pass"


POLICY_WITH_EXCEPTIONS = """
exceptions:
  - rule: MT-PKL-001
    repo: acme/*
    file: "*.pkl"
    reason: reviewed by the security team; the callable is our own
    approver: alice@example.com
    expires: 2026-12-31
  - rule: MT-GEN-*
    reason: old waiver
    approver: bob@example.com
    expires: 2025-01-31
"""


def test_valid_exception_waives_and_is_reported() -> None:
    policy = parse_policy(POLICY_WITH_EXCEPTIONS, "p.yaml")
    result = evaluate(policy, _evidence(_finding(rules.PKL_CODE_EXEC)), today=TODAY)
    assert result.verdict.status == "pass"
    (waived,) = result.verdict.waived
    assert waived.outcome == "waived" and waived.exception is not None
    assert waived.exception.approver == "alice@example.com"
    note = next(d for d in result.decisions if d.finding.rule_id == "MT-POL-008")
    assert "reviewed by the security team" in note.finding.message
    # scoped: another repo or another file is not covered
    other_repo = evaluate(policy, _evidence(_finding(rules.PKL_CODE_EXEC), repo="evil/model"))
    assert other_repo.verdict.status == "fail"
    other_file = evaluate(policy, _evidence(_finding(rules.PKL_CODE_EXEC, "weights.bin")))
    assert other_file.verdict.status == "fail"
    # after its expiry date it waives nothing
    later = evaluate(policy, _evidence(_finding(rules.PKL_CODE_EXEC)), today=date(2027, 1, 1))
    assert later.verdict.status == "fail"
    assert [e.rule for e in later.verdict.expired] == ["MT-PKL-001"]


def test_expired_exception_counts_again_and_is_reported() -> None:
    policy = parse_policy(POLICY_WITH_EXCEPTIONS, "p.yaml")
    finding = rules.GEN_UNRECOGNISED.finding(Location("x.bin"), "odd", severity=Severity.HIGH)
    result = evaluate(policy, _evidence(finding), today=TODAY)
    assert result.verdict.status == "fail"
    assert not result.verdict.waived
    (expired,) = result.verdict.expired
    assert expired.approver == "bob@example.com"
    stale = next(d for d in result.decisions if d.finding.rule_id == "MT-POL-007")
    assert stale.outcome == "warn" and "2025-01-31" in stale.finding.message


def _local(
    tmp_path: Path, name: str, files: dict[str, str], policy: Policy | None = None
) -> Evidence:
    """Evidence for a folder, its licences judged for ``policy``'s use profile (as audit does)."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    for path, text in files.items():
        (folder / path).write_text(text)
    source = open_source(str(folder))
    report = check_license(source, (policy or builtin_policy("default")).use.profile())
    coverage = assess_coverage(collect_facts(source, license_report=report))
    return Evidence(
        subject=str(folder), repo_id=None, findings=(), license=report, documentation=coverage
    )


def test_licence_lists_properties_and_use(tmp_path: Path) -> None:
    files = {"README.md": card("# m\n", license="cc-by-nc-4.0")}
    nc = _local(tmp_path, "nc", files, builtin_policy("commercial"))
    assert nc.license is not None
    entry = nc.license.effective[0].entry
    assert "non-commercial" in licence_properties(entry)
    assert licence_properties(None) == ("unknown",)
    commercial = evaluate(builtin_policy("commercial"), nc, today=TODAY)
    assert commercial.verdict.status == "fail"
    ids = {d.finding.rule_id for d in commercial.decisions if d.outcome == "fail"}
    assert {"MT-POL-002", "MT-POL-003"} <= ids
    research_nc = _local(tmp_path, "nc", files, builtin_policy("research"))
    research = evaluate(builtin_policy("research"), research_nc, today=TODAY)
    assert not [d for d in research.decisions if d.area == "policy" and d.outcome == "fail"]
    deny = parse_policy("license:\n  deny: [cc-by-nc-4.0]\n  use_verdict: {forbidden: pass}\n", "p")
    denied = evaluate(deny, nc, today=TODAY)
    assert any(d.finding.rule_id == "MT-POL-001" and d.outcome == "fail" for d in denied.decisions)
    allow = parse_policy("license:\n  allow: [mit, apache-2.0]\n  action: warn\n", "p")
    allowed = evaluate(allow, nc, today=TODAY)
    assert any(
        d.finding.rule_id == "MT-POL-001"
        and d.outcome == "warn"
        and "allow list" in d.finding.message
        for d in allowed.decisions
    )


def test_documentation_minimum_and_required_items(tmp_path: Path) -> None:
    thin = _local(tmp_path, "thin", {"README.md": card("# m\n\nA model.\n", license="mit")})
    policy = parse_policy(
        "documentation:\n  min_score: 0.9\n  required: [training-data, license]\n  action: fail\n",
        "p",
    )
    result = evaluate(policy, thin, today=TODAY)
    failing = {
        (d.finding.rule_id, d.finding.evidence) for d in result.decisions if d.outcome == "fail"
    }
    assert ("MT-POL-005", "training-data") in failing
    assert ("MT-POL-005", "license") not in failing  # the card declares mit
    assert any(rule == "MT-POL-004" for rule, _ in failing)


def test_required_fairness_without_data() -> None:
    policy = parse_policy("fairness:\n  required: true\n  action: fail\n", "p")
    result = evaluate(policy, _evidence(), today=TODAY)
    assert result.verdict.status == "fail"
    assert result.decisions[0].finding.rule_id == "MT-POL-006"
