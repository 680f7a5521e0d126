"""The versioned JSON report. Its schema is ``schemas/scan-result-1.json`` (see docs/json.md).

Compatible changes (new optional keys) keep ``schema_version`` 1; anything else bumps it.
"""

from __future__ import annotations

import json
from typing import Any

from modeltrust.findings import ScanResult, Severity
from modeltrust.report.interface import Renderer

SCHEMA_VERSION = 1
SCHEMA_ID = "https://modeltrust.dev/schemas/scan-result-1.json"


def result_to_dict(result: ScanResult, *, fail_on: Severity) -> dict[str, Any]:
    counts = result.severity_counts()
    worst = result.max_severity
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "modeltrust", "version": result.tool_version},
        "targets": list(result.targets),
        "started_at": result.started_at,
        "duration_s": round(result.duration_s, 6),
        "summary": {
            "files": len(result.files),
            "findings": len(result.findings),
            "by_severity": {s.label: n for s, n in counts.items()},
            "max_severity": worst.label if worst is not None else None,
            "fail_on": fail_on.label,
            "failed": bool(result.at_or_above(fail_on)),
        },
        "files": [
            {
                "path": f.path,
                "size": f.size,
                "formats": list(f.formats),
                "sha256": f.sha256,
                "facts": dict(f.facts),
            }
            for f in result.files
        ],
        "findings": [f.to_dict() for f in result.findings],
    }


class JsonRenderer(Renderer):
    name = "json"
    media_type = "application/json"

    def render(self, result: ScanResult, *, fail_on: Severity) -> str:
        return json.dumps(result_to_dict(result, fail_on=fail_on), indent=2) + "\n"
