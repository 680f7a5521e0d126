"""Containers: zip (read leniently, the way torch reads it), tar, 7z and compressed streams.

Every member is handed back to the dispatcher, so it is sniffed by content like any file.
Compressed data is inflated as a stream under size and ratio limits, never all at once.
"""

from __future__ import annotations

import io
import itertools
import posixpath
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from modeltrust import rules
from modeltrust.errors import MissingExtraError
from modeltrust.findings import Location
from modeltrust.scanners import sniff
from modeltrust.scanners.interface import (
    Blob,
    BytesBlob,
    CorruptData,
    FileBlob,
    KiB,
    LimitExceeded,
    Limits,
    MiB,
    ReadAt,
    ScanContext,
    Scanner,
    SliceBlob,
    StreamBlob,
    random_access,
    window_of,
)
from modeltrust.scanners.pickle import scan_pickle_blob
from modeltrust.scanners.sniff import JOBLIB_ZF_PREFIX, lzma_alone_header, zlib_header

if TYPE_CHECKING:
    import tarfile

_CHUNK = 256 * KiB
_HEAD = 512
_RATIO_GRACE = 16 * MiB


# --- streaming decompression ---------------------------------------------------------------------
class _ZlibAdapter:
    """zlib's decompressobj with the bz2/lzma interface (needs_input, unused_data)."""

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)
        self._tail = b""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        out = self._d.decompress(self._tail + data, max(max_length, 0))
        self._tail = self._d.unconsumed_tail
        return out

    @property
    def needs_input(self) -> bool:
        return not self._tail

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data


def _bz2() -> Any:
    import bz2  # decompressors load on first use: start-up stays short

    return bz2.BZ2Decompressor()


def _xz() -> Any:
    import lzma

    return lzma.LZMADecompressor(lzma.FORMAT_XZ)


def _lzma_alone() -> Any:
    import lzma

    return lzma.LZMADecompressor(lzma.FORMAT_ALONE)


def _lz4() -> Any:
    import lz4.frame

    return lz4.frame.LZ4FrameDecompressor()


@dataclass(frozen=True, slots=True)
class Codec:
    name: str
    make: Callable[[], Any]
    restart_magic: bytes | None = None
    """A stream of this codec may be followed by another one starting with these bytes."""


GZIP = Codec("gzip", lambda: _ZlibAdapter(31), b"\x1f\x8b")
ZLIB = Codec("zlib", lambda: _ZlibAdapter(15))
DEFLATE = Codec("deflate", lambda: _ZlibAdapter(-15))
BZIP2 = Codec("bz2", _bz2, b"BZh")
XZ = Codec("xz", _xz, b"\xfd7zXZ\x00")
LZMA = Codec("lzma", _lzma_alone)
LZ4 = Codec("lz4", _lz4, b"\x04\x22\x4d\x18")


@cache
def _codec_errors() -> tuple[type[BaseException], ...]:
    """What decompressors raise on bad data (lzma is imported only when first needed)."""
    import lzma

    return (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, RuntimeError)


@dataclass(slots=True)
class Budget:
    """Output shared by every member of one archive, against the archive's own size: stops
    bombs made of many members (or many entries pointing at one member)."""

    archive_size: int
    produced: int = 0


