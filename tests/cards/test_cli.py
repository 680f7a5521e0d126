"""``modeltrust card`` and ``modeltrust bom``: outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeltrust.cli import EXIT_ERROR, EXIT_FAILED, EXIT_OK, main
from tests.cards.conftest import CONFIG, TEMPLATE_ONLY, Build, rich_files


def test_card_rich_exits_0(build: Build, capsys: pytest.CaptureFixture[str]) -> None:
    folder = build(rich_files())
    assert main(["card", str(folder)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Overall score: 1.00" in out and "No findings." in out


def test_card_template_exits_1_and_json(build: Build, capsys: pytest.CaptureFixture[str]) -> None:
    folder = build({"README.md": TEMPLATE_ONLY})
    assert main(["card", str(folder), "-f", "json"]) == EXIT_FAILED
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "modeltrust.card/1"
    assert data["failed"] is True and data["fail_on"] == "medium"
    assert {f["rule_id"] for f in data["findings"]} >= {"MT-DOC-001", "MT-DOC-002"}
    item = next(i for i in data["items"] if i["id"] == "mc-caveats")
    assert item["unverified"] is True and item["status"] == "placeholder"
    assert main(["card", str(folder), "--fail-on", "high", "-f", "json"]) == EXIT_OK


def test_card_no_card_exits_1(build: Build) -> None:
    assert main(["card", str(build({"config.json": json.dumps(CONFIG)}))]) == EXIT_FAILED


def test_card_bad_target_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["card", str(tmp_path / "nope")]) == EXIT_ERROR
    assert "does not exist" in capsys.readouterr().err


def test_card_draft_and_eu_files(
    build: Build, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = build({"README.md": TEMPLATE_ONLY, "config.json": json.dumps(CONFIG)})
    draft = tmp_path / "out" / "README.draft.md"
    draft.parent.mkdir()
    eu = tmp_path / "eu"
    code = main(
        [
            "card",
            str(folder),
            "--draft",
            str(draft),
            "--eu-ai-act",
            str(eu),
            "-o",
            str(tmp_path / "r.txt"),
        ]
    )
    assert code == EXIT_FAILED
    assert "[MISSING:" in draft.read_text()
    assert "BertForSequenceClassification" in (eu / "annex-xii-information.md").read_text()
    assert "## 2. List of data sources" in (eu / "training-content-summary.md").read_text()
    assert "Documentation check" in (tmp_path / "r.txt").read_text()


def test_card_draft_to_stdout(build: Build, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["card", str(build(rich_files())), "--draft", "-"]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.startswith("---\nlicense: apache-2.0\n")
    assert "Documentation score 1.00" in captured.err


def test_bom_formats(build: Build, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = build(rich_files())
    out = tmp_path / "bom.json"
    assert main(["bom", str(folder), "--format", "cyclonedx", "-o", str(out)]) == EXIT_OK
    assert json.loads(out.read_text())["bomFormat"] == "CycloneDX"
    assert main(["bom", str(folder), "-f", "spdx", "--no-hash"]) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert not [e for e in doc["@graph"] if e["type"] == "software_File"]
    assert main(["bom", str(folder), "-f", "xml"]) == EXIT_ERROR
    assert main(["bom", str(folder)]) == EXIT_ERROR  # --format is required
