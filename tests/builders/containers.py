"""Containers around pickles, written byte by byte where the layout matters.

Zip archives are assembled here rather than with :mod:`zipfile`, so tests can set the CRC, the
flag bits and the local-header name of each member independently, drop the central directory, or
point many directory entries at one member. The compression codecs come from the standard library
(plus ``lz4`` and ``py7zr``, imported only when asked for). Nothing here loads what it wraps.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import struct
import tarfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tests.builders import pickles as pk

MiB = 1024 * 1024

# --- zip -----------------------------------------------------------------------------------------
STORED = 0
DEFLATED = 8
BZIP2 = 12


@dataclass(frozen=True)
class ZipMember:
    """One member. ``crc``/``flags``/``local_*`` override what an honest writer would put."""

    name: str
    data: bytes
    method: int = STORED
    flags: int = 0
    crc: int | None = None
    """CRC-32 written in both headers (None: the real one)."""
    local_name: str | None = None
    """Name in the local header (None: the same as the central directory's)."""
    local_flags: int | None = None
    compressed: bytes | None = None
    """Already-compressed data (with ``size``), for members too large to hold uncompressed."""
    size: int | None = None


def deflate_raw(data: bytes, level: int = 6) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _compress(member: ZipMember) -> tuple[bytes, int, int]:
    """(compressed bytes, uncompressed size, crc)."""
    if member.compressed is not None:
        if member.size is None or member.crc is None:
            raise ValueError("pre-compressed members need size and crc")
        return member.compressed, member.size, member.crc
    crc = zlib.crc32(member.data)
    if member.method == STORED:
        body = member.data
    elif member.method == DEFLATED:
        body = deflate_raw(member.data)
    elif member.method == BZIP2:
        body = bz2.compress(member.data)
    else:
        raise ValueError(f"unsupported zip method {member.method}")
    return body, len(member.data), crc if member.crc is None else member.crc


def _local_header(name: bytes, flags: int, method: int, crc: int, csize: int, usize: int) -> bytes:
    version = 46 if method == BZIP2 else 20
    return (
        b"PK\x03\x04"
        + struct.pack(
            "<HHHHHIIIHH", version, flags, method, 0, 0x21, crc, csize, usize, len(name), 0
        )
        + name
    )


def _central_header(
    name: bytes, flags: int, method: int, crc: int, csize: int, usize: int, offset: int
) -> bytes:
    version = 46 if method == BZIP2 else 20
    return (
        b"PK\x01\x02"
        + struct.pack(
            "<HHHHHHIIIHHHHHII",
            version,
            version,
            flags,
            method,
            0,
            0x21,
            crc,
            csize,
            usize,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        + name
    )


def _eocd(count: int, cd_size: int, cd_offset: int, comment: bytes = b"") -> bytes:
    return (
        b"PK\x05\x06"
        + struct.pack("<HHHHIIH", 0, 0, count, count, cd_size, cd_offset, len(comment))
        + comment
    )


def build_zip(
    members: Sequence[ZipMember],
    *,
    prefix: bytes = b"",
    central_directory: bool = True,
    comment: bytes = b"",
) -> bytes:
    """A zip archive; ``prefix`` bytes go before it (offsets stay relative to the archive start,
    as in a self-extracting archive, so readers must find the shift)."""
    out = bytearray()
    central = bytearray()
    for m in members:
        body, usize, crc = _compress(m)
        offset = len(out)
        lname = (m.name if m.local_name is None else m.local_name).encode()
        lflags = m.flags if m.local_flags is None else m.local_flags
        out += _local_header(lname, lflags, m.method, crc, len(body), usize) + body
        central += _central_header(
            m.name.encode(), m.flags, m.method, crc, len(body), usize, offset
        )
    if central_directory:
        cd_offset = len(out)
        out += central + _eocd(len(members), len(central), cd_offset, comment)
    return prefix + bytes(out)


def stored_zip(files: Iterable[tuple[str, bytes]], method: int = STORED) -> bytes:
    return build_zip([ZipMember(name, data, method) for name, data in files])


def pt_zip(
    data_pkl: bytes,
    storages: dict[str, bytes] | None = None,
    *,
    prefix: str = "archive",
    method: int = STORED,
    pickle_member: ZipMember | None = None,
) -> bytes:
    """The layout ``torch.save`` writes: ``<prefix>/data.pkl``, ``byteorder``, ``data/N``,
    ``version``. ``pickle_member`` replaces the data.pkl member (to tamper with its headers)."""
    members = [pickle_member or ZipMember(f"{prefix}/data.pkl", data_pkl, method)]
    members.append(ZipMember(f"{prefix}/byteorder", b"little", method))
    for key, data in (storages or {}).items():
        members.append(ZipMember(f"{prefix}/data/{key}", data))
    members.append(ZipMember(f"{prefix}/version", b"3\n", method))
    members.append(
        ZipMember(
            f"{prefix}/.data/serialization_id", b"0123456789012345678901234567890123456789", method
        )
    )
    return build_zip(members)


@functools.cache
def zeros_deflated(total: int) -> tuple[bytes, int]:
    """(raw deflate of ``total`` zero bytes, their CRC-32), for bombs. ``total`` is a multiple
    of 1 MiB.

    Each MiB is compressed once and ended with a full flush, which byte-aligns the output and
    resets the window, so the same block can be repeated; an empty final block ends the stream.
    """
    if total % MiB:
        raise ValueError("total must be a multiple of 1 MiB")
    block = bytes(MiB)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    steady = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    final = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set
    count = total // MiB
    body = first + steady * (count - 1) + final if count else final
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    return body, crc


def zip_ratio_bomb(total: int = 200 * MiB, name: str = "archive/data.pkl") -> bytes:
    """One deflated member of ``total`` zero bytes (about 1000x)."""
    body, crc = zeros_deflated(total)
    return build_zip([ZipMember(name, b"", DEFLATED, crc=crc, compressed=body, size=total)])


def overlapping_zip_bomb(count: int, member_size: int) -> bytes:
    """Fifield-style non-recursive bomb: ``count`` directory entries share one deflated member.

    Each member stays under any per-member ratio grace; the archive as a whole expands to
    ``count * member_size`` bytes.
    """
    body, crc = zeros_deflated(member_size)
    first = b"m0000"
    out = _local_header(first, 0, DEFLATED, crc, len(body), member_size) + body
    central = bytearray()
    for i in range(count):
        central += _central_header(
            f"m{i:04d}".encode(), 0, DEFLATED, crc, len(body), member_size, 0
        )
    return out + bytes(central) + _eocd(count, len(central), len(out))


# --- compressed streams --------------------------------------------------------------------------
def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def bz2_(data: bytes) -> bytes:
    return bz2.compress(data)


def xz(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ)


def lzma_alone(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


def zlib_(data: bytes, level: int = 3) -> bytes:
    """What ``joblib.dump(..., compress=3)`` writes: one zlib stream."""
    return zlib.compress(data, level)


def joblib_zfile(data: bytes) -> bytes:
    """joblib's legacy compressed format: ``ZF`` + hex length padded to 19 characters + zlib."""
    return b"ZF" + hex(len(data)).encode().ljust(19) + zlib.compress(data)


def lz4_frame(data: bytes) -> bytes | None:
    """An lz4 frame, or None when the ``lz4`` package is missing."""
    try:
        import lz4.frame
    except ImportError:
        return None
    return bytes(lz4.frame.compress(data))


def sevenzip(files: Iterable[tuple[str, bytes]]) -> bytes | None:
    """A 7z archive, or None when ``py7zr`` is missing."""
    try:
        import py7zr
    except ImportError:
        return None
    bio = io.BytesIO()
    with py7zr.SevenZipFile(bio, "w") as archive:
        for name, data in files:
            archive.writestr(data, name)
    return bio.getvalue()


def gz_zeros(total: int) -> bytes:
    """A gzip stream of ``total`` zero bytes (a multiple of 1 MiB)."""
    body, crc = zeros_deflated(total)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"
    return header + body + struct.pack("<II", crc, total & 0xFFFFFFFF)


# --- tar -----------------------------------------------------------------------------------------
def tar(files: Iterable[tuple[str, bytes]]) -> bytes:
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return bio.getvalue()


# --- nesting -------------------------------------------------------------------------------------
def nest(data: bytes, layers: Sequence[str]) -> bytes:
    """Wrap ``data`` in ``layers`` from the inside out: "zip" (deflated), "zip-stored", "gz",
    "bz2", "xz", "tar"."""
    for layer in layers:
        if layer == "zip":
            data = build_zip([ZipMember("inner.bin", data, DEFLATED)])
        elif layer == "zip-stored":
            data = build_zip([ZipMember("inner.bin", data, STORED)])
        elif layer == "gz":
            data = gz(data)
        elif layer == "bz2":
            data = bz2_(data)
        elif layer == "xz":
            data = xz(data)
        elif layer == "tar":
            data = tar([("inner.bin", data)])
        else:
            raise ValueError(f"unknown layer {layer!r}")
    return data


# --- numpy ---------------------------------------------------------------------------------------
def npy(descr: str, shape: tuple[int, ...], body: bytes, *, version: int = 1) -> bytes:
    """An ``.npy`` file: magic, version, header length, a dict literal padded to 64, the body."""
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    fixed = 10 if version == 1 else 12
    pad = -(fixed + len(header) + 1) % 64
    text = (header + " " * pad + "\n").encode("latin-1")
    length = struct.pack("<H", len(text)) if version == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text + body


def npy_float32(values: Sequence[float]) -> bytes:
    return npy("<f4", (len(values),), b"".join(struct.pack("<f", v) for v in values))


def npy_object(pickle_stream: bytes, count: int = 1) -> bytes:
    """An object array: the body after the header is a pickle."""
    return npy("|O", (count,), pickle_stream)


# --- torch ---------------------------------------------------------------------------------------
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def tensor_call(key: str, numel: int, storage: str = "FloatStorage") -> pk.Call:
    """``torch._utils._rebuild_tensor_v2(<storage key>, 0, (numel,), (1,), False, OrderedDict())``."""
    pid = pk.PersistentId(("storage", pk.Glob("torch", storage), key, "cpu", numel))
    return pk.Call(
        pk.Glob("torch._utils", "_rebuild_tensor_v2"),
        (pid, 0, (numel,), (1,), False, pk.Call(pk.Glob("collections", "OrderedDict"))),
    )


def state_dict_pickle(tensors: dict[str, tuple[str, int]], protocol: int = 2) -> bytes:
    """A state dict ``{name: tensor}`` the way torch.save pickles it (globals all allowlisted)."""
    return pk.dumps({name: tensor_call(key, n) for name, (key, n) in tensors.items()}, protocol)


def float_storage(values: Sequence[float]) -> bytes:
    return b"".join(struct.pack("<f", v) for v in values)


def legacy_torch(
    main_pickle: bytes,
    storages: dict[str, bytes],
    *,
    magic_stream: bytes | None = None,
    trailing: bytes = b"",
    elsize: int = 4,
) -> bytes:
    """A pre-1.6 ``torch.save`` file: magic, protocol, sys_info, main pickle, storage keys, then
    each storage as an int64 element count followed by its bytes."""
    magic = magic_stream if magic_stream is not None else pk.dumps(LEGACY_MAGIC, 2)
    version = pk.dumps(1001, 2)
    sys_info = pk.dumps(
        {
            "protocol_version": 1001,
            "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4},
        },
        2,
    )
    keys = pk.dumps(list(storages), 2)
    body = b"".join(struct.pack("<q", len(data) // elsize) + data for data in storages.values())
    return magic + version + sys_info + main_pickle + keys + body + trailing


def legacy_torch_tar(pickle_member: bytes) -> bytes:
    """The pre-0.4 tar layout ``torch.load`` still reads: sys_info, pickle, tensors, storages."""
    sys_info = pk.dumps({"protocol_version": 1000, "little_endian": True}, 2)
    return tar(
        [
            ("sys_info", sys_info),
            ("pickle", pickle_member),
            ("tensors", pk.dumps(0, 2)),
            ("storages", pk.dumps(0, 2)),
        ]
    )


# --- safetensors ---------------------------------------------------------------------------------
def safetensors(header_json: bytes, data: bytes) -> bytes:
    return struct.pack("<Q", len(header_json)) + header_json + data
