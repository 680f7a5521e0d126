"""The pure-Python HDF5 structure check that runs before h5py: real files of every layout pass;
broken structure is a finding without the HDF5 library ever opening the file."""

from __future__ import annotations

import contextlib
import io
import os
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust import Limits, Severity, scan_paths
from modeltrust.scanners.interface import LimitExceeded
from modeltrust.scanners.tensors import hdf5 as hdf5_scanner
from modeltrust.scanners.tensors.hdf5_format import Malformed, Structure, check
from tests.helpers import rule_ids

SIG = b"\x89HDF\r\n\x1a\n"


def _file(path: Path, libver: str = "earliest", userblock: int = 0, groups: int = 3) -> Path:
    with h5py.File(path, "w", libver=libver, userblock_size=userblock) as f:
        weights = f.create_group("model_weights")
        for i in range(groups):
            g = weights.create_group(f"layer_{i}")
            g.create_dataset("kernel", data=np.ones((4, 4), dtype=np.float32))
            g.attrs["weight_names"] = [b"kernel:0"]
        f.create_dataset("chunked", data=np.zeros((64, 64)), chunks=(8, 8), compression="gzip")
        compact = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        compact.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((4,))
        h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_INT32, space, dcpl=compact)
        f["soft"] = h5py.SoftLink("/chunked")
        f["alias"] = f["chunked"]
        f["outside"] = h5py.ExternalLink("other.h5", "/x")
        f.attrs["model_config"] = '{"class_name": "Sequential", "config": {"layers": []}}'
    return path


def _check(data: bytes, max_objects: int = 100_000) -> Structure:
    start = data.find(SIG)
    return check(io.BytesIO(data), start, len(data), max_objects=max_objects)


@pytest.mark.parametrize(
    ("libver", "userblock", "groups"),
    [
        ("earliest", 0, 3),
        ("latest", 0, 3),
        ("earliest", 512, 3),
        ("latest", 1024, 20),
        ("earliest", 0, 40),
    ],
)
def test_real_files_of_every_layout_pass(
    tmp_path: Path, libver: str, userblock: int, groups: int
) -> None:
    data = _file(tmp_path / "m.h5", libver, userblock, groups).read_bytes()
    structure = _check(data)
    assert structure.version == (0 if libver == "earliest" else 3)
    assert structure.objects >= (groups + 3 if libver == "earliest" else 3)


def _v0(tmp_path: Path) -> bytearray:
    return bytearray(_file(tmp_path / "m.h5").read_bytes())


def _root_header(data: bytearray) -> int:
    return struct.unpack_from("<Q", data, 56 + 8)[0]


def _breakages(tmp_path: Path) -> dict[str, bytes]:
    base = _v0(tmp_path)
    out: dict[str, bytes] = {}
    out["truncated"] = bytes(base[: len(base) // 2])
    bad_version = bytearray(base)
    bad_version[8] = 7
    out["superblock version 7"] = bytes(bad_version)
    bad_sizes = bytearray(base)
    bad_sizes[13] = 3
    out["3-byte offsets"] = bytes(bad_sizes)
    past_eof = bytearray(base)
    struct.pack_into("<Q", past_eof, 64, len(base) * 10)  # the root object header address
    out["root past the end"] = bytes(past_eof)
    garbage = bytearray(base)
    root = _root_header(garbage)
    garbage[root : root + 64] = b"\xa5" * 64
    out["garbage root header"] = bytes(garbage)
    # A continuation message in the root header that points back at the header itself.
    looping = bytearray(base)
    at = root + 16
    struct.pack_into("<HHB3x", looping, at, 0x10, 16, 0)
    struct.pack_into("<QQ", looping, at + 8, root + 16, 0xFFFF_FFFF_FFFF)
    out["continuation to itself"] = bytes(looping)
    huge = bytearray(base)
    struct.pack_into("<I", huge, root + 8, 0xFFFF_FFF0)  # header size
    out["huge header size"] = bytes(huge)
    return out


def test_broken_structures_are_found_without_h5py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a malformed file reached the HDF5 library")

    monkeypatch.setattr(hdf5_scanner, "_read_file", never)
    monkeypatch.setattr(hdf5_scanner, "_in_child", never)
    for name, data in _breakages(tmp_path).items():
        with pytest.raises(Malformed):
            _check(data)
        path = tmp_path / f"{name.replace(' ', '-')}.h5"
        path.write_bytes(data)
        result = scan_paths([path])
        assert "MT-KERAS-005" in rule_ids(result, Severity.HIGH), name
        (hit,) = [f for f in result.findings if f.rule_id == "MT-KERAS-005"]
        assert "structure" in hit.message and "not given to the HDF5 library" in hit.message


def test_object_count_is_a_limit_not_a_malformation(tmp_path: Path) -> None:
    data = _file(tmp_path / "m.h5", groups=30).read_bytes()
    with pytest.raises(LimitExceeded):
        _check(data, max_objects=10)
    path = tmp_path / "m.h5"
    assert "MT-ARC-001" in rule_ids(scan_paths([path], limits=Limits(max_members=10)))


def test_the_time_limit_follows_what_was_counted() -> None:
    small = hdf5_scanner.time_limit(Structure(0, 10, 0))
    big = hdf5_scanner.time_limit(Structure(0, 100_000, 0))
    assert small < 6 < big <= hdf5_scanner.HDF5_TIMEOUT
    assert hdf5_scanner.time_limit(Structure(3, 3, 1)) > small


def test_fifty_malformed_files_do_not_reach_the_library(tmp_path: Path) -> None:
    broken = list(_breakages(tmp_path).values())
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(50):
        (folder / f"m{i:02}.h5").write_bytes(broken[i % len(broken)])
    result = scan_paths([folder], jobs=2)
    hits = [f for f in result.findings if f.rule_id == "MT-KERAS-005"]
    assert len(hits) == 50
    assert all("not given to the HDF5 library" in f.message for f in hits)


@settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(flips=st.lists(st.tuples(st.integers(0, 4095), st.integers(1, 255)), min_size=1, max_size=8))
def test_byte_flips_never_crash_the_check(tmp_path: Path, flips: list[tuple[int, int]]) -> None:
    data = bytearray(_fuzz_base(tmp_path))
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    with contextlib.suppress(Malformed, LimitExceeded):  # anything else is a bug
        _check(bytes(data))


_BASES: dict[str, bytes] = {}


def _fuzz_base(tmp_path: Path) -> bytes:
    if "v0" not in _BASES:
        _BASES["v0"] = _file(tmp_path / "fuzz.h5").read_bytes()
    return _BASES["v0"]
