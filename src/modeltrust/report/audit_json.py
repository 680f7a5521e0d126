"""The audit result as versioned JSON (``modeltrust audit -f json``), documented in docs/audit.md
and described by ``schemas/audit-1.json``.

``schema`` is ``modeltrust.audit/1``: adding a key keeps it; removing or renaming one, or changing
a value's meaning, raises it. ``license`` is the licence report (``modeltrust.license/1``),
``documentation`` the coverage report (``modeltrust.card/1``) with a top-level ``score``, and
``fairness`` the fairness report when data was given (else null), each unchanged, so a consumer
of one report reads the same object here.
"""

from __future__ import annotations

import json
from typing import Any

from modeltrust.auditor.result import AuditResult
from modeltrust.cards.report_json import coverage_to_dict
from modeltrust.licenses.report_json import report_to_dict
from modeltrust.policy.engine import Decision
from modeltrust.policy.model import PolicyException

SCHEMA = "modeltrust.audit/1"
SCHEMA_ID = "https://modeltrust.dev/schemas/audit-1.json"


def audit_to_dict(result: AuditResult) -> dict[str, Any]:
    documentation = coverage_to_dict(result.documentation, tool_version=result.tool_version)
    documentation["score"] = result.documentation.overall
    fairness = None
    if result.fairness is not None:
        from modeltrust.fairness.render import to_dict

        fairness = to_dict(result.fairness)
    verdict = result.verdict
    counts = {s.label: n for s, n in result.severity_counts().items()}
    return {
        "$schema": SCHEMA_ID,
        "schema": SCHEMA,
        "tool": {"name": "modeltrust", "version": result.tool_version},
        "target": result.target,
        "source": {"kind": result.source_kind, "repo_id": result.repo_id},
        "revision": result.revision,
        "started_at": result.started_at,
        "duration_s": round(result.duration_s, 4),
        "policy": {
            "name": result.policy.name,
            "origin": result.policy_origin,
            "description": result.policy.description,
        },
        "verdict": {
            "status": verdict.status,
            "reasons": list(verdict.reasons),
            "waived": [_waiver(d) for d in verdict.waived],
            "expired_exceptions": [_exception(e) for e in verdict.expired],
        },
        "summary": {
            "files": len(result.files),
            "findings": len(result.evaluation.decisions),
            "by_severity": counts,
            "by_outcome": {
                o: sum(d.outcome == o for d in result.evaluation.decisions)
                for o in ("fail", "warn", "pass", "waived")
            },
        },
        "files": [
            {
                "path": f.path,
                "size": f.size,
                "sha256": f.sha256,
                "formats": list(f.formats),
                "scanned": f.scanned,
                "cached": f.cached,
            }
            for f in result.files
        ],
        "findings": [_decision(d) for d in _ordered(result)],
        "license": report_to_dict(result.license, tool_version=result.tool_version),
        "documentation": documentation,
        "fairness": fairness,
        "cache": {
            "enabled": result.cache.enabled,
            "hits": result.cache.hits,
            "misses": result.cache.misses,
        },
        "downloaded_bytes": result.downloaded_bytes,
    }


def render_audit_json(result: AuditResult) -> str:
    return json.dumps(audit_to_dict(result), indent=2, ensure_ascii=False) + "\n"


def _ordered(result: AuditResult) -> list[Decision]:
    return sorted(
        result.evaluation.decisions,
        key=lambda d: (-d.finding.severity, d.finding.rule_id, d.finding.location.display_path),
    )


def _decision(d: Decision) -> dict[str, Any]:
    out = d.finding.to_dict()
    out["area"] = d.area
    out["outcome"] = d.outcome
    out["exception"] = _exception(d.exception) if d.exception is not None else None
    return out


def _waiver(d: Decision) -> dict[str, Any]:
    exc = d.exception
    return {
        "rule_id": d.finding.rule_id,
        "location": str(d.finding.location),
        "exception": _exception(exc) if exc is not None else None,
    }


def _exception(e: PolicyException) -> dict[str, Any]:
    return {
        "rule": e.rule,
        "repo": e.repo,
        "file": e.file,
        "reason": e.reason,
        "approver": e.approver,
        "expires": e.expires.isoformat(),
    }


_SARIF_LEVEL = {"fail": "error", "warn": "warning", "pass": "note", "waived": "note"}


def render_audit_sarif(result: AuditResult) -> str:
    """SARIF 2.1.0: every finding of every area; the level is the policy's outcome (fail is an
    error, warn a warning), and a waived finding carries an accepted external suppression with
    the exception's reason, approver and expiry."""
    from modeltrust.report.sarif import sarif_document, sarif_result

    results = []
    for d in _ordered(result):
        r = sarif_result(d.finding)
        r["level"] = _SARIF_LEVEL[d.outcome]
        r["properties"]["area"] = d.area
        r["properties"]["outcome"] = d.outcome
        if d.outcome == "waived" and d.exception is not None:
            e = d.exception
            r["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": f"{e.reason} (approved by {e.approver}, expires "
                    f"{e.expires.isoformat()})",
                }
            ]
        results.append(r)
    return sarif_document(
        results,
        tool_version=result.tool_version,
        started_at=result.started_at,
        automation_id=f"modeltrust/audit/{result.repo_id or result.target}/",
        properties={
            "verdict": result.verdict.status,
            "policy": result.policy.name,
            "revision": result.revision,
        },
    )
