"""The public API is pinned: changing it is a deliberate act."""

import io
import json
import zipfile
from pathlib import Path

import modeltrust


def test_all_is_pinned() -> None:
    assert sorted(modeltrust.__all__) == [
        "Finding",
        "Limits",
        "Location",
        "ModelTrustError",
        "ScanResult",
        "ScannedFile",
        "Severity",
        "__version__",
        "scan_paths",
    ]
    for name in modeltrust.__all__:
        assert hasattr(modeltrust, name)


def test_scan_paths_signature_is_pinned() -> None:
    import inspect

    assert str(inspect.signature(modeltrust.scan_paths)) == (
        "(targets: 'Sequence[str | os.PathLike[str]]', *, limits: 'Limits | None' = None, "
        "sha256: 'bool' = False, jobs: 'int' = 1) -> 'ScanResult'"
    )


def test_plugin_contract_is_pinned() -> None:
    """Plugins register under this entry-point group and subclass what the interface exports;
    the built-in scanners are offered a blob in this order, under these names."""
    from modeltrust.scanners import interface
    from modeltrust.scanners.engine import registry

    assert registry.ENTRY_POINT_GROUP == "modeltrust.scanners"
    for name in ("Blob", "FileBlob", "BytesBlob", "Limits", "ScanContext", "Scanner", "Handoff"):
        assert isinstance(getattr(interface, name), type), name
    assert [scanner.name for scanner in registry.load_scanners(plugins=False)] == [
        "zip", "tar", "7z", "compressed", "npy", "safetensors", "safetensors-index", "gguf",
        "chat-template", "onnx", "keras", "hdf5", "tf-savedmodel", "torchscript",
        "hydra-config", "skops", "remote-code", "pickle",
    ]  # fmt: skip


def test_every_builtin_scanner_module_imports() -> None:
    """The registry names each built-in by its module path; a re-layout that forgets one would
    only fail when a file of that format is first met."""
    from modeltrust.scanners.engine import registry

    for scanner in registry.load_scanners(plugins=False):
        assert isinstance(scanner, registry.LazyScanner)
        assert scanner.real.name == scanner.name


# Ids of every rule, in catalogue order (SARIF's rules array, `modeltrust rules`). A rule may be
# reworded or added; an id here is never renumbered, reused or dropped.
RULE_IDS = [
    "MT-PKL-001",
    "MT-PKL-002",
    "MT-PKL-003",
    "MT-PKL-004",
    "MT-PKL-005",
    "MT-PKL-006",
    "MT-PKL-007",
    "MT-PKL-008",
    "MT-PKL-009",
    "MT-PKL-010",
    "MT-PKL-011",
    "MT-PKL-012",
    "MT-PKL-013",
    "MT-PKL-014",
    "MT-PKL-015",
    "MT-PKL-016",
    "MT-PKL-017",
    "MT-PKL-018",
    "MT-PKL-019",
    "MT-ARC-001",
    "MT-ARC-002",
    "MT-ARC-003",
    "MT-ARC-004",
    "MT-ARC-005",
    "MT-ARC-006",
    "MT-NPY-001",
    "MT-NPY-002",
    "MT-NPY-003",
    "MT-PT-001",
    "MT-ST-001",
    "MT-ST-002",
    "MT-ST-003",
    "MT-ST-004",
    "MT-ST-005",
    "MT-GGUF-001",
    "MT-TPL-001",
    "MT-TPL-002",
    "MT-TPL-003",
    "MT-ONNX-001",
    "MT-ONNX-002",
    "MT-ONNX-003",
    "MT-ONNX-004",
    "MT-KERAS-001",
    "MT-KERAS-002",
    "MT-KERAS-003",
    "MT-KERAS-004",
    "MT-KERAS-005",
    "MT-TF-001",
    "MT-TF-002",
    "MT-TF-003",
    "MT-TF-004",
    "MT-TS-001",
    "MT-CFG-001",
    "MT-SKOPS-001",
    "MT-CODE-001",
    "MT-CODE-002",
    "MT-CODE-003",
    "MT-CODE-004",
    "MT-GEN-001",
    "MT-GEN-002",
    "MT-GEN-004",
    "MT-GEN-005",
    "MT-GEN-003",
    "MT-GEN-006",
    "MT-GEN-007",
    "MT-GEN-008",
    "MT-LIC-001",
    "MT-LIC-002",
    "MT-LIC-003",
    "MT-LIC-004",
    "MT-LIC-005",
    "MT-LIC-006",
    "MT-LIC-009",
    "MT-LIC-010",
    "MT-LIC-011",
    "MT-LIC-012",
    "MT-LIN-001",
    "MT-LIN-002",
    "MT-LIN-003",
    "MT-LIN-004",
    "MT-LIN-005",
    "MT-DOC-001",
    "MT-DOC-002",
    "MT-DOC-003",
    "MT-DOC-004",
    "MT-DOC-005",
    "MT-DOC-006",
    "MT-FAIR-001",
    "MT-FAIR-002",
    "MT-FAIR-003",
    "MT-FAIR-004",
    "MT-FAIR-005",
    "MT-FAIR-006",
    "MT-POL-001",
    "MT-POL-002",
    "MT-POL-003",
    "MT-POL-004",
    "MT-POL-005",
    "MT-POL-006",
    "MT-POL-007",
    "MT-POL-008",
    "MT-INT-001",
]


