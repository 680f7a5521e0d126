""".keras archives and Keras configs: a realistic model passes; Lambda bytecode, objects outside
Keras, safe_mode bypasses and broken configs are reported; nothing is loaded.

Bypass samples: CVE-2024-3660 (Lambda), CVE-2025-1550 (``subprocess.Popen`` as a layer),
CVE-2025-49655 (TorchModuleWrapper), CVE-2026-1462 (TFSMLayer), CVE-2025-8747 (get_file),
CVE-2025-9906 (enable_unsafe_deserialization).
"""

from __future__ import annotations

import base64
import copy
import io
import json
import marshal
import os
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust import Limits, Severity, scan_paths
from modeltrust.cli import EXIT_FAILED, EXIT_OK, main
from modeltrust.findings import Location
from modeltrust.scanners.engine import Engine
from modeltrust.scanners.interface import ScanContext
from modeltrust.scanners.tensors import keras as keras_scanner
from modeltrust.scanners.tensors.keras import bytecode_strings, check_keras_config
from tests.helpers import rule_ids, serious

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_FORKING = settings(
    FUZZ, max_examples=max(1, int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "150")) // 3)
)
"""For inputs whose HDF5 part is read in a forked child (about 30 ms each)."""


# --- builders ------------------------------------------------------------------------------------
def _obj(module: str, class_name: str, config: Any, **extra: Any) -> dict[str, Any]:
    return {
        "module": module,
        "class_name": class_name,
        "config": config,
        "registered_name": None,
        **extra,
    }


def _dtype() -> dict[str, Any]:
    return _obj("keras", "DTypePolicy", {"name": "float32"})


def _init(name: str) -> dict[str, Any]:
    return _obj("keras.initializers", name, {"seed": None} if name != "Zeros" else {})


def _layer(class_name: str, name: str, **config: Any) -> dict[str, Any]:
    return _obj(
        "keras.layers",
        class_name,
        {"name": name, "trainable": True, "dtype": _dtype(), **config},
        build_config={"input_shape": [None, 28, 28, 1]},
    )


