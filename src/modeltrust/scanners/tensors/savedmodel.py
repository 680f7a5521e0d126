"""TensorFlow SavedModel (``saved_model.pb``) and frozen GraphDef files, read without TensorFlow.

The protobuf is walked with the bounded wire-format reader in :mod:`.protobuf`, using only the
field numbers of the messages below (TensorFlow is never imported):

- ``SavedModel {1: schema version, 2: repeated MetaGraphDef}``
- ``MetaGraphDef {1: MetaInfoDef, 2: GraphDef, 3: SaverDef, 7: SavedObjectGraph}``
- ``GraphDef {1: repeated NodeDef, 2: FunctionDefLibrary}``;
  ``FunctionDefLibrary {1: repeated FunctionDef, 2: repeated GradientDef}``;
  ``FunctionDef {1: OpDef signature, 3: repeated NodeDef}``
- ``NodeDef {1: name, 2: op, 3: repeated input, 5: map<string, AttrValue> attr}``

Every node of the graph and of every library function is judged by its op:

- ``PyFunc``, ``PyFuncStateless``, ``EagerPyFunc`` call Python: MT-TF-001 (critical).
- Ops that read, write, list or map files: MT-TF-002 (high).
- Ops outside TensorFlow's standard set (``data/tf_ops.txt``) and not a function of the graph's
  own library need a custom op library, which is native code: MT-TF-003 (high).

**The checkpoint exemption.** Every SavedModel carries a saver: ``SaveV2``/``RestoreV2``/
``MergeV2Checkpoints`` (or the V1 ``Save``/``Restore`` ops) whose path is built from the saver's
filename tensor, which the loader feeds with the model's own ``variables/`` path. Those are not
reported. An op is exempt only when *every* path input provably derives from that tensor:

1. The root is the tensor that ``SaverDef.filename_tensor_name`` names, and its op is
   ``Placeholder``, ``PlaceholderWithDefault`` or ``Const`` (a default value that is an absolute
   or ``..`` path disqualifies it). Without a SaverDef (frozen graphs), a node named
   ``saver_filename`` or ``save/Const`` / ``save/filename`` (any scope, ``save_N``) plays the role.
2. Between root and op only path plumbing is allowed (``Identity``, ``StringJoin``,
   ``ShardedFilename``, ``Select``, ``StaticRegexFullMatch``, ``Pack`` ...). Constants mixed in
   (``"_temp/part"``, shard numbers) are fine unless a string is absolute, has a URL scheme, a
   drive letter, ``~`` or a ``..`` component - a saver never builds such a path.
3. Inside a library function (TensorFlow 2 saves through ``__inference__traced_save_N``), a path
   may come from a function argument, which then must be fed with a derived value at *every*
   call site (``PartitionedCall``/``StatefulPartitionedCall`` or a call by op name). Functions
   that can be called from outside the graph - concrete functions of the SavedObjectGraph,
   gradient functions, bodies of ``If``/``While``/dataset ops - get arguments the model does not
   control, so their paths never qualify.

Anything else - a node named ``save/...`` fed from a constant ``/etc/...``, a ``SaveV2`` in a
serving function, a ``RestoreV2`` reached from a signature input - is reported like any file op.
Names alone never exempt an op.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache

from modeltrust import rules
from modeltrust.rules import Rule
from modeltrust.scanners.interface import (
    Blob,
    BytesBlob,
    FileBlob,
    ScanContext,
    Scanner,
    SliceBlob,
    read_data,
)
from modeltrust.scanners.tensors.protobuf import (
    LEN,
    MAX_MESSAGE,
    VARINT,
    Budget,
    Field,
    ProtobufError,
    ProtobufLimitError,
    iter_fields,
    read_varint,
    text,
)

PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})

CHECKPOINT_OPS: dict[str, tuple[int, ...]] = {
    "SaveV2": (0,),
    "RestoreV2": (0,),
    "MergeV2Checkpoints": (0, 1),
    "Save": (0,),
    "SaveSlices": (0,),
    "Restore": (0,),
    "RestoreSlice": (0,),
    "DTensorRestoreV2": (0,),
}
"""Checkpoint ops and the inputs that carry their paths; exempt when fed by the saver."""

FILE_OPS = frozenset(
    {
        "ReadFile",
        "WriteFile",
        "MatchingFiles",
        "ImmutableConst",
        "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2",
        "TextLineReader",
        "TextLineReaderV2",
        "WholeFileReader",
        "WholeFileReaderV2",
        "TFRecordReader",
        "TFRecordReaderV2",
        "LMDBReader",
        "RecordInput",
        "DebugIdentity",
        "DebugIdentityV2",
        "DebugIdentityV3",
        "DebugNanCount",
        "DebugNumericSummary",
        "TFRecordDataset",
        "TFRecordDatasetV2",
        "TextLineDataset",
        "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2",
        "LMDBDataset",
        "ExperimentalLMDBDataset",
        "SqlDataset",
        "ExperimentalSqlDataset",
        "CSVDataset",
        "CSVDatasetV2",
        "ExperimentalCSVDataset",
        "MatchingFilesDataset",
        "ExperimentalMatchingFilesDataset",
        "SaveDataset",
        "SaveDatasetV2",
        "LoadDataset",
        "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord",
        "SnapshotDataset",
        "SnapshotDatasetV2",
        "SnapshotDatasetReader",
        "SnapshotNestedDatasetReader",
        "SnapshotChunkDataset",
        "ListSnapshotChunksDataset",
        "DistributedSave",
        "CreateSummaryFileWriter",
        "CreateSummaryDbWriter",
        "LoadAndRemapMatrix",
        "GenerateVocabRemapping",
        "FileSystemSetConfiguration",
    }
)
"""Ops that always touch the filesystem (or a database) when they run."""

CONST_PATH_OPS: dict[str, int] = {
    "InitializeTableFromTextFile": 1,
    "InitializeTableFromTextFileV2": 1,
    "CacheDataset": 1,
    "CacheDatasetV2": 1,
}
"""File ops that are routine with a vocabulary asset or an in-memory cache: reported only when
the path input is a constant that is absolute or leaves the model folder (or, for the cache ops,
names any file at all)."""

PLUMBING_OPS = frozenset(
    {
        "Identity",
        "IdentityN",
        "Snapshot",
        "StopGradient",
        "StringJoin",
        "ShardedFilename",
        "ShardedFilespec",
        "Select",
        "SelectV2",
        "StaticRegexFullMatch",
        "Pack",
        "Reshape",
        "ExpandDims",
        "Squeeze",
        "PlaceholderWithDefault",
    }
)
"""Ops a checkpoint path may pass through on its way from the saver's filename tensor."""

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
ROOT_OPS = frozenset({"Placeholder", "PlaceholderWithDefault", "Const"})
_SAVER_NAME = re.compile(r"^(?:.*/)?(?:saver_filename|save(?:_\d+)?/(?:Const|filename))$")
_NODE_NAME = re.compile(rb"^[A-Za-z0-9._][A-Za-z0-9_.\-/>]*$")
_OP_NAME = re.compile(rb"^[A-Za-z_][A-Za-z0-9_>.]*$")

