"""ONNX models: external-data locations, custom operator domains and declared sizes.

ONNX has no magic number: a model is a protobuf ``ModelProto``. Writers serialise fields in
number order, so ``ir_version`` (field 1, tag ``0x08``) comes first. The sniff decodes the fields
in the first bytes and claims the blob only when each is a ``ModelProto`` field with the right
wire type and a plausible value, so random bytes and other protobufs (a SavedModel also starts
with ``0x08``) are left alone.

Before the onnx package is imported, :func:`walk_top_level` steps over the top-level fields of
the whole blob (seeking past their contents) and checks that they end exactly where the blob
ends. Only then are the bytes parsed, with ``ModelProto.ParseFromString``: external data is never
loaded. Each tensor's ``external_data`` location is checked as text (absolute, ``..``) and, for a
model on disk, with ``os.path.realpath`` (symbolic links out of the model's folder) and
``os.stat`` (offset and length inside the file). The external file is never opened.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modeltrust import rules
from modeltrust.scanners.common.sniff import ONNX_MODEL_FIELDS
from modeltrust.scanners.interface import Blob, CappedReporter, FileBlob, KiB, ScanContext, Scanner

MAX_MODEL = (1 << 31) - 1
"""protobuf refuses messages of 2 GiB and more; onnx cannot load such a file either."""
MAX_TOP_LEVEL_FIELDS = 1_000_000
"""Top-level fields walked before parsing (real models have a handful of them)."""
MAX_PER_RULE = 20
"""Findings reported per rule for one model; the rest are counted in one more finding."""

STANDARD_DOMAINS = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "com.microsoft"}
)
"""Operator domains that need no custom-operator library (documented in docs/rules.md)."""

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
MODEL_FIELDS = ONNX_MODEL_FIELDS
_GRAPH = 7
_NAME_FIELDS = frozenset({2, 3, 4})
_TEXT_FIELDS = frozenset({2, 3, 4, 6})
MAX_IR_VERSION = 255

NOT_ONNX, WEAK, STRONG = 0, 1, 2

# Bits per element of each TensorProto.DataType stored in raw_data (STRING has no raw form).
_BITS: dict[int, int] = {
    1: 32,
    2: 8,
    3: 8,
    4: 16,
    5: 16,
    6: 32,
    7: 64,
    9: 8,
    10: 16,
    11: 64,
    12: 32,
    13: 64,
    14: 64,
    15: 128,
    16: 16,
    17: 8,
    18: 8,
    19: 8,
    20: 8,
    21: 4,
    22: 4,
    23: 4,
    24: 8,
    25: 2,
    26: 2,
}
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# --- protobuf wire format, just enough to recognise a ModelProto ---------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    """The varint at ``pos`` and the position after it; None when cut off or longer than 10."""
    result = 0
    for i in range(10):
        if pos + i >= len(buf):
            return None
        b = buf[pos + i]
        result |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return result, pos + i + 1
    return None


def _text_ok(number: int, part: bytes) -> bool:
    """Whether the visible part of a string field reads as ONNX writes it (UTF-8, and for names
    no control characters)."""
    try:
        text = part.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(part) - 3:  # only a character cut off at the end of the head is fine
            return False
        text = part[: e.start].decode("utf-8")
    return not (number in _NAME_FIELDS and _CONTROL.search(text))


def sniff_model(head: bytes, size: int | None) -> int:
    """How much the head looks like a ModelProto.

    ``STRONG``: ``ir_version`` first, with a plausible value, then more ModelProto fields whose
    names read as text: what ONNX writers produce. A file like this that does not parse is
    reported as malformed. ``WEAK``: every field seen has a ModelProto number and wire type, but
    in another order or with odd values (other protobufs, such as a SavedModel, look like this
    too): the blob is claimed only if it then parses as a model with a graph. ``NOT_ONNX``:
    anything else. Odd values never make a blob ``NOT_ONNX``, since onnx.load accepts them."""
    pos = 0
    fields: list[int] = []
    broken = odd = False
    while pos < len(head):
        tag = _varint(head, pos)
        if tag is None:
            break
        key, pos = tag
        number, wire = key >> 3, key & 7
        if MODEL_FIELDS.get(number) != wire:
            return NOT_ONNX
        if wire == _VARINT:
            value = _varint(head, pos)
            if value is None:
                break
            odd = odd or (number == 1 and not 1 <= value[0] <= MAX_IR_VERSION)
            pos = value[1]
        else:
            length = _varint(head, pos)
            if length is None:
                break
            n, pos = length
            odd = odd or (number in _TEXT_FIELDS and not _text_ok(number, head[pos : pos + n]))
            if size is not None and pos + n > size:
                broken = True  # cut off: a model that starts right is still reported
                fields.append(number)
                break
            pos += n
        fields.append(number)
    if not fields:
        return NOT_ONNX
    whole = size is not None and size <= len(head)
    broken = broken or (whole and pos != size)
    if fields[0] == 1 and (len(fields) >= 2 or whole):
        return WEAK if odd else STRONG
    if not broken and size is not None and (len(fields) >= 2 or whole or pos > len(head)):
        return WEAK
    return NOT_ONNX


class _Cursor:
    """A reader that knows its position and skips forwards (seeking when it can)."""

    def __init__(self, f: Any, seekable: bool) -> None:
        self._f = f
        self._seekable = seekable
        self.pos = 0

    def byte(self) -> int | None:
        b = self._f.read(1)
        if not b:
            return None
        self.pos += 1
        return int(b[0])

    def varint(self) -> int | None:
        """A varint; None at a clean end of data. Raises ValueError when it is cut off."""
        result = 0
        for i in range(10):
            b = self.byte()
            if b is None:
                if i == 0:
                    return None
                raise ValueError(f"the data ends inside a field at byte {self.pos}")
            result |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                return result
        raise ValueError(f"a varint before byte {self.pos} is longer than 10 bytes")

    def skip(self, n: int, size: int | None) -> None:
        if size is not None:
            if self.pos + n > size:
                raise ValueError(f"a field at byte {self.pos} claims {n} bytes, past the end")
            self._f.seek(self.pos + n)
            self.pos += n
            return
        left = n
        while left:
            chunk = self._f.read(min(left, 256 * KiB))
            if not chunk:
                raise ValueError(f"a field claims {n} bytes, past the end of the data")
            left -= len(chunk)
            self.pos += len(chunk)


def walk_top_level(blob: Blob) -> tuple[int, set[int]]:
    """Step over the top-level fields of the blob (seeking past their contents) and return its
    size and the field numbers seen. Raises ValueError when the bytes are not a sequence of
    ModelProto-shaped fields that ends exactly at the end of the blob."""
    size = blob.size if blob.seekable else None
    numbers: set[int] = set()
    with blob.open() as f:
        cur = _Cursor(f, size is not None)
        for _ in range(MAX_TOP_LEVEL_FIELDS):
            at = cur.pos
            key = cur.varint()
            if key is None:
                return cur.pos, numbers
            number, wire = key >> 3, key & 7
            numbers.add(number)
            if number == 0 or wire not in (_VARINT, _I64, _LEN, _I32):
                raise ValueError(f"byte {at} is not a valid protobuf field tag")
            expected = MODEL_FIELDS.get(number)
            if expected is not None and expected != wire:
                raise ValueError(f"field {number} at byte {at} has the wrong wire type")
            if wire == _VARINT:
                if cur.varint() is None:
                    raise ValueError(f"the data ends inside field {number} at byte {at}")
                continue
            n = 8 if wire == _I64 else 4 if wire == _I32 else cur.varint()
            if n is None:
                raise ValueError(f"the data ends inside field {number} at byte {at}")
            cur.skip(n, size)
    raise ValueError(f"more than {MAX_TOP_LEVEL_FIELDS} top-level fields")


def _read_all(blob: Blob, limit: int) -> bytes:
    with blob.open() as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"the model is larger than {limit} bytes")
    return data


# --- findings ------------------------------------------------------------------------------------
# --- the model walk ------------------------------------------------------------------------------
def _s(value: object) -> str:
    """A protobuf string field as text. ONNX's protos are proto2, whose strings may hold any
    bytes (the parser then returns ``bytes``); undecodable bytes are kept as surrogates, the way
    file names are."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def _clean(text: str) -> str:
    """Text safe to print: undecodable bytes (kept as surrogates) become ``\\xNN`` escapes."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _short(text: str, limit: int = 100) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _name(obj: Any) -> str:
    return _short(_s(getattr(obj, "name", "")) or "<unnamed>")


def _attribute_parts(attr: Any, where: str) -> Iterator[tuple[str, str, Any]]:
    """Tensors and graphs in an AttributeProto, whatever its declared type (onnx's loader looks
    at every field)."""
    here = f"{where} attribute {_name(attr)}"
    if attr.HasField("t"):
        yield "tensor", here, attr.t
    for t in attr.tensors:
        yield "tensor", here, t
    sparse = [attr.sparse_tensor] if attr.HasField("sparse_tensor") else []
    for st in [*sparse, *attr.sparse_tensors]:
        yield "tensor", f"{here} (sparse values)", st.values
        yield "tensor", f"{here} (sparse indices)", st.indices
    if attr.HasField("g"):
        yield "graph", here, attr.g
    for g in attr.graphs:
        yield "graph", here, g


@dataclass
class _ModelWalk:
    """Every node (with its domain) and tensor of a model: main graph, subgraphs of If/Loop/Scan
    and other graph attributes, training graphs and model-local functions."""

    nodes: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(domain, op_type, overload, where)"""
    tensors: list[tuple[Any, str]] = field(default_factory=list)

    @classmethod
    def of(cls, model: Any) -> _ModelWalk:
        walk = cls()
        graphs: list[tuple[Any, str]] = []
        if model.HasField("graph"):
            graphs.append((model.graph, "graph"))
        for i, info in enumerate(model.training_info):
            if info.HasField("initialization"):
                graphs.append((info.initialization, f"training_info[{i}] initialization"))
            if info.HasField("algorithm"):
                graphs.append((info.algorithm, f"training_info[{i}] algorithm"))
        for fn in model.functions:
            where = f"function {_short(_s(fn.domain) + ':' + _s(fn.name))}"
            for attr in fn.attribute_proto:
                walk._attribute(attr, where, graphs)
            for node in fn.node:
                walk._node(node, where, graphs)
        while graphs:
            graph, where = graphs.pop()
            where = f"{where} {_name(graph)}"
            for t in graph.initializer:
                walk.tensors.append((t, f"{where} initializer"))
            for st in graph.sparse_initializer:
                walk.tensors.append((st.values, f"{where} sparse initializer (values)"))
                walk.tensors.append((st.indices, f"{where} sparse initializer (indices)"))
            for node in graph.node:
                walk._node(node, where, graphs)
        return walk

    def _node(self, node: Any, where: str, graphs: list[tuple[Any, str]]) -> None:
        here = f"{where} node {_name(node)} ({_short(_s(node.op_type))})"
        overload = _s(getattr(node, "overload", ""))
        self.nodes.append((_s(node.domain), _s(node.op_type), overload, here))
        for attr in node.attribute:
            self._attribute(attr, here, graphs)

    def _attribute(self, attr: Any, where: str, graphs: list[tuple[Any, str]]) -> None:
        for kind, here, obj in _attribute_parts(attr, where):
            if kind == "tensor":
                self.tensors.append((obj, here))
            else:
                graphs.append((obj, here))