class DecompressingReader(io.RawIOBase):
    """Inflates ``raw`` on demand, raising :class:`LimitExceeded` past the size or ratio limit."""

    def __init__(
        self,
        raw: BinaryIO,
        codec: Codec,
        limits: Limits,
        compressed_size: int | None,
        budget: Budget | None = None,
    ):
        self._budget = budget
        self._raw = raw
        self._codec = codec
        self._d = codec.make()
        self._limits = limits
        self._compressed_size = compressed_size
        self._consumed = 0
        self._produced = 0
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = len(buffer)
        while not self._done:
            try:
                out = self._step(n)
            except _codec_errors() as e:
                raise CorruptData(f"{self._codec.name} data is corrupt: {e}") from None
            if out:
                buffer[: len(out)] = out
                self._produced += len(out)
                if self._budget is not None:
                    self._budget.produced += len(out)
                self._check_limits()
                return len(out)
        return 0

    def _step(self, n: int) -> bytes:
        d = self._d
        if d.eof:
            rest = (d.unused_data or b"") + self._raw.read(_CHUNK)
            magic = self._codec.restart_magic
            if magic and rest.startswith(magic):  # concatenated streams (gzip members, bz2)
                self._d = self._codec.make()
                self._pending = rest
                return b""
            self._done = True
            return b""
        if getattr(d, "needs_input", True) and not self._pending:
            chunk = self._raw.read(_CHUNK)
            if not chunk:
                raise CorruptData(f"{self._codec.name} stream ends before its end marker")
            self._consumed += len(chunk)
            self._pending = chunk
        data, self._pending = self._pending, b""
        return bytes(d.decompress(data, n))

    def _check_limits(self) -> None:
        lim = self._limits
        if self._produced > lim.max_decompressed:
            raise LimitExceeded(
                f"{self._codec.name} data expands past {lim.max_decompressed} bytes"
            )
        base = self._compressed_size or self._consumed
        if self._produced > _RATIO_GRACE and base and self._produced / base > lim.max_ratio:
            raise LimitExceeded(
                f"{self._codec.name} data expands more than {lim.max_ratio:g} times"
            )
        budget = self._budget
        if (
            budget is not None
            and budget.produced > _RATIO_GRACE
            and (
                budget.produced > lim.max_decompressed
                or budget.produced / max(budget.archive_size, 1) > lim.max_ratio
            )
        ):
            raise LimitExceeded(
                f"the archive's members together expand to {budget.produced} bytes, more than "
                f"{lim.max_ratio:g} times its size"
            )

    def close(self) -> None:
        self._raw.close()
        super().close()


def decompressed(
    blob: Blob,
    codec: Codec,
    limits: Limits,
    *,
    offset: int = 0,
    length: int | None = None,
    location: Location | None = None,
    budget: Budget | None = None,
) -> StreamBlob:
    """A forward-only blob of ``blob`` (or a window of it) inflated with ``codec``."""

    def opener() -> BinaryIO:
        f = blob.open()
        if offset:
            if blob.seekable:
                f.seek(offset)
            else:
                f.read(offset)
        raw: BinaryIO = _Bounded(f, length) if length is not None else f  # type: ignore[assignment]
        reader = DecompressingReader(raw, codec, limits, length or blob.size, budget)
        return io.BufferedReader(reader, buffer_size=_CHUNK)

    loc = location or blob.location.inner(f"<{codec.name}>")
    return StreamBlob(opener, loc)


class _Bounded(io.RawIOBase):
    """At most ``left`` bytes of ``f`` from its current position."""

    def __init__(self, f: BinaryIO, left: int) -> None:
        self._f = f
        self._left = left

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._left)
        if want <= 0:
            return 0
        data = self._f.read(want)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def _drain(blob: Blob) -> None:
    """Read a stream to its end so that corruption and limits surface."""
    with blob.open() as f:
        while f.read(_CHUNK):
            pass


# --- compressed single streams -------------------------------------------------------------------
_JOBLIB_ZF_HEADER = 2 + 19  # 'ZF' + the length as hex, padded to 19 characters


class CompressedScanner(Scanner):
    """gzip, bz2, xz, lzma, lz4 and zlib streams (joblib's compressed dumps among them)."""

    name = "compressed"

    def _codec(self, head: bytes) -> tuple[Codec, int] | None:
        if head.startswith(b"\x1f\x8b\x08"):
            return GZIP, 0
        if (
            head[:3] == b"BZh"
            and head[3:4].isdigit()
            and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90")
        ):
            return BZIP2, 0
        if head.startswith(b"\xfd7zXZ\x00"):
            return XZ, 0
        if head.startswith(b"\x04\x22\x4d\x18"):
            return LZ4, 0
        if head.startswith(JOBLIB_ZF_PREFIX):
            return ZLIB, _JOBLIB_ZF_HEADER
        if zlib_header(head):
            return ZLIB, 0
        if lzma_alone_header(head):
            return LZMA, 0
        return None

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return self._codec(head) is not None

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        found = self._codec(blob.head(32))
        if found is None:
            return False
        codec, skip = found
        inner = decompressed(
            blob,
            codec,
            ctx.limits,
            offset=skip,
            length=None if blob.size is None else blob.size - skip,
        )
        # A weak header (zlib, lzma) that does not inflate was something else: stay quiet.
        try:
            with inner.open() as f:
                probe = f.read(64)
        except (CorruptData, LimitExceeded):
            probe = b""
        if not probe:
            if codec in (ZLIB, LZMA) and not skip:
                return False
            ctx.report(
                rules.ARC_MALFORMED.finding(
                    blob.location,
                    f"The {codec.name} stream in '{blob.location.display_path}' does not inflate.",
                )
            )
            return True
        ctx.saw(codec.name)
        if skip:
            ctx.saw("joblib")
        _scan_member(inner, ctx, drain=True)
        return True


