"""The terminal report a person reads: alike findings grouped, the time the user waited."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from modeltrust import rules
from modeltrust.findings import Location, ScannedFile, ScanResult, Severity
from modeltrust.report.json import JsonRenderer
from modeltrust.report.terminal import render_terminal


def _result(unknown: int) -> ScanResult:
    files = tuple(ScannedFile(f"repo/shard-{i:05}.bin", 10, ("unknown",)) for i in range(unknown))
    findings = tuple(
        rules.GEN_UNRECOGNISED.finding(
            Location(f.path), f"'{f.path}' is named like a model file (.bin) but ..."
        )
        for f in files
    )
    evil = rules.PKL_CODE_EXEC.finding(Location("repo/evil.pkl"), "calls builtins.exec")
    return ScanResult(
        targets=("repo",),
        files=(*files, ScannedFile("repo/evil.pkl", 10, ("pickle",))),
        findings=(*findings, evil),
        duration_s=1.5,
    )


def _render(result: ScanResult) -> str:
    out = io.StringIO()
    render_terminal(result, Console(file=out, width=120), fail_on=Severity.HIGH)
    return out.getvalue()


def test_ten_thousand_alike_findings_are_one_row() -> None:
    text = _render(_result(10_000))
    assert len(text.splitlines()) < 40
    assert "10,000 findings" in text and "and 9,997 more" in text
    for i in range(3):
        assert f"repo/shard-{i:05}.bin" in text
    assert "repo/shard-00003.bin" not in text
    assert "repo/evil.pkl" in text  # a single finding is shown as ever
    assert "10001 files scanned in 1.50 s" in text


def test_a_few_alike_findings_are_shown_one_by_one() -> None:
    text = _render(_result(3))
    assert "findings)" not in text
    assert all(f"repo/shard-{i:05}.bin" in text for i in range(3))


def test_machine_formats_keep_every_finding() -> None:
    assert JsonRenderer().render(_result(50), fail_on=Severity.HIGH).count('"MT-GEN-002"') == 50


def test_scanned_in_is_the_time_the_user_waited(tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"not a model")
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "modeltrust", "scan", str(tmp_path), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "120"},
    )
    waited = time.perf_counter() - started
    line = next(x for x in run.stdout.splitlines() if "scanned in" in x)
    shown = float(line.split("scanned in")[1].split()[0])
    # Start-up and loading the scanners are most of a one-file scan: they are counted.
    assert 0.5 * waited <= shown <= waited + 0.01, (shown, waited)
