"""What every scanner shares: blobs to read, limits, and the context findings go to.

A :class:`Blob` is a byte source with a location: a file, a window inside a file (a stored zip
member, a byte string inside a pickle), bytes in memory, or a decompressed stream. Scanners read
blobs and never the filesystem, so a member of a zip inside a gzip is scanned exactly like a file.
"""

from __future__ import annotations

import io
import os
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from modeltrust.errors import ScannerError
from modeltrust.findings import Finding, Location, Severity
from modeltrust.rules import Rule, by_id

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

READ_BUFFER = 256 * KiB


class LimitExceeded(Exception):  # noqa: N818 - a signal inside scanners, never raised to callers
    """A safety limit was hit while reading; the scanner turns it into a finding."""


class CorruptData(Exception):  # noqa: N818 - like LimitExceeded, a signal inside scanners
    """Bytes could not be decoded (a broken compressed stream, a bad archive directory)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep hostile input from exhausting time, memory or disk."""

    max_depth: int = 8
    """Containers inside containers (a pickle in a zip in a gzip is depth 2)."""
    max_members: int = 100_000
    """Members read from one archive."""
    max_ratio: float = 100.0
    """Decompressed / compressed size, checked once a stream has produced 16 MiB."""
    max_decompressed: int = 16 * GiB
    """Bytes one compressed stream or archive member may expand to."""
    max_opcodes: int = 50_000_000
    """Pickle opcodes in one stream."""
    max_memo: int = 2_000_000
    """Pickle memo entries in one stream."""
    max_stack: int = 1_000_000
    """Pickle stack and mark depth."""
    max_streams: int = 10_000
    """Pickle streams stacked in one file."""
    max_header: int = 100 * MiB
    """Format headers (NumPy, safetensors) read into memory."""

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) <= 0:
                raise ScannerError(
                    f"Scan limit '{name}' must be positive; got {getattr(self, name)}."
                )


def read_data(module_file: str, name: str) -> str:
    """A text file a family ships in its ``data`` folder: ``read_data(__file__, "tf_ops.txt")``
    reads ``data/tf_ops.txt`` beside the calling module. Read as a plain file rather than
    through ``importlib.resources``, whose import (it pulls in tempfile and zipfile) costs more
    than scanning a small checkpoint; the wheel installs the files as plain files."""
    return (Path(module_file).parent / "data" / name).read_text("utf-8")


class Blob(ABC):
    """A byte source to scan. ``open()`` gives a fresh reader positioned at byte 0."""

    location: Location
    size: int | None
    seekable: bool = True

    @abstractmethod
    def open(self) -> BinaryIO: ...

    def head(self, n: int) -> bytes:
        with self.open() as f:
            return f.read(n)

    def tail(self, n: int) -> bytes:
        """The last ``n`` bytes (only for seekable blobs of known size)."""
        if self.size is None or not self.seekable:
            return b""
        with self.open() as f:
            f.seek(max(0, self.size - n))
            return f.read(n)


