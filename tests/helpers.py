"""Helpers shared by the tests: scan bytes written to a temp folder, summarise findings."""

from __future__ import annotations

from pathlib import Path

from modeltrust import ScanResult, Severity, scan_paths


def scan_bytes(tmp_path: Path, data: bytes, name: str = "model.bin") -> ScanResult:
    path = tmp_path / name
    path.write_bytes(data)
    return scan_paths([path])


def rule_ids(result: ScanResult, at_least: Severity = Severity.INFO) -> set[str]:
    return {f.rule_id for f in result.findings if f.severity >= at_least}


def serious(result: ScanResult) -> list[str]:
    """Findings at or above HIGH, as readable strings (for assertion messages)."""
    return [
        f"{f.severity.label} {f.rule_id} {f.location}: {f.message}"
        for f in result.at_or_above(Severity.HIGH)
    ]