def _scan_member(inner: Blob, ctx: ScanContext, *, drain: bool) -> None:
    """Dispatch ``inner``; report limits and corruption met while reading it."""
    try:
        if ctx.depth + 1 > ctx.limits.max_depth:
            ctx.report(
                rules.ARC_LIMIT.finding(
                    inner.location,
                    f"Containers are nested more than {ctx.limits.max_depth} levels deep; "
                    "the innermost content was not analysed.",
                )
            )
            return
        ctx.scan_nested(inner)
        if drain:
            _drain(inner)
    except LimitExceeded as e:
        ctx.report(
            rules.ARC_LIMIT.finding(inner.location, f"Stopped reading: {e}.", evidence=str(e))
        )
    except CorruptData as e:
        ctx.report(rules.ARC_MALFORMED.finding(inner.location, f"{e}.", evidence=str(e)))


# --- zip -----------------------------------------------------------------------------------------
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_STORAGE_MEMBER = re.compile(r"(?:^|/)data/\d+$")
_DRIVE = re.compile(r"[A-Za-z]:")
_CENTRAL_RECORD = struct.Struct("<HHHHIIIHHHHHII")
"""A central directory record from its flags field (byte 8) to the local header offset."""
_LOCAL_RECORD = struct.Struct("<HHHHIIIHH")
"""A local file header from its flags field (byte 6) to the extra field's length."""
_ZIP_TAIL = 65_557 + 20
"""How far from the end a zip's end record can be: its comment, the record, the zip64 locator."""


@dataclass(slots=True)
class ZipEntry:
    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int = 0
    local_name: str = ""
    local_flags: int = 0
    head: bytes = b""
    """The member's first bytes as stored (a sniff without another read)."""


def _zip64_extra(extra: bytes, entry: ZipEntry) -> None:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x0001:
            values = [struct.unpack_from("<Q", body, i)[0] for i in range(0, len(body) - 7, 8)]
            if entry.size == 0xFFFFFFFF and values:
                entry.size = values.pop(0)
            if entry.compressed_size == 0xFFFFFFFF and values:
                entry.compressed_size = values.pop(0)
            if entry.header_offset == 0xFFFFFFFF and values:
                entry.header_offset = values.pop(0)
        pos += 4 + length


def read_central_directory(blob: Blob) -> tuple[list[ZipEntry], list[str]]:
    """Entries from the central directory, as torch (miniz) reads them. Raises CorruptData.

    Several scanners look into one zip (zip, TorchScript, Keras, skops): the directory is read
    once per blob and cached on it; callers get their own lists.
    """
    cached = blob.__dict__.get("_zip_directory")
    if cached is None:
        try:
            cached = _read_central_directory(blob)
        except (CorruptData, struct.error) as e:
            cached = e
        except (OverflowError, ValueError) as e:  # a hostile offset or size no read can take
            cached = CorruptData(f"the central directory holds an impossible number ({e})")
        blob.__dict__["_zip_directory"] = cached
    if isinstance(cached, Exception):
        raise cached
    entries, notes = cached
    return list(entries), list(notes)


