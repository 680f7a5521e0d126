"""HDF5 and Keras .h5: real files made with h5py pass; external links, external storage, virtual
datasets, user blocks and Keras Lambda configs are reported; nothing outside the file is opened.

Bypass samples: threat catalogue items 29-31 (CVE-2024-3660 and CVE-2025-9905 for H5 Lambda
layers; HDF5 external references pointing at /etc/passwd).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
from modeltrust.scanners.interface import FileBlob
from modeltrust.scanners.tensors import hdf5 as hdf5_scanner
from tests.helpers import rule_ids, serious
from tests.scanners.tensors.test_keras import lambda_code

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
def keras2_config(extra_layers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The model_config tf.keras 2.x writes for a small Sequential classifier."""
    glorot = {"class_name": "GlorotUniform", "config": {"seed": None}}
    zeros = {"class_name": "Zeros", "config": {}}
    layers = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, 28, 28, 1],
                "dtype": "float32",
                "sparse": False,
                "ragged": False,
                "name": "conv2d_input",
            },
        },
        {
            "class_name": "Conv2D",
            "config": {
                "name": "conv2d",
                "trainable": True,
                "dtype": "float32",
                "filters": 8,
                "kernel_size": [3, 3],
                "strides": [1, 1],
                "padding": "valid",
                "activation": "relu",
                "use_bias": True,
                "kernel_initializer": glorot,
                "bias_initializer": zeros,
                "kernel_regularizer": None,
            },
        },
        {"class_name": "Dropout", "config": {"name": "dropout", "rate": 0.25, "seed": None}},
        {"class_name": "Flatten", "config": {"name": "flatten", "data_format": "channels_last"}},
        {
            "class_name": "Dense",
            "config": {
                "name": "dense",
                "units": 10,
                "activation": "softmax",
                "kernel_initializer": glorot,
                "bias_initializer": zeros,
            },
        },
        *(extra_layers or []),
    ]
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


TRAINING_CONFIG = {
    "loss": "sparse_categorical_crossentropy",
    "metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "accuracy"}}]],
    "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.001}},
}


def keras_h5(path: Path, config: object, *, userblock: int = 0) -> Path:
    """An .h5 laid out like tf.keras' save_model(..., save_format='h5'), made with h5py."""
    kwargs = {"userblock_size": userblock} if userblock else {}
    with h5py.File(path, "w", **kwargs) as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf-8")
        f.attrs["training_config"] = json.dumps(TRAINING_CONFIG).encode("utf-8")
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([b"conv2d", b"dropout", b"flatten", b"dense"])
        for name, shape in (("conv2d", (3, 3, 1, 8)), ("dense", (1352, 10))):
            g = weights.create_group(f"{name}/{name}")
            g.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode()])
            g["kernel:0"] = np.zeros(shape, np.float32)
            g["bias:0"] = np.zeros(shape[-1:], np.float32)
        f.create_group("optimizer_weights")
    return path


def _hits(result: Any, rule: str) -> list[Any]:
    return [f for f in result.findings if f.rule_id == rule]


# --- happy path ----------------------------------------------------------------------------------
def test_plain_weights_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f["a"] = np.arange(100, dtype=np.float32)
        f.create_dataset("b", data=np.ones((64, 64)), compression="gzip", chunks=True)
        f["group/c"] = np.zeros(3)
        f["soft"] = h5py.SoftLink("/group/c")
        f["group/hard"] = f["a"]  # a second hard link to the same dataset
        f.attrs["note"] = "weights"
    result = scan_paths([path])
    assert result.findings == ()
    assert result.files[0].formats == ("hdf5",)


def test_keras_h5_model_passes_and_records_facts(tmp_path: Path) -> None:
    path = keras_h5(tmp_path / "model.h5", keras2_config())
    result = scan_paths([path])
    assert serious(result) == []
    assert not result.findings
    scanned = result.files[0]
    assert set(scanned.formats) == {"hdf5", "keras"}
    assert dict(scanned.facts) == {"keras.backend": "tensorflow", "keras.version": "2.15.0"}
    assert main(["scan", str(path), "--no-progress"]) == EXIT_OK