def sequential_config(extra_layers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What Keras 3 writes to config.json for a small convolutional classifier."""
    layers = [
        _obj(
            "keras.layers",
            "InputLayer",
            {"batch_shape": [None, 28, 28, 1], "dtype": "float32", "name": "input_layer"},
        ),
        _layer(
            "Conv2D",
            "conv2d",
            filters=8,
            kernel_size=[3, 3],
            strides=[1, 1],
            padding="valid",
            activation="relu",
            use_bias=True,
            kernel_initializer=_init("GlorotUniform"),
            bias_initializer=_init("Zeros"),
            kernel_regularizer=None,
        ),
        _layer("Dropout", "dropout", rate=0.25, seed=None, noise_shape=None),
        _layer("Flatten", "flatten", data_format="channels_last"),
        _layer(
            "Dense",
            "dense",
            units=10,
            activation="softmax",
            use_bias=True,
            kernel_initializer=_init("GlorotUniform"),
            bias_initializer=_init("Zeros"),
        ),
        *(extra_layers or []),
    ]
    return _obj(
        "keras",
        "Sequential",
        {"name": "sequential", "trainable": True, "dtype": _dtype(), "layers": layers},
        build_config={"input_shape": [None, 28, 28, 1]},
        compile_config={
            "optimizer": _obj("keras.optimizers", "Adam", {"name": "adam", "learning_rate": 0.001}),
            "loss": _obj(
                "keras.losses",
                "function",
                "sparse_categorical_crossentropy",
                registered_name="sparse_categorical_crossentropy",
            ),
            "metrics": ["accuracy"],
            "loss_weights": None,
            "run_eagerly": False,
            "jit_compile": False,
        },
    )


def _weights_h5() -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for name, shape in (("conv2d", (3, 3, 1, 8)), ("dense", (1352, 10))):
            g = f.create_group(f"layers/{name}/vars")
            g["0"] = np.zeros(shape, np.float32)
            g["1"] = np.zeros(shape[-1:], np.float32)
        f.create_group("optimizer/vars")
    return buf.getvalue()


def keras_zip(
    path: Path,
    config: object,
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    raw_config: bytes | None = None,
) -> Path:
    """A .keras archive as keras.saving writes it: metadata.json, config.json, weights."""
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr(
            "metadata.json",
            json.dumps({"keras_version": "3.6.0", "date_saved": "2025-01-02@10:00:00"}),
        )
        z.writestr("config.json", raw_config if raw_config is not None else json.dumps(config))
        z.writestr("model.weights.h5", _weights_h5())
    return path


def lambda_code(canary: Path) -> str:
    """Base64 marshal bytecode as Keras' func_dump writes it. Never executed or unmarshalled."""
    code = compile(f"import os; os.system('touch {canary}')", "x", "exec")
    return base64.b64encode(marshal.dumps(code)).decode("ascii")


def _scan(tmp_path: Path, config: object, name: str = "model.keras") -> Any:
    return scan_paths([keras_zip(tmp_path / name, config)])


def _hits(result: Any, rule: str) -> list[Any]:
    return [f for f in result.findings if f.rule_id == rule]


# --- happy path ----------------------------------------------------------------------------------
@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_realistic_keras_archive_passes(tmp_path: Path, compression: int) -> None:
    path = keras_zip(tmp_path / "model.keras", sequential_config(), compression=compression)
    result = scan_paths([path])
    assert serious(result) == []
    assert not [f for f in result.findings if f.rule_id.startswith("MT-KERAS")]
    scanned = result.files[0]
    assert "keras" in scanned.formats and "hdf5" in scanned.formats
    assert dict(scanned.facts)["keras.version"] == "3.6.0"
    assert main(["scan", str(path), "--no-progress"]) == EXIT_OK


def test_functional_model_with_inbound_nodes_passes(tmp_path: Path) -> None:
    dense = _layer("Dense", "d", units=4, activation="relu")
    dense["inbound_nodes"] = [
        {
            "args": [
                {
                    "class_name": "__keras_tensor__",
                    "config": {
                        "shape": [None, 8],
                        "dtype": "float32",
                        "keras_history": ["in", 0, 0],
                    },
                }
            ],
            "kwargs": {},
        }
    ]
    config = _obj(
        "keras",
        "Functional",
        {
            "name": "functional",
            "layers": [dense],
            "input_layers": [["in", 0, 0]],
            "output_layers": [["d", 0, 0]],
        },
    )
    assert serious(_scan(tmp_path, config)) == []


def test_a_zip_without_config_json_is_not_keras(tmp_path: Path) -> None:
    path = tmp_path / "plain.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", "hello")
    result = scan_paths([path])
    assert "keras" not in result.files[0].formats
    assert serious(result) == []


# --- bypass regressions --------------------------------------------------------------------------
def test_lambda_bytecode_is_critical_and_never_runs(tmp_path: Path) -> None:
    """CVE-2024-3660: a Keras 3 Lambda layer whose function is __lambda__ bytecode."""
    canary = tmp_path / "CANARY"
    lam = _layer(
        "Lambda",
        "lambda",
        function={
            "class_name": "__lambda__",
            "config": {"code": lambda_code(canary), "defaults": None, "closure": None},
        },
        output_shape=None,
        arguments={},
    )
    path = keras_zip(tmp_path / "lambda.keras", sequential_config([lam]))
    result = scan_paths([path])
    hits = _hits(result, "MT-KERAS-001")
    assert [f.severity for f in hits] == [Severity.CRITICAL]
    assert hits[0].location.members == ("config.json",)
    assert "layers[5]" in hits[0].message
    assert "'system'" in (hits[0].evidence or "") and str(canary) in (hits[0].evidence or "")
    assert main(["scan", str(path), "--no-progress"]) == EXIT_FAILED
    assert not canary.exists() and not Path("CANARY").exists()


