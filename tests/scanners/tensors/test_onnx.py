"""ONNX: real models built with onnx.helper pass; external-data traversal, custom domains, sizes
that do not fit and malformed protobufs are reported; nothing is loaded or crashes.

Bypass samples: CVE-2022-25882 (``../../etc/passwd``), CVE-2024-27318 (``subdir/../../x``, the
nested bypass of the first fix), absolute paths, and a symbolic link out of the model folder.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from modeltrust import Limits, Severity, scan_paths
from modeltrust.cli import EXIT_FAILED, EXIT_OK, main
from modeltrust.findings import Location
from modeltrust.scanners.engine import Engine
from modeltrust.scanners.interface import BytesBlob
from modeltrust.scanners.tensors import onnx as onnx_scanner
from tests.helpers import rule_ids, serious

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- builders ------------------------------------------------------------------------------------
def _tensor(name: str, shape: tuple[int, ...]) -> TensorProto:
    return numpy_helper.from_array(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), name)


def _mlp(**kwargs: object) -> onnx.ModelProto:
    """A small two-layer perceptron, as a user would build it."""
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h0"], name="mm1"),
        helper.make_node("Add", ["h0", "B1"], ["h1"], name="add1"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("MatMul", ["h2", "W2"], ["y"], name="mm2"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [_tensor("W1", (4, 8)), _tensor("B1", (8,)), _tensor("W2", (8, 2))],
    )
    opsets = kwargs.pop("opset_imports", [helper.make_opsetid("", 17)])
    model = helper.make_model(
        graph, producer_name="modeltrust-tests", opset_imports=opsets, **kwargs
    )
    onnx.checker.check_model(model)
    return model


def _externalise(tensor: TensorProto, location: str, **entries: int) -> None:
    """Point ``tensor`` at external data the way onnx writes it (never loaded here)."""
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in {"location": location, **{k: str(v) for k, v in entries.items()}}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value


def _with_location(location: str) -> onnx.ModelProto:
    model = _mlp()
    _externalise(model.graph.initializer[0], location, offset=0, length=128)
    return model


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def _save_bytes(data: bytes, path: Path) -> Path:
    path.write_bytes(data)
    return path


def _findings(result: object, rule: str) -> list[object]:
    return [f for f in result.findings if f.rule_id == rule]  # type: ignore[attr-defined]


# --- happy path ----------------------------------------------------------------------------------
def test_real_mlp_passes_and_records_facts(tmp_path: Path) -> None:
    path = tmp_path / "mlp.onnx"
    onnx.save_model(_mlp(doc_string="d" * 500, model_version=3), path)
    result = scan_paths([path])
    assert serious(result) == []
    assert not result.findings
    scanned = result.files[0]
    assert "onnx" in scanned.formats
    facts = dict(scanned.facts)
    assert facts["onnx.producer_name"] == "modeltrust-tests"
    assert facts["onnx.model_version"] == "3"
    assert facts["onnx.doc_string"] == "d" * 200


def test_real_external_data_model_passes(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save_model(
        _mlp(),
        folder / "model.onnx",
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )
    assert (folder / "weights.bin").exists()
    result = scan_paths([folder])
    assert serious(result) == []
    assert not {r for r in rule_ids(result) if r.startswith("MT-ONNX")}


def test_external_data_in_a_subfolder_passes(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "data").mkdir(parents=True)
    onnx.save_model(
        _mlp(),
        folder / "model.onnx",
        save_as_external_data=True,
        location="data/weights.bin",
        size_threshold=0,
    )
    assert serious(scan_paths([folder / "model.onnx"])) == []


def test_standard_domains_and_local_functions_pass(tmp_path: Path) -> None:
    fn = helper.make_function(
        "local.fns",
        "Double",
        ["a"],
        ["b"],
        [helper.make_node("Add", ["a", "a"], ["b"])],
        [helper.make_opsetid("", 17)],
    )
    nodes = [
        helper.make_node("Double", ["x"], ["d"], domain="local.fns"),
        helper.make_node("FusedMatMul", ["d", "d"], ["y"], domain="com.microsoft"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
    )
    model = helper.make_model(
        graph,
        functions=[fn],
        opset_imports=[
            helper.make_opsetid("", 17),
            helper.make_opsetid("local.fns", 1),
            helper.make_opsetid("com.microsoft", 1),
            helper.make_opsetid("ai.onnx.ml", 3),
        ],
    )
    result = scan_paths([_save(model, tmp_path / "m.onnx")])
    assert result.findings == ()


def test_model_fields_match_onnx_descriptor() -> None:
    wire = {9: 2, 11: 2, 3: 0}  # string, message, int64
    declared = {f.number: wire[f.type] for f in onnx.ModelProto.DESCRIPTOR.fields}
    assert declared == onnx_scanner.MODEL_FIELDS


# --- bypass regressions: external data -----------------------------------------------------------
@pytest.mark.parametrize(
    "location",
    [
        "../../etc/passwd",  # CVE-2022-25882
        "subdir/../../x",  # CVE-2024-27318: nested '..' after the first fix
        "/etc/passwd",
        "C:\\Windows\\win.ini",
        "..\\..\\secrets.txt",
        "\\\\server\\share\\w.bin",
    ],
)
def test_external_data_leaving_the_folder_is_critical(tmp_path: Path, location: str) -> None:
    path = _save(_with_location(location), tmp_path / "evil.onnx")
    result = scan_paths([path])
    hits = _findings(result, "MT-ONNX-001")
    assert hits, serious(result)
    assert all(f.severity == Severity.CRITICAL for f in hits)
    assert "'W1'" in hits[0].message and hits[0].evidence == location
    assert main(["scan", str(path), "--no-progress"]) == EXIT_FAILED


def test_symlink_out_of_the_folder_is_critical(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.bin"
    secret.write_bytes(b"\x00" * 256)
    folder = tmp_path / "model"
    path = _save(_with_location("weights.bin"), folder / "model.onnx")
    (folder / "weights.bin").symlink_to(secret)
    result = scan_paths([path])
    hits = _findings(result, "MT-ONNX-001")
    assert [f.severity for f in hits] == [Severity.CRITICAL]
    assert "symbolic link" in hits[0].message and str(secret) in hits[0].message


def test_symlinked_folder_out_of_the_model_folder_is_critical(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "w.bin").write_bytes(b"\x00" * 256)
    folder = tmp_path / "model"
    path = _save(_with_location("sub/w.bin"), folder / "model.onnx")
    (folder / "sub").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert "MT-ONNX-001" in rule_ids(scan_paths([path]), Severity.CRITICAL)


def test_symlink_inside_the_folder_passes(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    path = _save(_with_location("weights.bin"), folder / "model.onnx")
    (folder / "real.bin").write_bytes(b"\x00" * 128)
    (folder / "weights.bin").symlink_to(folder / "real.bin")
    assert serious(scan_paths([path])) == []


def test_every_place_a_tensor_can_hide_is_walked(tmp_path: Path) -> None:
    """Subgraphs (If), node attributes (TENSOR / TENSORS), sparse initializers, functions and
    training graphs: onnx's loader reads external data from all of them."""
    then_init = _tensor("then_w", (2,))
    _externalise(then_init, "../then.bin")
    then_g = helper.make_graph(
        [helper.make_node("Identity", ["then_w"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])],
        [then_init],
    )
    else_const = _tensor("else_c", (2,))
    _externalise(else_const, "/abs/else.bin")
    else_g = helper.make_graph(
        [helper.make_node("Constant", [], ["e"], value=else_const)],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])],
    )
    attr_tensors = [_tensor("in_list", (2,))]
    _externalise(attr_tensors[0], "../list.bin")
    sparse_values = _tensor("sv", (1,))
    _externalise(sparse_values, "../sparse.bin")
    sparse = helper.make_sparse_tensor(sparse_values, numpy_helper.from_array(np.array([0])), [4])
    fn_tensor = _tensor("fn_c", (2,))
    _externalise(fn_tensor, "../fn.bin")
    fn = helper.make_function(
        "local",
        "F",
        ["a"],
        ["b"],
        [helper.make_node("Constant", [], ["b"], value=fn_tensor)],
        [helper.make_opsetid("", 17)],
    )
    nodes = [
        helper.make_node("If", ["cond"], ["out"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Custom", [], ["z"], domain="local", tensors=attr_tensors),
        helper.make_node("F", ["cond"], ["f"], domain="local"),
    ]
    graph = helper.make_graph(
        nodes,
        "main",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2])],
        sparse_initializer=[sparse],
    )
    train_init = _tensor("train_w", (2,))
    _externalise(train_init, "../train.bin")
    info = onnx.TrainingInfoProto()
    info.initialization.CopyFrom(helper.make_graph([], "init", [], [], [train_init]))
    model = helper.make_model(graph, functions=[fn])
    model.training_info.append(info)
    result = scan_paths([_save(model, tmp_path / "nested.onnx")])
    evidence = {f.evidence for f in _findings(result, "MT-ONNX-001")}
    assert evidence == {
        "../then.bin",
        "/abs/else.bin",
        "../list.bin",
        "../sparse.bin",
        "../fn.bin",
        "../train.bin",
    }


