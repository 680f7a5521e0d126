"""Zip archives read leniently, the way torch reads them: the central directory (zip64 included),
the local headers when the directory is damaged, and one member's bytes under limits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from modeltrust.scanners.common import sniff
from modeltrust.scanners.common.codecs import (
    BZIP2,
    DEFLATE,
    Budget,
    decompressed,
)
from modeltrust.scanners.interface import (
    Blob,
    CorruptData,
    LimitExceeded,
    Limits,
    ReadAt,
    random_access,
    window_of,
)

_HEAD = 512

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
LOCAL_MAGIC = b"PK\x03\x04"
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
    if len(local) < 30 or not local.startswith(LOCAL_MAGIC):
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
            if not local.startswith(LOCAL_MAGIC):
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


def zip_entries(blob: Blob, marker: bytes | None = None) -> list[ZipEntry] | None:
    """The central directory's entries, or None if the blob is not a readable zip (or, with
    ``marker``, if no member name can contain it)."""
    if blob.head(4) != LOCAL_MAGIC:
        return None
    if marker is not None and not sniff.zip_may_name(blob, marker):
        return None
    try:
        entries, _ = read_central_directory(blob)
    except (CorruptData, LimitExceeded, ValueError, OSError):
        return None
    return entries