_BAD, _CONST, _SAVER = 0, 1, 2
"""How a tensor's value is known to be built: unknown, from constants only, or from the saver's
filename tensor (plus harmless constants)."""

_MAX_TRACE = 64
_EXAMPLES = 5
_MAX_META_GRAPHS = 64


@cache
def standard_ops() -> frozenset[str]:
    """TensorFlow's standard op names (``data/tf_ops.txt``)."""
    data = read_data(__file__, "tf_ops.txt")
    return frozenset(
        line.strip() for line in data.splitlines() if line.strip() and not line.startswith("#")
    )


# --- parsed model ---------------------------------------------------------------------------------
@dataclass(slots=True)
class _Node:
    name: str
    op: str
    inputs: list[str]
    attrs: list[memoryview]


@dataclass(slots=True)
class _Scope:
    function: str | None
    """The library function this scope is, or None for the graph itself."""
    nodes: dict[str, _Node] = field(default_factory=dict)
    order: list[_Node] = field(default_factory=list)
    args: list[str] = field(default_factory=list)

    def add(self, node: _Node) -> None:
        self.nodes.setdefault(node.name, node)
        self.order.append(node)


@dataclass(slots=True)
class _MetaGraph:
    label: str
    graph: _Scope = field(default_factory=lambda: _Scope(None))
    functions: dict[str, _Scope] = field(default_factory=dict)
    gradients: set[str] = field(default_factory=set)
    saver_filename: str | None = None
    has_saver: bool = False
    concrete: set[str] = field(default_factory=set)
    tags: list[str] = field(default_factory=list)
    all_functions: list[_Scope] = field(default_factory=list)
    """Every library function, duplicates of a name included (their ops are checked too)."""


