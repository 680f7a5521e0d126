"""safetensors files (an 8-byte header length, a JSON header, raw tensor bytes) and their index.

Checks what a loader relies on: header bounds, valid UTF-8 JSON without duplicate keys, string
metadata, a known dtype whose size times the shape equals each byte range, ranges contiguous and
inside the data section, and no bytes that no tensor claims (a pickle or zip can hide there).
``model.safetensors.index.json`` is checked against the shards beside it.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterable
from pathlib import Path

from modeltrust import rules
from modeltrust.findings import Location, Severity
from modeltrust.scanners.common import sniff
from modeltrust.scanners.interface import (
    Blob,
    FileBlob,
    ScanContext,
    Scanner,
    window_of,
)

MAX_HEADER = 100 * 1024 * 1024
MAX_INDEX = 64 * 1024 * 1024

# Bits per element, as the safetensors format defines its dtypes.
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
_URL = re.compile(r"\b(?:https?|ftp|s3|gs)://\S+", re.IGNORECASE)
_SECRET = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,}"
    r"|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})\b"
)


class SafetensorsHeaderError(ValueError):
    pass


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in pairs:
        if k in out:
            raise SafetensorsHeaderError(f"duplicate key {k!r}")
        out[k] = v
    return out


def read_header(blob: Blob) -> tuple[dict[str, object], int]:
    """The parsed header and its length. Raises SafetensorsHeaderError."""
    size = blob.size or 0
    with blob.open() as f:
        raw_len = f.read(8)
        if len(raw_len) < 8:
            raise SafetensorsHeaderError("the file is shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", raw_len)
        if length > MAX_HEADER or length > size - 8:
            raise SafetensorsHeaderError(
                f"the header claims {length} bytes, more than the file holds or than "
                f"{MAX_HEADER} bytes"
            )
        raw = f.read(length)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except UnicodeDecodeError:
        raise SafetensorsHeaderError("the header is not UTF-8") from None
    except (ValueError, RecursionError) as e:
        raise SafetensorsHeaderError(f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsHeaderError("the header is not a JSON object")
    return header, length


def _layout_problems(header: dict[str, object], data_size: int) -> tuple[list[str], int]:
    """Problems with the tensors' byte ranges, and the end of the last claimed byte."""
    problems: list[str] = []
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            problems.append(f"tensor {name!r} is not described by an object")
            continue
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            problems.append(f"tensor {name!r} has data offsets outside the data section")
            continue
        spans.append((offsets[0], offsets[1], name))
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            problems.append(f"tensor {name!r} has no valid shape")
            continue
        bits = DTYPE_BITS.get(dtype) if isinstance(dtype, str) else None
        if bits is None:
            problems.append(f"tensor {name!r} has unknown dtype {dtype!r}")
            continue
        total_bits = math.prod(shape) * bits
        length = offsets[1] - offsets[0]
        if total_bits % 8 or total_bits // 8 != length:
            problems.append(
                f"tensor {name!r} is {dtype} {shape}, which needs {total_bits / 8:g} bytes, but "
                f"its range holds {length}"
            )
    spans.sort()
    end = 0
    for start, stop, name in spans:
        if start != end:
            what = "overlaps the tensor before it" if start < end else "leaves a gap before it"
            problems.append(f"tensor {name!r} {what} (offset {start}, previous end {end})")
        end = max(end, stop)
    return problems, end


def _metadata_problems(meta: object) -> tuple[list[str], list[str]]:
    """(structure problems, URLs and secrets) in ``__metadata__``."""
    if meta is None:
        return [], []
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        return ["__metadata__ must map strings to strings"], []
    leaks = []
    for key, value in meta.items():
        for pattern, what in ((_URL, "a URL"), (_SECRET, "what looks like a credential")):
            hit = pattern.search(value)
            if hit:
                shown = hit.group(0) if pattern is _URL else hit.group(0)[:6] + "..."
                leaks.append(f"__metadata__[{key!r}] holds {what}: {shown}")
    return [], leaks


