"""The analysis of one Python source file: its syntax tree from :func:`ast.parse` (nothing is
imported, compiled or run), calls resolved to qualified names through aliases and assignments,
constant payloads decoded and analysed in turn."""

from __future__ import annotations

import ast
import base64
import binascii
import bz2
import codecs
import io
import lzma
import posixpath
import re
import tokenize
import warnings
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from modeltrust import rules
from modeltrust.findings import Finding, Location, Severity
from modeltrust.rules import Rule
from modeltrust.scanners.remote_code.names import (
    _ALWAYS_BUILTIN,
    _BUILTIN_NAMES,
    _CODE_BUILDERS,
    _CRITICAL,
    _DANGER_WORDS,
    _DANGEROUS_ROOTS,
    _DECODER_METHODS,
    _DECODERS,
    _DIR_MAKERS,
    _ENCODED_CODECS,
    _ENCODED_LITERAL,
    _EVALS,
    _EXEC_MODULES,
    _EXEC_NAMES,
    _FILE_CHANGES,
    _FILE_LOADERS,
    _FOLD_BUDGET,
    _FOLD_DEPTH,
    _FOLDABLE_METHODS,
    _HIDING_ENCODINGS,
    _HIGH,
    _IMPORTERS,
    _KNOWN_PACKAGES,
    _MAX_CANDIDATES,
    _OPENERS,
    _PATH_METHODS,
    _PATH_TYPES,
    _PICKLE_LOADERS,
    _QUALIFY_DEPTH,
    _READ_METHODS,
    _REFERENCED,
    _SAFE_YAML_LOADERS,
    _SAVE_FUNCTION,
    _SENSITIVE_ENV,
    _UPLOAD_METHODS,
    _WRITE_METHODS,
    LONG_LITERAL,
    MAX_DECODED,
    MAX_FINDINGS,
    MAX_PAYLOAD_DEPTH,
    MAX_SOURCE,
    _absolute,
    _in_modules,
    _is_network,
    _is_process,
    _norm,
    _Rating,
    _sensitive,
    _short,
)

# --- scopes --------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Scope:
    kind: str
    name: str
    parent: _Scope | None
    saving: bool = False
    bound: set[str] = field(default_factory=set)
    aliases: dict[str, set[str]] = field(default_factory=dict)
    assigns: dict[str, list[tuple[ast.expr, _Scope]]] = field(default_factory=dict)
    globals_: set[str] = field(default_factory=set)
    stars: list[str] = field(default_factory=list)

    def binding(self, name: str) -> _Scope | None:
        """The scope whose ``name`` a use in this scope refers to (class bodies are skipped by
        the functions nested in them, as in Python)."""
        scope: _Scope | None = self
        first = True
        while scope is not None:
            if (first or scope.kind != "class") and name in scope.bound:
                return scope
            first = False
            scope = scope.parent
        return None


@dataclass(frozen=True, slots=True)
class _Folded:
    """A value computed from constants without running anything."""

    value: str | bytes
    built: bool
    """Produced by operations (concatenation, slicing, decoding), not written as one literal."""
    decoded: str | None = None
    """The decoding applied on the way (``base64``, ``zlib`` ...)."""


@dataclass(slots=True)
class _Hit:
    rule: Rule
    severity: Severity
    line: int
    text: str
    evidence: str


_SCOPE_FIELDS: dict[type[ast.AST], frozenset[str]] = {
    ast.FunctionDef: frozenset({"args", "body"}),
    ast.AsyncFunctionDef: frozenset({"args", "body"}),
    ast.Lambda: frozenset({"args", "body"}),
    ast.ClassDef: frozenset({"body"}),
}


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _as_load(target: ast.expr) -> ast.expr:
    """The value of an assignment target, as an expression (for ``x += v``)."""
    if isinstance(target, ast.Name):
        return ast.Name(id=target.id, ctx=ast.Load())
    if isinstance(target, ast.Attribute):
        return ast.Attribute(value=target.value, attr=target.attr, ctx=ast.Load())
    return target


def _preview(value: str | bytes, n: int = 120) -> str:
    text = value if isinstance(value, str) else value.decode("latin-1")
    text = " ".join(text.split())
    return repr(text[:n] + ("..." if len(text) > n else ""))


def _bounded_decompress(kind: str, data: bytes) -> bytes | None:
    try:
        if kind in {"zlib", "gzip"}:
            d = zlib.decompressobj(47 if kind == "gzip" else 15)
            return d.decompress(data, MAX_DECODED)
        if kind == "bz2":
            return bz2.BZ2Decompressor().decompress(data, MAX_DECODED)
        return lzma.LZMADecompressor().decompress(data, MAX_DECODED)
    except (zlib.error, OSError, ValueError, EOFError, lzma.LZMAError):
        return None


def _decode_constant(
    q: str, value: str | bytes, extra: str | None
) -> tuple[bytes | str, str] | None:
    """Apply the decoder ``q`` to a constant, bounded; None if it fails or is not supported."""
    if len(value) > MAX_SOURCE:
        return None
    raw = value.encode("latin-1", "replace") if isinstance(value, str) else value
    try:
        if q in {"builtins.bytes.fromhex", "builtins.bytearray.fromhex"}:
            return bytes.fromhex(raw.decode("ascii")), "hex"
        if q in {"binascii.unhexlify", "binascii.a2b_hex", "base64.b16decode"}:
            return binascii.unhexlify(b"".join(raw.split())), "hex"
        if q in {
            "base64.b64decode",
            "base64.decodebytes",
            "base64.decodestring",
            "base64.standard_b64decode",
            "binascii.a2b_base64",
        }:
            return base64.b64decode(raw), "base64"
        if q == "base64.urlsafe_b64decode":
            return base64.urlsafe_b64decode(raw), "base64"
        if q == "base64.b32decode":
            return base64.b32decode(raw), "base32"
        if q == "base64.b85decode":
            return base64.b85decode(raw), "base85"
        if q == "base64.a85decode":
            return base64.a85decode(raw), "ascii85"
        if q in {"zlib.decompress", "gzip.decompress", "bz2.decompress", "lzma.decompress"}:
            kind = q.split(".")[0]
            out = _bounded_decompress(kind, raw)
            return None if out is None else (out, kind)
        if q == "codecs.decode" and extra is not None:
            enc = extra.lower().replace("-", "_")
            if enc in {"rot13", "rot_13"} and isinstance(value, str):
                return codecs.decode(value, "rot13"), "rot13"
            if enc in {"hex", "hex_codec"}:
                return binascii.unhexlify(b"".join(raw.split())), "hex"
            if enc in {"base64", "base_64", "base64_codec"}:
                return base64.b64decode(raw), "base64"
            if enc in {"zlib", "zip", "zlib_codec", "bz2", "bz2_codec"}:
                kind = "bz2" if enc.startswith("bz2") else "zlib"
                out = _bounded_decompress(kind, raw)
                return None if out is None else (out, kind)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return None


