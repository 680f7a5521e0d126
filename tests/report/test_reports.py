"""JSON and SARIF reports: valid against their schemas, stable in shape."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from sarif_pydantic import Sarif

from modeltrust import ScanResult, Severity, scan_paths
from modeltrust.report.interface import human_size
from modeltrust.report.json import JsonRenderer
from modeltrust.report.sarif import SarifRenderer
from modeltrust.rules import all_rules

EVIL = b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueR."


@pytest.fixture
def result(tmp_path: Path) -> ScanResult:
    import io
    import zipfile

    (tmp_path / "evil.pkl").write_bytes(EVIL)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", EVIL)
    (tmp_path / "weights.pt").write_bytes(buf.getvalue())
    (tmp_path / "README.md").write_text("# hi\n")
    return scan_paths([tmp_path], sha256=True)


def schema() -> dict[str, object]:
    text = resources.files("modeltrust.report").joinpath("schemas/scan-result-1.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def test_json_report_matches_its_schema(result: ScanResult) -> None:
    doc = json.loads(JsonRenderer().render(result, fail_on=Severity.HIGH))
    jsonschema.validate(doc, schema(), format_checker=jsonschema.FormatChecker())
    assert doc["schema_version"] == 1
    assert {"rule_id", "severity", "path"} <= doc["findings"][0].keys()
    member = next(f for f in doc["findings"] if f["location"]["members"])
    assert member["location"]["members"] == ["archive/data.pkl"]
    assert member["path"].endswith("weights.pt")
    assert all(len(f["sha256"]) == 64 for f in doc["files"])


def test_json_schema_rejects_a_bad_report(result: ScanResult) -> None:
    doc = json.loads(JsonRenderer().render(result, fail_on=Severity.HIGH))
    doc["findings"][0]["severity"] = "catastrophic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema())


def test_sarif_is_valid_2_1_0_and_fits_github(result: ScanResult) -> None:
    text = SarifRenderer().render(result, fail_on=Severity.HIGH)
    doc = json.loads(text)
    Sarif.model_validate(doc)  # the SARIF 2.1.0 object model
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in all_rules()]
    for rule in rules:
        float(rule["properties"]["security-severity"])  # GitHub reads this as a number
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note"}
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"]
        assert loc["region"]["startLine"] >= 1
        assert res["partialFingerprints"]["modeltrust/v1"]
    critical = [r for r in run["results"] if r["properties"]["severity"] == "critical"]
    assert critical and all(r["level"] == "error" for r in critical)


def test_sarif_fingerprints_are_stable(result: ScanResult) -> None:
    a = json.loads(SarifRenderer().render(result, fail_on=Severity.HIGH))
    b = json.loads(SarifRenderer().render(result, fail_on=Severity.HIGH))
    fa = [r["partialFingerprints"] for r in a["runs"][0]["results"]]
    fb = [r["partialFingerprints"] for r in b["runs"][0]["results"]]
    assert fa == fb


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 << 20, "5.0 MiB"),
     (3 << 30, "3.0 GiB"), (5000 << 30, "5000.0 GiB")],
)  # fmt: skip
def test_sizes_read_in_binary_units(size: int, text: str) -> None:
    assert human_size(size) == text


def test_sarif_uris_are_percent_encoded() -> None:
    from modeltrust.report.sarif import _uri

    assert _uri("./models/a b#1%.pkl") == "models/a%20b%231%25.pkl"
    assert _uri("/abs/caf\\xe9.bin") == "/abs/caf%5Cxe9.bin"
    assert _uri("plain/model-1.0_v~2.safetensors") == "plain/model-1.0_v~2.safetensors"