def _expect(f: Field, wire: int) -> None:
    if f.wire_type != wire:
        raise ProtobufError(
            f"field {f.number} at byte {f.offset} has wire type {f.wire_type}, expected {wire}"
        )


def _bytes(f: Field) -> memoryview:
    if not isinstance(f.value, memoryview):
        _expect(f, LEN)
        raise ProtobufError(f"field {f.number} at byte {f.offset} is not length-delimited")
    return f.value


def _str(f: Field) -> str:
    return text(_bytes(f))


def _parse_node(data: memoryview, budget: Budget, depth: int) -> _Node:
    node = _Node("", "", [], [])
    for f in iter_fields(data, budget, depth):
        if f.number == 1:
            node.name = _str(f)
        elif f.number == 2:
            node.op = _str(f)
        elif f.number == 3:
            node.inputs.append(_str(f))
        elif f.number == 5:
            node.attrs.append(_bytes(f))
    return node


def _parse_function(data: memoryview, budget: Budget, depth: int) -> _Scope:
    scope = _Scope("")
    for f in iter_fields(data, budget, depth):
        if f.number == 1:  # OpDef signature {1: name, 2: repeated ArgDef input_arg {1: name}}
            for g in iter_fields(_bytes(f), budget, depth + 1):
                if g.number == 1:
                    scope.function = _str(g)
                elif g.number == 2:
                    arg = ""
                    for h in iter_fields(_bytes(g), budget, depth + 2):
                        if h.number == 1:
                            arg = _str(h)
                    scope.args.append(arg)
        elif f.number == 3:
            scope.add(_parse_node(_bytes(f), budget, depth + 1))
    return scope


def _parse_graph(data: memoryview, meta: _MetaGraph, budget: Budget, depth: int) -> None:
    for f in iter_fields(data, budget, depth):
        if f.number == 1:
            meta.graph.add(_parse_node(_bytes(f), budget, depth + 1))
        elif f.number == 2:
            for g in iter_fields(_bytes(f), budget, depth + 1):
                if g.number == 1:
                    fn = _parse_function(_bytes(g), budget, depth + 2)
                    meta.functions.setdefault(fn.function or "", fn)
                    meta.all_functions.append(fn)
                elif g.number == 2:  # GradientDef {1: function_name, 2: gradient_func}
                    for h in iter_fields(_bytes(g), budget, depth + 2):
                        if h.number == 2:
                            meta.gradients.add(_str(h))


