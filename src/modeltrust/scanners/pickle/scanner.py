"""Pickle-based model files: raw and stacked pickles, legacy torch.save files, joblib dumps.

Every stream is emulated by :mod:`modeltrust.scanners.pickle.vm`; this module reads a blob stream
by stream, follows the layouts that loaders read (legacy torch storages, joblib arrays), and turns
what the emulator saw into findings.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Iterable
from functools import cache

from modeltrust import rules
from modeltrust.findings import Finding, Location, Severity
from modeltrust.rules import Rule
from modeltrust.scanners.common import callables, sniff
from modeltrust.scanners.common.callables import Category
from modeltrust.scanners.common.sniff import OPCODE_BYTES
from modeltrust.scanners.interface import (
    Blob,
    BytesBlob,
    Limits,
    ScanContext,
    Scanner,
    window_of,
)
from modeltrust.scanners.pickle.policy import Rebuild, plain_classes
from modeltrust.scanners.pickle.vm import (
    Call,
    Embedded,
    Global,
    PDict,
    PickleError,
    PickleMachine,
    Reader,
    Ref,
    StreamAnalysis,
)

LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_STORAGE_SIZES = {
    "FloatStorage": 4,
    "DoubleStorage": 8,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "LongStorage": 8,
    "IntStorage": 4,
    "ShortStorage": 2,
    "CharStorage": 1,
    "ByteStorage": 1,
    "BoolStorage": 1,
    "ComplexFloatStorage": 8,
    "ComplexDoubleStorage": 16,
    "QInt8Storage": 1,
    "QUInt8Storage": 1,
    "QInt32Storage": 4,
    "QUInt4x2Storage": 1,
    "QUInt2x4Storage": 1,
    "UntypedStorage": 1,
}
_SAFE_CATEGORIES = frozenset({Category.SAFE, Category.LIBRARY})
_GETATTR = frozenset({"builtins.getattr"})


class PickleScanner(Scanner):
    name = "pickle"

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.pickle(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        return scan_pickle_blob(blob, ctx, strict=False)


def scan_pickle_blob(blob: Blob, ctx: ScanContext, *, strict: bool) -> bool:
    """Scan every pickle stream in ``blob``. ``strict``: only report if it surely is a pickle."""
    if _inert(blob, ctx.limits):
        return False
    with blob.open() as f:
        reader = Reader(f, blob.size, blob.seekable)
        machine = PickleMachine(reader, ctx.limits)
        streams: list[StreamAnalysis] = []
        trailing_at: int | None = None
        legacy = False
        while True:
            analysis = machine.run()
            if streams and not analysis.credible:
                trailing_at = analysis.start
                break
            streams.append(analysis)
            if len(streams) == 1:
                if not _believable(analysis, strict):
                    return False
                legacy = analysis.stopped and analysis.result == LEGACY_TORCH_MAGIC
            if analysis.error or analysis.limit:
                break
            if legacy and len(streams) == 5:
                _walk_legacy_storages(streams, reader, blob, ctx)
                break
            if len(streams) >= ctx.limits.max_streams:
                ctx.report(
                    rules.PKL_LIMIT.finding(
                        blob.location.at(reader.pos),
                        f"More than {ctx.limits.max_streams} pickle streams are stacked in "
                        f"'{blob.location.display_path}'; the rest was not analysed.",
                    )
                )
                break
            nxt = reader.peek_byte()
            if not nxt:
                break
            if nxt[0] not in OPCODE_BYTES:
                trailing_at = reader.pos
                break

    ctx.saw("pytorch-legacy" if legacy else "pickle")
    if any(_imports_joblib(s) for s in streams):
        ctx.saw("joblib")
    for analysis in streams:
        report_stream(analysis, blob, ctx)
    if trailing_at is not None and not legacy and blob.size is not None:
        _report_trailing(blob, trailing_at, ctx)
    return True


_INERT_MAX = 1000
"""Below 1023 opcodes the emulator checks no limit but the depth of MARKs."""


def _inert(blob: Blob, limits: Limits) -> bool:
    """Whether a short blob cannot be a pickle that counts, without emulating it: with no STOP
    byte it never stops, with no newline and no STACK_GLOBAL it imports nothing, without PROTO
    first it is not a cut-short protocol 2+ stream, and with few MARKs it reaches no limit, so
    :func:`_believable` would say no. Torch zips hold several such members: ".format_version"
    is "1", "byteorder" is "little"."""
    if blob.size is None or blob.size > _INERT_MAX:
        return False
    data = blob.head(blob.size)
    return (
        len(data) == blob.size
        and not data.startswith(b"\x80")
        and b"." not in data
        and b"\n" not in data
        and b"\x93" not in data
        and data.count(b"(") <= limits.max_stack
    )


def _believable(a: StreamAnalysis, strict: bool) -> bool:
    if strict:
        return a.stopped or bool(a.imports)
    return a.credible


def _imports_joblib(a: StreamAnalysis) -> bool:
    return any(e.glob.module.startswith("joblib.") for e in a.imports)


def report_stream(analysis: StreamAnalysis, blob: Blob, ctx: ScanContext) -> None:
    for a in analysis.walk():
        payloads = _scan_embedded(a, blob, ctx)
        storages = _tensor_storages(a, payloads)
        _report_imports(a, blob.location, ctx, _plain_rebuilds(a) | storages.keys())
        _report_anomalies(a, blob.location, ctx)
        _report_failure(a, blob.location, ctx)
        _report_payloads(payloads, storages, blob, ctx)


def _report_imports(a: StreamAnalysis, loc: Location, ctx: ScanContext, benign: set[int]) -> None:
    """Findings for what the stream imports; ``benign``: ids of imports that every use in the
    stream showed to be harmless (plain data classes, tensor storages of clean bytes)."""
    called = {id(c.func) for c in a.calls if isinstance(c.func, Global)}
    by_global: dict[Global, list[int]] = defaultdict(list)
    for i, event in enumerate(a.imports):
        if event.glob.qualified in _GETATTR and a.fully_resolved(event.glob):
            continue  # each call was judged as the attribute it reaches
        by_global[event.glob].append(i)
    libraries: dict[str, list[Global]] = defaultdict(list)
    first_library: dict[str, int] = {}
    for glob, indexes in by_global.items():
        if all(id(a.imports[i].glob) in benign for i in indexes):
            continue
        verdict = _classify(glob, ctx.pickle_dialect)
        if verdict.category is Category.SAFE:
            continue
        first = a.imports[indexes[0]]
        if verdict.category is Category.LIBRARY:
            lib = callables.library_of(glob.module)
            libraries[lib].append(glob)
            first_library.setdefault(lib, indexes[0])
            continue
        rule = callables.rule_for()[verdict.category]
        was_called = any(id(e.glob) in called for e in (a.imports[i] for i in indexes))
        times = f" {len(indexes)} times" if len(indexes) > 1 else ""
        action = (
            "and calls it" if was_called else "(a loader imports it even if it is never called)"
        )
        ctx.report(
            rule.finding(
                loc.at(first.offset, first.index),
                f"The pickle imports {glob.module}:{glob.name}{times} {action}: {verdict.why}.",
                evidence=f"{first.opcode} {glob.module!r} {glob.name!r}",
            )
        )
    for lib, globs in libraries.items():
        first = a.imports[first_library[lib]]
        names = ", ".join(str(g) for g in globs[:6]) + (" ..." if len(globs) > 6 else "")
        ctx.report(
            rules.PKL_LIBRARY_CLASS.finding(
                loc.at(first.offset, first.index),
                f"Loading rebuilds {len(globs)} {lib} object type(s), so it runs {lib}'s own "
                f"reconstruction code: {names}.",
                evidence=names,
            )
        )


_PLAIN_VALUES = (str, int, float, bool, bytes)


def _field_names(state: object, *, dunder: bool) -> bool:
    return isinstance(state, PDict) and all(
        type(k) is str and (dunder or not (k.startswith("__") and k.endswith("__")))
        for k, _ in state.items
    )


def _plain_state(state: object) -> bool:
    """A state BUILD writes straight into ``__dict__`` (field names to values), or that and
    slot values, which BUILD sets with setattr: no dunder there (``__class__`` would swap the
    object's class)."""
    if isinstance(state, tuple) and len(state) == 2:
        attrs, slots = state
        return (attrs is None or _field_names(attrs, dunder=True)) and (
            slots is None or _field_names(slots, dunder=False)
        )
    return state is None or _field_names(state, dunder=True)


def _plain_rebuild(call: Call) -> tuple[Global, bool] | None:
    """The plain data class ``call`` rebuilds, and whether it does so the plain way (without
    running any of the class's code); None if it rebuilds no such class."""
    func, args = call.func, call.args
    if not isinstance(func, Global):
        return None
    plain = plain_classes()
    if func.qualified == "copyreg.__newobj__" or func.qualified == "copyreg._reconstructor":
        if not isinstance(args, tuple) or not args or not isinstance(args[0], Global):
            return None
        cls = args[0]
        if plain.get(str(cls)) is not Rebuild.OBJECT:
            return None
        if func.name == "__newobj__":
            return cls, len(args) == 1 and _plain_state(call.state)
        base = args[1] if len(args) == 3 else None
        return cls, (
            isinstance(base, Global)
            and base.qualified == "builtins.object"
            and args[2] is None
            and _plain_state(call.state)
        )
    kind = plain.get(str(func))
    if kind is Rebuild.OBJECT:
        return func, call.opcode == "NEWOBJ" and args == () and _plain_state(call.state)
    if kind is Rebuild.ENUM:
        value = args[0] if isinstance(args, tuple) and len(args) == 1 else args
        return func, (
            call.opcode == "REDUCE"
            and isinstance(args, tuple)
            and len(args) == 1
            and (value is None or type(value) in _PLAIN_VALUES)
            and call.state is None
        )
    return None


@cache
def _plain_names() -> frozenset[str]:
    """The last part of every name that can start a plain rebuild."""
    names = {key.rpartition(":")[2] for key in plain_classes()}
    return frozenset(names | {"__newobj__", "_reconstructor"})


def _plain_rebuilds(a: StreamAnalysis) -> set[int]:
    """Ids of imported plain data classes that every use in the stream rebuilds the plain way:
    each time the class was put on the stack it went into such a rebuild, and nowhere else."""
    plain_uses: dict[int, int] = {}
    spoiled: set[int] = set()
    names = _plain_names()
    for event in a.calls:
        func = event.func
        if event.call is None or not isinstance(func, Global) or func.name not in names:
            continue  # the common case (a tensor rebuild) stops at this test
        found = _plain_rebuild(event.call)
        if found is None:
            continue
        cls, plain = found
        if plain:
            plain_uses[id(cls)] = plain_uses.get(id(cls), 0) + 1
        else:
            spoiled.add(id(cls))
    return {
        key
        for key, uses in plain_uses.items()
        if key not in spoiled and uses >= a.global_pushes.get(key, 1)
    }


_TORCHSCRIPT_HELPERS = frozenset(
    {
        "build_intlist",
        "build_tensorlist",
        "build_doublelist",
        "build_boollist",
        "build_tensor_from_id",
        "restore_type_tag",
    }
)


def _classify(glob: Global, dialect: str) -> callables.Verdict:
    """The policy's verdict, knowing who unpickles: torch.jit.load's unpickler resolves
    ``__torch__.*`` to classes compiled from the archive's own code/ (judged by the TorchScript
    scanner) and ``torch.jit._pickle`` helpers, and imports nothing else."""
    if dialect == "torchscript":
        parts = glob.module.split(".")
        if parts[0] == "__torch__" and not any(
            p.startswith("__") and p.endswith("__") for p in [*parts[1:], *glob.name.split(".")]
        ):
            return callables.Verdict(Category.SAFE, "a TorchScript class of this archive")
        if glob.module == "torch.jit._pickle" and glob.name in _TORCHSCRIPT_HELPERS:
            return callables.Verdict(Category.SAFE, "a TorchScript unpickling helper")
    return callables.classify(glob.module, glob.name)


def _report_anomalies(a: StreamAnalysis, loc: Location, ctx: ScanContext) -> None:
    seen: set[tuple[str, str]] = set()
    for anomaly in a.anomalies:
        if (anomaly.kind, anomaly.detail) in seen:
            continue
        seen.add((anomaly.kind, anomaly.detail))
        ctx.report(
            _anomaly_rules()[anomaly.kind].finding(
                loc.at(anomaly.offset, anomaly.index),
                f"{anomaly.detail[0].upper()}{anomaly.detail[1:]}.",
                evidence=anomaly.detail,
            )
        )


@cache
def _anomaly_rules() -> dict[str, Rule]:
    """The rule for each kind of ``vm.Anomaly`` (built on first use, like
    ``callables.rule_for()``, so that a clean scan never reads the rule catalogue)."""
    return {
        "unresolvable": rules.PKL_UNRESOLVABLE,
        "attribute-write": rules.PKL_ATTRIBUTE_WRITE,
        "container-abuse": rules.PKL_CONTAINER_ABUSE,
    }


def _dangerous_calls(a: StreamAnalysis, dialect: str) -> list[str]:
    out = []
    for call in a.calls:
        func = call.func
        if isinstance(func, Global):
            if _classify(func, dialect).category not in _SAFE_CATEGORIES:
                out.append(f"{call.opcode} of {func} at offset {call.offset}")
        elif not isinstance(func, Call):
            out.append(f"{call.opcode} of an unresolved callable at offset {call.offset}")
    return out


def _report_failure(a: StreamAnalysis, loc: Location, ctx: ScanContext) -> None:
    if a.limit is not None:
        ctx.report(
            rules.PKL_LIMIT.finding(
                loc.at(a.error_offset),
                f"Analysis stopped: {a.limit}. Everything before that point was checked.",
                evidence=a.limit,
            )
        )
        return
    if a.error is None:
        return
    dangerous = _dangerous_calls(a, ctx.pickle_dialect)
    if dangerous:
        ctx.report(
            rules.PKL_BROKEN_AFTER_CALL.finding(
                loc.at(a.error_offset),
                f"The stream is broken ({a.error}) after {dangerous[0]}; pickle.load would run "
                "that call before it fails.",
                evidence="; ".join(dangerous[:5]),
            )
        )
    else:
        ctx.report(
            rules.PKL_MALFORMED.finding(
                loc.at(a.error_offset),
                f"The pickle stream could not be read to its end: {a.error}.",
                evidence=a.error,
            )
        )


class _Payload:
    """An embedded pickle or archive, what it holds and what scanning it found."""

    __slots__ = ("emb", "findings", "what")

    def __init__(self, emb: Embedded, what: str, findings: list[Finding]) -> None:
        self.emb = emb
        self.what = what
        self.findings = findings

    @property
    def clean(self) -> bool:
        return not any(f.severity >= Severity.LOW for f in self.findings)


def _scan_embedded(a: StreamAnalysis, blob: Blob, ctx: ScanContext) -> list[_Payload]:
    """Scan each embedded pickle or archive of the stream; reporting waits for the caller,
    which knows what consumes each one."""
    payloads: list[_Payload] = []
    for emb in a.embedded:
        if ctx.depth >= ctx.limits.max_depth:
            ctx.report(
                rules.PKL_LIMIT.finding(
                    blob.location.at(emb.offset if emb.offset >= 0 else None),
                    f"An embedded pickle is nested more than {ctx.limits.max_depth} levels "
                    "deep and was not analysed.",
                )
            )
            break
        where = f"@{emb.offset}" if emb.offset >= 0 else ""
        loc = blob.location.inner(f"<embedded pickle{where}, {emb.encoding}>")
        inner: Blob | None
        if emb.data is not None:
            inner = BytesBlob(emb.data, loc)
        else:
            inner = window_of(blob, emb.offset, emb.length, loc)
        if inner is None:
            ctx.report(
                rules.PKL_EMBEDDED.finding(
                    blob.location.at(emb.offset),
                    f"A {emb.length}-byte string starts like a pickle but sits in a stream that "
                    "cannot be re-read, so it was not analysed.",
                    severity=Severity.HIGH,
                )
            )
            continue
        nested = ScanContext(ctx.limits, ctx.dispatch, depth=ctx.depth + 1, handoff=ctx.handoff)
        if inner.head(4) == b"PK\x03\x04":
            found, what = ctx.dispatch(inner, nested), "a zip archive (torch.save's format)"
        else:
            found, what = scan_pickle_blob(inner, nested, strict=True), "a pickle stream"
        if found:
            payloads.append(_Payload(emb, what, nested.findings))
    return payloads


_LOAD_FROM_BYTES = "torch.storage._load_from_bytes"


def _tensor_storages(a: StreamAnalysis, payloads: list[_Payload]) -> dict[int, list[_Payload]]:
    """How ``pickle.dumps(tensor)`` stores a storage: ``torch.storage._load_from_bytes(b)``,
    which is ``torch.load`` of ``b``, a legacy torch.save file. Judge the pair: by the ids of
    the imports of ``_load_from_bytes`` whose every use reads bytes that were scanned here and
    found clean, the payloads they read. Any other use (bytes not scanned, not clean, not
    bytes at all) leaves the import to the denylist."""
    by_id = {id(p.emb.data): p for p in payloads if p.emb.data is not None}
    by_offset = {p.emb.offset: p for p in payloads if p.emb.offset >= 0}
    by_value = {p.emb.data: p for p in payloads if p.emb.data is not None}
    read: dict[int, list[_Payload]] = {}
    spoiled: set[int] = set()
    for event in a.calls:
        func, call = event.func, event.call
        if not isinstance(func, Global) or func.name != "_load_from_bytes" or call is None:
            continue
        if func.qualified != _LOAD_FROM_BYTES:
            continue
        args = call.args
        arg = args[0] if isinstance(args, tuple) and len(args) == 1 else None
        payload = None
        if isinstance(arg, bytes):
            payload = by_id.get(id(arg)) or by_value.get(arg)
        elif isinstance(arg, Ref) and not arg.text:
            payload = by_offset.get(arg.offset)
        if payload is None or not payload.clean or call.state is not None:
            spoiled.add(id(func))
        else:
            read.setdefault(id(func), []).append(payload)
    return {
        key: found
        for key, found in read.items()
        if key not in spoiled and len(found) >= a.global_pushes.get(key, 1)
    }


def _report_payloads(
    payloads: list[_Payload], storages: dict[int, list[_Payload]], blob: Blob, ctx: ScanContext
) -> None:
    tensors = {id(p) for found in storages.values() for p in found}
    for p in payloads:
        if id(p) in tensors:
            continue
        emb = p.emb
        ctx.report(
            rules.PKL_EMBEDDED.finding(
                blob.location.at(emb.offset if emb.offset >= 0 else None),
                f"A {emb.length}-byte {emb.encoding} string holds {p.what}; a loader such as "
                "pickle.loads or torch.load would read it. Its own findings follow.",
                evidence=f"{emb.encoding} string of {emb.length} bytes",
            )
        )
        ctx.findings.extend(p.findings)
    if tensors:
        first = min((p.emb for p in payloads if id(p) in tensors), key=lambda e: e.offset)
        size = sum(p.emb.length for p in payloads if id(p) in tensors)
        ctx.report(
            rules.PKL_EMBEDDED.finding(
                blob.location.at(first.offset if first.offset >= 0 else None),
                f"{len(tensors)} tensor storage(s) ({size} bytes) are kept the way "
                "pickle.dumps(tensor) keeps them: as legacy torch.save files that "
                "torch.storage._load_from_bytes reads with torch.load. Each was scanned and "
                "holds only tensor data.",
                evidence=f"{len(tensors)} storages read by {_LOAD_FROM_BYTES}",
                severity=Severity.LOW,
            )
        )


def _report_trailing(blob: Blob, at: int, ctx: ScanContext) -> None:
    left = (blob.size or 0) - at
    if left <= 0:
        return
    loc = blob.location.inner(f"<trailing data@{at}>")
    tail = window_of(blob, at, left, loc)
    known = tail is not None and ctx.scan_nested(tail)
    ctx.report(
        rules.PKL_TRAILING_DATA.finding(
            blob.location.at(at),
            f"{left} bytes follow the last pickle stream"
            + (" and hold another format, reported on its own." if known else "."),
        )
    )


def _walk_legacy_storages(
    streams: list[StreamAnalysis], reader: Reader, blob: Blob, ctx: ScanContext
) -> None:
    """Skip the storages a legacy torch.save file has after its pickles, checking each size;
    bytes left over after the last storage are scanned for hidden content."""
    sizes: dict[str, tuple[int, int]] = {}
    for pid in streams[3].persistent_ids:
        if (
            isinstance(pid, tuple)
            and len(pid) >= 5
            and pid[0] == "storage"
            and isinstance(pid[1], Global)
            and isinstance(pid[2], str)
            and isinstance(pid[4], int)
        ):
            elsize = _LEGACY_STORAGE_SIZES.get(pid[1].name.rpartition(".")[2])
            if elsize is not None:
                sizes[pid[2]] = (elsize, pid[4])
    keys = streams[4].result
    problem = None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        problem = "the storage key list is not a list of strings"
    else:
        for key in keys:
            if key not in sizes:
                problem = f"storage {key!r} has no declared type and size"
                break
            elsize, numel = sizes[key]
            at = reader.pos
            try:
                (count,) = struct.unpack("<q", reader.read(8))
                if count != numel or count < 0:
                    problem = f"storage {key!r} at offset {at} holds {count} elements, not {numel}"
                    break
                reader.skip(count * elsize)
            except PickleError as e:
                problem = f"storage {key!r} at offset {at} is cut short ({e})"
                break
    if problem is not None:
        ctx.report(
            rules.PT_LEGACY_LAYOUT.finding(
                blob.location.at(reader.pos),
                f"The storages of this legacy torch checkpoint could not be followed: {problem}.",
                evidence=problem,
            )
        )
        return
    if blob.size is not None and reader.pos < blob.size:
        left = blob.size - reader.pos
        loc = blob.location.inner(f"<after storages@{reader.pos}>")
        tail = window_of(blob, reader.pos, left, loc)
        if tail is not None:
            ctx.scan_nested(tail)
        ctx.report(
            rules.PT_LEGACY_LAYOUT.finding(
                blob.location.at(reader.pos),
                f"{left} bytes follow the last storage; torch never reads them.",
            )
        )


def globals_in(streams: Iterable[StreamAnalysis]) -> list[str]:
    """Every import in the streams as ``module:name`` (for tools and tests)."""
    return [str(e.glob) for s in streams for a in s.walk() for e in a.imports]
