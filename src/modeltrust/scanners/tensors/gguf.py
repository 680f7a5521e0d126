"""GGUF model files: a header, metadata key/values, tensor infos, then aligned tensor data.

The parser is hand-written and reads forwards through a buffer. Every count, length, offset and
dimension is checked against the bytes that remain *before* anything is read or allocated, so a
declared count of 2^60 costs nothing. Large metadata arrays (a vocabulary of 150,000 strings) are
skipped without being kept. What is kept:

* licence and lineage keys (``general.license*``, ``general.base_model.*``, ``general.name``…),
  recorded as facts for the licence checks;
* every chat template (``tokenizer.chat_template``, ``tokenizer.chat_template.<name>``), handed to
  the engine (:class:`~modeltrust.scanners.interface.Handoff`), which has it parsed it as Jinja without
  rendering it;
* tensor infos, to check that each tensor's bytes (from its ggml type and dimensions) lie inside
  the data section, aligned and not overlapping.

Versions 1 to 3 are read, little- and big-endian. Nothing from the ``gguf`` package is imported.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import BinaryIO

from modeltrust import rules
from modeltrust.findings import Location, Severity
from modeltrust.scanners.interface import Blob, KiB, MiB, ScanContext, Scanner, window_of

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
GGML_MAX_DIMS = 4
"""llama.cpp refuses tensors with more dimensions than this."""
MAX_DIMS_READ = 64
"""More dimensions than this cannot be a tensor info: parsing stops."""
MAX_KV = 1 << 18
MAX_TENSORS = 1 << 18
"""Real files hold tens of keys and a few thousand tensors."""
MAX_NESTING = 8
"""Arrays of arrays deeper than this are refused (llama.cpp reads none at all)."""
MAX_ITEMS = 20_000_000
"""Strings and nested arrays walked in one file (a 150k-token vocabulary is 0.3 M)."""
MAX_NAME = 64 * KiB
"""Keys and tensor names longer than this are refused (llama.cpp allows 64 bytes for names)."""
MAX_TEMPLATE = 16 * MiB
MAX_FACT_BYTES = 16 * KiB
MAX_FACTS = 256
MAX_FACT_ITEMS = 64
MAX_REPORTED = 20
_CHUNK = 1 * MiB

# Value types of the GGUF key/value section.
T_STRING = 8
T_ARRAY = 9
_SCALAR_FORMATS = {
    0: "B",  # uint8
    1: "b",  # int8
    2: "H",  # uint16
    3: "h",  # int16
    4: "I",  # uint32
    5: "i",  # int32
    6: "f",  # float32
    7: "?",  # bool
    10: "Q",  # uint64
    11: "q",  # int64
    12: "d",  # float64
}
_TYPE_NAMES = {
    0: "uint8",
    1: "int8",
    2: "uint16",
    3: "int16",
    4: "uint32",
    5: "int32",
    6: "float32",
    7: "bool",
    8: "string",
    9: "array",
    10: "uint64",
    11: "int64",
    12: "float64",
}

# ggml tensor types: id -> (name, elements per block, bytes per block), as in ggml.h.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}
_INT64_MAX = (1 << 63) - 1

FACT_KEYS = frozenset(
    {
        "general.name",
        "general.architecture",
        "general.type",
        "general.basename",
        "general.finetune",
        "general.version",
        "general.author",
        "general.organization",
        "general.quantized_by",
        "general.size_label",
        "general.url",
        "general.repo_url",
        "general.doi",
        "general.uuid",
        "general.tags",
        "general.languages",
    }
)
FACT_PREFIXES = ("general.license", "general.base_model.", "general.dataset.", "general.source.")
TEMPLATE_KEY = "tokenizer.chat_template"


def is_fact_key(key: str) -> bool:
    return key in FACT_KEYS or key.startswith(FACT_PREFIXES)


def is_template_key(key: str) -> bool:
    return key == TEMPLATE_KEY or key.startswith(TEMPLATE_KEY + ".")


class _Stop(Exception):  # noqa: N818 - internal signal: the structure cannot be read further
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class _Reader:
    """Forward reads through a buffer, with skips that seek; never past ``size``."""

    def __init__(self, f: BinaryIO, size: int, endian: str, version: int) -> None:
        self._f = f
        self.size = size
        self._buf = b""
        self._i = 0
        self._base = 0
        self.endian = endian
        self._u32 = struct.Struct(endian + "I")
        self._u64 = struct.Struct(endian + "Q")
        self._len = self._u32 if version == 1 else self._u64
        """GGUF v1 used 32-bit counts and lengths; later versions 64-bit."""
        self.len_size = self._len.size
        self.scalars = {t: struct.Struct(endian + fmt) for t, fmt in _SCALAR_FORMATS.items()}

    @property
    def pos(self) -> int:
        return self._base + self._i

    @property
    def remaining(self) -> int:
        return self.size - self.pos

    def _fill(self, n: int) -> None:
        have = len(self._buf) - self._i
        if have >= n:
            return
        if n > self.remaining:
            raise _Stop(f"needs {n} bytes but only {self.remaining} remain", self.pos)
        pos = self.pos
        self._f.seek(self._base + len(self._buf))
        more = self._f.read(max(_CHUNK, n - have))
        self._buf = self._buf[self._i :] + more
        self._base = pos
        self._i = 0
        if len(self._buf) < n:
            raise _Stop("the file ends earlier than its size says", self.pos)

    def read(self, n: int) -> bytes:
        self._fill(n)
        out = self._buf[self._i : self._i + n]
        self._i += n
        return out

    def skip(self, n: int) -> None:
        if n > self.remaining:
            raise _Stop(f"needs {n} bytes but only {self.remaining} remain", self.pos)
        if self._i + n <= len(self._buf):
            self._i += n
            return
        self._base = self.pos + n
        self._buf = b""
        self._i = 0

    def u32(self) -> int:
        self._fill(4)
        (v,) = self._u32.unpack_from(self._buf, self._i)
        self._i += 4
        return int(v)

    def u64(self) -> int:
        self._fill(8)
        (v,) = self._u64.unpack_from(self._buf, self._i)
        self._i += 8
        return int(v)

    def length(self) -> int:
        """A count or length: 32-bit in GGUF v1, 64-bit after."""
        self._fill(self.len_size)
        (v,) = self._len.unpack_from(self._buf, self._i)
        self._i += self.len_size
        return int(v)

    def scalar(self, fmt: struct.Struct) -> int | float | bool:
        self._fill(fmt.size)
        value: int | float | bool = fmt.unpack_from(self._buf, self._i)[0]
        self._i += fmt.size
        return value

    def skip_strings(self, count: int) -> None:
        """Skip ``count`` length-prefixed strings (a vocabulary) without keeping them."""
        unpack = self._len.unpack_from
        width = self.len_size
        for _ in range(count):
            if self._i + width > len(self._buf):
                self._fill(width)
            (n,) = unpack(self._buf, self._i)
            self._i += width
            if self._i + n <= len(self._buf):
                self._i += n
            else:
                self.skip(n)


@dataclass(slots=True)
class _TensorInfo:
    name: str | bytes
    """The name, or a digest of a long one (names are kept for every tensor)."""
    label: str
    dims: list[int]
    ggml_type: int
    offset: int
    at: int


class _Parser:
    def __init__(self, r: _Reader, blob: Blob, ctx: ScanContext) -> None:
        self.r = r
        self.blob = blob
        self.loc = blob.location
        self.ctx = ctx
        self.problems: list[tuple[str, int, Severity | None]] = []
        self.items = 0
        self.facts = 0
        self.alignment = DEFAULT_ALIGNMENT
        self.template_chars = 0

    def problem(self, message: str, offset: int, severity: Severity | None = None) -> None:
        self.problems.append((message, offset, severity))

    # --- strings and values ------------------------------------------------------------------

    def string(self, what: str, keep: int) -> tuple[str | None, int]:
        """A string's text (its first ``keep`` bytes; None if ``keep`` is 0) and full length."""
        at = self.r.pos
        n = self.r.length()
        if n > self.r.remaining:
            raise _Stop(
                f"{what} declares a string of {n} bytes but only {self.r.remaining} remain", at
            )
        if keep <= 0:
            self.r.skip(n)
            return None, n
        raw = self.r.read(min(n, keep))
        if n > keep:
            self.r.skip(n - keep)
        return raw.decode("utf-8", errors="replace"), n

    def count_items(self, n: int, at: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise _Stop(
                f"the metadata holds more than {MAX_ITEMS} strings and arrays, more than "
                "modeltrust reads",
                at,
            )

    def value(self, vtype: int, what: str, keep: int, depth: int = 0) -> object:
        """Read (or skip, when ``keep`` is 0) one value; arrays keep their first items."""
        at = self.r.pos
        fmt = self.r.scalars.get(vtype)
        if fmt is not None:
            return self.r.scalar(fmt)
        if vtype == T_STRING:
            self.count_items(1, at)
            return self.string(what, keep)[0]
        if vtype != T_ARRAY:
            raise _Stop(f"{what} has unknown value type {vtype}", at)
        if depth >= MAX_NESTING:
            raise _Stop(f"{what} nests arrays more than {MAX_NESTING} deep", at)
        etype = self.r.u32()
        count = self.r.length()
        efmt = self.r.scalars.get(etype)
        if efmt is not None:
            width = efmt.size
        elif etype == T_STRING:
            width = self.r.len_size
        elif etype == T_ARRAY:
            width = 4 + self.r.len_size
        else:
            raise _Stop(f"{what} is an array of unknown value type {etype}", at)
        if count * width > self.r.remaining:
            raise _Stop(
                f"{what} declares an array of {count} {_TYPE_NAMES[etype]} values, at least "
                f"{count * width} bytes, but only {self.r.remaining} remain",
                at,
            )
        kept = min(count, MAX_FACT_ITEMS) if keep > 0 else 0
        items: list[object] = []
        if efmt is not None:
            items = [self.r.scalar(efmt) for _ in range(kept)]
            self.r.skip((count - kept) * width)
            return items
        self.count_items(count, at)
        if etype == T_STRING:
            items = [self.string(what, keep)[0] for _ in range(kept)]
            self.r.skip_strings(count - kept)
            return items
        for _ in range(count):
            self.value(T_ARRAY, what, 0, depth + 1)  # arrays of arrays are never facts
        return items

    # --- sections ----------------------------------------------------------------------------

    def run(self, tensor_count: int, kv_count: int) -> None:
        r = self.r
        min_kv = r.len_size + 4 + 1
        min_ti = r.len_size + 4 + 4 + 8
        if kv_count > MAX_KV or tensor_count > MAX_TENSORS:
            raise _Stop(
                f"the header declares {tensor_count} tensors and {kv_count} key/values, more "
                f"than modeltrust reads ({MAX_TENSORS} and {MAX_KV})",
                r.pos,
            )
        if kv_count * min_kv + tensor_count * min_ti > r.remaining:
            raise _Stop(
                f"the header declares {tensor_count} tensors and {kv_count} key/values, which "
                f"need more than the {r.remaining} bytes that remain",
                r.pos,
            )
        seen: set[str | bytes] = set()
        for i in range(kv_count):
            self.key_value(i, seen)
        infos = [self.tensor_info(i) for i in range(tensor_count)]
        self.check_tensors(infos)

    def key_value(self, index: int, seen: set[str | bytes]) -> None:
        r = self.r
        at = r.pos
        key, n = self.string(f"key/value {index}", MAX_NAME)
        if n > MAX_NAME or key is None:
            raise _Stop(f"key/value {index} has a key of {n} bytes, longer than {MAX_NAME}", at)
        what = f"key '{key[:200]}'"
        if _identity(key) in seen:
            self.problem(f"{what} appears more than once (readers disagree on which wins)", at)
        seen.add(_identity(key))
        vtype = r.u32()
        value_at = r.pos
        if is_template_key(key):
            if vtype != T_STRING:
                self.problem(
                    f"{what} should hold a string but has type {_TYPE_NAMES.get(vtype, vtype)}",
                    value_at,
                )
                self.value(vtype, what, 0)
                return
            self.count_items(1, value_at)
            text, length = self.string(what, MAX_TEMPLATE)
            if length > MAX_TEMPLATE:
                self.problem(
                    f"{what} holds a chat template of {length} bytes; only the first "
                    f"{MAX_TEMPLATE} were analysed",
                    value_at,
                )
            self.template_chars += len(text or "")
            self.ctx.handoff.chat_template(
                text or "",
                self.loc.at(value_at),
                self.ctx,
                f"GGUF key '{key[:200]}'",
                chars_so_far=self.template_chars,
            )
            return
        if key == "general.alignment":
            value = self.value(vtype, what, 0)
            if vtype != 4 or not isinstance(value, int):
                self.problem(
                    f"{what} must be a uint32, not {_TYPE_NAMES.get(vtype, vtype)}", value_at
                )
            elif value == 0 or value & (value - 1):
                self.problem(f"{what} is {value}, not a power of two", value_at)
            else:
                self.alignment = value
            return
        if is_fact_key(key) and self.facts < MAX_FACTS:
            value = self.value(vtype, what, MAX_FACT_BYTES)
            text = _fact_text(value)
            if text:
                self.facts += 1
                self.ctx.fact(key, text)
            return
        self.value(vtype, what, 0)

    def tensor_info(self, index: int) -> _TensorInfo:
        r = self.r
        at = r.pos
        name, n = self.string(f"tensor info {index}", MAX_NAME)
        if n > MAX_NAME or name is None:
            raise _Stop(f"tensor info {index} has a name of {n} bytes, longer than {MAX_NAME}", at)
        what = f"tensor '{name[:200]}'"
        n_dims = r.u32()
        if n_dims > MAX_DIMS_READ:
            raise _Stop(f"{what} declares {n_dims} dimensions", at)
        if n_dims > GGML_MAX_DIMS:
            self.problem(f"{what} has {n_dims} dimensions; ggml allows at most {GGML_MAX_DIMS}", at)
        dims = [r.length() for _ in range(n_dims)]
        ggml_type = r.u32()
        offset = r.u64()
        return _TensorInfo(_identity(name), name[:200], dims, ggml_type, offset, at)

    def check_tensors(self, infos: list[_TensorInfo]) -> None:
        r = self.r
        align = self.alignment
        data_start = -(-r.pos // align) * align
        if not infos:
            self.check_trailing(data_start, data_start)
            return
        if data_start > r.size:
            raise _Stop(
                f"the tensor data section should start at byte {data_start}, past the end of "
                "the file",
                r.pos,
            )
        data_size = r.size - data_start
        names: set[str | bytes] = set()
        spans: list[tuple[int, int, str]] = []
        for t in infos:
            what = f"tensor '{t.label}'"
            if t.name in names:
                self.problem(f"{what} appears more than once", t.at)
            names.add(t.name)
            spec = GGML_TYPES.get(t.ggml_type)
            if spec is None:
                self.problem(
                    f"{what} has ggml type {t.ggml_type}, which modeltrust does not know, so "
                    "its size was not checked (a newer quantisation, or a corrupt file)",
                    t.at,
                    Severity.MEDIUM,
                )
                continue
            type_name, block, block_bytes = spec
            elements = 1
            for d in t.dims:
                elements *= d
            if any(d > _INT64_MAX for d in t.dims) or elements > _INT64_MAX:
                self.problem(f"{what} has dimensions {t.dims} that overflow a 64-bit count", t.at)
                continue
            if t.dims and t.dims[0] % block:
                self.problem(
                    f"{what} ({type_name}) has a first dimension of {t.dims[0]}, not a multiple "
                    f"of its block size {block}",
                    t.at,
                )
                continue
            nbytes = -(-elements // block) * block_bytes
            if t.offset % align:
                self.problem(
                    f"{what} starts at data offset {t.offset}, not a multiple of the "
                    f"alignment {align}",
                    t.at,
                )
            end = t.offset + nbytes
            if end > data_size:
                self.problem(
                    f"{what} ({type_name}, dimensions {t.dims}) needs bytes {t.offset} to {end} "
                    f"of the data section, which holds only {data_size}",
                    t.at,
                )
                continue
            spans.append((t.offset, end, t.label))
        spans.sort()
        last_end = 0
        for start, end, name in spans:
            if start < last_end:
                self.problem(
                    f"tensor '{name[:200]}' overlaps the tensor before it in the data section",
                    data_start + start,
                )
            last_end = max(last_end, end)
        if len(spans) == len(infos):
            self.check_trailing(data_start, data_start + -(-last_end // align) * align)

    def check_trailing(self, data_start: int, claimed_end: int) -> None:
        """Bytes after the last tensor (and its padding) belong to nothing: say what they are."""
        size = self.r.size
        at = max(data_start, claimed_end)
        if size <= at:
            return
        tail = window_of(self.blob, at, size - at, self.loc.inner(f"<trailing data@{at}>"))
        known = tail is not None and self.ctx.scan_nested(tail)
        self.problem(
            f"{size - at} bytes after the last tensor belong to no tensor"
            + ("; they hold another format, reported on its own" if known else ""),
            at,
        )


def _identity(name: str) -> str | bytes:
    """A name to compare, without keeping long ones in memory."""
    if len(name) <= 256:
        return name
    return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _fact_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        parts = [_fact_text(v) for v in value]
        return ", ".join(p for p in parts if p is not None)
    return None


class GgufScanner(Scanner):
    name = "gguf"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return head.startswith(MAGIC)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        ctx.saw("gguf")
        loc = blob.location
        with blob.open() as f:
            size = blob.size if blob.size is not None else f.seek(0, 2)
            f.seek(0)
            header = f.read(8)
            if len(header) < 8:
                ctx.report(
                    rules.GGUF_MALFORMED.finding(
                        loc, f"The file holds only {len(header)} bytes after the GGUF magic."
                    )
                )
                return True
            (version,) = struct.unpack_from("<I", header, 4)
            endian = "<"
            if version and not version & 0xFFFF:
                endian = ">"
                (version,) = struct.unpack_from(">I", header, 4)
            if not 1 <= version <= 3:
                ctx.report(
                    rules.GGUF_MALFORMED.finding(
                        loc.at(4), f"GGUF version {version} is unknown; versions 1 to 3 exist."
                    )
                )
                return True
            reader = _Reader(f, size, endian, version)
            reader.skip(8)
            parser = _Parser(reader, blob, ctx)
            try:
                tensor_count = reader.length()
                kv_count = reader.length()
                parser.run(tensor_count, kv_count)
            except _Stop as stop:
                parser.problem(f"{stop.message}; the rest of the file was not read", stop.offset)
        _report(parser.problems, loc, ctx)
        return True


def _report(
    problems: list[tuple[str, int, Severity | None]], loc: Location, ctx: ScanContext
) -> None:
    for message, offset, severity in problems[:MAX_REPORTED]:
        text = message[0].upper() + message[1:]
        ctx.report(rules.GGUF_MALFORMED.finding(loc.at(offset), text + ".", severity=severity))
    if len(problems) > MAX_REPORTED:
        ctx.report(
            rules.GGUF_MALFORMED.finding(
                loc,
                f"{len(problems) - MAX_REPORTED} more structural problems were found and not "
                "listed.",
            )
        )