def _parse_meta_graph(
    data: memoryview, meta: _MetaGraph, ctx: ScanContext, budget: Budget, depth: int
) -> None:
    for f in iter_fields(data, budget, depth):
        if f.number == 1:  # MetaInfoDef
            for g in iter_fields(_bytes(f), budget, depth + 1):
                if g.number == 4:
                    meta.tags.append(_str(g))
                elif g.number == 5:
                    ctx.fact("tensorflow.version", _str(g))
                elif g.number == 6:
                    ctx.fact("tensorflow.git_version", _str(g))
        elif f.number == 2:
            _parse_graph(_bytes(f), meta, budget, depth + 1)
        elif f.number == 3:  # SaverDef {1: filename_tensor_name}
            meta.has_saver = True
            for g in iter_fields(_bytes(f), budget, depth + 1):
                if g.number == 1:
                    meta.saver_filename = _str(g).split(":", 1)[0]
        elif f.number == 7:  # SavedObjectGraph {2: map<string, SavedConcreteFunction>}
            for g in iter_fields(_bytes(f), budget, depth + 1):
                if g.number == 2:
                    for h in iter_fields(_bytes(g), budget, depth + 2):
                        if h.number == 1:
                            meta.concrete.add(_str(h))


# --- attributes -----------------------------------------------------------------------------------
def _attr(node: _Node, key: str, budget: Budget) -> memoryview | None:
    """The AttrValue bytes of ``node``'s attribute ``key``."""
    for entry in node.attrs:
        name, value = None, None
        for f in iter_fields(entry, budget, 1):
            if f.number == 1 and isinstance(f.value, memoryview):
                name = text(f.value)
            elif f.number == 2 and isinstance(f.value, memoryview):
                value = f.value
        if name == key and value is not None:
            return value
    return None


def _attr_string(node: _Node, key: str, budget: Budget) -> str | None:
    value = _attr(node, key, budget)
    if value is None:
        return None
    for f in iter_fields(value, budget, 2):
        if f.number == 2 and isinstance(f.value, memoryview):
            return text(f.value)
    return None


def _attr_funcs(value: memoryview, budget: Budget, depth: int) -> Iterator[str]:
    """Function names an AttrValue refers to (``func``, ``list(func)`` and nested attrs)."""
    if depth > 8:
        return
    for f in iter_fields(value, budget, depth):
        if not isinstance(f.value, memoryview):
            continue
        if f.number == 10:
            yield from _name_attr_list(f.value, budget, depth + 1)
        elif f.number == 1:  # ListValue {9: repeated NameAttrList func}
            for g in iter_fields(f.value, budget, depth + 1):
                if g.number == 9 and isinstance(g.value, memoryview):
                    yield from _name_attr_list(g.value, budget, depth + 2)


def _name_attr_list(data: memoryview, budget: Budget, depth: int) -> Iterator[str]:
    for f in iter_fields(data, budget, depth):
        if not isinstance(f.value, memoryview):
            continue
        if f.number == 1:
            yield text(f.value)
        elif f.number == 2:  # map<string, AttrValue> attr
            for g in iter_fields(f.value, budget, depth + 1):
                if g.number == 2 and isinstance(g.value, memoryview):
                    yield from _attr_funcs(g.value, budget, depth + 2)


def _node_funcs(node: _Node, budget: Budget) -> Iterator[tuple[str, str]]:
    """``(attribute name, function name)`` for every function ``node``'s attributes name."""
    for entry in node.attrs:
        key, value = "", None
        for f in iter_fields(entry, budget, 1):
            if f.number == 1 and isinstance(f.value, memoryview):
                key = text(f.value)
            elif f.number == 2 and isinstance(f.value, memoryview):
                value = f.value
        if value is not None:
            for name in _attr_funcs(value, budget, 2):
                yield key, name


def _const_strings(node: _Node, budget: Budget) -> list[str]:
    """The string values of a ``Const`` node (TensorProto field 9), at most 64 of them."""
    value = _attr(node, "value", budget)
    out: list[str] = []
    if value is None:
        return out
    for f in iter_fields(value, budget, 2):
        if f.number == 8 and isinstance(f.value, memoryview):
            for g in iter_fields(f.value, budget, 3):
                if g.number == 9 and isinstance(g.value, memoryview) and len(out) < 64:
                    out.append(text(g.value, 1024))
    return out


def _risky_path(path: str) -> bool:
    """Whether a constant path string could leave the model's own folder."""
    p = path.replace("\\", "/")
    if p.startswith(("/", "~")) or "://" in p or re.match(r"^[A-Za-z]:", p):
        return True
    return ".." in p.split("/")


