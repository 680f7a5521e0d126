"""Licence and lineage keys from a GGUF header, read through a source by byte ranges.

There is one GGUF parser in modeltrust, the scanner's (:mod:`modeltrust.scanners.tensors.gguf`), and it
already records ``general.license*``, ``general.base_model.*`` and ``general.source.*`` as facts.
Here it runs over a file-like view of the source that fetches only the ranges the parser asks
for: the parser reads the key/value section and tensor infos and *seeks* past large arrays and
the tensor data, so a 40 GB model costs a few MiB of ``Range`` requests. A cap on the bytes
fetched bounds hostile headers; hitting it is reported, never silently ignored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from modeltrust.errors import AccessDeniedError, SourceError
from modeltrust.findings import Location
from modeltrust.rules import GGUF_MALFORMED
from modeltrust.scanners.engine.handoff import HANDOFF
from modeltrust.scanners.interface import Blob, Limits, MiB, PositionedReader, ScanContext
from modeltrust.scanners.tensors.gguf import GgufScanner
from modeltrust.sources.interface import Source

MAX_HEADER_BYTES = 64 * MiB
"""Bytes fetched per GGUF file. A 150k-token vocabulary with merges is about 10 MiB."""


@dataclass(frozen=True, slots=True)
class GgufMetadata:
    path: str
    facts: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    """Why the header could not be fully read (the facts before that point are kept)."""
    access: bool = False
    """The problem is only that access was refused (a gated repo)."""


def read_gguf_metadata(
    source: Source, path: str, *, max_bytes: int = MAX_HEADER_BYTES
) -> GgufMetadata:
    """Parse the header of ``path`` in ``source`` and return the facts it records."""
    size = source.file(path).size
    if size is None:
        return GgufMetadata(path, {}, "the source does not say how large the file is")
    budget = _Budget(max_bytes)
    blob = _RangeBlob(source, path, size, budget)
    ctx = ScanContext(limits=Limits(), dispatch=_no_nesting, handoff=HANDOFF)
    try:
        GgufScanner().scan(blob, ctx)
    except SourceError as e:
        denied = isinstance(e, AccessDeniedError)
        return GgufMetadata(path, dict(ctx.facts), f"the header could not be read: {e}", denied)
    problem = None
    if budget.capped:
        problem = (
            f"the header is longer than the {max_bytes:,} bytes modeltrust reads; keys after "
            "that point were not seen"
        )
    else:
        structural = [f.message for f in ctx.findings if f.rule_id == GGUF_MALFORMED.id]
        if structural:
            problem = f"the header is malformed: {structural[0]}"
    return GgufMetadata(path, dict(ctx.facts), problem)


def _no_nesting(blob: Blob, ctx: ScanContext) -> bool:
    """Bytes trailing the tensors are the scanner's business, not the licence check's."""
    return False


@dataclass
class _Budget:
    """Bytes one file may still fetch; ``capped`` once a read was refused."""

    left: int
    capped: bool = False


class _RangeReader(PositionedReader):
    """A seekable, read-only file over ``source.read_range``. Past the budget, reads return
    nothing, which the parser reports as a file that ends early; ``capped`` tells them apart."""

    def __init__(self, source: Source, path: str, size: int, budget: _Budget) -> None:
        super().__init__(size)
        self._source = source
        self._path = path
        self._budget = budget

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self.size - self.pos, self._budget.left)
        if want <= 0:
            if self.pos < self.size and len(buffer):
                self._budget.capped = True
            return 0
        data = self._source.read_range(self._path, self.pos, want)
        self._budget.left -= len(data)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


class _RangeBlob(Blob):
    def __init__(self, source: Source, path: str, size: int, budget: _Budget) -> None:
        self._source = source
        self._path = path
        self._budget = budget
        self.location = Location(path)
        self.size = size

    def open(self) -> BinaryIO:
        raw = _RangeReader(self._source, self._path, self.size or 0, self._budget)
        # The parser buffers its own 1 MiB reads; a small buffer here avoids double fetching.
        return cast(BinaryIO, io.BufferedReader(raw, buffer_size=64 * 1024))
