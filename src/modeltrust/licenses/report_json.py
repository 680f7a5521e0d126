"""The licence report as a JSON document (``modeltrust license -f json``), documented in
docs/licenses.md. ``schema`` is versioned: adding a key keeps ``modeltrust.license/1``;
removing or renaming one, or changing a value's meaning, raises it."""

from __future__ import annotations

import json
from typing import Any

from modeltrust.findings import Severity
from modeltrust.licenses.check import LicenseReport
from modeltrust.licenses.lineage import LineageNode

SCHEMA = "modeltrust.license/1"
DISCLAIMER = (
    "An engineering reading of licence terms recorded in modeltrust's knowledge base, not legal "
    "advice. Read the licences themselves before relying on this."
)


def report_to_dict(
    report: LicenseReport, *, fail_on: Severity = Severity.HIGH, tool_version: str = ""
) -> dict[str, Any]:
    lineage = report.lineage
    ids = {n.key: _node_id(n) for n in lineage.nodes}
    failed = bool(report.at_or_above(fail_on))
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for f in report.findings:
        counts[f.severity.label] += 1
    return {
        "schema": SCHEMA,
        "tool": {"name": "modeltrust", "version": tool_version},
        "target": report.target,
        "source": {
            "kind": report.source_kind,
            "repo_id": report.repo_id,
            "revision": report.revision,
        },
        "use": {
            "commercial": report.use.commercial,
            "monthly_active_users": report.use.monthly_active_users,
            "annual_revenue_usd": report.use.annual_revenue_usd,
            "eu_established": report.use.eu_established,
            "distribution": report.use.distribution,
        },
        "effective_licenses": list(report.effective_ids),
        "licenses": [
            {
                "id": e.id,
                "known": e.entry is not None,
                "name": e.entry.name if e.entry else None,
                "family": e.entry.family if e.entry else None,
                "spdx": e.entry.spdx if e.entry else None,
                "license_ref": e.entry.license_ref if e.entry else None,
                "category": e.entry.category if e.entry else None,
                "commercial_use": e.entry.commercial_use if e.entry else None,
                "confidence": e.entry.confidence if e.entry else None,
                "source": e.entry.source if e.entry else None,
                "checked": e.entry.checked if e.entry else None,
                "inherited": e.inherited,
                "carried_by": [ids[k] for k in e.carriers],
            }
            for e in report.effective
        ],
        "lineage": [_node(n, report, ids) for n in lineage.nodes],
        "commercial_use": report.verdict.commercial_use,
        "verdict": {
            "commercial_use": report.verdict.commercial_use,
            "use_permitted": report.verdict.use_permitted,
            "reasons": list(report.verdict.reasons),
        },
        "obligations": [
            {
                "topic": item.topic,
                "action": item.action,
                "why": item.why,
                "licenses": list(item.licenses),
            }
            for item in report.checklist
        ],
        "findings": [f.to_dict() for f in report.findings],
        "summary": {
            "findings": len(report.findings),
            "by_severity": counts,
            "max_severity": report.max_severity.label if report.max_severity is not None else None,
            "fail_on": fail_on.label,
            "failed": failed,
        },
        "knowledge_base": {
            "schema_version": report.kb.schema_version,
            "checked": report.kb.checked,
            "licenses": len(report.kb.entries),
        },
        "max_depth": report.max_depth,
        "disclaimer": DISCLAIMER,
    }


def render_json(
    report: LicenseReport, *, fail_on: Severity = Severity.HIGH, tool_version: str = ""
) -> str:
    doc = report_to_dict(report, fail_on=fail_on, tool_version=tool_version)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _node_id(node: LineageNode) -> str:
    return node.repo_id or node.ref


def _node(node: LineageNode, report: LicenseReport, ids: dict[str, str]) -> dict[str, Any]:
    found = report.licenses.get(node.key)
    licenses = list(found.ids) if found else []
    return {
        "id": ids[node.key],
        "repo_id": node.repo_id,
        "revision": node.revision,
        "name": node.name,
        "depth": node.depth,
        "relation": node.relation,
        "declared_by": node.declared_by,
        "status": node.status,
        "message": node.message,
        "license": licenses[0] if licenses else None,
        "licenses": licenses,
        "declared_licenses": list(found.declared) if found else [],
        "license_evidence": [
            {"origin": e.origin, "path": e.path, "value": e.value, "license": e.license_id}
            for e in (found.evidence if found else ())
        ],
        "bases": [ids[k] for k in node.bases],
        "derived_by": [ids[k] for k in node.children],
    }