class FileBlob(Blob):
    """A file on disk. ``data``, when given, is the whole file already read: small files are
    read once and then sliced in memory, which saves a system call or two per member of an
    archive. Path-based readers (h5py, mmap, sibling files) still use ``path``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        location: Location,
        size: int,
        data: bytes | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.location = location
        self.size = size if data is None else len(data)
        self.data = data

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        return Path(self.path).open("rb", buffering=READ_BUFFER)

    def head(self, n: int) -> bytes:
        if self.data is not None:
            return self.data[:n]
        return super().head(n)

    def tail(self, n: int) -> bytes:
        if self.data is not None:
            return self.data[max(0, len(self.data) - n) :]
        return super().tail(n)

    def window(self, offset: int, length: int, location: Location) -> SliceBlob | BytesBlob:
        if self.data is not None:
            return BytesBlob(self.data[offset : offset + length], location)
        return SliceBlob(self.path, offset, length, location)


class PositionedReader(io.RawIOBase):
    """A seekable, read-only raw stream of ``size`` bytes served by positioned reads: subclasses
    implement :meth:`readinto` from ``self.pos``. Used for file windows here and for byte ranges
    fetched from a Hub repo (licences' GGUF header reader)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self.pos = offset
        elif whence == io.SEEK_CUR:
            self.pos += offset
        else:
            self.pos = self.size + offset
        self.pos = max(0, self.pos)
        return self.pos

    def tell(self) -> int:
        return self.pos


class _Window(PositionedReader):
    """A read-only view of ``length`` bytes of a file from ``offset`` (positioned reads)."""

    def __init__(self, path: str, offset: int, length: int) -> None:
        super().__init__(length)
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._start = offset

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self.size - self.pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._start + self.pos)
        got = len(data)
        buffer[:got] = data
        self.pos += got
        return got

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class SliceBlob(Blob):
    """``length`` bytes of a file from ``offset``: stored archive members, embedded payloads."""

    def __init__(self, path: str, offset: int, length: int, location: Location) -> None:
        self.path = path
        self.offset = offset
        self.length = length
        self.size = length
        self.location = location
        self.head_cache = b""
        """The first bytes, when the caller already read them (zip members)."""

    def head(self, n: int) -> bytes:
        cache = self.head_cache
        if len(cache) >= n or len(cache) == self.length:
            return cache[:n]
        return super().head(n)

    def open(self) -> BinaryIO:
        raw = _Window(self.path, self.offset, self.length)
        return io.BufferedReader(raw, buffer_size=READ_BUFFER)

    def window(self, offset: int, length: int, location: Location) -> SliceBlob:
        return SliceBlob(self.path, self.offset + offset, length, location)


class BytesBlob(Blob):
    def __init__(self, data: bytes, location: Location) -> None:
        self.data = data
        self.size = len(data)
        self.location = location

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)

    def window(self, offset: int, length: int, location: Location) -> BytesBlob:
        return BytesBlob(self.data[offset : offset + length], location)


class StreamBlob(Blob):
    """A stream that can only be read forwards, such as a decompressor's output."""

    seekable = False

    def __init__(
        self, opener: Callable[[], BinaryIO], location: Location, size: int | None = None
    ) -> None:
        self._opener = opener
        self.location = location
        self.size = size

    def open(self) -> BinaryIO:
        return self._opener()


ReadAt = Callable[[int, int], bytes]
"""``read_at(offset, n)``: up to ``n`` bytes from ``offset`` (fewer at the end)."""


