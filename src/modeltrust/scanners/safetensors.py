"""safetensors files: an 8-byte header length, a JSON header, then raw tensor bytes.

This checks the structure a loader relies on (header bounds, valid JSON, tensors inside the data
section) and sniffs bytes no tensor claims, where a pickle or zip could hide.
"""

from __future__ import annotations

import json
import struct

from modeltrust import rules
from modeltrust.scanners.interface import Blob, ScanContext, Scanner, window_of

MAX_HEADER = 100 * 1024 * 1024


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


class SafetensorsScanner(Scanner):
    name = "safetensors"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return len(head) >= 9 and head[8:9] == b"{" and head[6:8] == b"\x00\x00"

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        loc = blob.location
        size = blob.size or 0
        (length,) = struct.unpack("<Q", blob.head(8))
        if length > min(MAX_HEADER, ctx.limits.max_header) or length > size - 8:
            ctx.saw("safetensors")
            ctx.report(
                rules.ST_MALFORMED.finding(
                    loc,
                    f"The header claims {length} bytes, more than the file holds or than "
                    f"{MAX_HEADER} bytes.",
                )
            )
            return True
        with blob.open() as f:
            f.seek(8)
            raw = f.read(length)
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            if length < 2:
                return False
            ctx.saw("safetensors")
            ctx.report(rules.ST_MALFORMED.finding(loc, f"The header is not valid JSON: {e}."))
            return True
        if not isinstance(header, dict):
            return False
        ctx.saw("safetensors")
        data_size = size - 8 - length
        problems, claimed = self._check(header, data_size)
        for problem in problems[:20]:
            ctx.report(rules.ST_MALFORMED.finding(loc, problem + "."))
        if not problems and claimed < data_size:
            at = 8 + length + claimed
            tail = window_of(blob, at, size - at, loc.inner(f"<unclaimed bytes@{at}>"))
            known = tail is not None and ctx.scan_nested(tail)
            ctx.report(
                rules.ST_MALFORMED.finding(
                    loc.at(at),
                    f"{size - at} bytes after the last tensor belong to no tensor"
                    + ("; they hold another format, reported on its own" if known else "")
                    + ".",
                )
            )
        return True

    @staticmethod
    def _check(header: dict[str, object], data_size: int) -> tuple[list[str], int]:
        problems: list[str] = []
        spans: list[tuple[int, int, str]] = []
        for name, info in header.items():
            if name == "__metadata__":
                if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                    problems.append("__metadata__ must map strings to strings")
                continue
            offsets = info.get("data_offsets") if isinstance(info, dict) else None
            if (
                not isinstance(offsets, list)
                or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_size
            ):
                problems.append(f"tensor {name!r} has data offsets outside the data section")
                continue
            spans.append((offsets[0], offsets[1], name))
        spans.sort()
        end = 0
        for start, stop, name in spans:
            if start != end:
                what = "overlaps the previous one" if start < end else "leaves a gap before it"
                problems.append(f"tensor {name!r} {what}")
            end = max(end, stop)
        return problems, end
