"""safetensors: real files pass; every structural problem is its own finding."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from modeltrust import Severity, scan_paths
from tests.helpers import rule_ids, scan_bytes

EVIL = b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueR."


def st(header: dict[str, object], body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def f32(n: int, start: int = 0) -> dict[str, object]:
    return {"dtype": "F32", "shape": [n], "data_offsets": [start, start + 4 * n]}


def test_real_files_pass(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    save_file = pytest.importorskip("safetensors.torch").save_file
    tensors = {
        "w": torch.randn(4, 3),
        "b": torch.zeros(3, dtype=torch.bfloat16),
        "i": torch.arange(5),
        "m": torch.ones(2, 2, dtype=torch.bool),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, path, metadata={"format": "pt"})
    result = scan_paths([path])
    assert result.findings == ()
    assert result.files[0].formats == ("safetensors",)


def test_real_sharded_checkpoint_with_index(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    save_file = pytest.importorskip("safetensors.torch").save_file
    save_file({"a": torch.ones(2)}, tmp_path / "model-00001-of-00002.safetensors")
    save_file({"b": torch.ones(3)}, tmp_path / "model-00002-of-00002.safetensors")
    index = {
        "metadata": {"total_size": 20},
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
        },
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert scan_paths([tmp_path]).findings == ()

    save_file(
        {"a": torch.ones(2), "x": torch.ones(1)}, tmp_path / "model-00001-of-00002.safetensors"
    )
    index["weight_map"]["c"] = "model-00003-of-00002.safetensors"  # type: ignore[index]
    index["weight_map"]["b"] = "model-00001-of-00002.safetensors"  # type: ignore[index]
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    result = scan_paths([tmp_path])
    messages = [f.message for f in result.findings if f.rule_id == "MT-ST-004"]
    assert any("missing" in m for m in messages)
    assert any("not in it" in m for m in messages)
    assert any("does not list" in m for m in messages)


@pytest.mark.parametrize(
    ("header", "body", "rule"),
    [
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 800]}}, b"", "MT-ST-002"),
        ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\x00" * 8, "MT-ST-002"),
        ({"w": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]}}, b"\x00" * 8, "MT-ST-002"),
        ({"a": f32(2), "b": f32(2, 4)}, b"\x00" * 12, "MT-ST-002"),  # overlap
        ({"a": f32(1), "b": f32(1, 8)}, b"\x00" * 12, "MT-ST-002"),  # gap
        ({"__metadata__": {"n": 3}, "a": f32(1)}, b"\x00" * 4, "MT-ST-001"),
        ({"a": f32(1)}, b"\x00" * 4 + b"junk", "MT-ST-003"),
        (
            {"__metadata__": {"src": "see https://evil.example/x"}, "a": f32(1)},
            b"\x00" * 4,
            "MT-ST-005",
        ),
        (
            {"__metadata__": {"t": "hf_" + "a" * 34}, "a": f32(1)},
            b"\x00" * 4,
            "MT-ST-005",
        ),
    ],
)
def test_structure_problems(
    tmp_path: Path, header: dict[str, object], body: bytes, rule: str
) -> None:
    assert rule in rule_ids(scan_bytes(tmp_path, st(header, body), "m.safetensors"))


def test_duplicate_keys_and_bad_json(tmp_path: Path) -> None:
    raw = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {}}'
    data = struct.pack("<Q", len(raw)) + raw + b"\x00" * 4
    assert "MT-ST-001" in rule_ids(scan_bytes(tmp_path, data, "d.safetensors"), Severity.HIGH)
    raw = b'{"a": [1, 2'
    data = struct.pack("<Q", len(raw)) + raw
    assert "MT-ST-001" in rule_ids(scan_bytes(tmp_path, data, "j.safetensors"), Severity.HIGH)
    too_long = struct.pack("<Q", 10**6) + b"{}"
    assert "MT-ST-001" in rule_ids(scan_bytes(tmp_path, too_long, "l.safetensors"))


def test_a_pickle_hidden_after_the_tensors_is_critical(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, st({"w": f32(1)}, b"\x00" * 4 + EVIL), "h.safetensors")
    unclaimed = [f for f in result.findings if f.rule_id == "MT-ST-003"]
    assert unclaimed[0].severity is Severity.CRITICAL
    assert "MT-PKL-002" in rule_ids(result)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hst.lists(hst.tuples(hst.integers(0, 200), hst.integers(0, 255)), max_size=6),
    hst.integers(0, 300),
)
def test_mutated_headers_never_crash(
    tmp_path: Path, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(st_file({"a": f32(2), "b": f32(1, 8), "__metadata__": {"k": "v"}}, 12))
    for pos, value in edits:
        data[pos % len(data)] = value
    result = scan_bytes(tmp_path, bytes(data[: cut or None]), "f.safetensors")
    assert "MT-INT-001" not in rule_ids(result)


def st_file(header: dict[str, object], body_len: int) -> bytes:
    return st(header, b"\x00" * body_len)