# --- the analysis --------------------------------------------------------------------------------


@dataclass(slots=True)
class PythonReport:
    """What one Python file does: findings, imported top-level modules, relative imports."""

    findings: list[Finding]
    imports: list[str]
    relative: list[tuple[int, str]]


class _Analyser:
    def __init__(self, tree: ast.Module, lines: list[str]) -> None:
        self.tree = tree
        self.lines = lines
        self.module = _Scope("module", "<module>", None)
        self.scopes: dict[int, _Scope] = {}
        self.unshadowable: set[str] = set()
        self.attr_assigns: dict[str, list[tuple[ast.expr, _Scope]]] = {}
        self.attr_aliases: dict[str, set[str]] = {}
        self.flows: list[tuple[tuple[int, str], ast.expr, _Scope]] = []
        self.imports: set[str] = set()
        self.relative: list[tuple[int, str]] = []
        self.hits: dict[tuple[str, int, int, str], _Hit] = {}
        self.payloads: list[tuple[int, str, str | bytes]] = []
        self._inner: set[int] = set()
        self._tainted: set[tuple[int, str]] | None = None
        self._folded: dict[tuple[int, int], _Folded | None] = {}
        self._folding: set[tuple[int, int]] = set()
        self._fold_budget = _FOLD_BUDGET

    # -- walking ---------------------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[ast.AST, _Scope, bool]]:
        """Every node with its scope and whether it sits in an annotation; iterative, so deep
        trees cannot exhaust the interpreter stack."""
        stack: list[tuple[ast.AST, _Scope, bool]] = [(self.tree, self.module, False)]
        while stack:
            node, scope, annot = stack.pop()
            yield node, scope, annot
            inner_fields = _SCOPE_FIELDS.get(type(node))
            inner = self._scope_of(node, scope) if inner_fields else None
            children: list[tuple[ast.AST, _Scope, bool]] = []
            for name, value in ast.iter_fields(node):
                s = inner if inner is not None and inner_fields and name in inner_fields else scope
                a = annot or name in {"annotation", "returns"}
                if isinstance(value, list):
                    children.extend((c, s, a) for c in value if isinstance(c, ast.AST))
                elif isinstance(value, ast.AST):
                    children.append((value, s, a))
            stack.extend(reversed(children))

    def _scope_of(self, node: ast.AST, parent: _Scope) -> _Scope:
        found = self.scopes.get(id(node))
        if found is None:
            if isinstance(node, ast.ClassDef):
                found = _Scope("class", node.name, parent, parent.saving)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                saving = parent.saving or _SAVE_FUNCTION.match(node.name) is not None
                found = _Scope("function", node.name, parent, saving)
            else:
                found = _Scope("lambda", "<lambda>", parent, parent.saving)
            self.scopes[id(node)] = found
        return found

    def _all_scopes(self) -> list[_Scope]:
        return [self.module, *self.scopes.values()]

    # -- pass 1: bindings, imports, assignments ----------------------------------------------------

    def _bind(self, scope: _Scope, name: str) -> _Scope:
        target = self.module if name in scope.globals_ else scope
        target.bound.add(name)
        return target

    def _alias(self, scope: _Scope, name: str, qualified: str) -> None:
        target = self._bind(scope, name)
        target.aliases.setdefault(name, set()).add(_norm(qualified))

    def _assign(self, target: ast.expr, value: ast.expr, scope: _Scope) -> None:
        stack = [target]
        while stack:
            t = stack.pop()
            if isinstance(t, ast.Name):
                b = self._bind(scope, t.id)
                b.assigns.setdefault(t.id, []).append((value, scope))
                self.flows.append(((id(b), t.id), value, scope))
            elif isinstance(t, ast.Tuple | ast.List):
                stack.extend(t.elts)
            elif isinstance(t, ast.Starred):
                stack.append(t.value)
            elif isinstance(t, ast.Attribute):
                text = _dotted(t)
                if text is not None:
                    self.attr_assigns.setdefault(text, []).append((value, scope))
                    self.flows.append(((0, text), value, scope))
            elif isinstance(t, ast.Subscript):
                root: ast.expr = t
                while isinstance(root, ast.Subscript):
                    root = root.value
                key = self._key(root, scope)
                if key is not None:
                    self.flows.append((key, value, scope))

    def _key(self, node: ast.expr, scope: _Scope) -> tuple[int, str] | None:
        """The variable a name or attribute chain reads, for def-use tracking."""
        if isinstance(node, ast.Name):
            b = scope.binding(node.id)
            return None if b is None else (id(b), node.id)
        if isinstance(node, ast.Attribute):
            text = _dotted(node)
            return None if text is None else (0, text)
        return None

    def _collect(self, node: ast.AST, scope: _Scope) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                self.imports.add(top)
                if a.asname:
                    self._alias(scope, a.asname, a.name)
                else:
                    self._alias(scope, top, top)
        elif isinstance(node, ast.ImportFrom):
            self._collect_from(node, scope)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self._bind(scope, node.name)
        elif isinstance(node, ast.arg):
            self._bind(scope, node.arg)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            scope.globals_.update(node.names)
            self.unshadowable.update(node.names)
        elif isinstance(node, ast.Delete):
            self.unshadowable.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                self._assign(t, node.value, scope)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._assign(node.target, node.value, scope)
            elif isinstance(node.target, ast.Name):
                self._bind(scope, node.target.id)
        elif isinstance(node, ast.AugAssign):
            # x += v: x keeps its old value too, so it is not a constant (the BinOp folds to
            # None through the cycle guard) but still carries whatever v carries.
            current = ast.BinOp(left=_as_load(node.target), op=node.op, right=node.value)
            self._assign(node.target, current, scope)
        elif isinstance(node, ast.NamedExpr):
            self._assign(node.target, node.value, scope)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            self._assign(node.target, node.iter, scope)
        elif isinstance(node, ast.withitem):
            if node.optional_vars is not None:
                self._assign(node.optional_vars, node.context_expr, scope)
        elif isinstance(node, ast.ExceptHandler):
            if node.name:
                self._bind(scope, node.name)
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and scope.kind == "function"
            and scope.parent is not None
        ):
            self.flows.append(((id(scope.parent), scope.name + "()"), node.value, scope))

    def _collect_from(self, node: ast.ImportFrom, scope: _Scope) -> None:
        module = node.module or ""
        if node.level:
            if module:
                self.relative.append((node.level, module))
            else:
                self.relative.extend((node.level, a.name) for a in node.names if a.name != "*")
            prefix = "." * node.level + module
            for a in node.names:
                if a.name != "*":
                    self._alias(scope, a.asname or a.name, f"{prefix}.{a.name}")
            return
        self.imports.add(module.split(".")[0])
        for a in node.names:
            if a.name == "*":
                self.module.stars.append(_norm(module))
            else:
                self._alias(scope, a.asname or a.name, f"{module}.{a.name}")

    def _resolve_aliases(self) -> None:
        """``run = os.system`` makes ``run`` an alias too (a few rounds, for chains)."""
        for _ in range(4):
            changed = False
            for scope in self._all_scopes():
                for name, values in scope.assigns.items():
                    changed |= self._add_aliases(scope.aliases, name, values)
            for text, values in self.attr_assigns.items():
                changed |= self._add_aliases(self.attr_aliases, text, values)
            if not changed:
                return

    def _add_aliases(
        self, table: dict[str, set[str]], key: str, values: list[tuple[ast.expr, _Scope]]
    ) -> bool:
        changed = False
        for value, vscope in values[:8]:
            if not isinstance(value, ast.Name | ast.Attribute | ast.Call | ast.Subscript):
                continue
            found = self.qualify(value, vscope, call=False)
            if found:
                current = table.setdefault(key, set())
                before = len(current)
                current.update(sorted(found)[: max(0, _MAX_CANDIDATES - before)])
                changed |= len(current) != before
        return changed

    # -- name resolution ---------------------------------------------------------------------------

    def qualify(self, node: ast.expr, scope: _Scope, *, call: bool, depth: int = 0) -> set[str]:
        """The qualified names ``node`` may evaluate to (several where bindings differ)."""
        if depth > _QUALIFY_DEPTH:
            return set()
        out: set[str] = set()
        if isinstance(node, ast.Name):
            out = self._qualify_name(node.id, scope, call=call)
        elif isinstance(node, ast.Attribute):
            text = _dotted(node)
            if text is not None and text in self.attr_aliases:
                out |= self.attr_aliases[text]
            for base in self.qualify(node.value, scope, call=False, depth=depth + 1):
                if not base.startswith("<"):
                    out.add(_norm(f"{base}.{node.attr}"))
        elif isinstance(node, ast.Call):
            out = self._qualify_call(node, scope, depth)
        elif isinstance(node, ast.Subscript):
            out = self._qualify_subscript(node, scope, depth)
        elif isinstance(node, ast.NamedExpr):
            out = self.qualify(node.value, scope, call=call, depth=depth + 1)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = self.qualify(node.left, scope, call=False, depth=depth + 1)
            if any(q.startswith("pathlib.") and q.endswith("()") for q in left):
                out = {"pathlib.Path()"}
        if len(out) > _MAX_CANDIDATES:
            out = set(sorted(out)[:_MAX_CANDIDATES])
        return out

    def _qualify_name(self, name: str, scope: _Scope, *, call: bool) -> set[str]:
        out: set[str] = set()
        b = scope.binding(name)
        if b is not None:
            out |= b.aliases.get(name, set())
        elif name == "__builtins__":
            out.add("builtins")
        elif name in _BUILTIN_NAMES:
            out.add("builtins." + name)
        else:
            out.update(f"{m}.{name}" for m in self.module.stars)
        if name in _BUILTIN_NAMES and (
            (name in _ALWAYS_BUILTIN and (call or b is self.module)) or name in self.unshadowable
        ):
            out.add("builtins." + name)
        return out

    def _qualify_call(self, node: ast.Call, scope: _Scope, depth: int) -> set[str]:
        out: set[str] = set()
        funcs = self.qualify(node.func, scope, call=True, depth=depth + 1)
        args = node.args
        if funcs & _IMPORTERS and args:
            name = self.fold(args[0], scope)
            if name is not None and isinstance(name.value, str) and name.value[:1] != ".":
                out.add(_norm(name.value))
        if "builtins.getattr" in funcs and len(args) >= 2:
            attr = self.fold(args[1], scope)
            if attr is not None and isinstance(attr.value, str):
                for base in self.qualify(args[0], scope, call=False, depth=depth + 1):
                    if base == "<globals>":
                        out |= self._qualify_name(attr.value, self.module, call=False)
                    elif not base.startswith("<"):
                        out.add(_norm(f"{base}.{attr.value}"))
        if funcs & {"builtins.globals", "builtins.locals"} or (
            "builtins.vars" in funcs and not args
        ):
            out.add("<globals>")
        if "builtins.vars" in funcs and args:
            out |= self.qualify(args[0], scope, call=False, depth=depth + 1)
        if "importlib.reload" in funcs and args:
            out |= self.qualify(args[0], scope, call=False, depth=depth + 1)
        for q in funcs:
            if q in _PATH_TYPES or (q.startswith("pathlib.") and q.endswith(_PATH_METHODS)):
                out.add("pathlib.Path()")
        return out

    def _qualify_subscript(self, node: ast.Subscript, scope: _Scope, depth: int) -> set[str]:
        key = self.fold(node.slice, scope)
        if key is None or not isinstance(key.value, str):
            return set()
        out: set[str] = set()
        for base in self.qualify(node.value, scope, call=False, depth=depth + 1):
            if base == "sys.modules":
                out.add(_norm(key.value))
            elif base == "<globals>":
                out |= self._qualify_name(key.value, self.module, call=False)
            elif base == "builtins":
                out.add(_norm(f"builtins.{key.value}"))
        return out

    # -- constant folding --------------------------------------------------------------------------

    def fold(self, node: ast.expr, scope: _Scope, depth: int = 0) -> _Folded | None:
        """Evaluate string/bytes expressions built from constants; None when not constant.

        Results are memoised per node and scope, and a per-file budget bounds the work, so
        chains of variables cannot make folding exponential."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str | bytes):
                return _Folded(node.value, False)
            return None
        key = (id(node), id(scope))
        if key in self._folded:
            return self._folded[key]
        if depth > _FOLD_DEPTH or key in self._folding or self._fold_budget <= 0:
            return None
        self._fold_budget -= 1
        self._folding.add(key)
        try:
            result = self._fold(node, scope, depth)
        finally:
            self._folding.discard(key)
        self._folded[key] = result
        return result

    def _fold(self, node: ast.expr, scope: _Scope, depth: int) -> _Folded | None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str | bytes):
                return _Folded(node.value, False)
            return None
        if isinstance(node, ast.JoinedStr):
            parts: list[str] = []
            decoded = None
            for v in node.values:
                if isinstance(v, ast.Constant) and isinstance(v.value, str):
                    parts.append(v.value)
                elif (
                    isinstance(v, ast.FormattedValue)
                    and v.conversion == -1
                    and v.format_spec is None
                ):
                    inner = self.fold(v.value, scope, depth + 1)
                    if inner is None or not isinstance(inner.value, str):
                        return None
                    parts.append(inner.value)
                    decoded = decoded or inner.decoded
                else:
                    return None
            return _Folded("".join(parts), True, decoded)
        if isinstance(node, ast.BinOp):
            return self._fold_binop(node, scope, depth)
        if isinstance(node, ast.Subscript):
            return self._fold_subscript(node, scope, depth)
        if isinstance(node, ast.Name | ast.Attribute):
            return self._fold_variable(node, scope, depth)
        if isinstance(node, ast.Call):
            return self._fold_call(node, scope, depth)
        return None

    def _fold_binop(self, node: ast.BinOp, scope: _Scope, depth: int) -> _Folded | None:
        left = self.fold(node.left, scope, depth + 1)
        if left is None:
            return None
        if isinstance(node.op, ast.Mod) and isinstance(left.value, str):
            if not re.fullmatch(r"(?:[^%]|%%|%s)*", left.value):
                return None
            items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            values = [self.fold(e, scope, depth + 1) for e in items]
            if any(v is None or not isinstance(v.value, str) for v in values):
                return None
            args = tuple(v.value for v in values if v is not None)
            try:
                return _Folded(left.value % args, True)
            except (TypeError, ValueError):
                return None
        right = self.fold(node.right, scope, depth + 1)
        if right is None:
            return None
        decoded = left.decoded or right.decoded
        if isinstance(node.op, ast.Add):
            if len(left.value) + len(right.value) > MAX_SOURCE:
                return None
            if isinstance(left.value, str) and isinstance(right.value, str):
                return _Folded(left.value + right.value, True, decoded)
            if isinstance(left.value, bytes) and isinstance(right.value, bytes):
                return _Folded(left.value + right.value, True, decoded)
        if (
            isinstance(node.op, ast.Div)
            and isinstance(left.value, str)
            and isinstance(right.value, str)
        ):
            return _Folded(posixpath.join(left.value, right.value), True, decoded)
        return None

    def _fold_subscript(self, node: ast.Subscript, scope: _Scope, depth: int) -> _Folded | None:
        base = self.fold(node.value, scope, depth + 1)
        if base is None:
            return None
        sl = node.slice
        if isinstance(sl, ast.Slice):
            bounds: list[int | None] = []
            for part in (sl.lower, sl.upper, sl.step):
                if part is None:
                    bounds.append(None)
                    continue
                folded = self._fold_int(part)
                if folded is None:
                    return None
                bounds.append(folded)
            if bounds[2] == 0:
                return None
            return _Folded(base.value[slice(*bounds)], True, base.decoded or "reversed")
        index = self._fold_int(sl)
        if index is None or not isinstance(base.value, str):
            return None
        try:
            return _Folded(base.value[index], True, base.decoded)
        except IndexError:
            return None

    @staticmethod
    def _fold_int(node: ast.expr) -> int | None:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) is int
        ):
            return -node.operand.value
        return None

    def _fold_variable(
        self, node: ast.Name | ast.Attribute, scope: _Scope, depth: int
    ) -> _Folded | None:
        values: list[tuple[ast.expr, _Scope]] = []
        if isinstance(node, ast.Name):
            b = scope.binding(node.id)
            if b is not None:
                values = b.assigns.get(node.id, [])
        else:
            text = _dotted(node)
            if text is not None:
                values = self.attr_assigns.get(text, [])
        if not values or len(values) > 4:
            return None
        found: _Folded | None = None
        for value, vscope in values:
            this = self.fold(value, vscope, depth + 1)
            if this is None or (found is not None and this.value != found.value):
                return None  # constant only when every assignment gives the same value
            found = found or this
        return found

    def _fold_call(self, node: ast.Call, scope: _Scope, depth: int) -> _Folded | None:
        func = node.func
        args = node.args
        if isinstance(func, ast.Attribute):
            method = self._fold_method(func, args, scope, depth)
            if method is not None:
                return method
        funcs = self.qualify(func, scope, call=True)
        if not funcs:
            return None
        if "builtins.chr" in funcs and len(args) == 1:
            code = self._fold_int(args[0])
            if code is not None and 0 <= code <= 0x10FFFF:
                return _Folded(chr(code), True, "chr")
            return None
        if funcs & {"builtins.str", "os.fspath", "os.path.expanduser", "os.path.abspath"} and args:
            inner = self.fold(args[0], scope, depth + 1)
            return None if inner is None else _Folded(inner.value, True, inner.decoded)
        if "pathlib.Path.home" in funcs:
            return _Folded("~", True)
        if funcs & {"os.path.join", "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath"}:
            pieces = [self.fold(a, scope, depth + 1) for a in args]
            if not pieces or any(p is None or not isinstance(p.value, str) for p in pieces):
                return None
            texts = [p.value for p in pieces if p is not None and isinstance(p.value, str)]
            return _Folded(posixpath.join(*texts), True)
        if funcs & {"builtins.bytes", "builtins.bytearray"} and len(args) == 1:
            seq = args[0]
            if isinstance(seq, ast.List | ast.Tuple) and len(seq.elts) <= MAX_DECODED:
                ints = [self._fold_int(e) for e in seq.elts]
                if all(i is not None and 0 <= i < 256 for i in ints):
                    return _Folded(bytes(i for i in ints if i is not None), True, "byte codes")
            return None
        for q in sorted(funcs):
            if q in _DECODERS or q == "codecs.decode":
                if not args:
                    return None
                inner = self.fold(args[0], scope, depth + 1)
                extra = None
                if q == "codecs.decode":
                    enc = args[1] if len(args) > 1 else self._keyword(node, "encoding")
                    enc_folded = None if enc is None else self.fold(enc, scope, depth + 1)
                    if enc_folded is None or not isinstance(enc_folded.value, str):
                        return None
                    extra = enc_folded.value
                if inner is None:
                    return None
                decoded = _decode_constant(q, inner.value, extra)
                if decoded is None:
                    return None
                return _Folded(decoded[0], True, decoded[1])
        return None

    def _fold_method(
        self, func: ast.Attribute, args: list[ast.expr], scope: _Scope, depth: int
    ) -> _Folded | None:
        name = func.attr
        if name == "join" and len(args) == 1:
            sep = self.fold(func.value, scope, depth + 1)
            if sep is None or not isinstance(sep.value, str):
                return None
            items = self._fold_sequence(args[0], scope, depth)
            if items is None:
                return None
            texts = [i.value for i in items if isinstance(i.value, str)]
            return _Folded(sep.value.join(texts), True, _first_decoding(items))
        if name not in _FOLDABLE_METHODS:
            return None
        base = self.fold(func.value, scope, depth + 1)
        if base is None:
            return None
        value = base.value
        try:
            if name == "decode" and isinstance(value, bytes):
                enc = self.fold(args[0], scope, depth + 1) if args else None
                encoding = enc.value if enc is not None and isinstance(enc.value, str) else "utf-8"
                if encoding.lower().replace("_", "-") not in {
                    "utf-8",
                    "utf8",
                    "ascii",
                    "latin-1",
                    "latin1",
                }:
                    return None
                return _Folded(value.decode(encoding, "replace"), True, base.decoded)
            if name == "encode" and isinstance(value, str):
                return _Folded(value.encode("utf-8", "replace"), True, base.decoded)
            if name == "replace" and len(args) == 2 and isinstance(value, str):
                old, new = (self.fold(a, scope, depth + 1) for a in args)
                if old is None or new is None or not old.value:
                    return None
                if not isinstance(old.value, str) or not isinstance(new.value, str):
                    return None
                if value.count(old.value) * len(new.value) > MAX_SOURCE:
                    return None
                return _Folded(value.replace(old.value, new.value), True, base.decoded)
            if name == "joinpath" and isinstance(value, str):
                pieces = [self.fold(a, scope, depth + 1) for a in args]
                texts = [p.value for p in pieces if p is not None and isinstance(p.value, str)]
                if len(texts) != len(args):
                    return None
                return _Folded(posixpath.join(value, *texts), True, base.decoded)
            if isinstance(value, str) and not args:
                if name in {"expanduser", "resolve", "absolute"}:
                    return _Folded(value, True, base.decoded)
                out: str = getattr(value, name)()
                return _Folded(out, True, base.decoded)
        except (UnicodeError, TypeError, AttributeError):
            return None
        return None

    def _fold_sequence(self, node: ast.expr, scope: _Scope, depth: int) -> list[_Folded] | None:
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.fold(e, scope, depth + 1) for e in node.elts[:4096]]
            if len(node.elts) > 4096 or any(
                i is None or not isinstance(i.value, str) for i in items
            ):
                return None
            return [i for i in items if i is not None]
        if isinstance(node, ast.Call) and len(node.args) == 2:
            # map(chr, [101, 120, 101, 99])
            funcs = self.qualify(node.func, scope, call=True)
            if "builtins.map" in funcs and "builtins.chr" in self.qualify(
                node.args[0], scope, call=False
            ):
                codes = self._int_list(node.args[1])
                if codes is not None:
                    return [_Folded(chr(c), True, "chr") for c in codes]
        if isinstance(node, ast.ListComp | ast.GeneratorExp) and len(node.generators) == 1:
            # [chr(c) for c in [101, 120, 101, 99]]
            gen = node.generators[0]
            elt = node.elt
            if (
                not gen.ifs
                and isinstance(gen.target, ast.Name)
                and isinstance(elt, ast.Call)
                and len(elt.args) == 1
                and isinstance(elt.args[0], ast.Name)
                and elt.args[0].id == gen.target.id
                and "builtins.chr" in self.qualify(elt.func, scope, call=True)
            ):
                codes = self._int_list(gen.iter)
                if codes is not None:
                    return [_Folded(chr(c), True, "chr") for c in codes]
        return None

    def _int_list(self, node: ast.expr) -> list[int] | None:
        if not isinstance(node, ast.List | ast.Tuple) or len(node.elts) > MAX_DECODED:
            return None
        ints = [self._fold_int(e) for e in node.elts]
        if not all(i is not None and 0 <= i <= 0x10FFFF for i in ints):
            return None
        return [i for i in ints if i is not None]

    @staticmethod
    def _keyword(node: ast.Call, name: str) -> ast.expr | None:
        for kw in node.keywords:
            if kw.arg == name:
                return kw.value
        return None

    # -- payload tracking (def-use) ----------------------------------------------------------------

    def _is_decoder_call(self, node: ast.Call, scope: _Scope) -> bool:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _DECODER_METHODS:
            return True
        funcs = self.qualify(func, scope, call=True)
        if funcs & _DECODERS:
            return True
        if "codecs.decode" in funcs or "codecs.getdecoder" in funcs:
            enc = node.args[1] if len(node.args) > 1 else self._keyword(node, "encoding")
            if enc is None:
                return False
            folded = self.fold(enc, scope)
            if folded is None or not isinstance(folded.value, str):
                return True
            return folded.value.lower() in _ENCODED_CODECS
        if "builtins.chr" in funcs and node.args and not isinstance(node.args[0], ast.Constant):
            return True
        return bool(
            "builtins.map" in funcs
            and node.args
            and "builtins.chr" in self.qualify(node.args[0], scope, call=False)
        )

    @staticmethod
    def _is_encoded_literal(node: ast.AST) -> bool:
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str | bytes):
            return False
        value = node.value
        if len(value) <= LONG_LITERAL:
            return False
        text = value if isinstance(value, str) else value.decode("latin-1")
        return _ENCODED_LITERAL.fullmatch(text) is not None

    def _source_of(self, expr: ast.expr, scope: _Scope) -> tuple[bool, list[tuple[int, str]]]:
        """Whether ``expr`` decodes something itself, and the variables it reads."""
        seed = False
        refs: list[tuple[int, str]] = []
        for node in ast.walk(expr):
            if isinstance(node, ast.Call):
                if self._is_decoder_call(node, scope):
                    seed = True
                if isinstance(node.func, ast.Name):
                    b = scope.binding(node.func.id)
                    if b is not None:
                        refs.append((id(b), node.func.id + "()"))
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
                step = node.slice.step
                if step is not None and self._fold_int(step) == -1:
                    folded = self.fold(node.value, scope)
                    seed = seed or (folded is not None and len(folded.value) >= 8)
            elif self._is_encoded_literal(node):
                seed = True
            elif isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
                key = self._key(node, scope)
                if key is not None:
                    refs.append(key)
        return seed, refs

    def tainted(self, expr: ast.expr, scope: _Scope) -> bool:
        """Whether ``expr`` carries decoded data: a decoder in it, or a variable that got some."""
        if self._tainted is None:
            self._tainted = self._propagate()
        seed, refs = self._source_of(expr, scope)
        return seed or any(r in self._tainted for r in refs)

    def _propagate(self) -> set[tuple[int, str]]:
        tainted: set[tuple[int, str]] = set()
        users: dict[tuple[int, str], list[tuple[int, str]]] = {}
        queue: deque[tuple[int, str]] = deque()
        for key, value, scope in self.flows:
            seed, refs = self._source_of(value, scope)
            if seed and key not in tainted:
                tainted.add(key)
                queue.append(key)
            for r in refs:
                users.setdefault(r, []).append(key)
        while queue:
            for user in users.get(queue.popleft(), []):
                if user not in tainted:
                    tainted.add(user)
                    queue.append(user)
        return tainted

    # -- pass 2: checks ----------------------------------------------------------------------------

    def run(self) -> None:
        nodes = list(self._walk())
        for node, scope, _ in nodes:
            self._collect(node, scope)
        self._resolve_aliases()
        for node, scope, annot in nodes:
            if isinstance(node, ast.Call):
                self._inner.add(id(node.func))
                self._check_call(node, scope)
            elif isinstance(node, ast.Attribute | ast.Name):
                if isinstance(node, ast.Attribute):
                    self._inner.add(id(node.value))
                if id(node) not in self._inner and isinstance(node.ctx, ast.Load) and not annot:
                    self._check_reference(node, scope)
            elif isinstance(node, ast.Subscript):
                self._check_subscript(node, scope)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self._check_env_store(target, node, scope)

    def _line(self, node: ast.AST) -> tuple[int, int]:
        return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)

    def _hit(
        self,
        rule: Rule,
        severity: Severity,
        node: ast.AST,
        text: str,
        *,
        extra: str = "",
    ) -> None:
        line, col = self._line(node)
        source = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        if len(source) > 200:
            source = source[:200] + "..."
        evidence = f"line {line}: {source}" + (f" ({extra})" if extra else "")
        key = (rule.id, line, col, text)
        old = self.hits.get(key)
        if old is None or old.severity < severity:
            self.hits[key] = _Hit(rule, severity, line, text, evidence)

    def _check_call(self, node: ast.Call, scope: _Scope) -> None:
        funcs = self.qualify(node.func, scope, call=True)
        hidden = self._check_payload(node, scope, funcs)
        self._check_built_name(node, scope, funcs)
        best: tuple[_Rating, str] | None = None
        for q in sorted(funcs):
            rating = self._rate_call(q, node, scope)
            if rating is not None and (best is None or rating.severity > best[0].severity):
                best = (rating, q)
        if best is None and isinstance(node.func, ast.Attribute):
            rating = self._rate_method(node.func, node, scope)
            if rating is not None:
                best = (rating, node.func.attr)
        if best is not None and not hidden:  # a payload finding already covers this call
            rating, _ = best
            self._hit(rules.CODE_DANGEROUS, rating.severity, node, rating.text)

    def _check_payload(self, node: ast.Call, scope: _Scope, funcs: set[str]) -> bool:
        sinks = sorted(
            q
            for q in funcs
            if q in _EVALS
            or q in _IMPORTERS
            or q in _CODE_BUILDERS
            or q in _PICKLE_LOADERS
            or q == "builtins.getattr"
            or _is_process(q)
            or _in_modules(q, _EXEC_MODULES)
        )
        if not sinks:
            return False
        if sinks == ["builtins.getattr"]:
            values = node.args[1:2]  # only the attribute name matters
        else:
            values = [*node.args, *(kw.value for kw in node.keywords)]
        for value in values:
            if not self.tainted(value, scope):
                continue
            folded = self.fold(value, scope)
            extra = ""
            if folded is not None and folded.decoded:
                extra = f"decodes ({folded.decoded}) to {_preview(folded.value)}"
            self._hit(
                rules.CODE_OBFUSCATED,
                _CRITICAL,
                node,
                f"passes decoded data (base64, zlib, hex, character codes ...) to "
                f"{_short(sinks[0])}(): a hidden payload",
                extra=extra,
            )
            return True
        return False

    def _check_built_name(self, node: ast.Call, scope: _Scope, funcs: set[str]) -> None:
        arg: ast.expr | None = None
        if funcs & _IMPORTERS and node.args:
            arg = node.args[0]
        elif (
            funcs & {"builtins.getattr", "builtins.hasattr", "builtins.setattr"}
            and len(node.args) >= 2
        ):
            arg = node.args[1]
        if arg is not None:
            self._flag_built_name(arg, node, scope)

    def _flag_built_name(self, arg: ast.expr, node: ast.AST, scope: _Scope) -> None:
        folded = self.fold(arg, scope)
        if folded is None or not folded.built or not isinstance(folded.value, str):
            return
        if folded.value in _DANGER_WORDS or folded.value.split(".")[0] in _DANGEROUS_ROOTS:
            self._hit(
                rules.CODE_OBFUSCATED,
                _CRITICAL,
                node,
                f"assembles the name {folded.value!r} from pieces to reach it indirectly",
            )

    def _check_subscript(self, node: ast.Subscript, scope: _Scope) -> None:
        bases = self.qualify(node.value, scope, call=False)
        if bases & {"sys.modules", "<globals>", "builtins"}:
            self._flag_built_name(node.slice, node, scope)

    def _check_reference(self, node: ast.Name | ast.Attribute, scope: _Scope) -> None:
        for q in sorted(self.qualify(node, scope, call=False)):
            if q in _REFERENCED or q.startswith(("os.exec", "os.spawn")):
                self._hit(
                    rules.CODE_DANGEROUS,
                    _CRITICAL,
                    node,
                    f"hands {_short(q)} to other code without calling it here; whatever calls "
                    "it runs code or a process",
                )
                return

    def _check_env_store(self, target: ast.expr, node: ast.AST, scope: _Scope) -> None:
        if not isinstance(target, ast.Subscript):
            return
        if "os.environ" not in self.qualify(target.value, scope, call=False):
            return
        key = self.fold(target.slice, scope)
        if key is not None and isinstance(key.value, str) and key.value in _SENSITIVE_ENV:
            self._hit(
                rules.CODE_DANGEROUS,
                _HIGH,
                node,
                f"sets the environment variable {key.value}, which changes which programs or "
                "libraries run",
            )

    # -- rating calls ------------------------------------------------------------------------------

    def _rate_call(self, q: str, node: ast.Call, scope: _Scope) -> _Rating | None:
        args = node.args
        name = _short(q)
        if q in _EVALS:
            if not args:
                return None
            folded = self.fold(args[0], scope)
            if folded is None:
                return _Rating(_CRITICAL, f"runs Python code computed at run time with {name}()")
            self.payloads.append((self._line(node)[0], name, folded.value))
            return _Rating(_HIGH, f"runs a constant string as Python code with {name}()")
        if q in _IMPORTERS:
            return self._rate_import(q, node, scope)
        if q == "builtins.getattr" and len(args) >= 2 and self.fold(args[1], scope) is None:
            bases = self.qualify(args[0], scope, call=False)
            risky = sorted(
                b for b in bases if b.split(".")[0] in _DANGEROUS_ROOTS or b == "<globals>"
            )
            if risky:
                return _Rating(
                    _CRITICAL,
                    f"looks up an attribute of {_short(risky[0])} by a name computed at run time",
                )
            return None
        if q in _OPENERS or q in _FILE_CHANGES or q in _DIR_MAKERS:
            return self._rate_file(q, node, scope)
        if q in _PICKLE_LOADERS or q in {"yaml.load", "yaml.load_all", "numpy.load", "torch.load"}:
            return self._rate_loader(q, node, scope)
        if q in _CODE_BUILDERS:
            return _Rating(_CRITICAL, f"calls {name}, which builds runnable code objects")
        if q in _EXEC_NAMES or _in_modules(q, _EXEC_MODULES):
            return _Rating(_CRITICAL, f"calls {name}, which runs code or native libraries")
        if q in _FILE_LOADERS:
            return _Rating(_HIGH, f"calls {name}, which loads code from a file it names")
        if _is_process(q):
            return _Rating(_CRITICAL, f"calls {name}, which starts a process or runs a command")
        if _is_network(q):
            return _Rating(_HIGH, f"calls {name}, which uses the network")
        if q in {"os.putenv", "os.environ.update", "os.environ.setdefault"} and args:
            key = self.fold(args[0], scope)
            if key is not None and isinstance(key.value, str) and key.value in _SENSITIVE_ENV:
                return _Rating(
                    _HIGH,
                    f"sets the environment variable {key.value}, which changes which programs "
                    "or libraries run",
                )
        return None

    def _rate_import(self, q: str, node: ast.Call, scope: _Scope) -> _Rating | None:
        if not node.args:
            return None
        arg = node.args[0]
        if self.fold(arg, scope) is not None:
            return None  # a constant import: what it is used for is checked where it is used
        prefix = ""
        if isinstance(arg, ast.JoinedStr) and arg.values:
            first = arg.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                prefix = first.value
        elif isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add):
            left = self.fold(arg.left, scope)
            if left is not None and isinstance(left.value, str):
                prefix = left.value
        package = self._keyword(node, "package") or (node.args[1] if len(node.args) > 1 else None)
        if prefix.startswith(".") and package is not None:
            pkg = self.fold(package, scope)
            if pkg is not None and isinstance(pkg.value, str):
                prefix = pkg.value + prefix
        if "." in prefix and prefix.split(".")[0] in _KNOWN_PACKAGES:
            return None  # only submodules of a known library can be named
        return _Rating(
            _CRITICAL, f"imports a module whose name is computed at run time with {_short(q)}()"
        )

    def _path_of(self, node: ast.Call, q: str, scope: _Scope) -> str | None:
        target: ast.expr | None = None
        if q.startswith("pathlib.Path()") and isinstance(node.func, ast.Attribute):
            target = node.func.value
        elif node.args:
            target = node.args[0]
        else:
            target = self._keyword(node, "file") or self._keyword(node, "path")
        if target is None:
            return None
        folded = self.fold(target, scope)
        return folded.value if folded is not None and isinstance(folded.value, str) else None

    def _rate_file(self, q: str, node: ast.Call, scope: _Scope) -> _Rating | None:
        name = _short(q)
        path = self._path_of(node, q, scope)
        paths = [path] if path is not None else []
        if q.startswith(("shutil.move", "shutil.copy")) and len(node.args) > 1:
            dest = self.fold(node.args[1], scope)
            if dest is not None and isinstance(dest.value, str):
                paths.append(dest.value)
        writes = self._open_writes(q, node, scope) if q in _OPENERS else q not in _DIR_MAKERS
        for p in paths:
            why = _sensitive(p)
            if why is not None:
                reason, startup = why
                if writes and startup:
                    return _Rating(_CRITICAL, f"writes to {p!r}, {reason}")
                return _Rating(_HIGH, f"{'writes to' if writes else 'reads'} {p!r}, {reason}")
        if not writes or q in _DIR_MAKERS:
            return None
        if any(_absolute(p) for p in paths):
            return _Rating(_HIGH, f"calls {name}() on {paths[0]!r}, outside the model folder")
        if scope.saving:
            return None  # save_vocabulary and friends write where the caller asks
        if q in _OPENERS:
            return _Rating(_HIGH, f"opens a file for writing with {name}()")
        return _Rating(_HIGH, f"calls {name}, which writes, moves or deletes files")

    def _open_writes(self, q: str, node: ast.Call, scope: _Scope) -> bool:
        index = 0 if q == "pathlib.Path().open" else 1
        mode_node = self._keyword(node, "mode")
        if mode_node is None and len(node.args) > index:
            mode_node = node.args[index]
        if mode_node is None:
            return False
        mode = self.fold(mode_node, scope)
        if mode is None or not isinstance(mode.value, str):
            return not isinstance(mode_node, ast.Constant)  # computed mode: assume it writes
        return any(c in mode.value for c in "wax+")

    def _rate_loader(self, q: str, node: ast.Call, scope: _Scope) -> _Rating | None:
        name = _short(q)
        if q in {"yaml.load", "yaml.load_all"}:
            loader = self._keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is not None and self.qualify(loader, scope, call=False) & _SAFE_YAML_LOADERS:
                return None
        elif q == "numpy.load":
            allow = self._keyword(node, "allow_pickle")
            if not (isinstance(allow, ast.Constant) and allow.value is True):
                return None
        elif q == "torch.load":
            only = self._keyword(node, "weights_only")
            if not (isinstance(only, ast.Constant) and only.value is False):
                return None
        return _Rating(_HIGH, f"calls {name}, which unpickles data and can run code while loading")

    def _rate_method(self, func: ast.Attribute, node: ast.Call, scope: _Scope) -> _Rating | None:
        """Methods recognised by name on objects of unknown type."""
        attr = func.attr
        if attr in _WRITE_METHODS or attr in _READ_METHODS:
            base = self.fold(func.value, scope)
            path = base.value if base is not None and isinstance(base.value, str) else None
            writes = attr in _WRITE_METHODS
            if path is not None and (why := _sensitive(path)) is not None:
                reason, startup = why
                severity = _CRITICAL if writes and startup else _HIGH
                verb = "writes to" if writes else "reads"
                return _Rating(severity, f"{verb} {path!r}, {reason}")
            if not writes:
                return None
            if path is not None and _absolute(path):
                return _Rating(_HIGH, f"writes to {path!r}, outside the model folder")
            if scope.saving:
                return None
            return _Rating(_HIGH, f"writes a file with .{attr}()")
        if attr == "extractall":
            return _Rating(_HIGH, "extracts an archive onto disk with .extractall()")
        if attr in _UPLOAD_METHODS:
            return _Rating(_HIGH, f"uploads or changes a Hub repository with .{attr}()")
        return None

    # -- results -----------------------------------------------------------------------------------

    def sorted_hits(self) -> list[_Hit]:
        return sorted(self.hits.values(), key=lambda h: (h.line, -h.severity, h.rule.id))


def _first_decoding(items: list[_Folded]) -> str | None:
    return next((i.decoded for i in items if i.decoded), None)


def _decode_source(data: bytes) -> tuple[str | None, str | None, str | None]:
    """The text Python would read, the declared encoding, and why it cannot be read."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as e:
        return None, None, f"its text cannot be decoded ({e})"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, codecs.lookup(encoding).name, None