def test_str_attribute_config_is_read(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(keras2_config([_lambda(tmp_path)]))  # vlen str
    assert "MT-KERAS-001" in rule_ids(scan_paths([path]), Severity.CRITICAL)


# --- bypass regressions --------------------------------------------------------------------------
def _lambda(tmp_path: Path) -> dict[str, Any]:
    return {
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "function": [lambda_code(tmp_path / "CANARY"), None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "arguments": {},
        },
    }


def test_lambda_in_model_config_is_critical(tmp_path: Path) -> None:
    """CVE-2024-3660 / CVE-2025-9905: H5 Lambda layers run their bytecode, safe_mode or not."""
    path = keras_h5(tmp_path / "evil.h5", keras2_config([_lambda(tmp_path)]))
    result = scan_paths([path])
    hits = _hits(result, "MT-KERAS-001")
    assert [f.severity for f in hits] == [Severity.CRITICAL]
    assert "attribute 'model_config'" in hits[0].message and "layers[5]" in hits[0].message
    assert main(["scan", str(path), "--no-progress"]) == EXIT_FAILED
    assert not (tmp_path / "CANARY").exists()


def test_foreign_object_in_training_config_is_found(tmp_path: Path) -> None:
    path = keras_h5(tmp_path / "m.h5", keras2_config())
    bad = dict(TRAINING_CONFIG, loss={"module": "os", "class_name": "function", "config": "system"})
    with h5py.File(path, "a") as f:
        f.attrs["training_config"] = json.dumps(bad).encode()
    hits = _hits(scan_paths([path]), "MT-KERAS-002")
    assert len(hits) == 1 and "attribute 'training_config'" in hits[0].message
    assert hits[0].severity == Severity.CRITICAL


def test_external_link_is_reported_and_never_followed(tmp_path: Path) -> None:
    path = keras_h5(tmp_path / "m.h5", keras2_config())
    with h5py.File(path, "a") as f:
        f["model_weights/leak"] = h5py.ExternalLink("/etc/passwd", "/root")
    result = scan_paths([path])
    hits = _hits(result, "MT-KERAS-004")
    assert [f.severity for f in hits] == [Severity.HIGH]
    assert "/etc/passwd" in hits[0].message and "/model_weights/leak" in hits[0].message
    assert main(["scan", str(path), "--no-progress"]) == EXIT_FAILED


def test_external_storage_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("w", shape=(4,), dtype="<i4", external=[("/etc/passwd", 0, 16)])
    hits = _hits(scan_paths([path]), "MT-KERAS-004")
    assert len(hits) == 1 and "external file '/etc/passwd'" in hits[0].message


def test_virtual_dataset_is_reported(tmp_path: Path) -> None:
    layout = h5py.VirtualLayout(shape=(4,), dtype="i8")
    layout[:] = h5py.VirtualSource("/etc/passwd", "data", shape=(4,))
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("v", layout)
    hits = _hits(scan_paths([path]), "MT-KERAS-004")
    assert len(hits) == 1 and "virtual" in hits[0].message and "/etc/passwd" in hits[0].message


def test_unlimited_virtual_dataset_never_opens_its_sources(tmp_path: Path) -> None:
    """HDF5 opens the sources of an unlimited virtual dataset to compute its extent; a FIFO as a
    source would block such a scanner forever. Run in a child process with a timeout."""
    fifo = tmp_path / "part-0.h5"
    os.mkfifo(fifo)
    path = tmp_path / "vds.h5"
    with h5py.File(path, "w") as f:
        vspace = h5py.h5s.create_simple((0,), (h5py.h5s.UNLIMITED,))
        vspace.select_hyperslab((0,), (h5py.h5s.UNLIMITED,), (10,), (10,))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        src = h5py.h5s.create_simple((10,), (10,))
        dcpl.set_virtual(vspace, str(tmp_path / "part-%b.h5").encode(), b"data", src)
        h5py.h5d.create(f.id, b"v", h5py.h5t.NATIVE_INT64, vspace, dcpl=dcpl)
    code = (
        "import sys, modeltrust\n"
        f"r = modeltrust.scan_paths([{str(path)!r}])\n"
        "print(sorted({f.rule_id for f in r.findings}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "['MT-KERAS-004']"


def test_user_block_holding_a_pickle_is_reported(tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    cmd = f"touch {canary}".encode()
    payload = b"\x80\x02cposix\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd + b"R."
    path = keras_h5(tmp_path / "m.h5", keras2_config(), userblock=1024)
    with path.open("r+b") as f:
        f.write(payload)
    result = scan_paths([path])
    hits = _hits(result, "MT-KERAS-004")
    assert [f.severity for f in hits] == [Severity.HIGH]
    assert "1024-byte HDF5 user block" in hits[0].message and "another format" in hits[0].message
    nested = [f for f in result.findings if f.location.members == ("<hdf5 user block>",)]
    assert any(f.rule_id.startswith("MT-PKL") and f.severity == Severity.CRITICAL for f in nested)
    assert "keras" in result.files[0].formats  # the HDF5 part was still analysed
    assert not canary.exists()


def test_empty_user_block_is_low(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "m.h5", "w", userblock_size=512) as f:
        f["x"] = np.zeros(2)
    result = scan_paths([tmp_path / "m.h5"])
    assert [(f.rule_id, f.severity) for f in result.findings] == [("MT-KERAS-004", Severity.LOW)]


def test_hdf5_inside_a_zip_is_analysed(tmp_path: Path) -> None:
    inner = keras_h5(tmp_path / "inner.h5", keras2_config([_lambda(tmp_path)]))
    with h5py.File(inner, "a") as f:
        f["ext"] = h5py.ExternalLink("/etc/shadow", "/")
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        path = tmp_path / f"bundle{method}.zip"
        with zipfile.ZipFile(path, "w", method) as z:
            z.write(inner, "model.h5")
        result = scan_paths([path])
        assert {"MT-KERAS-001", "MT-KERAS-004"} <= rule_ids(result, Severity.HIGH)
        assert {f.location.members for f in result.findings} == {("model.h5",)}


# --- malformed input and limits ------------------------------------------------------------------
def test_model_config_that_is_not_json_is_high(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = b"{broken"
        f.attrs["training_config"] = np.arange(3)
    hits = _hits(scan_paths([path]), "MT-KERAS-005")
    assert len(hits) == 2 and all(f.severity == Severity.HIGH for f in hits)


def test_truncated_file_is_high_and_does_not_crash(tmp_path: Path) -> None:
    full = keras_h5(tmp_path / "full.h5", keras2_config()).read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(full[:3000])
    result = scan_paths([path])
    assert "MT-KERAS-005" in rule_ids(result, Severity.HIGH)
    assert "MT-INT-001" not in rule_ids(result)


def test_object_limit_stops_the_walk(tmp_path: Path) -> None:
    path = tmp_path / "many.h5"
    with h5py.File(path, "w") as f:
        for i in range(30):
            f.create_group(f"g{i}")
    result = scan_paths([path], limits=Limits(max_members=10))
    assert "MT-ARC-001" in rule_ids(result, Severity.HIGH)


def test_config_attribute_above_the_header_limit(tmp_path: Path) -> None:
    path = keras_h5(tmp_path / "m.h5", keras2_config())
    with h5py.File(path, "a") as f:
        f["model_weights/zz"] = h5py.ExternalLink("/etc/passwd", "/")
    result = scan_paths([path], limits=Limits(max_header=100))
    hits = _hits(result, "MT-KERAS-005")
    assert len(hits) == 2 and "more than 100" in hits[0].message
    assert "MT-KERAS-004" in rule_ids(result)  # the walk went on after the attributes


def test_missing_h5py_extra_is_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = keras_h5(tmp_path / "m.h5", keras2_config())
    monkeypatch.setitem(sys.modules, "h5py", None)
    result = scan_paths([path])
    hits = _hits(result, "MT-GEN-004")
    assert [f.severity for f in hits] == [Severity.HIGH] and "modeltrust[h5]" in hits[0].message


def test_signature_after_a_user_block_is_sniffed(tmp_path: Path) -> None:
    for size in (512, 2048, 8192):
        path = tmp_path / f"ub{size}.h5"
        with h5py.File(path, "w", userblock_size=size) as f:
            f["x"] = np.zeros(1)
        with path.open("r+b") as fh:
            fh.write(b"text header " * 10)
        blob = FileBlob(path, Location(str(path)), path.stat().st_size)
        assert hdf5_scanner.superblock_offset(blob, b"") == size


# --- fuzzing -------------------------------------------------------------------------------------
ENGINE = Engine(limits=Limits(max_decompressed=1 << 24))


@FUZZ_FORKING
@given(
    st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 20_000),
)
def test_mutated_files_never_crash(tmp_path: Path, edits: list[tuple[int, int]], cut: int) -> None:
    seed = tmp_path / "seed.h5"
    if not seed.exists():
        keras_h5(seed, keras2_config())
        with h5py.File(seed, "a") as f:
            f["ext"] = h5py.ExternalLink("other.h5", "/x")
    data = bytearray(seed.read_bytes())
    for pos, value in edits:
        data[pos % len(data)] = value
    path = tmp_path / "fuzz.h5"
    path.write_bytes(bytes(data[: cut or None]))
    result = ENGINE.scan([path])
    assert [f.message for f in result.findings if f.rule_id == "MT-INT-001"] == []


# --- isolation: libhdf5 is native code reading hostile bytes ------------------------------------
def _crashing_file(tmp_path: Path) -> Path:
    """An attribute whose datatype bits make libhdf5 (2.0, via h5py 3.16) dereference garbage:
    found by fuzzing. The byte after the variable-length datatype's class byte is the culprit."""
    path = keras_h5(tmp_path / "segv.h5", keras2_config())
    data = bytearray(path.read_bytes())
    at = data.index(b"keras_version\x00\x00\x00\x19") + 17
    data[at] = 214
    path.write_bytes(bytes(data))
    return path


def test_a_file_that_crashes_libhdf5_does_not_stop_the_scan(tmp_path: Path) -> None:
    """With libhdf5 2.0 this byte crashes the reader (SIGSEGV); other versions may only raise.
    Either way the scan goes on and the file is not called clean."""
    result = scan_paths([_crashing_file(tmp_path), keras_h5(tmp_path / "ok.h5", keras2_config())])
    assert "MT-INT-001" not in rule_ids(result)
    assert "keras" in result.files[1].formats  # the scan went on with the next file


def test_a_crash_in_the_reader_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    def crash(*_args: object) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(hdf5_scanner, "_read_file", crash)
    result = scan_paths([keras_h5(tmp_path / "m.h5", keras2_config())])
    hits = _hits(result, "MT-KERAS-005")
    assert [f.severity for f in hits] == [Severity.HIGH]
    assert "crashed (SIGSEGV)" in hits[0].message
    assert main(["scan", str(tmp_path / "m.h5"), "--no-progress"]) == EXIT_FAILED


def test_a_hanging_read_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(*_args: object) -> None:
        import time

        time.sleep(60)

    monkeypatch.setattr(hdf5_scanner, "_read_file", hang)
    monkeypatch.setattr(hdf5_scanner, "HDF5_TIMEOUT", 0.5)
    result = scan_paths([keras_h5(tmp_path / "m.h5", keras2_config())])
    hits = _hits(result, "MT-KERAS-005")
    assert len(hits) == 1 and "did not finish within 0.5 seconds" in hits[0].message


def test_a_bug_in_the_child_is_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(hdf5_scanner, "_read_file", broken)
    result = scan_paths([keras_h5(tmp_path / "m.h5", keras2_config())])
    assert [f.rule_id for f in result.findings] == ["MT-INT-001"]
    assert "ZeroDivisionError: boom" in result.findings[0].message


def test_in_process_and_isolated_reads_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = keras_h5(tmp_path / "m.h5", keras2_config([_lambda(tmp_path)]), userblock=512)
    with h5py.File(path, "a") as f:
        f["ext"] = h5py.ExternalLink("/etc/passwd", "/")
        f.create_dataset("es", shape=(2,), dtype="<i4", external=[("/etc/hosts", 0, 8)])
        for i in range(25):
            f[f"many/l{i}"] = h5py.ExternalLink(f"/tmp/x{i}.h5", "/")
    isolated = scan_paths([path])
    monkeypatch.setattr(hdf5_scanner.Hdf5Scanner, "isolate", False)
    in_process = scan_paths([path])
    assert isolated.findings == in_process.findings
    assert isolated.files == in_process.files
    assert len(_hits(isolated, "MT-KERAS-004")) == hdf5_scanner.MAX_LISTED + 2  # + user block
