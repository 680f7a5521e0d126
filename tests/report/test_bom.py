"""AI bills of materials: CycloneDX 1.6 valid against the official schema, SPDX 3.0.1 loaded and
re-serialised by the official bindings, both carrying the model's facts."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import spdx_python_model
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from modeltrust.cards.coverage import CoverageReport, assess_coverage
from modeltrust.cards.facts import collect_facts
from modeltrust.cards.hashes import file_hashes
from modeltrust.licenses.kb import default_kb
from modeltrust.report.cyclonedx import build_cyclonedx, purl
from modeltrust.report.spdx import build_spdx, license_expression
from modeltrust.sources import open_source
from tests.cards.conftest import rich_files, write_repo
from tests.hubserver import HubServer, card, running_hub

SERIAL = uuid.UUID("12345678-1234-5678-1234-567812345678")
MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    with running_hub(monkeypatch, tmp_path) as server:
        yield server


def lineage_hub(hub: HubServer) -> str:
    """acme/sentiment-1 (apache-2.0 card) fine-tuned from acme/base-encoder (llama3.1), which is
    a merge of two roots."""
    hub.add_repo("acme/root-a", {"README.md": card("# a\n", license="mit")})
    hub.add_repo("acme/root-b", {"README.md": card("# b\n", license="mit")})
    hub.add_repo(
        "acme/base-encoder",
        {
            "README.md": card(
                "# base\n", license="llama3.1", base_model=["acme/root-a", "acme/root-b"]
            )
        },
    )
    return hub.add_repo("acme/sentiment-1", rich_files())


def coverage(target: str) -> tuple[CoverageReport, dict[str, str]]:
    source = open_source(target)
    return assess_coverage(collect_facts(source)), file_hashes(source).sha256


def cdx(report: CoverageReport, hashes: dict[str, str]) -> dict[str, Any]:
    return build_cyclonedx(report, hashes, tool_version="9.9", serial=SERIAL, timestamp=MOMENT)


def assert_valid_cdx(doc: dict[str, Any]) -> None:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc), all_errors=True)
    assert errors is None, [str(e) for e in errors]  # type: ignore[union-attr]


def load_spdx(doc: dict[str, Any]) -> Any:
    """Deserialise with the official bindings (types, properties, enums checked), link the
    references, and serialise again (required properties checked)."""
    model, objset = spdx_python_model.load_data(json.loads(json.dumps(doc)))
    assert objset.link() == set()
    out = io.BytesIO()
    model.JSONLDSerializer().write(objset, out)
    assert out.getvalue()
    return objset


def test_cyclonedx_from_the_hub(hub: HubServer) -> None:
    sha = lineage_hub(hub)
    report, hashes = coverage("acme/sentiment-1")
    doc = cdx(report, hashes)
    assert_valid_cdx(doc)
    assert doc["serialNumber"] == SERIAL.urn and doc["specVersion"] == "1.6"
    model = doc["components"][0]
    assert model["type"] == "machine-learning-model"
    assert model["version"] == sha
    assert model["purl"] == f"pkg:huggingface/acme/sentiment-1@{sha}?repository_url={hub.url}"
    weights = next(c for c in model["components"] if c["name"] == "model.safetensors")
    lfs = hashlib.sha256(rich_files()["model.safetensors"]).hexdigest()  # type: ignore[arg-type]
    assert weights["hashes"] == [{"alg": "SHA-256", "content": lfs}]
    assert {c["name"] for c in model["components"]} == set(rich_files())
    licenses = {
        (lic["license"].get("id") or lic["license"]["name"], lic["license"]["acknowledgement"])
        for lic in model["licenses"]
    }
    assert ("Apache-2.0", "declared") in licenses and ("Apache-2.0", "concluded") in licenses
    assert ("Llama 3.1 Community License Agreement", "concluded") in licenses or any(
        a == "concluded" and "Llama" in n for n, a in licenses
    )
    card_ = model["modelCard"]
    params = card_["modelParameters"]
    assert params["task"] == "text-classification"
    assert params["architectureFamily"] == "bert"
    assert params["datasets"] == [{"ref": "dataset:acme/reviews"}]
    assert params["inputs"] == [{"format": "text"}]
    metrics = card_["quantitativeAnalysis"]["performanceMetrics"]
    assert {"type": "accuracy", "value": "0.93", "slice": "Acme Reviews / test"} in metrics
    assert "product reviews" in card_["considerations"]["useCases"][0]
    assert "Sarcasm" in card_["considerations"]["technicalLimitations"][0]
    data = doc["components"][1]
    assert data["type"] == "data" and data["bom-ref"] == "dataset:acme/reviews"
    assert data["data"][0]["contents"]["url"] == f"{hub.url}/datasets/acme/reviews"
    base = model["pedigree"]["ancestors"][0]
    assert base["name"] == "acme/base-encoder"
    assert {"name": "hf:base_model_relation", "value": "finetune"} in base["properties"]
    roots = base["pedigree"]["ancestors"]
    assert [r["name"] for r in roots] == ["acme/root-a", "acme/root-b"]
    assert {"name": "hf:base_model_relation", "value": "merge"} in roots[0]["properties"]
    assert {
        "type": "model-card",
        "url": f"{hub.url}/acme/sentiment-1/blob/{sha}/README.md",
    } in model["externalReferences"]


def test_cyclonedx_local_folder_hashes_every_file(tmp_path: Path) -> None:
    folder = write_repo(tmp_path / "acme" / "sentiment-1", rich_files())
    report, hashes = coverage(str(folder))
    doc = cdx(report, hashes)
    assert_valid_cdx(doc)
    model = doc["components"][0]
    assert "purl" not in model
    readme = next(c for c in model["components"] if c["name"] == "README.md")
    expected = hashlib.sha256((folder / "README.md").read_bytes()).hexdigest()
    assert readme["hashes"][0]["content"] == expected


def test_cyclonedx_for_a_repo_without_card(tmp_path: Path) -> None:
    folder = write_repo(tmp_path / "bare", {"weights.bin": b"\0" * 8})
    doc = cdx(*coverage(str(folder)))
    assert_valid_cdx(doc)
    assert "licenses" not in doc["components"][0]


def test_the_cyclonedx_validator_can_fail(tmp_path: Path) -> None:
    folder = write_repo(tmp_path / "m", rich_files())
    doc = cdx(*coverage(str(folder)))
    doc["components"][0]["modelCard"]["modelParameters"]["approach"] = {"type": "guesswork"}
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    assert errors is not None


def test_knowledge_base_spdx_ids_are_valid_cyclonedx_ids() -> None:
    from importlib import resources

    schema = (
        resources.files("cyclonedx.schema._res").joinpath("spdx.SNAPSHOT.schema.json").read_text()
    )
    enum = set(json.loads(schema)["enum"])
    assert {e.spdx for e in default_kb().entries if e.spdx} <= enum


def test_spdx_from_the_hub(hub: HubServer) -> None:
    sha = lineage_hub(hub)
    report, hashes = coverage("acme/sentiment-1")
    doc = build_spdx(report, hashes, tool_version="9.9", serial=SERIAL, timestamp=MOMENT)
    assert doc["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    objset = load_spdx(doc)
    graph = doc["@graph"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for element in graph:
        by_type.setdefault(element["type"], []).append(element)
    model = next(e for e in by_type["ai_AIPackage"] if e["name"] == "acme/sentiment-1")
    assert model["software_packageVersion"] == sha
    assert model["software_primaryPurpose"] == "model"
    assert "BertForSequenceClassification" in model["ai_typeOfModel"]
    assert {
        "type": "DictionaryEntry",
        "key": "accuracy / Acme Reviews / test",
        "value": "0.93",
    } in model["ai_metric"]
    assert "Sarcasm" in model["ai_limitation"]
    dataset = by_type["dataset_DatasetPackage"][0]
    assert dataset["name"] == "acme/reviews" and dataset["dataset_datasetType"] == ["noAssertion"]
    rels = {(r["relationshipType"], r["from"], tuple(r["to"])) for r in by_type["Relationship"]}
    assert ("trainedOn", model["spdxId"], (dataset["spdxId"],)) in rels
    base = next(e for e in by_type["ai_AIPackage"] if e["name"] == "acme/base-encoder")
    assert ("ancestorOf", base["spdxId"], (model["spdxId"],)) in rels
    expressions = {
        e["spdxId"]: e["simplelicensing_licenseExpression"]
        for e in by_type["simplelicensing_LicenseExpression"]
    }
    declared = next(
        r
        for r in by_type["Relationship"]
        if r["relationshipType"] == "hasDeclaredLicense" and r["from"] == model["spdxId"]
    )
    concluded = next(
        r
        for r in by_type["Relationship"]
        if r["relationshipType"] == "hasConcludedLicense" and r["from"] == model["spdxId"]
    )
    assert expressions[declared["to"][0]] == "Apache-2.0"
    assert expressions[concluded["to"][0]].startswith("Apache-2.0 AND LicenseRef-")
    files = by_type["software_File"]
    assert {f["name"] for f in files} == set(rich_files())
    assert len(list(objset.foreach_type("ai_AIPackage"))) == 4


def test_spdx_bindings_reject_what_is_wrong(tmp_path: Path) -> None:
    folder = write_repo(tmp_path / "m", rich_files())
    doc = build_spdx(*coverage(str(folder)), tool_version="9.9")
    model = next(e for e in doc["@graph"] if e["type"] == "ai_AIPackage")
    model["ai_safetyRiskAssessment"] = "catastrophic"
    with pytest.raises(Exception):  # noqa: B017,PT011 - the bindings raise a plain ValueError/KeyError
        load_spdx(doc)


def test_license_expression_ids() -> None:
    class _Report:  # license_expression reads only the knowledge base
        kb = default_kb()

    report: Any = _Report()
    assert license_expression(("apache-2.0", "mit"), report) == "Apache-2.0 AND MIT"
    assert license_expression(("openrail++",), report) == "LicenseRef-modeltrust-openrail-plus-plus"
    assert license_expression(("my licence!",), report) == "LicenseRef-my-licence"
    assert license_expression((), report) is None


def test_purl_forms() -> None:
    assert purl("Org/Name", "ABC") == "pkg:huggingface/Org/Name@abc"
    assert purl("org/name", None, "https://hub.example/org/name") == (
        "pkg:huggingface/org/name?repository_url=https://hub.example"
    )