def _read_central_directory(blob: Blob) -> tuple[list[ZipEntry], list[str]]:
    size = blob.size or 0
    with random_access(blob) as read_at:
        tail = read_at(max(0, size - _ZIP_TAIL), _ZIP_TAIL)
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            raise CorruptData("no end-of-central-directory record")
        eocd_pos = size - len(tail) + at
        (_, _, _, total, cd_size, cd_offset, _) = struct.unpack_from("<HHHHIIH", tail, at + 4)
        notes: list[str] = []
        cd_end = eocd_pos
        if at >= 20 and tail[at - 20 : at - 16] == _EOCD64_LOCATOR:
            (eocd64_pos,) = struct.unpack_from("<Q", tail, at - 12)
            rec = read_at(eocd64_pos, 56)
            if len(rec) < 56 or not rec.startswith(_EOCD64):
                raise CorruptData("the zip64 end-of-central-directory record is missing")
            total, cd_size, cd_offset = struct.unpack_from("<QQQ", rec, 32)
            cd_end = eocd64_pos
        shift = cd_end - cd_size - cd_offset
        if shift < 0 or cd_offset + cd_size > size:
            raise CorruptData("the central directory lies outside the file")
        if shift:
            notes.append(f"{shift} bytes precede the archive")
        entries = _central_entries(read_at(cd_offset + shift, cd_size), shift)
        if len(entries) != total and total != 0xFFFF:
            notes.append(f"the directory lists {len(entries)} members, its end record {total}")
        for entry in entries:
            _read_local_header(read_at, entry)
            if entry.local_flags != entry.flags:
                notes.append(f"member {entry.name!r}: local and central flag bits differ")
    return entries, notes


def _central_entries(cd: bytes, shift: int) -> list[ZipEntry]:
    entries: list[ZipEntry] = []
    unpack = _CENTRAL_RECORD.unpack_from
    pos = 0
    while pos + 46 <= len(cd) and cd.startswith(_CENTRAL, pos):
        (flags, method, _, _, crc, csize, usize, nlen, xlen, clen, _, _, _, offset) = unpack(
            cd, pos + 8
        )
        end = pos + 46 + nlen
        name = cd[pos + 46 : end].decode("utf-8", "replace")
        entry = ZipEntry(name, method, flags, crc, csize, usize, offset)
        if xlen:
            _zip64_extra(cd[end : end + xlen], entry)
        entry.header_offset += shift
        entries.append(entry)
        pos = end + xlen + clen
    return entries


def _read_local_header(read_at: ReadAt, entry: ZipEntry) -> None:
    """The member's local header, its name there, where its data starts and its first bytes,
    in one read when the header is of usual size (torch pads the local extra field to align
    the data, so up to 128 bytes of it are expected)."""
    want = min(_HEAD, entry.compressed_size)
    guess = 30 + len(entry.name) + 128
    local = read_at(entry.header_offset, guess + want)
    if len(local) < 30 or not local.startswith(_LOCAL):
        raise CorruptData(f"member {entry.name!r} has no local header")
    lflags, _, _, _, _, _, _, nlen, xlen = _LOCAL_RECORD.unpack_from(local, 6)
    skip = 30 + nlen + xlen
    if len(local) < 30 + nlen:
        local = read_at(entry.header_offset, skip + want)
    entry.local_name = local[30 : 30 + nlen].decode("utf-8", "replace")
    entry.local_flags = lflags
    entry.data_offset = entry.header_offset + skip
    if skip + want <= len(local):
        entry.head = local[skip : skip + want]
    else:
        entry.head = read_at(entry.data_offset, want)


def read_local_headers(blob: Blob, limit: int) -> list[ZipEntry]:
    """Entries found by walking local headers from the start (for zips without a directory)."""
    entries: list[ZipEntry] = []
    size = blob.size or 0
    with blob.open() as f:
        pos = 0
        while pos + 30 <= size and len(entries) < limit:
            f.seek(pos)
            local = f.read(30)
            if not local.startswith(_LOCAL):
                break
            flags, method, _, _, crc, csize, usize, nlen, xlen = struct.unpack_from(
                "<HHHHIIIHH", local, 6
            )
            name = f.read(nlen).decode("utf-8", "replace")
            entry = ZipEntry(name, method, flags, crc, csize, usize, pos, pos + 30 + nlen + xlen)
            entry.local_name = name
            entry.local_flags = flags
            if flags & 0x08 and csize == 0:
                break  # sizes only in a trailing data descriptor: cannot walk on
            entries.append(entry)
            pos = entry.data_offset + csize
    return entries


