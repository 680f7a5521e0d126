"""The command line: exit codes, formats, output files, messages."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from modeltrust.cli import EXIT_ERROR, EXIT_FAILED, EXIT_OK, main

BENIGN = pickle.dumps({"w": [1.0, 2.0]}, protocol=4)
EVIL = b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueR."
LOW_ONLY = pickle.dumps({"x": 1}, protocol=2).replace(b"}", b"csklearn.tree._tree\nTree\n)R", 1)


@pytest.fixture
def models(tmp_path: Path) -> Path:
    (tmp_path / "good.pkl").write_bytes(BENIGN)
    (tmp_path / "bad.pt").write_bytes(EVIL)
    return tmp_path


def test_clean_file_exits_0(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(models / "good.pkl"), "--no-progress"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "PASS" in out and "no findings" in out


def test_malicious_file_exits_1(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(models), "--no-progress"]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "MT-PKL-002" in out and "FAIL" in out


def test_fail_on_threshold(models: Path) -> None:
    assert main(["scan", str(models / "bad.pt"), "--fail-on", "critical"]) == EXIT_FAILED
    low = models / "low.pkl"
    low.write_bytes(LOW_ONLY)
    assert main(["scan", str(low), "--fail-on", "high"]) == EXIT_OK
    assert main(["scan", str(low), "--fail-on", "low"]) == EXIT_FAILED


def test_json_to_stdout(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(models), "-f", "json"]) == EXIT_FAILED
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["failed"] is True
    assert any(
        f["rule_id"] == "MT-PKL-002" and f["severity"] == "critical" for f in doc["findings"]
    )


def test_sarif_to_file(models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.sarif"
    assert main(["scan", str(models), "-f", "sarif", "-o", str(out)]) == EXIT_FAILED
    doc = json.loads(out.read_text())
    assert doc["version"] == "2.1.0"
    assert "Report written" in capsys.readouterr().err


def test_terminal_report_to_file(models: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    assert main(["scan", str(models), "-o", str(out)]) == EXIT_FAILED
    assert "MT-PKL-002" in out.read_text()


def test_missing_path_exits_2_with_a_useful_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(tmp_path / "nope")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "Cannot scan" in err and "nope" in err


@pytest.mark.parametrize(
    "args",
    [["scan"], ["scan", ".", "--fail-on", "bogus"], ["scan", ".", "--format", "pdf"], ["nosuch"]],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert main(args) == EXIT_ERROR


def test_unwritable_output_exits_2(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = models / "no-such-dir" / "out.json"
    assert main(["scan", str(models), "-f", "json", "-o", str(target)]) == EXIT_ERROR
    assert "Could not write the report" in capsys.readouterr().err


def test_environment_variables_set_options(
    models: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELTRUST_FORMAT", "json")
    monkeypatch.setenv("MODELTRUST_FAIL_ON", "critical")
    assert main(["scan", str(models / "good.pkl")]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["summary"]["fail_on"] == "critical"


def test_version_and_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == EXIT_OK
    assert "modeltrust" in capsys.readouterr().out
    assert main(["rules", "--json"]) == EXIT_OK
    ids = [r["id"] for r in json.loads(capsys.readouterr().out)]
    assert "MT-PKL-001" in ids


def test_python_dash_m(models: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "modeltrust", "scan", str(models), "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_FAILED, done.stderr