def test_duplicate_location_entries_are_all_checked(tmp_path: Path) -> None:
    model = _mlp()
    tensor = model.graph.initializer[0]
    _externalise(tensor, "weights.bin")
    extra = tensor.external_data.add()
    extra.key, extra.value = "location", "../../etc/shadow"
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 128)
    result = scan_paths([_save(model, tmp_path / "m.onnx")])
    assert "MT-ONNX-001" in rule_ids(result, Severity.CRITICAL)
    assert "MT-ONNX-004" in rule_ids(result)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_location_inside_an_archive_is_checked_as_text(tmp_path: Path, method: int) -> None:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr("model.onnx", _with_location("../../etc/passwd").SerializeToString())
        z.writestr("ok.onnx", _with_location("weights.bin").SerializeToString())
    result = scan_paths([path])
    hits = _findings(result, "MT-ONNX-001")
    assert [f.location.members for f in hits] == [("model.onnx",)]
    assert not _findings(result, "MT-ONNX-003")  # no folder to look in: sizes are not checked


# --- sizes ---------------------------------------------------------------------------------------
def test_missing_external_file_is_high(tmp_path: Path) -> None:
    result = scan_paths([_save(_with_location("weights.bin"), tmp_path / "m.onnx")])
    hits = _findings(result, "MT-ONNX-003")
    assert [f.severity for f in hits] == [Severity.HIGH]
    assert "does not exist" in hits[0].message


