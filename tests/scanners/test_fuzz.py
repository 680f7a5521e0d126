"""Hostile bytes never crash, hang or escape as exceptions: every outcome is findings.

Hypothesis feeds random and mutated inputs to the pickle emulator and to the whole engine; an
MT-INT-001 finding (a scanner crashed) counts as a failure here.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust import Limits
from modeltrust.findings import Location
from modeltrust.scanners.engine import Engine
from modeltrust.scanners.interface import BytesBlob, ScanContext
from modeltrust.scanners.pickle import scanner
from modeltrust.scanners.pickle.vm import PickleMachine, Reader

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LIMITS = Limits(max_opcodes=100_000, max_memo=10_000, max_stack=10_000, max_decompressed=1 << 24)
ENGINE = Engine(limits=LIMITS)

SEEDS = [pickle.dumps({"a": [1, 2.5, "x", b"y", (None, True)]}, protocol=p) for p in range(6)] + [
    b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueR."
]


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/data/0", b"\x00" * 16)
    return buf.getvalue()


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


def _engine_findings(tmp_path: Path, data: bytes) -> list[str]:
    path = tmp_path / "fuzz.bin"
    path.write_bytes(data)
    result = ENGINE.scan([path])
    crashes = [f.message for f in result.findings if f.rule_id == "MT-INT-001"]
    assert crashes == []
    return [f.rule_id for f in result.findings]


@FUZZ
@given(st.binary(max_size=512))
def test_emulator_never_raises_on_random_bytes(data: bytes) -> None:
    analysis = PickleMachine(Reader(io.BytesIO(data), len(data), True), LIMITS).run()
    assert analysis.stopped or analysis.error is not None or analysis.limit is not None


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.integers(0, 400),
)
def test_emulator_never_raises_on_mutated_pickles(
    seed: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    data = _mutate(seed, edits)[: cut or None]
    analysis = PickleMachine(Reader(io.BytesIO(data), len(data), True), LIMITS).run()
    assert analysis.end <= len(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_engine_never_crashes_on_random_bytes(tmp_path: Path, data: bytes) -> None:
    _engine_findings(tmp_path, data)


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.sampled_from(["raw", "zip", "gzip", "npy"]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
)
def test_engine_never_crashes_on_mutated_containers(
    tmp_path: Path, seed: bytes, wrapper: str, edits: list[tuple[int, int]]
) -> None:
    if wrapper == "zip":
        data = _zip(seed)
    elif wrapper == "gzip":
        data = gzip.compress(seed)
    elif wrapper == "npy":
        header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }          \n"
        data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + seed
    else:
        data = seed
    _engine_findings(tmp_path, _mutate(data, edits))


# Whole opcodes, so streams get somewhere before they fail: constants, containers, memo, and
# the ways to stop, import and call that the shortcut looks for.
_OPCODES = [
    *(bytes([b]) for b in b"N)}](tl0125ead\x88\x89\x85\x86su"),
    b"K\x07",
    b"q\x00",
    b"h\x00",
    b"\x80\x02",
    b".",
    b"R",
    b"cos\nsystem\n",
    b"\x8c\x02os\x8c\x06system\x93",
    b"X\x01\x00\x00\x00a",
]


@FUZZ
@given(
    data=st.lists(st.sampled_from(_OPCODES), max_size=120).map(b"".join) | st.binary(max_size=400),
    strict=st.booleans(),
    max_stack=st.sampled_from([1, 3, 50, 1_000_000]),
)
def test_a_blob_called_inert_is_one_the_emulator_would_not_report(
    data: bytes, strict: bool, max_stack: int
) -> None:
    """The shortcut that skips emulating short blobs agrees with the emulator."""
    limits = Limits(max_stack=max_stack)
    blob = BytesBlob(data, Location("f.bin"))
    if not scanner._inert(blob, limits):
        return
    ctx = ScanContext(limits, lambda b, c: False)
    with patch.object(scanner, "_inert", return_value=False):  # emulate it all the same
        claimed = scanner.scan_pickle_blob(blob, ctx, strict=strict)
    assert not claimed
    assert ctx.findings == []
    assert ctx.formats == []