@contextmanager
def random_access(blob: Blob) -> Iterator[ReadAt]:
    """Positioned reads on a seekable blob, for formats read out of order (a zip's directory and
    headers): slices of bytes already in memory, ``pread`` on one descriptor for files, and a
    seek and a read on anything else."""
    data = blob.data if isinstance(blob, FileBlob | BytesBlob) else None
    if data is not None:
        yield lambda offset, n: data[offset : offset + n]
        return
    if isinstance(blob, FileBlob | SliceBlob):
        start = blob.offset if isinstance(blob, SliceBlob) else 0
        end = blob.size if blob.size is not None else 1 << 62
        fd = os.open(blob.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))

        def pread(offset: int, n: int) -> bytes:
            # Offsets come from the file: a hostile one may lie past the end or beyond what an
            # off_t holds, and reads as nothing rather than as an OverflowError.
            if offset < 0 or offset >= end or n <= 0:
                return b""
            return os.pread(fd, min(n, end - offset), start + offset)

        try:
            yield pread
        finally:
            os.close(fd)
        return
    with blob.open() as f:

        def read_at(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        yield read_at


def window_of(blob: Blob, offset: int, length: int, location: Location) -> Blob | None:
    """A sub-range of a seekable blob as a blob of its own, or None if the blob cannot seek."""
    if isinstance(blob, FileBlob | SliceBlob | BytesBlob):
        return blob.window(offset, length, location)
    return None


@dataclass
class CappedReporter:
    """Reports at most ``cap`` findings per rule for one location, then one finding saying how
    many more there were: a hostile file with 10,000 bad entries still gives a readable report."""

    ctx: ScanContext
    loc: Location
    what: str = "file"
    """How the closing line names the subject: "... in this {what} were not listed"."""
    cap: int = 20
    counts: Counter[str] = field(default_factory=Counter)

    def __call__(
        self,
        rule: Rule,
        message: str,
        *,
        evidence: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        self.counts[rule.id] += 1
        if self.counts[rule.id] <= self.cap:
            self.ctx.report(rule.finding(self.loc, message, evidence=evidence, severity=severity))

    def close(self) -> None:
        for rule_id, n in self.counts.items():
            if n > self.cap:
                self.ctx.report(
                    by_id()[rule_id].finding(
                        self.loc,
                        f"{n - self.cap} more {rule_id} findings in this {self.what} were not "
                        f"listed (only the first {self.cap} are).",
                    )
                )


class Handoff:
    """What a scanner may ask of the engine besides :meth:`ScanContext.scan_nested`: to read
    content that another family owns, without importing that family. A torch archive's storage
    member that starts like a pickle is scanned as a pickle; a chat template found in GGUF
    metadata is analysed as one.

    The engine supplies the working implementation (:mod:`modeltrust.scanners.engine.handoff`).
    This base refuses every request, so a context built without the engine can never skip the
    work silently.
    """

    def pickle(self, blob: Blob, ctx: ScanContext) -> bool:
        """Scan ``blob`` as pickle streams at the current depth, reporting only if it surely is
        one. Returns whether it was a pickle."""
        raise ScannerError(
            f"Cannot scan {blob.location.display_path} as a pickle: this scan context was built "
            "without the engine. Build it with the engine's handoff."
        )

    def chat_template(
        self, text: str, location: Location, ctx: ScanContext, source: str, *, chars_so_far: int
    ) -> None:
        """Analyse a chat template (parsed, never rendered). ``chars_so_far``: template
        characters met in this file so far, this one included, against the per-file budget."""
        raise ScannerError(
            f"Cannot analyse the chat template at {location}: this scan context was built "
            "without the engine. Build it with the engine's handoff."
        )


@dataclass
class ScanContext:
    """Where findings go, the limits in force, and how deep in containers we are."""

    limits: Limits
    dispatch: Callable[[Blob, ScanContext], bool]
    findings: list[Finding] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    depth: int = 0
    pickle_dialect: str = "python"
    """Who unpickles the pickles being scanned: "python" (pickle.load, torch.load) or
    "torchscript" (torch.jit.load's own unpickler, which resolves __torch__ classes from the
    archive's code/ and torch.jit._pickle helpers, and nothing from Python's import system)."""
    handoff: Handoff = field(default_factory=Handoff)
    """How to ask the engine to read content another family owns."""

    def report(self, finding: Finding) -> None:
        self.findings.append(finding)

    def saw(self, fmt: str) -> None:
        if fmt not in self.formats:
            self.formats.append(fmt)

    def fact(self, key: str, value: str, *, limit: int = 4096) -> None:
        """Record something the file declares (first value wins; long values are cut)."""
        self.facts.setdefault(key, value[:limit])

    def scan_nested(self, blob: Blob) -> bool:
        """Scan a blob found inside another one, one level deeper. Returns whether it was known."""
        self.depth += 1
        try:
            return self.dispatch(blob, self)
        finally:
            self.depth -= 1


@contextmanager
def spooled(blob: Blob, limit: int) -> Iterator[FileBlob]:
    """A forward-only blob copied to a temporary file, for formats read out of order (zip)."""
    import tempfile  # rarely needed, and it costs more to import than a small scan

    with tempfile.TemporaryDirectory(prefix="modeltrust-") as tmp:
        path = Path(tmp) / "spool"
        size = 0
        with blob.open() as src, path.open("wb") as dst:
            while chunk := src.read(READ_BUFFER):
                size += len(chunk)
                if size > limit:
                    raise LimitExceeded(f"content larger than {limit} bytes to copy for reading")
                dst.write(chunk)
        yield FileBlob(path, blob.location, size)


class Scanner(ABC):
    """One file format. ``sniff`` looks at content, never at names, with two documented
    exceptions for formats that have no magic: Python sources (``.py``) and Jinja chat templates
    (``.jinja``), which are recognised by name."""

    name: str
    """The format's name, as reported in ``files[].formats``."""
    needs_seek: bool = False
    """Whether the format must be read out of order; a forward-only stream is then spooled."""

    @abstractmethod
    def sniff(self, head: bytes, blob: Blob) -> bool:
        """Whether the content may be this format (several scanners may claim one blob)."""

    @abstractmethod
    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        """Scan ``blob``, reporting findings to ``ctx``. Returns False if it was not this format
        after all (so another scanner's verdict stands)."""