def test_rule_ids_are_pinned() -> None:
    from modeltrust.rules import all_rules

    ids = [r.id for r in all_rules()]
    assert [i for i in ids if i in RULE_IDS] == RULE_IDS, "a rule id was dropped or reordered"
    assert len(set(ids)) == len(ids)


def _shape(value: object) -> object:
    """Keys and value types of a JSON document; a list shows its most detailed element."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return (
            [max((_shape(v) for v in value), key=lambda s: len(repr(s)), default=None)]
            if value
            else []
        )
    return type(value).__name__


JSON_SHAPE = {
    "$schema": "str",
    "duration_s": "float",
    "files": [
        {"facts": {}, "formats": ["str"], "path": "str", "sha256": "NoneType", "size": "int"}
    ],
    "findings": [
        {
            "evidence": "str",
            "location": {
                "display": "str",
                "members": ["str"],
                "offset": "int",
                "opcode_index": "int",
                "path": "str",
            },
            "message": "str",
            "path": "str",
            "references": ["str"],
            "remediation": "str",
            "rule_id": "str",
            "severity": "str",
            "title": "str",
        }
    ],
    "schema_version": "int",
    "started_at": "str",
    "summary": {
        "by_severity": {
            "critical": "int",
            "high": "int",
            "info": "int",
            "low": "int",
            "medium": "int",
        },
        "fail_on": "str",
        "failed": "bool",
        "files": "int",
        "findings": "int",
        "max_severity": "str",
    },
    "targets": ["str"],
    "tool": {"name": "str", "version": "str"},
}

SARIF_SHAPE = {
    "$schema": "str",
    "runs": [
        {
            "automationDetails": {"id": "str"},
            "invocations": [{"executionSuccessful": "bool", "startTimeUtc": "str"}],
            "results": [
                {
                    "level": "str",
                    "locations": [
                        {
                            "logicalLocations": [
                                {"fullyQualifiedName": "str", "kind": "str", "name": "str"}
                            ],
                            "physicalLocation": {
                                "artifactLocation": {"uri": "str"},
                                "region": {"byteOffset": "int", "startLine": "int"},
                            },
                        }
                    ],
                    "message": {"text": "str"},
                    "partialFingerprints": {"modeltrust/v1": "str"},
                    "properties": {
                        "evidence": "str",
                        "security-severity": "str",
                        "severity": "str",
                    },
                    "ruleId": "str",
                    "ruleIndex": "int",
                }
            ],
            "tool": {
                "driver": {
                    "informationUri": "str",
                    "name": "str",
                    "rules": [
                        {
                            "defaultConfiguration": {"level": "str"},
                            "fullDescription": {"text": "str"},
                            "help": {"text": "str"},
                            "helpUri": "str",
                            "id": "str",
                            "name": "str",
                            "properties": {"security-severity": "str", "tags": ["str"]},
                            "shortDescription": {"text": "str"},
                        }
                    ],
                    "semanticVersion": "str",
                    "version": "str",
                }
            },
        }
    ],
    "version": "str",
}


def test_json_and_sarif_shapes_are_pinned(tmp_path: Path) -> None:
    """What CI pipelines parse: the keys and types of the JSON report and of SARIF."""
    from modeltrust.report.json import JsonRenderer
    from modeltrust.report.sarif import SarifRenderer

    unknown = b"\x80\x02csomepkg.models\nThing\nq\x00)\x81q\x01."  # an import nobody vetted
    (tmp_path / "model.pkl").write_bytes(unknown)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", unknown)
    (tmp_path / "weights.pt").write_bytes(buf.getvalue())
    result = modeltrust.scan_paths([tmp_path])
    assert [f.rule_id for f in result.findings] == ["MT-PKL-009", "MT-PKL-009"]
    fail_on = modeltrust.Severity.HIGH
    assert _shape(json.loads(JsonRenderer().render(result, fail_on=fail_on))) == JSON_SHAPE
    assert _shape(json.loads(SarifRenderer().render(result, fail_on=fail_on))) == SARIF_SHAPE