def read_zip_member(blob: Blob, entry: ZipEntry, limits: Limits, max_bytes: int) -> bytes:
    """The bytes of one member of a zip read with :func:`read_central_directory`.

    Raises LimitExceeded past ``max_bytes`` and CorruptData for unreadable members (encrypted,
    an unsupported compression method, or an archive that cannot be read out of order).
    """
    if entry.flags & 0x01:
        raise CorruptData(f"member {entry.name!r} is encrypted")
    loc = blob.location.inner(entry.name)
    size = blob.size or 0
    length = max(0, min(entry.compressed_size, size - entry.data_offset))
    if entry.method == 0:
        inner = window_of(blob, entry.data_offset, length, loc)
        if inner is None:
            raise CorruptData(f"member {entry.name!r} cannot be read from a forward-only stream")
    elif entry.method in (8, 12):
        codec = DEFLATE if entry.method == 8 else BZIP2
        inner = decompressed(
            blob,
            codec,
            limits,
            offset=entry.data_offset,
            length=length,
            location=loc,
            budget=Budget(size),
        )
    else:
        raise CorruptData(f"member {entry.name!r} uses zip compression method {entry.method}")
    with inner.open() as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise LimitExceeded(f"member {entry.name!r} is larger than {max_bytes} bytes")
    return data