def _expected_bytes(tensor: Any) -> int | None:
    """Bytes the tensor's dims and type need in raw form; None when not computable."""
    bits = _BITS.get(tensor.data_type)
    if bits is None or any(d < 0 for d in tensor.dims):
        return None
    n = 1
    for d in tensor.dims:
        n *= d
    return (n * bits + 7) // 8


def _dims(tensor: Any) -> str:
    dims = list(tensor.dims[:8])
    return str(dims) if len(tensor.dims) <= 8 else f"{str(dims)[:-1]}, ...]"


def _outside_folder(location: str) -> str | None:
    """Why a location is absolute or climbs out of its folder, judged as text."""
    if location.startswith(("/", "\\")) or _DRIVE.match(location):
        return "is an absolute path"
    if ".." in re.split(r"[/\\]", location):
        return "climbs out of the model folder with '..'"
    return None


class OnnxScanner(Scanner):
    name = "onnx"

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff_model(head, blob.size if blob.seekable else None) != NOT_ONNX

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        loc = blob.location
        kind = sniff_model(blob.head(512), blob.size if blob.seekable else None)
        if kind == NOT_ONNX:
            return False
        try:
            size, numbers = walk_top_level(blob)
        except ValueError as e:
            if kind == WEAK:
                return False
            ctx.saw("onnx")
            ctx.report(
                rules.ONNX_MALFORMED.finding(
                    loc,
                    f"'{loc.display_path}' starts like an ONNX model but is not a valid one: {e}. "
                    "Re-download or re-export it.",
                )
            )
            return True
        if kind == WEAK and _GRAPH not in numbers:
            return False  # no graph: another protobuf (a SavedModel starts like a model)
        ctx.saw("onnx")
        if size > MAX_MODEL:
            ctx.report(
                rules.ONNX_MALFORMED.finding(
                    loc,
                    f"'{loc.display_path}' is {size} bytes, above protobuf's 2 GiB limit, so it "
                    "was not parsed (onnx cannot load it either). Store the weights as external "
                    "data and scan again.",
                )
            )
            return True
        try:
            import onnx
            from google.protobuf.message import DecodeError
        except ImportError:
            ctx.report(
                rules.GEN_NEEDS_EXTRA.finding(
                    loc,
                    f"'{loc.display_path}' is an ONNX model; reading it needs the 'onnx' extra: "
                    "pip install 'modeltrust[onnx]'. It was not analysed.",
                )
            )
            return True
        model = onnx.ModelProto()
        try:
            data = _read_all(blob, MAX_MODEL)
            model.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError) as e:
            if kind == WEAK:
                return False
            ctx.report(
                rules.ONNX_MALFORMED.finding(
                    loc,
                    f"'{loc.display_path}' does not parse as an ONNX ModelProto: {e}. "
                    "Re-download or re-export it.",
                )
            )
            return True
        del data
        self._facts(model, ctx)
        report = CappedReporter(ctx, loc, "model", MAX_PER_RULE)
        walk = _ModelWalk.of(model)
        self._check_domains(model, walk, report)
        # Only a model on disk has a folder; a member of an archive (even one copied to a
        # temporary file for reading) is checked as text.
        folder = None
        if isinstance(blob, FileBlob) and not loc.members:
            folder = Path(blob.path).absolute().parent
        for tensor, where in walk.tensors:
            self._check_tensor(tensor, f"tensor {_name(tensor)} ({where})", folder, report)
        report.close()
        return True

    @staticmethod
    def _facts(model: Any, ctx: ScanContext) -> None:
        for key in ("producer_name", "producer_version", "domain"):
            value = _s(getattr(model, key))
            if value:
                ctx.fact(f"onnx.{key}", value.encode("utf-8", "replace").decode())
        if model.model_version:
            ctx.fact("onnx.model_version", str(model.model_version))
        if model.doc_string:
            doc = _s(model.doc_string).encode("utf-8", "replace").decode()
            ctx.fact("onnx.doc_string", doc, limit=200)
        ctx.fact("onnx.ir_version", str(model.ir_version))
        opsets = sorted(f"{_s(o.domain) or 'ai.onnx'}:{o.version}" for o in model.opset_import)
        if opsets:
            ctx.fact("onnx.opset_import", ", ".join(opsets))

    @staticmethod
    def _check_domains(model: Any, walk: _ModelWalk, report: CappedReporter) -> None:
        local = {
            (_s(fn.domain), _s(fn.name), _s(getattr(fn, "overload", ""))) for fn in model.functions
        }
        local_domains = {_s(fn.domain) for fn in model.functions}
        custom: dict[str, list[str]] = {}
        first_seen: dict[str, str] = {}
        for domain, op_type, overload, where in walk.nodes:
            if domain in STANDARD_DOMAINS or (domain, op_type, overload) in local:
                continue
            ops = custom.setdefault(domain, [])
            if op_type not in ops:
                ops.append(op_type)
            first_seen.setdefault(domain, where)
        imports = [*model.opset_import, *(o for fn in model.functions for o in fn.opset_import)]
        for opset in imports:
            domain = _s(opset.domain)
            if domain not in STANDARD_DOMAINS and domain not in local_domains:
                custom.setdefault(domain, [])
                first_seen.setdefault(domain, "opset_import")
        for domain, ops in sorted(custom.items()):
            shown = ", ".join(_short(op, 60) for op in ops[:8]) + (
                f" and {len(ops) - 8} more" if len(ops) > 8 else ""
            )
            used = f"operators {shown}, first at {first_seen[domain]}" if ops else "opset_import"
            report(
                rules.ONNX_CUSTOM_DOMAIN,
                f"The model uses the custom operator domain {_short(domain, 200)} ({used}). Running it needs "
                "a custom-operator library for that domain: check where it comes from.",
                evidence=_clean(domain[:1000]),
            )

    def _check_tensor(
        self, tensor: Any, where: str, folder: Path | None, report: CappedReporter
    ) -> None:
        entries = [(_s(e.key), _s(e.value)) for e in tensor.external_data]
        if tensor.data_location == _EXTERNAL or entries:
            self._check_external(tensor, entries, where, folder, report)
            return
        if not tensor.HasField("raw_data"):
            return
        held = len(tensor.raw_data)  # one copy of the bytes, released at once
        expected = _expected_bytes(tensor)
        if any(d < 0 for d in tensor.dims):
            report(
                rules.ONNX_SIZES,
                f"{where} has negative dimensions {_dims(tensor)}. Re-export the model.",
            )
        elif expected is not None and expected != held:
            how = "shorter" if held < expected else "longer"
            report(
                rules.ONNX_SIZES,
                f"{where} holds {held} bytes of raw data, {how} than the "
                f"{expected} its dims {_dims(tensor)} and type need. Re-export the model.",
            )

    def _check_external(
        self,
        tensor: Any,
        entries: list[tuple[str, str]],
        where: str,
        folder: Path | None,
        report: CappedReporter,
    ) -> None:
        locations = [v for k, v in entries if k == "location"]
        numbers: dict[str, int] = {}
        for key, value in entries:
            if key not in ("offset", "length"):
                continue
            text = value.strip()
            if not text.isdigit():
                report(
                    rules.ONNX_MALFORMED,
                    f"{where} has external-data {key} {value[:40]!r}, which is not a "
                    "non-negative integer. Re-export the model.",
                )
                return
            if key in numbers and numbers[key] != int(text):
                report(
                    rules.ONNX_MALFORMED,
                    f"{where} gives its external-data {key} twice with different values; "
                    "loaders may use either. Re-export the model.",
                )
            numbers[key] = int(text)
        if not locations:
            report(
                rules.ONNX_MALFORMED,
                f"{where} is stored as external data but names no location. Re-export the model.",
            )
            return
        if len(set(locations)) > 1:
            report(
                rules.ONNX_MALFORMED,
                f"{where} names {len(set(locations))} different external-data locations; "
                "loaders may pick different ones. Each is checked below.",
                evidence="; ".join(repr(x[:200]) for x in locations[:5]),
            )
        for location in dict.fromkeys(locations):
            self._check_location(tensor, location, numbers, where, folder, report)

    @staticmethod
    def _check_location(
        tensor: Any,
        location: str,
        numbers: dict[str, int],
        where: str,
        folder: Path | None,
        report: CappedReporter,
    ) -> None:
        shown = repr(location[:200])
        if "\x00" in location or not location.strip():
            report(
                rules.ONNX_MALFORMED,
                f"{where} has the external-data location {shown}, which is not a usable file "
                "name. Re-export the model.",
            )
            return
        why = _outside_folder(location)
        if why is not None:
            report(
                rules.ONNX_EXTERNAL_PATH,
                f"{where} reads external data from {shown}, which {why}: loading the model "
                "would read that file. Do not load it.",
                evidence=_clean(location[:1000]),
            )
            return
        if folder is None:
            return  # inside an archive: no folder on disk to resolve against
        try:
            real_folder = folder.resolve()
            target = (folder / location).resolve()
            inside = target.is_relative_to(real_folder)
            st = target.stat() if inside else None
        except FileNotFoundError:
            report(
                rules.ONNX_SIZES,
                f"{where} reads external data from {shown}, which does not exist next to the "
                "model. Get the complete model, external data files included.",
            )
            return
        except (OSError, RuntimeError, ValueError) as e:
            report(
                rules.ONNX_SIZES,
                f"{where}: the external-data file {shown} cannot be examined "
                f"({_clean(str(e))}). Do not load "
                "the model until it can.",
            )
            return
        if st is None:
            report(
                rules.ONNX_EXTERNAL_PATH,
                f"{where} reads external data from {shown}, which resolves to '{_clean(str(target))}', "
                f"outside the model folder '{_clean(str(real_folder))}' (through a symbolic link). Do not "
                "load the model.",
                evidence=_clean(location[:1000]),
            )
            return
        if not stat.S_ISREG(st.st_mode):
            report(
                rules.ONNX_SIZES,
                f"{where} reads external data from {shown}, which is not a regular file (a "
                "device, pipe or folder). Do not load the model.",
            )
            return
        offset = numbers.get("offset", 0)
        length = numbers.get("length")
        available = st.st_size - offset
        expected = _expected_bytes(tensor)
        if available < 0 or (length is not None and length > available):
            report(
                rules.ONNX_SIZES,
                f"{where} claims bytes {offset}..{offset + (length or 0)} of {shown}, but that "
                f"file has {st.st_size} bytes. Get an intact copy of the model.",
            )
        elif expected is not None and (length if length is not None else available) < expected:
            report(
                rules.ONNX_SIZES,
                f"{where} needs {expected} bytes for its dims {_dims(tensor)} but its "
                f"external data in {shown} has only {length if length is not None else available}"
                ". Get an intact copy of the model.",
            )