# --- data flow: where do checkpoint paths come from? ----------------------------------------------
class _PathTracer:
    """Decides, per tensor, whether its value is built from the saver's filename tensor."""

    def __init__(self, meta: _MetaGraph, budget: Budget) -> None:
        self.meta = meta
        self.budget = budget
        self.memo: dict[tuple[str | None, str], int] = {}
        self.active: set[tuple[str | None, str]] = set()
        self.calls: dict[str, list[tuple[_Scope, _Node]]] = {}
        self.escaping: set[str] = set(meta.concrete) | meta.gradients
        for scope in (meta.graph, *meta.functions.values()):
            for node in scope.order:
                if node.op in meta.functions:
                    self.calls.setdefault(node.op, []).append((scope, node))
                for key, fn in _node_funcs(node, budget):
                    if node.op in CALL_OPS and key == "f":
                        self.calls.setdefault(fn, []).append((scope, node))
                    else:
                        self.escaping.add(fn)
        self.roots = self._roots()

    def _roots(self) -> set[str]:
        graph = self.meta.graph.nodes
        if self.meta.has_saver:
            name = self.meta.saver_filename
            return {name} if name and name in graph else set()
        return {n for n in graph if _SAVER_NAME.match(n)}

    def value(self, scope: _Scope, ref: str, depth: int = 0) -> int:
        name = ref.split(":", 1)[0]
        key = (scope.function, name)
        known = self.memo.get(key)
        if known is not None:
            return known
        if key in self.active or depth > _MAX_TRACE:
            return _BAD
        self.active.add(key)
        try:
            result = self._compute(scope, name, depth)
        finally:
            self.active.discard(key)
        self.memo[key] = result
        return result

    def _compute(self, scope: _Scope, name: str, depth: int) -> int:
        node = scope.nodes.get(name)
        if node is None:
            if scope.function is not None and name in scope.args:
                return self._argument(scope, scope.args.index(name), depth)
            return _BAD
        if scope.function is None and name in self.roots and node.op in ROOT_OPS:
            if node.op == "Placeholder":
                return _SAVER
            return _BAD if self._plumb(scope, node, depth) == _BAD else _SAVER
        if node.op == "Const" or node.op in PLUMBING_OPS:
            return self._plumb(scope, node, depth)
        return _BAD

    def _plumb(self, scope: _Scope, node: _Node, depth: int) -> int:
        if node.op == "Const":
            strings = _const_strings(node, self.budget)
            return _BAD if any(_risky_path(s) for s in strings) else _CONST
        values = [self.value(scope, i, depth + 1) for i in node.inputs if not i.startswith("^")]
        if not values or _BAD in values:
            return _BAD
        return _SAVER if _SAVER in values else _CONST

    def _argument(self, scope: _Scope, index: int, depth: int) -> int:
        fn = scope.function
        sites = self.calls.get(fn or "", [])
        if fn is None or fn in self.escaping or not sites:
            return _BAD
        worst = _SAVER
        for caller, call in sites:
            data = [i for i in call.inputs if not i.startswith("^")]
            if len(data) != len(scope.args):
                return _BAD
            worst = min(worst, self.value(caller, data[index], depth + 1))
            if worst == _BAD:
                break
        return worst

    def saver_fed(self, scope: _Scope, node: _Node, indexes: tuple[int, ...]) -> bool:
        data = [i for i in node.inputs if not i.startswith("^")]
        if any(i >= len(data) for i in indexes):
            return False
        return all(self.value(scope, data[i]) == _SAVER for i in indexes)

    def constants(self, scope: _Scope, ref: str, depth: int = 0) -> list[str]:
        """String constants that feed ``ref`` through plumbing (for evidence)."""
        node = scope.nodes.get(ref.split(":", 1)[0])
        if node is None or depth > 8:
            return []
        if node.op == "Const":
            return _const_strings(node, self.budget)[:4]
        if node.op not in PLUMBING_OPS:
            return []
        out: list[str] = []
        for i in node.inputs:
            if not i.startswith("^"):
                out.extend(self.constants(scope, i, depth + 1))
        return out[:8]