def test_keras2_style_lambda_is_critical(tmp_path: Path) -> None:
    lam = {
        "class_name": "Lambda",
        "config": {
            "name": "lambda_1",
            "function": [lambda_code(tmp_path / "CANARY"), None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "arguments": {},
        },
    }
    result = _scan(tmp_path, {"class_name": "Sequential", "config": {"layers": [lam]}})
    assert [f.severity for f in _hits(result, "MT-KERAS-001")] == [Severity.CRITICAL]
    assert not _hits(result, "MT-KERAS-002")  # the Lambda's own "module" key is not an object


def test_lambda_deep_inside_nested_models_is_found(tmp_path: Path) -> None:
    lam = _layer(
        "Lambda",
        "hidden",
        function={"class_name": "__lambda__", "config": {"value": [lambda_code(tmp_path / "C")]}},
    )
    inner = _obj("keras", "Sequential", {"name": "inner", "layers": [lam]})
    middle = _obj("keras", "Functional", {"name": "middle", "layers": [inner]})
    outer = sequential_config([middle])
    result = _scan(tmp_path, outer)
    hits = _hits(result, "MT-KERAS-001")
    assert len(hits) == 1
    assert "$.config.layers[5].config.layers[0].config.layers[0].config.function" in hits[0].message


@pytest.mark.parametrize(
    ("module", "class_name", "config"),
    [
        ("subprocess", "Popen", {"args": ["touch", "CANARY"]}),  # CVE-2025-1550
        ("builtins", "function", "exec"),
        ("os", "function", "system"),
        ("keras.src.utils", "__globals__", {}),
    ],
)
def test_code_execution_gadgets_are_critical(
    tmp_path: Path, module: str, class_name: str, config: Any
) -> None:
    gadget = _obj(module, class_name, config)
    result = _scan(tmp_path, sequential_config([gadget]))
    hits = _hits(result, "MT-KERAS-002")
    assert [f.severity for f in hits] == [Severity.CRITICAL], serious(result)


def test_popen_hidden_in_compile_config_is_critical(tmp_path: Path) -> None:
    config = sequential_config()
    config["compile_config"]["loss"] = _obj("subprocess", "Popen", {"args": ["id"]})
    result = _scan(tmp_path, config)
    hits = _hits(result, "MT-KERAS-002")
    assert len(hits) == 1 and "compile_config.loss" in hits[0].message
    assert hits[0].severity == Severity.CRITICAL


def test_dotted_class_name_without_module_is_foreign(tmp_path: Path) -> None:
    result = _scan(tmp_path, {"class_name": "subprocess.Popen", "config": {}})
    assert [f.severity for f in _hits(result, "MT-KERAS-002")] == [Severity.CRITICAL]


def test_custom_objects_are_high_not_critical(tmp_path: Path) -> None:
    custom = _obj(
        "my_project.layers",
        "AttentionBlock",
        {"name": "attn"},
        registered_name="MyProject>AttentionBlock",
    )
    registered_only = _obj("keras.layers", "Dense", {"name": "d"}, registered_name="Evil>Dense")
    result = _scan(tmp_path, sequential_config([custom, registered_only]))
    hits = _hits(result, "MT-KERAS-002")
    assert [f.severity for f in hits] == [Severity.HIGH, Severity.HIGH]
    assert "my_project.layers.AttentionBlock" in hits[0].message
    assert "'Evil>Dense'" in hits[1].message


def test_keras_hub_objects_pass(tmp_path: Path) -> None:
    backbone = _obj(
        "keras_hub.src.models.gemma.gemma_backbone",
        "GemmaBackbone",
        {"name": "gemma"},
        registered_name="keras_hub>GemmaBackbone",
    )
    assert serious(_scan(tmp_path, sequential_config([backbone]))) == []


@pytest.mark.parametrize(
    "gadget",
    [
        _obj("keras.src.utils.torch_utils", "TorchModuleWrapper", {"module": "gANjb3M..."}),
        _obj("keras.layers", "TFSMLayer", {"filepath": "/tmp/evil_savedmodel"}),
        _obj("keras.utils", "function", "get_file", registered_name="get_file"),
        _obj("keras.config", "function", "enable_unsafe_deserialization"),
        {"class_name": "Dense", "config": {"kernel_initializer": "keras.utils.get_file"}},
    ],
    ids=["torch-wrapper", "tfsm-layer", "get-file", "unsafe-deserialization", "get-file-string"],
)
def test_safe_mode_bypasses_are_critical(tmp_path: Path, gadget: dict[str, Any]) -> None:
    result = _scan(tmp_path, sequential_config([gadget]))
    hits = _hits(result, "MT-KERAS-003")
    assert [f.severity for f in hits] == [Severity.CRITICAL], serious(result)
    assert main(["scan", str(tmp_path / "model.keras"), "--no-progress"]) == EXIT_FAILED


def test_zip_appended_to_other_data_is_still_read(tmp_path: Path) -> None:
    """zipfile (and so Keras) finds an archive at the end of a file."""
    inner = keras_zip(
        tmp_path / "inner.keras", sequential_config([_obj("os", "function", "system")])
    )
    path = tmp_path / "polyglot.bin"
    path.write_bytes(b"\x00" * 1000 + inner.read_bytes())
    inner.unlink()
    assert "MT-KERAS-002" in rule_ids(scan_paths([path]), Severity.CRITICAL)


def test_duplicate_config_members_are_all_checked(tmp_path: Path) -> None:
    path = tmp_path / "dup.keras"
    bad = sequential_config([_obj("subprocess", "Popen", {})])
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(bad))
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr("config.json", json.dumps(sequential_config()))
    assert "MT-KERAS-002" in rule_ids(scan_paths([path]), Severity.CRITICAL)


