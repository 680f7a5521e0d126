"""TorchScript archives: the ``code/`` Python sources that ``torch.jit.load`` compiles and runs.

A TorchScript file is a torch zip (``<prefix>/data.pkl``, ``<prefix>/constants.pkl``,
``<prefix>/code/__torch__/....py``, ``<prefix>/version``). The pickles in it are scanned by the
zip scanner like any member; this scanner reads the code. Every archive with code gets MT-TS-001
at medium: the model is a program, not just weights. The code is TorchScript, a restricted Python
subset compiled by torch's own frontend, so calls into the OS are not expected; each of these
raises a finding at high:

- loading native code: ``load_library`` anywhere, ``torch.ops.<ns>`` or ``torch.classes.<ns>``
  from a namespace that ships with neither torch nor its domain libraries (the op comes from a
  custom library that must be present and trusted);
- reaching Python's machinery: ``__import__``, ``eval``, ``exec``, ``compile``, ``open``,
  ``globals``, ``builtins``, ``os``, ``subprocess``, ``sys``, ``importlib``, sockets and the like,
  import statements of such modules, and dunder attributes that lead to them (``__globals__``,
  ``__builtins__``, ``__subclasses__`` ...);
- reading or writing files through torch: ``torch.load``, ``torch.save``, ``torch.from_file``.

Code is parsed with :mod:`ast` (never compiled or run); a file that does not parse is searched as
text for the same names instead.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from modeltrust import rules
from modeltrust.findings import Location, Severity
from modeltrust.scanners.common import sniff
from modeltrust.scanners.common.zip import (
    ZipEntry,
    read_zip_member,
    zip_entries,
)
from modeltrust.scanners.interface import (
    Blob,
    CorruptData,
    LimitExceeded,
    MiB,
    ScanContext,
    Scanner,
)

_LOCAL = b"PK\x03\x04"
_CODE = re.compile(r"^(?P<prefix>(?:[^/]+/)*)code/.+\.py$")
MAX_CODE_FILE = 8 * MiB
"""Bytes of one code file analysed; a bigger one is reported as not analysed."""
MAX_CODE_TOTAL = 64 * MiB
_MAX_FINDINGS = 50

KNOWN_OP_NAMESPACES = frozenset(
    {
        "aten",
        "prim",
        "prims",
        "quantized",
        "_quantized",
        "quantized_decomposed",
        "profiler",
        "prepacked",
        "xnnpack",
        "mkldnn",
        "mkl",
        "onednn",
        "fbgemm",
        "sparse",
        "vulkan_prepack",
        "metal_prepack",
        "_caffe2",
        "c10d_functional",
        "_c10d_functional",
        "_c10d_functional_autograd",
        "higher_order",
        "rngprims",
        "cuda",
        "debugprims",
        "torchvision",
        "torchaudio",
        "torchtext",
    }
)
"""``torch.ops`` namespaces of torch itself and of its domain libraries."""

KNOWN_CLASS_NAMESPACES = frozenset(
    {"quantized", "xnnpack", "sparse", "onednn", "mkldnn", "torchaudio", "torchtext"}
)
"""``torch.classes`` namespaces of torch itself and of its domain libraries."""

_DANGEROUS_NAMES = frozenset(
    {
        "__import__",
        "eval",
        "exec",
        "execfile",
        "compile",
        "open",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "__builtins__",
        "__loader__",
        "__spec__",
    }
)
_DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "subprocess",
        "sys",
        "builtins",
        "importlib",
        "runpy",
        "socket",
        "shutil",
        "ctypes",
        "pickle",
        "marshal",
        "pty",
        "pathlib",
        "urllib",
        "requests",
        "multiprocessing",
    }
)
"""Module names whose use (as the head of a dotted name) is reported. Plausible local variable
names (``io``, ``code``, ``nt``) are left out: TorchScript would not resolve them as modules."""
_RPC_NAMES = frozenset({"rpc_async", "rpc_sync", "rpc_remote"})
_DANGEROUS_ATTRS = frozenset(
    {
        "__globals__",
        "__builtins__",
        "__subclasses__",
        "__class__",
        "__bases__",
        "__base__",
        "__mro__",
        "__code__",
        "__dict__",
        "__getattribute__",
        "__reduce__",
        "__reduce_ex__",
        "__import__",
        "__loader__",
        "__closure__",
        "__func__",
        "__self__",
        "__module__",
        "__init_subclass__",
    }
)
_TORCH_FILE_CALLS = frozenset(
    {"load", "save", "from_file", "_load_for_lite_interpreter", "hub", "package"}
)
_TOKEN = re.compile(r"(?<![\w.])[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*")
"""Dotted names, for code that does not parse."""


@dataclass(frozen=True, slots=True)
class Suspicious:
    what: str
    """The name or call, as written."""
    why: str
    line: int | None


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _judge_dotted(name: str) -> str | None:
    """Why the dotted name ``name`` is suspicious in TorchScript code, or None."""
    parts = name.split(".")
    if "load_library" in parts:
        return "loads a native library"
    if parts[0] in _DANGEROUS_NAMES and len(parts) == 1:
        return "reaches Python's import or evaluation machinery"
    if parts[0] in _DANGEROUS_MODULES:
        return f"uses the {parts[0]} module, which has no place in TorchScript"
    for i, part in enumerate(parts[:-1]):
        if part == "ops" and (i == 0 or parts[i - 1] == "torch"):
            ns = parts[i + 1]
            if ns not in KNOWN_OP_NAMESPACES:
                return f"calls ops of namespace '{ns}', which need a custom op library"
        if part == "classes" and i > 0 and parts[i - 1] == "torch":
            ns = parts[i + 1]
            if ns not in KNOWN_CLASS_NAMESPACES:
                return f"uses custom classes of namespace '{ns}', which need a native library"
    if parts[-1] in _RPC_NAMES or name.startswith("torch.distributed.rpc"):
        return "makes remote procedure calls over the network"
    if parts[0] in ("torch", "aten") and len(parts) >= 2 and parts[1] in _TORCH_FILE_CALLS:
        return "reads or writes files through torch"
    if len(parts) >= 3 and parts[:2] == ["ops", "aten"] and parts[2] in _TORCH_FILE_CALLS:
        return "reads or writes files through torch"
    return None


def _judge_token(name: str) -> Suspicious | None:
    why = _judge_dotted(name)
    if why is None and set(name.split(".")) & _DANGEROUS_ATTRS:
        why = "reaches a dunder attribute that leads to arbitrary code"
    return Suspicious(name, why, None) if why is not None else None


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[Suspicious] = []

    def _add(self, what: str, why: str, node: ast.AST) -> None:
        self.found.append(Suspicious(what, why, getattr(node, "lineno", None)))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = _dotted(node)
        if node.attr in _DANGEROUS_ATTRS:
            self._add(
                name or node.attr, "reaches a dunder attribute that leads to arbitrary code", node
            )
        elif name is not None:
            why = _judge_dotted(name)
            if why is not None:
                self._add(name, why, node)
                return  # the inner part of the chain would only repeat this
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        why = _judge_dotted(node.id)
        if why is not None:
            self._add(node.id, why, node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module:
            self._import(node.module, node)

    def _import(self, module: str, node: ast.AST) -> None:
        top = module.split(".", 1)[0]
        if top not in ("torch", "typing", "math", "__torch__"):
            self._add(
                f"import {module}", "imports a module, which TorchScript code never does", node
            )

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("getattr", "setattr", "delattr", "hasattr"):
            attr = node.args[1] if len(node.args) > 1 else None
            literal = isinstance(attr, ast.Constant) and isinstance(attr.value, str)
            if not literal or (isinstance(attr, ast.Constant) and str(attr.value).startswith("__")):
                self._add(func.id, "looks an attribute up by a computed or dunder name", node)
        self.generic_visit(node)


def analyse_code(source: str) -> tuple[list[Suspicious], bool]:
    """Suspicious names in TorchScript source, and whether it parsed as Python."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [s for m in _TOKEN.finditer(source) if (s := _judge_token(m.group(0)))], False
    visitor = _Visitor()
    try:
        visitor.visit(tree)
    except RecursionError:
        visitor.found.append(
            Suspicious("<deeply nested code>", "is too deeply nested to analyse", None)
        )
    return visitor.found, True