# --- the scanner ----------------------------------------------------------------------------------
@dataclass(slots=True)
class _Hit:
    rule: Rule
    op: str
    why: str
    where: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    count: int = 0


class _Hits:
    """Findings of one meta graph, one per rule and op, with a few example nodes each."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], _Hit] = {}

    def add(self, rule: Rule, scope: _Scope, node: _Node, why: str, paths: list[str]) -> None:
        h = self.by_key.setdefault((rule.id, node.op), _Hit(rule, node.op, why))
        h.count += 1
        if len(h.where) < _EXAMPLES:
            where = f"node '{node.name}'"
            if scope.function is not None:
                where += f" of function '{scope.function}'"
            h.where.append(where)
        for p in paths:
            if p not in h.paths and len(h.paths) < _EXAMPLES:
                h.paths.append(p)


def _tolerant_fields(head: bytes, limit: int = 4) -> list[tuple[int, int, int, bytes, bool]]:
    """Up to ``limit`` top-level fields of a possibly truncated message:
    ``(number, wire type, varint value or length, payload, payload complete)``."""
    buf = memoryview(head)
    out: list[tuple[int, int, int, bytes, bool]] = []
    pos = 0
    try:
        while pos < len(buf) and len(out) < limit:
            tag, pos = read_varint(buf, pos)
            number, wire = tag >> 3, tag & 7
            if number == 0:
                return out
            if wire == VARINT:
                value, pos = read_varint(buf, pos)
                out.append((number, wire, value, b"", True))
            elif wire == LEN:
                length, pos = read_varint(buf, pos)
                payload = bytes(buf[pos : pos + length])
                out.append((number, wire, length, payload, len(payload) == length))
                pos += length
            else:
                out.append((number, wire, 0, b"", False))
                return out
    except ProtobufError:
        pass
    return out


def sniff_kind(head: bytes) -> str | None:
    """``"savedmodel"``, ``"graphdef"`` or None, from a cheap look at the first bytes."""
    fields = _tolerant_fields(head)
    if not fields:
        return None
    if _looks_like_saved_model(fields):
        return "savedmodel"
    if _looks_like_graph_def(fields):
        return "graphdef"
    return None


def _looks_like_saved_model(fields: list[tuple[int, int, int, bytes, bool]]) -> bool:
    for number, wire, value, _, _ in fields:
        if not (
            (number == 1 and wire == VARINT and value < 1 << 16) or (number == 2 and wire == LEN)
        ):
            return False
    metas = [f for f in fields if f[0] == 2]
    if not metas:
        return False
    inner = _tolerant_fields(metas[0][3], 1)
    if not inner:
        return metas[0][2] == 0
    number, wire = inner[0][0], inner[0][1]
    return 1 <= number <= 7 and wire == LEN


def _looks_like_graph_def(fields: list[tuple[int, int, int, bytes, bool]]) -> bool:
    number, wire, _, payload, _ = fields[0]
    if number != 1 or wire != LEN:
        return False
    inner = _tolerant_fields(payload, 2)
    if len(inner) < 2:
        return False
    (n1, w1, _, name, done1), (n2, w2, _, op, done2) = inner
    return (
        (n1, w1, n2, w2) == (1, LEN, 2, LEN)
        and done1
        and done2
        and bool(_NODE_NAME.match(name))
        and bool(_OP_NAME.match(op))
    )


@contextmanager
def _mapped(blob: Blob, limit: int) -> Iterator[memoryview]:
    """The blob's bytes as a memoryview: a read-only memory map for files, no copy."""
    if isinstance(blob, BytesBlob):
        yield memoryview(blob.data)
        return
    if isinstance(blob, FileBlob | SliceBlob):
        offset = blob.offset if isinstance(blob, SliceBlob) else 0
        with open(blob.path, "rb") as f:  # noqa: PTH123 - a descriptor for mmap
            file_size = os.fstat(f.fileno()).st_size
            length = max(0, min(blob.size or 0, file_size - offset))
            if length == 0:
                yield memoryview(b"")
                return
            start = offset - offset % mmap.ALLOCATIONGRANULARITY
            mm = mmap.mmap(
                f.fileno(), length + offset - start, offset=start, access=mmap.ACCESS_READ
            )
        view = memoryview(mm)[offset - start :]
        try:
            yield view
        finally:
            try:
                view.release()
                mm.close()
            except BufferError:  # a slice is still referenced; the map closes when it goes
                pass
        return
    with blob.open() as f:
        data = f.read(limit + 1)
    yield memoryview(data)


