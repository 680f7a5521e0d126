"""SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.

Rule metadata comes from the rule catalogue; ``security-severity`` drives GitHub's severity
badges. Archive members are logical locations under the file that holds them.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any
from urllib.parse import quote

from modeltrust.findings import Finding, ScanResult, Severity
from modeltrust.report.interface import Renderer
from modeltrust.rules import Rule, all_rules

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
HELP_URI = "https://github.com/modeltrust/modeltrust/blob/main/docs/rules.md#{anchor}"
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("-", " ").split()[:8]),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.remediation},
        "helpUri": HELP_URI.format(anchor=rule.id.lower()),
        "help": {"text": rule.remediation},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "tags": ["security", *rule.references],
        },
    }


def _uri(path: str) -> str:
    """A file's path as a SARIF artifact URI (an RFC 3986 reference): Windows separators become
    ``/``, and everything but letters, digits, ``-._~`` and ``/`` is percent-encoded, so that a
    name with a space, ``#``, ``%``, ``?`` or an escaped byte (``\\xff``) stays one path."""
    if os.sep == "\\":
        path = path.replace("\\", "/")
    return quote(path.removeprefix("./"), safe="/")


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    loc = f.location
    region: dict[str, Any] = {"startLine": 1}
    if loc.offset is not None:
        region["byteOffset"] = loc.offset
    physical = {"artifactLocation": {"uri": _uri(loc.path)}, "region": region}
    location: dict[str, Any] = {"physicalLocation": physical}
    if loc.members:
        location["logicalLocations"] = [
            {"fullyQualifiedName": loc.display_path, "kind": "member", "name": loc.members[-1]}
        ]
    fingerprint = hashlib.sha256(
        f"{f.rule_id}|{loc.display_path}|{loc.offset}|{f.evidence}".encode()
    ).hexdigest()
    text = f.message if loc.members == () else f"{f.message} (in {loc.display_path})"
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "level": LEVEL[f.severity],
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"modeltrust/v1": fingerprint},
        "properties": {
            "severity": f.severity.label,
            "security-severity": SECURITY_SEVERITY[f.severity],
        },
    }
    if f.rule_id in index:
        out["ruleIndex"] = index[f.rule_id]
    if f.evidence:
        out["properties"]["evidence"] = f.evidence
    return out


def sarif_result(f: Finding) -> dict[str, Any]:
    """One SARIF result for ``f`` (rule index into the full catalogue)."""
    return _result(f, _INDEX)


def sarif_document(
    results: list[dict[str, Any]],
    *,
    tool_version: str,
    started_at: str,
    automation_id: str,
    properties: dict[str, Any] | None = None,
) -> str:
    """A SARIF 2.1.0 log of one run with the whole rule catalogue and ``results``."""
    doc: dict[str, Any] = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "modeltrust",
                        "semanticVersion": tool_version,
                        "version": tool_version,
                        "informationUri": "https://github.com/modeltrust/modeltrust",
                        "rules": [_rule(r) for r in all_rules()],
                    }
                },
                "automationDetails": {"id": automation_id},
                "results": results,
                "invocations": [{"executionSuccessful": True, "startTimeUtc": started_at}],
            }
        ],
    }
    if properties:
        doc["runs"][0]["properties"] = properties
    return json.dumps(doc, indent=2) + "\n"


_INDEX = {r.id: i for i, r in enumerate(all_rules())}


class SarifRenderer(Renderer):
    name = "sarif"
    media_type = "application/sarif+json"

    def render(self, result: ScanResult, *, fail_on: Severity) -> str:
        return sarif_document(
            [sarif_result(f) for f in result.findings],
            tool_version=result.tool_version,
            started_at=result.started_at,
            automation_id="modeltrust/scan/",
        )