@pytest.mark.parametrize(
    ("entries", "file_size"),
    [({"offset": 0, "length": 128}, 100), ({"offset": 4096, "length": 4}, 128), ({}, 16)],
)
def test_external_range_past_the_file_is_high(
    tmp_path: Path, entries: dict[str, int], file_size: int
) -> None:
    model = _mlp()
    _externalise(model.graph.initializer[0], "weights.bin", **entries)
    (tmp_path / "weights.bin").write_bytes(b"\x00" * file_size)
    result = scan_paths([_save(model, tmp_path / "m.onnx")])
    assert "MT-ONNX-003" in rule_ids(result, Severity.HIGH)


def test_external_data_that_is_not_a_regular_file_is_high(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "weights.bin")
    result = scan_paths([_save(_with_location("weights.bin"), tmp_path / "m.onnx")])
    assert any("not a regular file" in f.message for f in _findings(result, "MT-ONNX-003"))


def test_raw_data_that_does_not_fit_its_dims_is_high(tmp_path: Path) -> None:
    model = _mlp()
    model.graph.initializer[0].raw_data = b"\x00" * 12  # 4x8 float32 needs 128 bytes
    result = scan_paths([_save(model, tmp_path / "m.onnx")])
    hits = _findings(result, "MT-ONNX-003")
    assert len(hits) == 1 and "shorter" in hits[0].message


def test_bad_offset_text_is_malformed(tmp_path: Path) -> None:
    model = _mlp()
    _externalise(model.graph.initializer[0], "weights.bin")
    entry = model.graph.initializer[0].external_data.add()
    entry.key, entry.value = "offset", "-5"
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 128)
    assert "MT-ONNX-004" in rule_ids(scan_paths([_save(model, tmp_path / "m.onnx")]))