class ZipScanner(Scanner):
    name = "zip"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.zip_like(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        loc = blob.location
        try:
            entries, notes = read_central_directory(blob)
        except (CorruptData, struct.error) as e:
            entries = read_local_headers(blob, ctx.limits.max_members + 1)
            if not entries:
                if blob.head(4) == _LOCAL:
                    ctx.report(rules.ARC_MALFORMED.finding(loc, f"Zip archive is unreadable: {e}."))
                    return True
                return False
            notes = []
            ctx.report(
                rules.ARC_MALFORMED.finding(
                    loc,
                    f"Zip archive has no usable central directory ({e}); its members were "
                    "found by walking the local headers.",
                )
            )
        is_torch = any(e.name.endswith("data.pkl") for e in entries)
        ctx.saw("pytorch-zip" if is_torch else "zip")
        if len(entries) > ctx.limits.max_members:
            ctx.report(
                rules.ARC_LIMIT.finding(
                    loc,
                    f"The archive has {len(entries)} members; only the first "
                    f"{ctx.limits.max_members} were scanned.",
                )
            )
            entries = entries[: ctx.limits.max_members]
        notes.extend(self._anomalies(entries, blob.size or 0))
        if notes:
            ctx.report(
                rules.ARC_ZIP_ANOMALY.finding(
                    loc,
                    "Zip headers disagree with each other: " + "; ".join(notes[:8]) + ".",
                    evidence="; ".join(notes),
                )
            )
        budget = Budget(blob.size or 0)
        scanned: set[tuple[int, int, int]] = set()
        # A TorchScript archive's pickles are read by torch.jit.load's own unpickler.
        torchscript = (
            is_torch
            and any("/code/" in e.name for e in entries)
            and any(e.name.endswith("constants.pkl") for e in entries)
        )
        dialect = ctx.pickle_dialect
        ctx.pickle_dialect = "torchscript" if torchscript else dialect
        try:
            for entry in entries:
                # Entries that point at the same bytes read the same way: scan them once.
                key = (entry.data_offset, entry.method, entry.compressed_size)
                if key not in scanned:
                    scanned.add(key)
                    self._member(blob, entry, ctx, is_torch, budget)
        finally:
            ctx.pickle_dialect = dialect
        return True

    @staticmethod
    def _anomalies(entries: list[ZipEntry], size: int) -> list[str]:
        notes = []
        for e in entries:
            if e.local_name != e.name:
                notes.append(f"member {e.name!r} is named {e.local_name!r} in its local header")
            if e.flags & 0x61:
                notes.append(
                    f"member {e.name!r} has flag bits 0x{e.flags & 0x61:x} (ignored by torch)"
                )
            if e.data_offset + e.compressed_size > size:
                notes.append(f"member {e.name!r} runs past the end of the file")
        spans = sorted(
            (e.header_offset, e.data_offset + e.compressed_size, e.name) for e in entries
        )
        for (_, end, name), (start, _, nxt) in itertools.pairwise(spans):
            if start < end:
                notes.append(f"members {name!r} and {nxt!r} overlap")
        return notes

    def _member(
        self, blob: Blob, entry: ZipEntry, ctx: ScanContext, is_torch: bool, budget: Budget
    ) -> None:
        name = entry.name
        if name.startswith("/") or ".." in name.split("/") or _DRIVE.match(name):
            ctx.report(
                rules.ARC_PATH_TRAVERSAL.finding(
                    blob.location.inner(name),
                    f"Member name {name!r} points outside the folder it is extracted to.",
                )
            )
        size = blob.size or 0
        length = max(0, min(entry.compressed_size, size - entry.data_offset))
        if entry.method == 0 and is_torch and _STORAGE_MEMBER.search(name):
            # Raw tensor bytes: torch never unpickles them. Only a real pickle is reported, so
            # the common case costs no more than this look at the first byte.
            if entry.head[:1] == b"\x80":
                inner = window_of(blob, entry.data_offset, length, blob.location.inner(name))
                if inner is not None:
                    scan_pickle_blob(inner, ctx, strict=True)
            return
        loc = blob.location.inner(name)
        if entry.method == 0:
            inner = window_of(blob, entry.data_offset, length, loc)
            if inner is None:
                return
            if isinstance(inner, SliceBlob):
                inner.head_cache = entry.head
            if entry.size <= 16 * MiB and length == entry.size:
                if length <= len(entry.head):
                    data = entry.head
                else:
                    with inner.open() as f:
                        data = f.read()
                if zlib.crc32(data) != entry.crc:
                    ctx.report(
                        rules.ARC_ZIP_ANOMALY.finding(
                            loc,
                            f"Member {name!r} does not match its CRC-32; zipfile refuses it, "
                            "torch reads it anyway.",
                        )
                    )
            _scan_member(inner, ctx, drain=False)
        elif entry.method in (8, 12):
            codec = DEFLATE if entry.method == 8 else BZIP2
            inner = decompressed(
                blob,
                codec,
                ctx.limits,
                offset=entry.data_offset,
                length=length,
                location=loc,
                budget=budget,
            )
            _scan_member(inner, ctx, drain=True)
        else:
            ctx.report(
                rules.ARC_MALFORMED.finding(
                    loc,
                    f"Member {name!r} uses zip compression method {entry.method}, which "
                    "modeltrust cannot read; it was not analysed.",
                )
            )


# --- tar -----------------------------------------------------------------------------------------
class TarScanner(Scanner):
    name = "tar"

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.tar(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        import tarfile  # loaded when a tar is met

        count = 0
        try:
            with blob.open() as f, tarfile.open(fileobj=f, mode="r|") as tar:
                ctx.saw("tar")
                for member in tar:
                    count += 1
                    if count > ctx.limits.max_members:
                        ctx.report(
                            rules.ARC_LIMIT.finding(
                                blob.location,
                                f"The archive has more than {ctx.limits.max_members} members; "
                                "the rest were not scanned.",
                            )
                        )
                        break
                    self._member(blob, tar, member, ctx)
        except tarfile.TarError as e:
            ctx.report(
                rules.ARC_MALFORMED.finding(blob.location, f"Tar archive is unreadable: {e}.")
            )
        return True

    @staticmethod
    def _member(
        blob: Blob, tar: tarfile.TarFile, member: tarfile.TarInfo, ctx: ScanContext
    ) -> None:
        loc = blob.location.inner(member.name)
        name = member.name
        if name.startswith("/") or ".." in name.split("/"):
            ctx.report(
                rules.ARC_PATH_TRAVERSAL.finding(
                    loc, f"Member name {name!r} points outside the folder it is extracted to."
                )
            )
        if member.issym() or member.islnk():
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            if member.linkname.startswith("/") or target.startswith(".."):
                ctx.report(
                    rules.ARC_PATH_TRAVERSAL.finding(
                        loc, f"Link {name!r} points to {member.linkname!r}, outside the archive."
                    )
                )
            return
        if not member.isfile():
            return
        inner = window_of(blob, member.offset_data, member.size, loc)
        if inner is None:
            extracted = tar.extractfile(member)
            if extracted is None:
                return
            data = extracted.read(ctx.limits.max_header + 1)
            if len(data) > ctx.limits.max_header:
                ctx.report(
                    rules.ARC_LIMIT.finding(
                        loc,
                        f"Member {name!r} of a compressed tar is larger than "
                        f"{ctx.limits.max_header} bytes and was not analysed.",
                    )
                )
                return
            inner = BytesBlob(data, loc)
        _scan_member(inner, ctx, drain=False)


# --- 7z ------------------------------------------------------------------------------------------
class SevenZipScanner(Scanner):
    name = "7z"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.seven_zip(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        ctx.saw("7z")
        try:
            py7zr = _import_py7zr()
        except MissingExtraError as e:
            ctx.report(rules.ARC_NEEDS_EXTRA.finding(blob.location, str(e)))
            return True
        import tempfile

        with blob.open() as f, tempfile.TemporaryDirectory(prefix="modeltrust-7z-") as tmp:
            try:
                with py7zr.SevenZipFile(f, mode="r") as archive:
                    if archive.needs_password():
                        ctx.report(
                            rules.ARC_ENCRYPTED.finding(
                                blob.location,
                                "The 7z archive is encrypted; its members are unread.",
                            )
                        )
                        return True
                    infos = archive.list()
                    declared = sum(i.uncompressed or 0 for i in infos)
                    if (
                        len(infos) > ctx.limits.max_members
                        or declared > ctx.limits.max_decompressed
                    ):
                        ctx.report(
                            rules.ARC_LIMIT.finding(
                                blob.location,
                                f"The 7z archive declares {len(infos)} members and {declared} "
                                "bytes, past the limits; it was not extracted.",
                            )
                        )
                        return True
                    # A writer factory: members go to our own temp files, nothing to a path.
                    archive.extractall(factory=_SevenZipFactory(blob, tmp, ctx, py7zr))  # noqa: S202
            except LimitExceeded as e:
                ctx.report(rules.ARC_LIMIT.finding(blob.location, f"Stopped reading: {e}."))
            except Exception as e:  # noqa: BLE001 - py7zr raises many unrelated types on bad input
                ctx.report(
                    rules.ARC_MALFORMED.finding(
                        blob.location, f"The 7z archive is unreadable: {type(e).__name__}: {e}."
                    )
                )
        return True


def _import_py7zr() -> Any:
    try:
        import py7zr
    except ImportError:
        raise MissingExtraError(
            "Reading 7z archives needs the '7z' extra: pip install 'modeltrust[7z]'."
        ) from None
    return py7zr


def _SevenZipFactory(blob: Blob, tmp: str, ctx: ScanContext, py7zr: Any) -> Any:  # noqa: N802
    """A py7zr writer factory: each member goes to a temp file, is scanned, then deleted."""
    base = py7zr.io.WriterFactory
    limit = ctx.limits.max_decompressed

    class Member(py7zr.io.Py7zIO):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            self.name = name
            self.path = Path(tmp) / f"m{id(self)}"
            self.f = self.path.open("wb")
            self.n = 0

        def write(self, s: bytes | bytearray) -> int:
            self.n += len(s)
            if self.n > limit:
                raise LimitExceeded(f"7z member {self.name!r} expands past {limit} bytes")
            return self.f.write(s)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.f.seek(offset, whence)

        def flush(self) -> None:
            self.f.flush()

        def size(self) -> int:
            return self.n

        def close(self) -> None:
            if self.f.closed:
                return
            self.f.close()
            inner = FileBlob(self.path, blob.location.inner(self.name), self.n)
            _scan_member(inner, ctx, drain=False)
            self.path.unlink()

    class Factory(base):  # type: ignore[misc, valid-type]
        def create(self, filename: str) -> Any:
            return Member(filename)

    return Factory()
