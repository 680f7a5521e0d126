"""Single compressed streams: gzip, bz2, xz, lzma, lz4 and zlib (joblib's compressed dumps
among them), inflated as a stream and handed back to the engine."""

from __future__ import annotations

from modeltrust import rules
from modeltrust.scanners.common.codecs import (
    BZIP2,
    GZIP,
    LZ4,
    LZMA,
    XZ,
    ZLIB,
    Codec,
    decompressed,
)
from modeltrust.scanners.common.sniff import JOBLIB_ZF_PREFIX, lzma_alone_header, zlib_header
from modeltrust.scanners.containers.members import scan_member
from modeltrust.scanners.interface import (
    Blob,
    CorruptData,
    LimitExceeded,
    ScanContext,
    Scanner,
)

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
        scan_member(inner, ctx, drain=True)
        return True