# --- custom domains ------------------------------------------------------------------------------
def test_custom_operator_domain_is_medium(tmp_path: Path) -> None:
    model = _mlp(opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("evil.ops", 1)])
    model.graph.node.append(helper.make_node("Backdoor", ["y"], ["z"], domain="evil.ops"))
    result = scan_paths([_save(model, tmp_path / "m.onnx")])
    hits = _findings(result, "MT-ONNX-002")
    assert [(f.severity, f.evidence) for f in hits] == [(Severity.MEDIUM, "evil.ops")]
    assert "Backdoor" in hits[0].message
    assert main(["scan", str(tmp_path / "m.onnx"), "--no-progress"]) == EXIT_OK


def test_custom_domain_only_in_opset_import_is_reported(tmp_path: Path) -> None:
    model = _mlp(
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.contrib", 1)]
    )
    result = scan_paths([_save(model, tmp_path / "m.onnx")])
    assert [f.evidence for f in _findings(result, "MT-ONNX-002")] == ["ai.onnx.contrib"]


def test_custom_domain_inside_a_subgraph_is_reported(tmp_path: Path) -> None:
    body = helper.make_graph(
        [helper.make_node("Hidden", ["a"], ["b"], domain="x.hidden")],
        "body",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])],
    )
    model = _mlp()
    model.graph.node.append(
        helper.make_node("If", ["c"], ["o"], then_branch=body, else_branch=body)
    )
    result = scan_paths([_save(model, tmp_path / "m.onnx")])
    assert [f.evidence for f in _findings(result, "MT-ONNX-002")] == ["x.hidden"]


def test_findings_are_capped_per_rule(tmp_path: Path) -> None:
    model = _mlp()
    for i in range(60):
        t = model.graph.initializer.add()
        t.CopyFrom(_tensor(f"t{i}", (1,)))
        _externalise(t, f"../x{i}.bin")
    result = scan_paths([_save(model, tmp_path / "m.onnx")])
    hits = _findings(result, "MT-ONNX-001")
    assert len(hits) == onnx_scanner.MAX_PER_RULE + 1
    assert "40 more" in hits[-1].message


# --- recognition and malformed input -------------------------------------------------------------
def test_fields_in_an_unusual_order_are_still_analysed(tmp_path: Path) -> None:
    """onnx parses fields in any order; a scanner that only trusts ``ir_version`` first could be
    dodged by moving it to the end."""
    model = _with_location("../../etc/passwd")
    graph_only = onnx.ModelProto()
    graph_only.graph.CopyFrom(model.graph)
    head = onnx.ModelProto()
    head.ir_version = model.ir_version
    head.opset_import.extend(model.opset_import)
    data = graph_only.SerializeToString() + head.SerializeToString()
    assert data[0] != 0x08
    path = tmp_path / "reordered.onnx"
    path.write_bytes(data)
    assert "MT-ONNX-001" in rule_ids(scan_paths([path]), Severity.CRITICAL)


def test_truncated_model_is_malformed(tmp_path: Path) -> None:
    data = _mlp().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) - 40])
    result = scan_paths([path])
    assert "MT-ONNX-004" in rule_ids(result, Severity.HIGH)
    assert "MT-INT-001" not in rule_ids(result)


def test_undecodable_strings_are_still_analysed_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ONNX's protos are proto2: strings may hold any bytes, and protobuf then returns bytes."""
    data = _with_location("../QQQ.bin").SerializeToString().replace(b"QQQ", b"\xff\xfe\xfd")
    data = data.replace(b"mm1", b"\xc3\x28!")
    path = tmp_path / "bytes.onnx"
    path.write_bytes(data)
    result = scan_paths([path])
    hits = _findings(result, "MT-ONNX-001")
    assert len(hits) == 1 and hits[0].evidence == "../\\xff\\xfe\\xfd.bin"
    assert main(["scan", str(path), "-f", "json"]) == EXIT_FAILED
    assert "MT-ONNX-001" in capsys.readouterr().out


