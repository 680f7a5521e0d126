"""Decompression as a stream under the size and ratio limits: gzip, zlib, raw deflate, bz2, xz,
lzma (alone), lz4 frames. Output is produced on demand and never held whole, and one budget can
be shared by every member of an archive, so many small members cannot add up to a bomb.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, BinaryIO

from modeltrust.findings import Location
from modeltrust.scanners.interface import (
    Blob,
    CorruptData,
    KiB,
    LimitExceeded,
    Limits,
    MiB,
    StreamBlob,
)

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


def drain(blob: Blob) -> None:
    """Read a stream to its end so that corruption and limits surface."""
    with blob.open() as f:
        while f.read(_CHUNK):
            pass