class SafetensorsScanner(Scanner):
    name = "safetensors"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.safetensors(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        loc = blob.location
        try:
            header, length = read_header(blob)
        except SafetensorsHeaderError as e:
            ctx.saw("safetensors")
            ctx.report(rules.ST_MALFORMED.finding(loc, f"The safetensors header is unusable: {e}."))
            return True
        ctx.saw("safetensors")
        data_start = 8 + length
        data_size = (blob.size or 0) - data_start
        structure, leaks = _metadata_problems(header.get("__metadata__"))
        for problem in structure:
            ctx.report(rules.ST_MALFORMED.finding(loc, problem + "."))
        for leak in leaks[:10]:
            ctx.report(rules.ST_METADATA.finding(loc, leak + "."))
        layout, claimed = _layout_problems(header, data_size)
        for problem in layout[:20]:
            ctx.report(rules.ST_LAYOUT.finding(loc, problem + "."))
        if len(layout) > 20:
            ctx.report(
                rules.ST_LAYOUT.finding(
                    loc, f"{len(layout) - 20} more tensors have layout problems."
                )
            )
        if claimed < data_size and not any("outside the data section" in p for p in layout):
            self._unclaimed(blob, data_start + claimed, ctx)
        return True

    @staticmethod
    def _unclaimed(blob: Blob, at: int, ctx: ScanContext) -> None:
        left = (blob.size or 0) - at
        inner_loc = blob.location.inner(f"<unclaimed bytes@{at}>")
        tail = window_of(blob, at, left, inner_loc)
        known = False
        if tail is not None:
            nested = ScanContext(ctx.limits, ctx.dispatch, depth=ctx.depth + 1, handoff=ctx.handoff)
            known = ctx.dispatch(tail, nested) if ctx.depth < ctx.limits.max_depth else False
            ctx.findings.extend(nested.findings)
        ctx.report(
            rules.ST_UNCLAIMED.finding(
                blob.location.at(at),
                f"{left} bytes after the last tensor belong to no tensor"
                + (
                    f"; they hold {', '.join(nested.formats) or 'another format'}, reported on "
                    "its own."
                    if known
                    else "."
                ),
                severity=Severity.CRITICAL if known else None,
            )
        )


class SafetensorsIndexScanner(Scanner):
    """``model.safetensors.index.json``: every shard exists and holds what the index says."""

    name = "safetensors-index"

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.safetensors_index(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        if not isinstance(blob, FileBlob) or (blob.size or 0) > MAX_INDEX:
            return False
        try:
            index = json.loads(Path(blob.path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return False
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict):
            return False
        ctx.saw("safetensors-index")
        loc = blob.location
        by_shard: dict[str, set[str]] = {}
        for tensor, shard in weight_map.items():
            if not isinstance(shard, str):
                ctx.report(rules.ST_INDEX.finding(loc, f"Tensor {tensor!r} maps to no shard name."))
                continue
            by_shard.setdefault(shard, set()).add(tensor)
        folder = Path(blob.path).parent
        for problem in self._problems(folder, by_shard):
            ctx.report(rules.ST_INDEX.finding(loc, problem + "."))
        return True

    @staticmethod
    def _problems(folder: Path, by_shard: dict[str, set[str]]) -> Iterable[str]:
        root = folder.resolve()
        for shard, tensors in sorted(by_shard.items()):
            path = (folder / shard).resolve()
            if not path.is_relative_to(root):
                yield f"shard {shard!r} lies outside the model folder"
                continue
            if not path.is_file():
                yield f"shard {shard!r} is listed but missing"
                continue
            shard_blob = FileBlob(path, Location(str(path)), path.stat().st_size)
            try:
                header, _ = read_header(shard_blob)
            except SafetensorsHeaderError as e:
                yield f"shard {shard!r} has an unusable header ({e})"
                continue
            present = {k for k in header if k != "__metadata__"}
            missing = sorted(tensors - present)
            extra = sorted(present - tensors)
            if missing:
                yield (
                    f"{len(missing)} tensor(s) the index maps to {shard!r} are not in it, "
                    f"e.g. {missing[0]!r}"
                )
            if extra:
                yield (
                    f"shard {shard!r} holds {len(extra)} tensor(s) the index does not list, "
                    f"e.g. {extra[0]!r}"
                )
