"""File names that are not valid UTF-8 (legal on Linux) reach every report escaped, never as an
internal error: scan, audit and bom, in every format, and the audit's result cache."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from sarif_pydantic import Sarif

from demo.build import trojan_pickle
from modeltrust.cli import main
from tests.hubserver import card
from tests.report.test_bom import assert_valid_cdx, load_spdx

NAME = os.fsdecode(b"caf\xe9.bin")  # a Latin-1 name: the byte 0xE9 is not UTF-8
SHOWN = "caf\\xe9.bin"


@pytest.fixture
def folder(tmp_path: Path, canary: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELTRUST_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "model"
    root.mkdir()
    (root / "README.md").write_text(card("# m\n", license="apache-2.0"))
    (root / NAME).write_bytes(pickle.dumps({"w": [1.0]}, protocol=2))
    (root / os.fsdecode(b"\xff\xfe-evil.pkl")).write_bytes(trojan_pickle(canary))
    return root


def _json(path: Path) -> object:
    text = path.read_text(encoding="utf-8")  # strict: the report is valid UTF-8
    assert "\\udc" not in text  # no lone surrogates written as JSON escapes either
    return json.loads(text)


def test_scan_reports_escape_the_name(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    assert main(["scan", str(folder), "--no-progress", "-f", "json", "-o", str(out)]) == 1
    doc = _json(out)
    assert any(f["path"].endswith(SHOWN) for f in doc["files"])  # type: ignore[index]
    sarif = tmp_path / "scan.sarif"
    assert main(["scan", str(folder), "--no-progress", "-f", "sarif", "-o", str(sarif)]) == 1
    doc = _json(sarif)
    Sarif.model_validate(doc)
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in doc["runs"][0]["results"]  # type: ignore[index]
        for loc in result["locations"]
    ]
    # The escaped name stays one path segment, percent-encoded as RFC 3986 wants.
    assert any(uri.endswith("/%5Cxff%5Cxfe-evil.pkl") for uri in uris), uris


def test_audit_reports_escape_the_name(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for round_ in ("fresh", "cached"):
        out = tmp_path / f"audit-{round_}.json"
        assert (
            main(["audit", str(folder), "--no-progress", "-j", "1", "-f", "json", "-o", str(out)])
            == 1
        )
        doc = _json(out)
        paths = {f["path"] for f in doc["files"]}  # type: ignore[index]
        assert SHOWN in paths and "\\xff\\xfe-evil.pkl" in paths
        evil = "\\xff\\xfe-evil.pkl"
        bad = [f for f in doc["findings"] if f["path"] == evil]  # type: ignore[index]
        assert bad and max(f["severity"] for f in bad) in ("critical", "high")
    sarif = tmp_path / "audit.sarif"
    assert main(["audit", str(folder), "--no-progress", "-f", "sarif", "-o", str(sarif)]) == 1
    Sarif.model_validate(_json(sarif))
    html = tmp_path / "audit.html"
    assert main(["audit", str(folder), "--no-progress", "--html", str(html)]) == 1
    assert SHOWN in html.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["audit", str(folder), "--no-progress"]) == 1
    assert "evil.pkl" in capsys.readouterr().out  # the terminal table names the trojan


def test_bom_escapes_the_name(folder: Path, tmp_path: Path) -> None:
    cdx = tmp_path / "bom.cdx.json"
    assert main(["bom", str(folder), "-f", "cyclonedx", "-o", str(cdx)]) == 0
    doc = _json(cdx)
    assert_valid_cdx(doc)  # type: ignore[arg-type]
    assert json.dumps(SHOWN)[1:-1] in json.dumps(doc)
    spdx = tmp_path / "bom.spdx.json"
    assert main(["bom", str(folder), "-f", "spdx", "-o", str(spdx)]) == 0
    load_spdx(_json(spdx))  # type: ignore[arg-type]