_TELLTALE = re.compile(
    r"(?<![.\w])(?:exec|eval|__import__)\s*\("
    r"|\.(?:system|popen|spawn\w*|urlopen|b64decode|decompress|loads)\s*\("
    r"|\b(?:subprocess|socket|ctypes|marshal|pickle|requests|urllib)\b"
)


def analyse_python(
    data: bytes, location: Location, *, depth: int = 0, prefix: str = ""
) -> PythonReport:
    """Analyse Python source without running it. Never raises for bad input."""
    hits: list[_Hit] = []
    report = PythonReport([], [], [])
    text, encoding, problem = _decode_source(data)
    if text is None or encoding is None:
        report.findings.append(
            rules.CODE_UNPARSABLE.finding(
                location,
                f"{prefix}Python file cannot be analysed: {problem}. Python cannot import it "
                "either; remove it or fix its encoding.",
            )
        )
        return report
    lines = text.split("\n")
    if encoding in _HIDING_ENCODINGS:
        hits.append(
            _Hit(
                rules.CODE_OBFUSCATED,
                _CRITICAL,
                1,
                f"declares the source encoding {encoding}, which hides code from people reading it",
                f"line 1: {lines[0][:200]}" if lines else "",
            )
        )
    try:
        with warnings.catch_warnings():
            # "invalid escape sequence" and friends: not ours to print, and never an error
            # (under -W error they would otherwise turn valid code into a SyntaxError).
            warnings.simplefilter("ignore")
            tree = ast.parse(text, type_comments=False)
    except (SyntaxError, ValueError) as e:
        severity = Severity.MEDIUM
        why = "it is not valid Python for the parser modeltrust runs on"
        mentions = sorted({m.strip("(. \t") for m in _TELLTALE.findall(text)})[:8]
        if mentions:
            severity = _HIGH
            why += "; its text mentions " + ", ".join(mentions)
        report.findings.append(
            rules.CODE_UNPARSABLE.finding(
                location,
                f"{prefix}Python file was not analysed: {why} ({type(e).__name__}: {e}). If it "
                "uses newer syntax, Python may still run it: review it by hand.",
                evidence=f"{type(e).__name__}: {e}"[:300],
                severity=severity,
            )
        )
        return report
    except (RecursionError, MemoryError) as e:
        report.findings.append(
            rules.CODE_UNPARSABLE.finding(
                location,
                f"{prefix}Python file was not analysed: it is nested too deeply for the parser "
                f"({type(e).__name__}). Python may still run it: review it by hand.",
                severity=_HIGH,
            )
        )
        return report
    analyser = _Analyser(tree, lines)
    try:
        analyser.run()
    except RecursionError:  # pragma: no cover - every walk is iterative or depth-bounded
        report.findings.append(
            rules.CODE_UNPARSABLE.finding(
                location,
                f"{prefix}Python file was only partly analysed: it is nested too deeply. Review "
                "it by hand.",
                severity=_HIGH,
            )
        )
    hits.extend(analyser.sorted_hits())
    report.imports = sorted(m for m in analyser.imports if m)
    report.relative = analyser.relative
    report.findings.extend(_to_findings(hits, location, prefix))
    for line, name, payload in analyser.payloads:
        if depth + 1 >= MAX_PAYLOAD_DEPTH or len(payload) > MAX_SOURCE:
            continue
        raw = payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogatepass")
        inner = analyse_python(
            raw,
            location,
            depth=depth + 1,
            prefix=f"{prefix}In the code line {line} passes to {name}(), ",
        )
        report.findings.extend(f for f in inner.findings if f.rule_id != rules.CODE_UNPARSABLE.id)
    return report


def _to_findings(hits: list[_Hit], location: Location, prefix: str) -> list[Finding]:
    out: list[Finding] = []
    for h in hits[:MAX_FINDINGS]:
        where = f"{prefix}line {h.line}" if prefix else f"Line {h.line}"
        message = f"{where} {h.text}."
        out.append(h.rule.finding(location, message, evidence=h.evidence, severity=h.severity))
    rest = hits[MAX_FINDINGS:]
    if rest:
        worst = max(rest, key=lambda h: h.severity)
        lines = ", ".join(str(h.line) for h in rest[:20]) + (", ..." if len(rest) > 20 else "")
        out.append(
            worst.rule.finding(
                location,
                f"{prefix}{len(rest)} more dangerous constructs were found on lines {lines}; "
                "only the "
                f"first {MAX_FINDINGS} are listed. Review the whole file.",
                evidence=worst.evidence,
                severity=worst.severity,
            )
        )
    return out