# --- reading zip members --------------------------------------------------------------------------
def code_entries(entries: list[ZipEntry]) -> Iterator[ZipEntry]:
    """Members that are TorchScript code: ``<prefix>code/...py`` next to a ``data.pkl`` or
    ``constants.pkl`` of the same prefix."""
    names = {e.name for e in entries}
    for e in entries:
        m = _CODE.match(e.name)
        if m is None:
            continue
        prefix = m.group("prefix")
        if f"{prefix}data.pkl" in names or f"{prefix}constants.pkl" in names:
            yield e


def _not_analysed(loc: Location, name: str, why: str, ctx: ScanContext) -> None:
    ctx.report(
        rules.TS_CODE.finding(
            loc,
            f"TorchScript code file {name!r} could not be analysed ({why}); treat the archive "
            "as untrusted until the file is reviewed by hand.",
            evidence=why,
            severity=Severity.HIGH,
        )
    )


class TorchScriptScanner(Scanner):
    name = "torchscript"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.torchscript(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        entries = zip_entries(blob, b"code/")
        if entries is None:
            return False  # not TorchScript; the zip scanner reports broken archives
        code = list(code_entries(entries[: ctx.limits.max_members]))
        if not code:
            return False
        ctx.saw("torchscript")
        total = 0
        reported = 0
        for entry in code:
            loc = blob.location.inner(entry.name)
            if total >= MAX_CODE_TOTAL:
                _not_analysed(loc, entry.name, f"over {MAX_CODE_TOTAL} bytes of code in all", ctx)
                continue
            try:
                data = read_zip_member(blob, entry, ctx.limits, MAX_CODE_FILE)
            except (LimitExceeded, CorruptData) as e:
                _not_analysed(loc, entry.name, str(e), ctx)
                continue
            total += len(data)
            found, parsed = analyse_code(data.decode("utf-8", "replace"))
            seen: set[tuple[str, str]] = set()
            for s in found:
                if (s.what, s.why) in seen or reported >= _MAX_FINDINGS:
                    continue
                seen.add((s.what, s.why))
                reported += 1
                self._suspicious(loc, entry.name, s, parsed, ctx)
        names = ", ".join(repr(e.name) for e in code[:3])
        more = f" and {len(code) - 3} more" if len(code) > 3 else ""
        ctx.report(
            rules.TS_CODE.finding(
                blob.location,
                f"'{blob.location.display_path}' is a TorchScript archive with {len(code)} code "
                f"file(s) ({names}{more}) that torch.jit.load compiles and runs. Review them if "
                "the model's source is not trusted.",
                evidence=f"code files: {len(code)}",
            )
        )
        return True

    @staticmethod
    def _suspicious(
        loc: Location, name: str, s: Suspicious, parsed: bool, ctx: ScanContext
    ) -> None:
        where = f" on line {s.line}" if s.line is not None else ""
        how = "" if parsed else " (the file is not valid Python, so it was searched as text)"
        ctx.report(
            rules.TS_CODE.finding(
                loc,
                f"TorchScript code {name!r}{where} {s.why}: {s.what!r}{how}. Do not load this "
                "model unless you trust its author and have read this code.",
                evidence=s.what,
                severity=Severity.HIGH,
            )
        )