class SavedModelScanner(Scanner):
    name = "tf-savedmodel"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff_kind(head) is not None

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        kind = sniff_kind(blob.head(512))
        if kind is None:
            return False
        if blob.size is not None and blob.size > MAX_MESSAGE:
            ctx.saw(_FORMAT[kind])
            ctx.report(
                rules.TF_MALFORMED.finding(
                    blob.location,
                    f"'{blob.location.display_path}' is larger than protobuf's 2 GiB limit, so "
                    "TensorFlow cannot load it and modeltrust did not parse it.",
                )
            )
            return True
        with _mapped(blob, MAX_MESSAGE) as data:
            return self._scan(data, kind, blob, ctx)

    def _scan(self, data: memoryview, kind: str, blob: Blob, ctx: ScanContext) -> bool:
        budget = Budget()
        metas: list[_MetaGraph] = []
        error: ProtobufError | None = None
        try:
            if kind == "savedmodel":
                fields, error = _top_level(data, budget)
                if any(f.number not in (1, 2) for f in fields):
                    return False  # another protobuf format that starts alike (ONNX)
                for f in fields:  # a truncated file: the meta graphs that are whole are judged
                    if f.number != 2:
                        continue
                    if len(metas) >= _MAX_META_GRAPHS:
                        raise ProtobufLimitError(f"more than {_MAX_META_GRAPHS} meta graphs")
                    meta = _MetaGraph(f"meta graph {len(metas)}")
                    metas.append(meta)
                    _parse_meta_graph(_bytes(f), meta, ctx, budget, 1)
            else:
                meta = _MetaGraph("graph")
                metas.append(meta)
                _parse_graph(data, meta, budget, 0)
        except ProtobufError as e:
            error = e
        if kind == "graphdef" and error is not None and len(metas[0].graph.order) < 2:
            return False  # only the first bytes looked like a graph
        ctx.saw(_FORMAT[kind])
        try:
            for meta in metas:
                self._analyse(meta, len(metas), blob, ctx, budget)
        except ProtobufError as e:
            error = error or e
        if error is not None:
            ctx.report(
                rules.TF_MALFORMED.finding(
                    blob.location,
                    f"The {_NAMES[kind]} protobuf in '{blob.location.display_path}' cannot be "
                    f"fully parsed ({error}); ops after that point were not checked.",
                    evidence=str(error),
                )
            )
        return True

    @staticmethod
    def _analyse(
        meta: _MetaGraph, n_metas: int, blob: Blob, ctx: ScanContext, budget: Budget
    ) -> None:
        tracer = _PathTracer(meta, budget)
        standard = standard_ops()
        hits = _Hits()
        prefix = ""
        if n_metas > 1:
            prefix = f"In {meta.label} ({','.join(meta.tags) or 'no tags'}), "
        try:
            for scope in (meta.graph, *meta.all_functions):
                for node in scope.order:
                    _judge(node, scope, meta, tracer, standard, hits, budget)
        finally:  # what was found before a broken attribute is still reported
            for h in hits.by_key.values():
                _report(h, prefix, blob, ctx)


