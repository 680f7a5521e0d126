"""Zip archives (torch.save's format, Keras v3, skops, npz...): every member is handed back to the
engine; names that escape the folder, overlapping members and bombs are findings; a raw torch
storage that starts like a pickle is scanned as one.
"""

from __future__ import annotations

import itertools
import re
import struct
import zlib

from modeltrust import rules
from modeltrust.scanners.common import sniff
from modeltrust.scanners.common.codecs import (
    BZIP2,
    DEFLATE,
    Budget,
    decompressed,
)
from modeltrust.scanners.common.zip import (
    LOCAL_MAGIC,
    ZipEntry,
    read_central_directory,
    read_local_headers,
)
from modeltrust.scanners.containers.members import scan_member
from modeltrust.scanners.interface import (
    Blob,
    CorruptData,
    MiB,
    ScanContext,
    Scanner,
    SliceBlob,
    window_of,
)

_STORAGE_MEMBER = re.compile(r"(?:^|/)data/\d+$")
_DRIVE = re.compile(r"[A-Za-z]:")


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
                if blob.head(4) == LOCAL_MAGIC:
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
                    ctx.handoff.pickle(inner, ctx)
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
            scan_member(inner, ctx, drain=False)
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
            scan_member(inner, ctx, drain=True)
        else:
            ctx.report(
                rules.ARC_MALFORMED.finding(
                    loc,
                    f"Member {name!r} uses zip compression method {entry.method}, which "
                    "modeltrust cannot read; it was not analysed.",
                )
            )