def test_text_and_random_bytes_are_not_claimed() -> None:
    for text in (b"requests==2.0\n", b"B" * 300, b'"quoted"', b"(tuple)", b"2024-01-01"):
        assert onnx_scanner.sniff_model(text, len(text)) == onnx_scanner.NOT_ONNX, text
    assert onnx_scanner.sniff_model(b"\x08" + b"\xff" * 20, 21) == onnx_scanner.NOT_ONNX
    real = _mlp().SerializeToString()
    assert onnx_scanner.sniff_model(real[:512], len(real)) == onnx_scanner.STRONG


def test_a_savedmodel_protobuf_is_left_to_its_own_scanner(tmp_path: Path) -> None:
    """saved_model.pb also starts with field 1 as a varint and field 2 as bytes; it has no graph
    field 7, so the ONNX scanner lets it go without parsing it."""
    meta_graph = b"\x0a\x07\x0a\x05serve" + b"\x12\x04\x0a\x02\x08\x01"
    data = b"\x08\x01\x12" + bytes([len(meta_graph)]) + meta_graph
    assert onnx_scanner.sniff_model(data, len(data)) == onnx_scanner.WEAK
    result = scan_paths([_save_bytes(data, tmp_path / "saved_model.pb")])
    assert "onnx" not in result.files[0].formats
    assert not [f for f in result.findings if f.rule_id.startswith("MT-ONNX")]


@pytest.mark.parametrize("producer", ["\x01weird", "ok"], ids=["control-characters", "plain"])
@pytest.mark.parametrize("ir_version", [0, 3, 10_000])
def test_odd_values_do_not_hide_a_model(tmp_path: Path, producer: str, ir_version: int) -> None:
    """onnx.load accepts any ir_version and any producer bytes, and still reads external data."""
    model = _with_location("../../etc/passwd")
    model.producer_name = producer
    model.ir_version = ir_version
    result = scan_paths([_save(model, tmp_path / "odd.onnx")])
    assert "MT-ONNX-001" in rule_ids(result, Severity.CRITICAL)


def test_file_above_the_protobuf_limit_is_reported_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_scanner, "MAX_MODEL", 100)
    result = scan_paths([_save(_mlp(), tmp_path / "big.onnx")])
    hits = _findings(result, "MT-ONNX-004")
    assert len(hits) == 1 and "2 GiB" in hits[0].message


def test_top_level_field_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_scanner, "MAX_TOP_LEVEL_FIELDS", 3)
    model = _mlp()
    helper.set_model_props(model, {"a": "1", "b": "2", "c": "3"})
    assert "MT-ONNX-004" in rule_ids(scan_paths([_save(model, tmp_path / "m.onnx")]))


def test_missing_onnx_extra_is_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    path = _save(_with_location("../../etc/passwd"), tmp_path / "m.onnx")
    result = scan_paths([path])
    hits = _findings(result, "MT-GEN-004")
    assert [f.severity for f in hits] == [Severity.HIGH]
    assert "modeltrust[onnx]" in hits[0].message
    assert main(["scan", str(path), "--no-progress"]) == EXIT_FAILED


def test_stream_blob_inside_gzip_is_analysed(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "m.onnx.gz"
    path.write_bytes(gzip.compress(_with_location("/etc/passwd").SerializeToString()))
    assert "MT-ONNX-001" in rule_ids(scan_paths([path]), Severity.CRITICAL)


def test_walk_top_level_reports_where_it_fails() -> None:
    data = _mlp().SerializeToString() + b"\x0f"
    with pytest.raises(ValueError, match="not a valid protobuf field tag"):
        onnx_scanner.walk_top_level(BytesBlob(data, Location("x")))


# --- fuzzing -------------------------------------------------------------------------------------
ENGINE = Engine(limits=Limits(max_decompressed=1 << 24))
SEED = _with_location("weights.bin").SerializeToString()


def _no_crash(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.onnx"
    path.write_bytes(data)
    result = ENGINE.scan([path])
    assert [f.message for f in result.findings if f.rule_id == "MT-INT-001"] == []


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.integers(0, 600),
)
def test_mutated_models_never_crash(tmp_path: Path, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(SEED)
    for pos, value in edits:
        data[pos % len(data)] = value
    _no_crash(tmp_path, bytes(data[: cut or None]))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_after_an_ir_version_never_crash(tmp_path: Path, tail: bytes) -> None:
    _no_crash(tmp_path, b"\x08\x07" + tail)