def _top_level(data: memoryview, budget: Budget) -> tuple[list[Field], ProtobufError | None]:
    """The top-level fields up to the first malformed one, and the error that stopped them."""
    fields: list[Field] = []
    try:
        fields.extend(iter_fields(data, budget))
    except ProtobufError as e:
        return fields, e
    return fields, None


_FORMAT = {"savedmodel": "tf-savedmodel", "graphdef": "tf-graphdef"}
_NAMES = {"savedmodel": "SavedModel", "graphdef": "GraphDef"}


def _judge(
    node: _Node,
    scope: _Scope,
    meta: _MetaGraph,
    tracer: _PathTracer,
    standard: frozenset[str],
    hits: _Hits,
    budget: Budget,
) -> None:
    op = node.op
    data = [i for i in node.inputs if not i.startswith("^")]
    if op in PYTHON_OPS:
        token = _attr_string(node, "token", budget)
        hits.add(
            rules.TF_PYTHON_OP, scope, node, "calls a Python function", [token] if token else []
        )
    elif op in CHECKPOINT_OPS:
        indexes = CHECKPOINT_OPS[op]
        if not tracer.saver_fed(scope, node, indexes):
            paths = [p for i in indexes if i < len(data) for p in tracer.constants(scope, data[i])]
            why = (
                "reads or writes checkpoint files at a path that does not come from the saver's "
                "filename tensor"
            )
            hits.add(rules.TF_FILE_OP, scope, node, why, paths)
    elif op in FILE_OPS:
        paths = [p for i in data[:1] for p in tracer.constants(scope, i)]
        region = _attr_string(node, "memory_region_name", budget)
        if region:
            paths.append(region)
        hits.add(rules.TF_FILE_OP, scope, node, "touches the filesystem", paths)
    elif op in CONST_PATH_OPS:
        index = CONST_PATH_OPS[op]
        if index >= len(data):
            return
        paths = tracer.constants(scope, data[index])
        if op.startswith("CacheDataset"):
            if any(paths) or (not paths and tracer.value(scope, data[index]) != _CONST):
                hits.add(rules.TF_FILE_OP, scope, node, "caches a dataset in a file", paths)
        elif any(_risky_path(p) for p in paths):
            hits.add(rules.TF_FILE_OP, scope, node, "reads a file outside the model folder", paths)
    elif op == "PrintV2":
        stream = _attr_string(node, "output_stream", budget) or ""
        if stream.startswith("file://"):
            hits.add(rules.TF_FILE_OP, scope, node, "prints into a file", [stream])
    elif op in ("DecodeProtoV2", "EncodeProto"):
        source = _attr_string(node, "descriptor_source", budget) or ""
        if source not in ("", "local://"):
            hits.add(rules.TF_FILE_OP, scope, node, "reads a descriptor file", [source])
    elif op not in standard and op not in meta.functions:
        hits.add(rules.TF_CUSTOM_OP, scope, node, "is not a standard TensorFlow op", [])


def _report(h: _Hit, prefix: str, blob: Blob, ctx: ScanContext) -> None:
    where = ", ".join(h.where)
    if h.count > len(h.where):
        where += f" and {h.count - len(h.where)} more"
    paths = " (" + ", ".join(repr(p) for p in h.paths) + ")" if h.paths else ""
    if h.rule is rules.TF_PYTHON_OP:
        message = (
            f"{prefix}{h.op} {h.why} registered by the loading process{paths} at {where}: the "
            "graph runs Python code whenever it executes. Do not load it outside a sandbox."
        )
    elif h.rule is rules.TF_CUSTOM_OP:
        message = (
            f"{prefix}op '{h.op}' {h.why} ({where}); running it needs a custom op library "
            "(native code). Check where that library comes from before loading the model."
        )
    else:
        message = f"{prefix}{h.op} {h.why}{paths} at {where}. Check every path it uses."
    evidence = f"op={h.op} nodes={h.count}" + (f" values={h.paths}" if h.paths else "")
    ctx.report(h.rule.finding(blob.location, message, evidence=evidence))
