"""``modeltrust audit``: exit codes, outputs, policy discovery, the canary never appears."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeltrust.cli import main
from tests.auditor.conftest import clean_files, trojan_files, write
from tests.hubserver import HubServer


def test_exit_codes_and_json_on_stdout(
    hub: HubServer, canary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "acme/clean", "--no-progress", "-f", "json", "-j", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"]["status"] == "pass" and doc["source"]["repo_id"] == "acme/clean"
    assert main(["audit", "acme/trojan", "--no-progress", "-j", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "MT-PKL-002" in out
    assert main(["audit", "acme/super-chat-8b", "--no-progress", "-j", "1"]) == 1
    assert main(["audit", "acme/missing", "--no-progress"]) == 2
    assert "was not found" in capsys.readouterr().err


def test_every_output_at_once(tmp_path: Path, canary: Path) -> None:
    folder = write(tmp_path / "model", trojan_files(canary))
    html, bom, sarif, js = (tmp_path / n for n in ("r.html", "bom.json", "r.sarif", "r.json"))
    args = ["audit", str(folder), "--no-progress", "-j", "1", "--html", str(html)]
    args += ["--bom", str(bom), "--json", str(js), "-f", "sarif", "-o", str(sarif)]
    assert main(args) == 1
    assert html.read_text().startswith("<!doctype html>")
    assert json.loads(bom.read_text())["bomFormat"] == "CycloneDX"
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert json.loads(js.read_text())["verdict"]["status"] == "fail"


def test_policy_discovery_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "model", clean_files())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modeltrust.yaml").write_text(
        "name: picky\ndocumentation:\n  min_score: 1.0\n  action: fail\n"
    )
    assert main(["audit", str(folder), "--no-progress", "-j", "1", "-f", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["policy"]["name"] == "picky"
    assert any(f["rule_id"] == "MT-POL-004" for f in doc["findings"])
    assert main(["audit", str(folder), "--policy", "default", "--no-progress", "-j", "1"]) == 0
    capsys.readouterr()
    (tmp_path / "bad.yaml").write_text("thresholds:\n  security: {fail: loud}\n")
    assert main(["audit", str(folder), "--policy", "bad.yaml", "--no-progress"]) == 2
    assert "bad.yaml line 2: thresholds.security.fail" in capsys.readouterr().err
    (tmp_path / "empty.yaml").write_text("")
    assert main(["audit", str(folder), "--policy", "empty.yaml", "--no-progress"]) == 2
    assert "empty.yaml: the policy is empty" in capsys.readouterr().err
    assert main(["audit", str(folder), "--policy", str(tmp_path), "--no-progress"]) == 2
    assert "is a folder, not a policy file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--models-dir", "no-such-dir"], "'--models-dir'"),
        (
            ["--fairness-data", "no-such.csv", "--label", "y", "--prediction", "p"],
            "'--fairness-data'",
        ),
        (["--html", "no-such-dir/r.html"], "Choose another --html"),
        (["--json", "no-such-dir/r.json"], "Choose another --json"),
        (["--bom", "no-such-dir/bom.json"], "Choose another --bom"),
    ],
    ids=["models-dir", "fairness-data", "html", "json", "bom"],
)
def test_a_path_that_cannot_be_used_is_a_usage_error_naming_its_option(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    named: str,
) -> None:
    folder = write(tmp_path / "model", clean_files())
    monkeypatch.chdir(tmp_path)
    assert main(["audit", str(folder), "--no-progress", "-j", "1", "-f", "json", *args]) == 2
    assert named in capsys.readouterr().err


def test_fairness_options_must_come_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "model", clean_files())
    data = tmp_path / "x.csv"
    data.write_text("y,p,g\n1,1,a\n")
    assert main(["audit", str(folder), "--fairness-data", str(data), "--no-progress"]) == 2
    assert "--label, --prediction and --sensitive" in capsys.readouterr().err
    assert main(["audit", str(folder), "--label", "y", "--no-progress"]) == 2


def test_cache_is_used_by_default_and_can_be_disabled(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "model", clean_files())
    assert main(["audit", str(folder), "--no-progress", "-j", "1", "-f", "json"]) == 0
    assert main(["audit", str(folder), "--no-progress", "-j", "1", "-f", "json"]) == 0
    second = json.loads(capsys.readouterr().out.split("\n}\n")[1] + "\n}")
    assert second["cache"]["hits"] == len(second["files"])
    assert any(cache_dir.iterdir())
    assert main(["audit", str(folder), "--no-cache", "--no-progress", "-j", "1", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["cache"]["enabled"] is False


def test_terminal_groups_alike_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write(tmp_path / "model", clean_files())
    for i in range(6):
        (folder / f"blob-{i}.bin").write_bytes(b"not a model at all")
    assert main(["audit", str(folder), "--no-progress", "-j", "1"]) == 0
    out = capsys.readouterr().out
    assert "(6 findings)" in out and "and 3 more" in out
    assert "blob-5.bin" not in out