# --- malformed input and limits ------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000, b""],
    ids=["invalid", "not-utf8", "deep", "empty"],
)
def test_unreadable_config_is_high(tmp_path: Path, raw: bytes) -> None:
    path = keras_zip(tmp_path / "bad.keras", None, raw_config=raw)
    result = scan_paths([path])
    hits = _hits(result, "MT-KERAS-005")
    assert [f.severity for f in hits] == [Severity.HIGH]
    assert "MT-INT-001" not in rule_ids(result)


def test_config_above_the_header_limit_is_reported(tmp_path: Path) -> None:
    path = keras_zip(tmp_path / "big.keras", sequential_config())
    result = scan_paths([path], limits=Limits(max_header=200))
    hits = _hits(result, "MT-KERAS-005")
    assert len(hits) == 1 and "larger than 200 bytes" in hits[0].message


def test_encrypted_config_is_reported(tmp_path: Path) -> None:
    path = keras_zip(tmp_path / "enc.keras", sequential_config(), compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    for magic in (b"PK\x03\x04", b"PK\x01\x02"):
        at = -1
        while (at := data.find(magic, at + 1)) >= 0:
            flag_at = at + (6 if magic == b"PK\x03\x04" else 8)
            data[flag_at] |= 0x01
    path.write_bytes(bytes(data))
    result = scan_paths([path])
    assert any("encrypted" in f.message for f in _hits(result, "MT-KERAS-005"))


def test_findings_are_capped(tmp_path: Path) -> None:
    gadgets = [_obj("my.pkg", f"L{i}", {}) for i in range(50)]
    result = _scan(tmp_path, sequential_config(gadgets))
    hits = _hits(result, "MT-KERAS-002")
    assert len(hits) == keras_scanner.MAX_PER_RULE + 1
    assert "30 more" in hits[-1].message


def test_bytecode_strings_reads_names_without_unmarshalling() -> None:
    code = marshal.dumps(compile("import subprocess; subprocess.run(['id'])", "f", "exec"))
    names = bytecode_strings(code)
    assert "subprocess" in names and "run" in names and "id" in names
    assert bytecode_strings(b"") == [] and bytecode_strings(b"z\xff") == []


# --- fuzzing -------------------------------------------------------------------------------------
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(["Lambda", "__lambda__", "function", "keras.layers", "os", "get_file"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "module",
                    "class_name",
                    "config",
                    "registered_name",
                    "function",
                    "function_type",
                    "output_shape",
                    "layers",
                    "name",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@FUZZ
@given(_JSON)
def test_any_json_config_is_checked_without_raising(config: object) -> None:
    ctx = ScanContext(Limits(), lambda blob, ctx: False)
    check_keras_config(config, Location("x.keras"), ctx)
    assert all(f.rule_id.startswith("MT-KERAS") for f in ctx.findings)


ENGINE = Engine(limits=Limits(max_decompressed=1 << 24))


@FUZZ_FORKING
@given(st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 255)), max_size=8))
def test_mutated_archives_never_crash(tmp_path: Path, edits: list[tuple[int, int]]) -> None:
    path = tmp_path / "seed.keras"
    if not path.exists():
        keras_zip(path, sequential_config(), compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    for pos, value in edits:
        data[pos % len(data)] = value
    fuzz = tmp_path / "fuzz.keras"
    fuzz.write_bytes(bytes(data))
    result = ENGINE.scan([fuzz])
    assert [f.message for f in result.findings if f.rule_id == "MT-INT-001"] == []


def test_config_is_never_mutated_by_the_check() -> None:
    config = sequential_config([_obj("os", "function", "system")])
    before = copy.deepcopy(config)
    check_keras_config(config, Location("x"), ScanContext(Limits(), lambda b, c: False))
    assert config == before
