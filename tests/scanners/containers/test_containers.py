"""Containers: lenient zip reading, tar, 7z, compressed streams, NumPy and limits."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from modeltrust import Limits, Severity, scan_paths
from modeltrust.scanners.engine import Engine
from tests.helpers import rule_ids, scan_bytes, serious

BENIGN = pickle.dumps({"weights": [1.0, 2.0], "name": "tiny"}, protocol=2)
EVIL = b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueR."  # touch nothing: the text is "true"


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_members_are_scanned_by_content(tmp_path: Path) -> None:
    data = zip_of({"archive/data.pkl": BENIGN, "archive/notes.txt": EVIL})
    result = scan_bytes(tmp_path, data, "weights.pt")
    assert "MT-PKL-002" in rule_ids(result)
    finding = next(f for f in result.findings if f.rule_id == "MT-PKL-002")
    assert finding.location.members == ("archive/notes.txt",)


def test_deflated_zip_members(tmp_path: Path) -> None:
    data = zip_of({"a/data.pkl": EVIL}, zipfile.ZIP_DEFLATED)
    assert "MT-PKL-002" in rule_ids(scan_bytes(tmp_path, data))


def test_bzip2_zip_members(tmp_path: Path) -> None:
    data = zip_of({"a/data.pkl": EVIL}, zipfile.ZIP_BZIP2)
    assert "MT-PKL-002" in rule_ids(scan_bytes(tmp_path, data))


def test_unsupported_zip_method_is_reported(tmp_path: Path) -> None:
    data = zip_of({"a/data.pkl": EVIL}, zipfile.ZIP_LZMA)
    result = scan_bytes(tmp_path, data)
    assert "MT-ARC-002" in rule_ids(result, Severity.HIGH)


def _corrupt_crc(data: bytes) -> bytes:
    out = bytearray(data)
    for sig, crc_at in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        pos = out.find(sig)
        out[pos + crc_at : pos + crc_at + 4] = b"\xde\xad\xbe\xef"
    return bytes(out)


def test_bad_crc_is_an_anomaly_but_members_are_still_scanned(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, _corrupt_crc(zip_of({"a/data.pkl": EVIL})))
    ids = rule_ids(result)
    assert "MT-ARC-003" in ids
    assert "MT-PKL-002" in ids


def test_benign_zip_with_bad_crc_is_only_medium(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, _corrupt_crc(zip_of({"a/data.pkl": BENIGN})))
    assert serious(result) == []
    assert "MT-ARC-003" in rule_ids(result)


def test_zip_without_central_directory_is_walked(tmp_path: Path) -> None:
    data = zip_of({"a/data.pkl": EVIL})
    cut = data[: data.find(b"PK\x01\x02")]
    result = scan_bytes(tmp_path, cut)
    ids = rule_ids(result)
    assert {"MT-ARC-002", "MT-PKL-002"} <= ids


def test_zip_after_other_data_is_found_from_the_end(tmp_path: Path) -> None:
    data = b"GIF89a" + b"\x00" * 100 + zip_of({"a/data.pkl": EVIL})
    assert "MT-PKL-002" in rule_ids(scan_bytes(tmp_path, data, "image.gif"))


def test_zip_path_traversal_member(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, zip_of({"../../etc/evil": b"x"}))
    assert "MT-ARC-006" in rule_ids(result)


def test_zip_ratio_bomb_is_stopped(tmp_path: Path) -> None:
    data = zip_of({"a/data.pkl": b"\x80\x02" + b"(" * (64 * 1024 * 1024)}, zipfile.ZIP_DEFLATED)
    result = scan_paths([_write(tmp_path, data)], limits=Limits(max_ratio=50))
    assert rule_ids(result, Severity.HIGH) & {"MT-ARC-001", "MT-PKL-016"}


def _write(tmp_path: Path, data: bytes, name: str = "m.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "wrap",
    [
        gzip.compress,
        bz2.compress,
        lzma.compress,
        lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
        zlib.compress,
    ],
)
def test_compressed_wrappers(tmp_path: Path, wrap: object) -> None:
    assert callable(wrap)
    assert "MT-PKL-002" in rule_ids(scan_bytes(tmp_path, wrap(EVIL)))
    assert serious(scan_bytes(tmp_path, wrap(BENIGN))) == []


def test_lz4_wrapper(tmp_path: Path) -> None:
    lz4_frame = pytest.importorskip("lz4.frame")
    assert "MT-PKL-002" in rule_ids(scan_bytes(tmp_path, lz4_frame.compress(EVIL)))


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    data = gzip.compress(BENIGN) + gzip.compress(EVIL)
    assert "MT-PKL-002" in rule_ids(scan_bytes(tmp_path, data))


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    data = gzip.compress(BENIGN * 50)[:-20]
    assert "MT-ARC-002" in rule_ids(scan_bytes(tmp_path, data), Severity.HIGH)


def test_tar_members(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"pickle": BENIGN, "storages": EVIL}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("escape")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    result = scan_bytes(tmp_path, buf.getvalue(), "old_checkpoint.tar")
    assert {"MT-PKL-002", "MT-ARC-006"} <= rule_ids(result)


def test_tar_gz(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("model/data.pkl")
        info.size = len(EVIL)
        tar.addfile(info, io.BytesIO(EVIL))
    assert "MT-PKL-002" in rule_ids(scan_bytes(tmp_path, buf.getvalue(), "model.tgz"))


def test_7z(tmp_path: Path) -> None:
    py7zr = pytest.importorskip("py7zr")
    path = tmp_path / "model.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.writestr(EVIL, "archive/data.pkl")
        archive.writestr(BENIGN, "archive/other.pkl")
    result = scan_paths([path])
    assert "MT-PKL-002" in rule_ids(result)
    assert "7z" in result.files[0].formats


def test_7z_without_the_extra_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_py7zr(name: str, *args: object, **kwargs: object) -> object:
        if name == "py7zr":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_py7zr)
    data = b"7z\xbc\xaf\x27\x1c" + b"\x00" * 64
    assert "MT-ARC-005" in rule_ids(scan_bytes(tmp_path, data, "m.7z"), Severity.HIGH)


def npy(descr: str, shape: tuple[int, ...], body: bytes, version: int = 1) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + body


def test_npy_object_array_is_scanned_as_a_pickle(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, npy("|O", (1,), EVIL), "x.npy")
    assert {"MT-NPY-001", "MT-PKL-002"} <= rule_ids(result)


def test_npy_numeric_is_clean_and_truncation_is_reported(tmp_path: Path) -> None:
    assert scan_bytes(tmp_path, npy("<f4", (4,), b"\x00" * 16), "a.npy").findings == ()
    assert "MT-NPY-002" in rule_ids(scan_bytes(tmp_path, npy("<f4", (4,), b"\x00" * 8), "b.npy"))


def test_npy_trailing_pickle_is_found(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, npy("<f4", (1,), b"\x00" * 4 + EVIL, version=2), "c.npy")
    assert {"MT-NPY-003", "MT-PKL-002"} <= rule_ids(result)


@pytest.mark.parametrize(
    "header",
    [
        b"{'descr': __import__('os')}",
        b"not a dict",
        b"{'descr': '<f4'}",
        b"{'descr': 'zz', 'shape': (1,)}",
    ],
)
def test_npy_bad_headers(tmp_path: Path, header: bytes) -> None:
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    assert "MT-NPY-002" in rule_ids(scan_bytes(tmp_path, data, "x.npy"), Severity.HIGH)


def test_depth_limit(tmp_path: Path) -> None:
    data = EVIL
    for _ in range(6):
        data = gzip.compress(data)
    result = scan_paths([_write(tmp_path, data)], limits=Limits(max_depth=3))
    assert "MT-ARC-001" in rule_ids(result, Severity.HIGH)


def test_member_count_limit(tmp_path: Path) -> None:
    data = zip_of({f"f{i}": b"x" for i in range(20)})
    result = scan_paths([_write(tmp_path, data)], limits=Limits(max_members=5))
    assert "MT-ARC-001" in rule_ids(result, Severity.HIGH)


def test_unrecognised_file_named_like_a_model(tmp_path: Path) -> None:
    assert "MT-GEN-002" in rule_ids(scan_bytes(tmp_path, b"\x00\x01garbage", "model.bin"))
    assert scan_bytes(tmp_path, b"# readme\n", "README.md").findings == ()


def test_unreadable_file_is_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, EVIL)

    def fail(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", fail)
    result = scan_paths([path])
    assert "MT-GEN-001" in rule_ids(result, Severity.HIGH)


def test_a_crashing_scanner_fails_closed(tmp_path: Path) -> None:
    from modeltrust.scanners.interface import Blob, ScanContext, Scanner

    class Broken(Scanner):
        name = "broken"

        def sniff(self, head: bytes, blob: Blob) -> bool:
            return True

        def scan(self, blob: Blob, ctx: ScanContext) -> bool:
            raise RuntimeError("boom")

    result = Engine(scanners=[Broken()]).scan([_write(tmp_path, BENIGN)])
    assert "MT-INT-001" in rule_ids(result, Severity.HIGH)


def test_git_folders_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "obj").write_bytes(EVIL)
    assert scan_paths([tmp_path]).files == ()


def test_parallel_scan_matches_sequential(tmp_path: Path) -> None:
    for i in range(12):
        _write(tmp_path, EVIL if i % 3 == 0 else BENIGN, f"m{i:02}.pkl")
    one = scan_paths([tmp_path], jobs=1)
    two = scan_paths([tmp_path], jobs=2)
    assert [f.path for f in one.files] == [f.path for f in two.files]
    assert sorted(map(str, one.findings)) == sorted(map(str, two.findings))
    assert len(one.at_or_above(Severity.CRITICAL)) == 4


@pytest.mark.parametrize("name", ["model.safetensors", "weights.npy", "arrays.npz"])
def test_format_confusion(tmp_path: Path, name: str) -> None:
    """CVE-2025-1889: a pickle named like a safe format is found by content and called out."""
    result = scan_bytes(tmp_path, EVIL, name)
    ids = rule_ids(result, Severity.HIGH)
    assert {"MT-GEN-005", "MT-PKL-002"} <= ids


def test_no_confusion_when_the_name_fits(tmp_path: Path) -> None:
    data = npy("<f4", (1,), b"\x00" * 4)
    assert scan_bytes(tmp_path, data, "ok.npy").findings == ()


def _zip64_offset_lie(offset: int) -> bytes:
    """A stored zip whose last member claims, through a zip64 extra field, a local header at
    ``offset`` (beyond any file, and beyond what an off_t holds); its first member is EVIL."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", EVIL)
        z.writestr("archive/other", b"x")
    data = buf.getvalue()
    eocd = data.rfind(b"PK\x05\x06")
    _, cd_offset = struct.unpack_from("<II", data, eocd + 12)
    last = data.rfind(b"PK\x01\x02", 0, eocd)
    nlen = struct.unpack_from("<H", data, last + 28)[0]
    extra = struct.pack("<HHQ", 1, 8, offset)
    record = bytearray(data[last : last + 46 + nlen])
    struct.pack_into("<H", record, 30, len(extra))
    struct.pack_into("<I", record, 42, 0xFFFFFFFF)
    directory = data[cd_offset:last] + bytes(record) + extra
    end = data[eocd : eocd + 12] + struct.pack("<II", len(directory), cd_offset) + data[eocd + 20 :]
    return data[:cd_offset] + directory + end


@pytest.mark.parametrize("offset", [2**63 - 1, 2**64 - 1, 1 << 40])
@pytest.mark.parametrize("outer_padding", [0, 3 << 20])
def test_impossible_zip64_offsets_fall_back_to_the_local_headers(
    tmp_path: Path, offset: int, outer_padding: int
) -> None:
    """Read from memory or with positioned reads, alone or nested in a large zip, a hostile
    offset never becomes an internal error that hides the pickle before it."""
    inner = _zip64_offset_lie(offset)
    if outer_padding:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("pad.bin", b"\0" * outer_padding)
            z.writestr("inner.zip", inner)
        inner = buf.getvalue()
    result = scan_bytes(tmp_path, inner, "model.zip")
    ids = rule_ids(result)
    assert "MT-PKL-002" in ids
    assert "MT-INT-001" not in ids
