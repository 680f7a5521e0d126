"""The analysis behind the chat-template scanner: a template is parsed with jinja2 (lexed and
parsed, never compiled or rendered) and its syntax tree searched for sandbox escapes and
backdoors. Split from :mod:`modeltrust.scanners.configs.templates` so that jinja2 is imported only when a
scan meets a template. The module docstring there says what is looked for.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.ext import Extension, do, loopcontrols
from jinja2.parser import Parser

from modeltrust import rules
from modeltrust.findings import Location, Severity
from modeltrust.rules import Rule
from modeltrust.scanners.interface import KiB, ScanContext

MAX_PARSE_PER_FILE = 512 * KiB
"""Characters of all the templates in one file parsed as Jinja; callers keep the count."""
MAX_PARSE = 256 * KiB
"""Characters of one template parsed as Jinja (about 2 s of parsing at worst); real chat
templates are under 64 KiB. Longer ones are searched with regular expressions and reported as not
analysed."""
MAX_FOLD = 10 * KiB
"""Longest string rebuilt from constant pieces while looking for hidden names."""
MAX_SHOWN = 5
MAX_FALLBACK_MATCHES = 50

# --- what a sandbox escape looks like ---------------------------------------------------------
_DUNDER = re.compile(r"__[A-Za-z][A-Za-z0-9_]*__")
_MANGLED = re.compile(r"^_[A-Za-z][A-Za-z0-9]*__[A-Za-z]")
"""Name-mangled privates such as ``_TemplateReference__context``."""
_INTERNAL_ATTRS = frozenset(
    {
        "mro",
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_frame",
        "ag_code",
        "ag_await",
        "tb_frame",
        "tb_next",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "func_globals",
        "func_code",
        "func_closure",
        "im_func",
        "im_self",
        "im_class",
    }
)
_DANGEROUS_ATTRS = frozenset(
    {
        "os",
        "sys",
        "subprocess",
        "builtins",
        "importlib",
        "environ",
        "popen",
        "Popen",
        "import_module",
        "load_module",
        "_module",
        "eval",
        "exec",
        "execfile",
        "getoutput",
        "getstatusoutput",
        "check_output",
        "check_call",
        "posix_spawn",
        "posix_spawnp",
        "spawnl",
        "spawnle",
        "spawnlp",
        "spawnv",
        "spawnve",
        "spawnvp",
        "execl",
        "execle",
        "execlp",
        "execv",
        "execve",
        "execvp",
    }
)
"""Attribute names that only matter on modules reached through an escape."""
_DANGEROUS_CALLS = frozenset({"system", "fork", "kill", "unlink", "rmdir", "rmtree", "getenv"})
"""Method names that are harmless to mention but dangerous to call."""
_DANGEROUS_ITEMS = frozenset(
    {"popen", "subprocess", "builtins", "importlib", "import_module", "os", "sys", "eval", "exec"}
)
_DANGEROUS_NAMES = frozenset(
    {
        "os",
        "sys",
        "subprocess",
        "builtins",
        "importlib",
        "eval",
        "exec",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "import_module",
        "popen",
        "breakpoint",
    }
)
_GLOBAL_FUNCTIONS = frozenset(
    {
        "lipsum",
        "cycler",
        "joiner",
        "namespace",
        "range",
        "dict",
        "self",
        "config",
        "request",
        "session",
        "url_for",
        "get_flashed_messages",
        "raise_exception",
        "strftime_now",
    }
)
"""Jinja's, Flask's and the chat engines' globals: calling them is normal, reaching into them is
how escapes start (``cycler.__init__.__globals__``, ``lipsum|string``)."""
_ATTRIBUTE_FILTERS = frozenset(
    {"map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max"}
)
_PERCENT_C = re.compile(r"%[-+ #0-9.*]*c")
_FORMAT_C = re.compile(r"\{[^{}]*:[^{}]*c\}|\{[^{}]*![rsa]?c")

# --- what a backdoor looks like ---------------------------------------------------------------
CONTENT_KEYS = frozenset({"content", "text", "reasoning_content", "thinking"})
_MESSAGE_NAMES = frozenset({"messages", "message"})
_STRINGIFY = frozenset({"string", "tojson", "pprint", "join"})
_STR_TRANSFORMS = frozenset(
    {
        "lower",
        "upper",
        "casefold",
        "strip",
        "lstrip",
        "rstrip",
        "split",
        "rsplit",
        "splitlines",
        "replace",
        "title",
        "capitalize",
        "swapcase",
        "partition",
        "rpartition",
        "encode",
    }
)
_MATCH_METHODS = frozenset(
    {"startswith", "endswith", "find", "rfind", "index", "rindex", "count", "__contains__"}
)
_MATCH_FILTERS = frozenset(
    {
        "regex_search",
        "regex_match",
        "regex_findall",
        "regex_replace",
        "search",
        "match",
        "contains",
        "startswith",
        "endswith",
        "startingwith",
        "endingwith",
    }
)
_EQUALITY_TESTS = frozenset({"eq", "equalto", "==", "ne", "!=", "in", "sameas"})
_URL = re.compile(r"\b(?:https?|ftp)://[^\s'\"<>`]{2,}", re.IGNORECASE)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+)*"
    r"(?:previous|prior|above|earlier|preceding|foregoing|system|original)\s+"
    r"(?:instructions?|messages?|prompts?|rules|directions|context|guidelines)"
    r"|\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|reveal|mention|disclose|show|let)\s+"
    r"(?:this\s+|these\s+|it\s+|any\s+of\s+this\s+)?(?:to\s+)?the\s+user"
    r"|\bwithout\s+(?:telling|informing|alerting|notifying)\s+the\s+user"
    r"|\b(?:hidden|secret)\s+(?:system\s+)?(?:instructions?|prompt)"
    r"|\byou\s+are\s+now\s+(?:in\s+)?(?:dan|developer\s+mode|jailbroken|unrestricted)"
    r"|\bnew\s+(?:system\s+)?instructions\s*:",
    re.IGNORECASE,
)
_CONTROL_MARKER = re.compile(r"<[^<>\n]{1,80}>|\[/?[A-Za-z_]{2,24}\]|(?<![\w/])/[A-Za-z_][\w-]*")
"""Tags, special tokens and slash switches: what templates look for in messages."""
_NATURAL = re.compile(r"\S")
_SPECIAL_TOKEN = re.compile(r"<[^<>\n]{1,80}>|\[/?[A-Za-z_]{2,24}\]")
_WORD = re.compile(r"[^\W\d_]{2,}")
_STRUCTURAL_WORDS = frozenset(
    {
        "system",
        "user",
        "assistant",
        "model",
        "tool",
        "tools",
        "ipython",
        "function",
        "functions",
        "developer",
        "human",
        "bot",
        "response",
        "observation",
        "think",
        "inst",
        "sys",
    }
)

# --- fallback for templates that do not parse -------------------------------------------------
_FALLBACK_ESCAPE = re.compile(
    r"__[A-Za-z][A-Za-z0-9_]*__|_TemplateReference__|\bpopen\b|\bsubprocess\b|\bos\.system\b"
    r"|\bimport_module\b|\blipsum\b|\bcycler\b|\bjoiner\b|\|\s*attr\s*\(|%c"
    r"|\{%-?\s*(?:import|from|include|extends)\b"
)


class _GenerationExtension(Extension):
    """Accepts ``{% generation %}…{% endgeneration %}``, the tag transformers adds for training
    masks, so templates that use it parse."""

    tags = {"generation"}  # noqa: RUF012 - the Extension API's class attribute

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


# Used for parse() only: nothing is compiled or rendered, so autoescape changes nothing.
_ENV = Environment(autoescape=True, extensions=[loopcontrols, do, _GenerationExtension])


def _walk(root: nodes.Node) -> Iterator[tuple[nodes.Node, nodes.Node | None]]:
    """Every node under ``root`` (itself included) with its parent, depth first, no recursion."""
    stack: list[tuple[nodes.Node, nodes.Node | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        stack.extend((child, node) for child in reversed(list(node.iter_child_nodes())))


def _walk_all(body: Sequence[nodes.Node]) -> Iterator[nodes.Node]:
    for stmt in body:
        for node, _ in _walk(stmt):
            yield node


def _target_names(target: nodes.Node) -> Iterator[str]:
    if isinstance(target, nodes.Name):
        yield target.name
    elif isinstance(target, nodes.NSRef):
        yield f"{target.name}.{target.attr}"
    elif isinstance(target, nodes.Tuple | nodes.List):
        for item in target.items:
            yield from _target_names(item)


def _ref_name(expr: nodes.Node) -> str | None:
    """``name`` for a variable, ``ns.attr`` for a namespace attribute."""
    if isinstance(expr, nodes.Name):
        return expr.name
    if isinstance(expr, nodes.Getattr) and isinstance(expr.node, nodes.Name):
        return f"{expr.node.name}.{expr.attr}"
    return None


def _meaningful(text: str) -> bool:
    """Whether emitted text says something: words beyond special tokens and role names."""
    if _URL.search(text):
        return True
    stripped = _SPECIAL_TOKEN.sub(" ", text)
    return any(w.lower() not in _STRUCTURAL_WORDS for w in _WORD.findall(stripped))


def short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass
class _Analysis:
    tree: nodes.Template
    escapes: list[tuple[int, str]] = field(default_factory=list)
    backdoors: list[tuple[int, str]] = field(default_factory=list)
    assigned: set[str] = field(default_factory=set)
    definitions: dict[str, list[nodes.Node]] = field(default_factory=dict)
    content_names: set[str] = field(default_factory=set)
    flags: set[str] = field(default_factory=set)
    _folding: set[str] = field(default_factory=set)
    _folded: dict[int, str | None] = field(default_factory=dict)
    """Folded strings by node id (the tree outlives the analysis, so ids stay unique)."""
    _names: dict[str, str | None] = field(default_factory=dict)
    _branch_exprs: set[int] = field(default_factory=set)
    """The two results of conditional expressions, read as emitted text when triggered."""

    def run(self) -> None:
        all_nodes = list(_walk(self.tree))
        self._collect_names(all_nodes)
        self._taint(all_nodes)
        self._escapes(all_nodes)
        self._triggers(all_nodes)
        self._injections(all_nodes)

    # --- names and constants ---------------------------------------------------------------

    def _collect_names(self, all_nodes: list[tuple[nodes.Node, nodes.Node | None]]) -> None:
        for node, _ in all_nodes:
            targets: list[str] = []
            if isinstance(node, nodes.Assign):
                targets = list(_target_names(node.target))
                for name in targets:
                    self.definitions.setdefault(name, []).append(node.node)
            elif isinstance(node, nodes.AssignBlock):
                targets = list(_target_names(node.target))
                for name in targets:
                    self.definitions.setdefault(name, []).append(node)
            elif isinstance(node, nodes.For):
                targets = list(_target_names(node.target))
            elif isinstance(node, nodes.Macro | nodes.CallBlock):
                targets = [a.name for a in node.args]
                if isinstance(node, nodes.Macro):
                    targets.append(node.name)
            elif isinstance(node, nodes.With):
                targets = [n for t in node.targets for n in _target_names(t)]
            elif isinstance(node, nodes.Import):
                targets = [node.target]
            elif isinstance(node, nodes.FromImport):
                targets = [n if isinstance(n, str) else n[1] for n in node.names]
            self.assigned.update(targets)

    def fold(self, e: nodes.Node | None, depth: int = 0) -> str | None:
        """The string an expression always evaluates to, when it is built from constants only."""
        if e is None or depth > 64:
            return None
        key = id(e)
        if key in self._folded:
            return self._folded[key]
        out = self._fold(e, depth)
        self._folded[key] = out
        return out

    def _fold(self, e: nodes.Node, depth: int) -> str | None:
        out: str | None = None
        if isinstance(e, nodes.Const):
            out = e.value if isinstance(e.value, str) else None
        elif isinstance(e, nodes.TemplateData):
            out = e.data
        elif isinstance(e, nodes.Output):
            out = self._join([self.fold(n, depth + 1) for n in e.nodes])
        elif isinstance(e, nodes.AssignBlock):
            out = self._join([self.fold(n, depth + 1) for n in e.body])
        elif isinstance(e, nodes.Concat):
            out = self._join([self.fold(n, depth + 1) for n in e.nodes])
        elif isinstance(e, nodes.Add):
            out = self._join([self.fold(e.left, depth + 1), self.fold(e.right, depth + 1)])
        elif isinstance(e, nodes.Mul):
            out = self._repeat(e, depth)
        elif isinstance(e, nodes.Mod):
            out = _percent_s(self.fold(e.left, depth + 1), self._fold_args(e.right, depth))
        elif isinstance(e, nodes.Filter):
            out = self._fold_filter(e, depth)
        elif isinstance(e, nodes.Call):
            out = self._fold_method(e, depth)
        elif isinstance(e, nodes.Getitem):
            out = self._fold_index(e, depth)
        elif isinstance(e, nodes.Name):
            out = self._fold_name(e.name, depth)
        elif isinstance(e, nodes.Getattr):
            ref = _ref_name(e)
            out = self._fold_name(ref, depth) if ref is not None else None
        if out is not None and len(out) > MAX_FOLD:
            return None
        return out

    @staticmethod
    def _join(parts: Sequence[str | None]) -> str | None:
        if any(p is None for p in parts):
            return None
        joined = "".join(p for p in parts if p is not None)
        return joined if len(joined) <= MAX_FOLD else None

    def _repeat(self, e: nodes.Mul, depth: int) -> str | None:
        for s_node, n_node in ((e.left, e.right), (e.right, e.left)):
            text = self.fold(s_node, depth + 1)
            count = n_node.value if isinstance(n_node, nodes.Const) else None
            if text is not None and isinstance(count, int) and not isinstance(count, bool):
                if count >= 0 and len(text) * count <= MAX_FOLD:
                    return text * count
                return None
        return None

    def _fold_args(self, e: nodes.Node, depth: int) -> list[str] | None:
        return self._fold_list(e.items if isinstance(e, nodes.Tuple | nodes.List) else [e], depth)

    def _fold_name(self, name: str, depth: int) -> str | None:
        if name in self._names:
            return self._names[name]
        values = self.definitions.get(name)
        if not values or name in self._folding:
            return None
        self._folding.add(name)
        try:
            folded = {self.fold(v, depth + 1) for v in values}
        finally:
            self._folding.discard(name)
        out = folded.pop() if len(folded) == 1 else None
        self._names[name] = out
        return out

    def _fold_filter(self, e: nodes.Filter, depth: int) -> str | None:
        name = e.name
        if name == "join" and isinstance(e.node, nodes.List | nodes.Tuple):
            parts = self._fold_args(e.node, depth)
            sep = self.fold(e.args[0], depth + 1) if e.args else ""
            if parts is None or sep is None:
                return None
            return self._join([sep.join(parts)])
        text = self.fold(e.node, depth + 1)
        if text is None:
            return None
        if name in ("lower", "upper", "title", "capitalize"):
            return str(getattr(text, name)())
        if name in ("trim", "string", "e", "escape", "safe"):
            return text.strip() if name == "trim" else text
        if name == "reverse":
            return text[::-1]
        if name in ("first", "last"):
            return (text[:1] if name == "first" else text[-1:]) or None
        if name == "replace" and len(e.args) >= 2:
            old, new = self.fold(e.args[0], depth + 1), self.fold(e.args[1], depth + 1)
            if old is None or new is None or not old:
                return None
            return self._join([text.replace(old, new, MAX_FOLD)])
        if name == "format":
            return _percent_s(text, self._fold_list(e.args, depth))
        return None

    def _fold_list(self, items: Sequence[nodes.Node], depth: int) -> list[str] | None:
        folded = [self.fold(i, depth + 1) for i in items]
        return [f for f in folded if f is not None] if None not in folded else None

    def _fold_method(self, e: nodes.Call, depth: int) -> str | None:
        if not isinstance(e.node, nodes.Getattr) or e.kwargs or e.dyn_args or e.dyn_kwargs:
            return None
        method = e.node.attr
        text = self.fold(e.node.node, depth + 1)
        if text is None:
            return None
        args = self._fold_list(e.args, depth)
        if args is None:
            return None
        if method in ("lower", "upper", "title", "capitalize", "swapcase", "casefold"):
            return str(getattr(text, method)()) if not args else None
        if method in ("strip", "lstrip", "rstrip"):
            return str(getattr(text, method)(*args)) if len(args) <= 1 else None
        if method == "replace" and len(args) == 2 and args[0]:
            return self._join([text.replace(args[0], args[1], MAX_FOLD)])
        if method == "join" and len(e.args) == 1:
            parts = (
                self._fold_args(e.args[0], depth)
                if isinstance(e.args[0], nodes.List | nodes.Tuple)
                else None
            )
            return None if parts is None else self._join([text.join(parts)])
        if method == "format":
            return _brace_format(text, args)
        return None

    def _fold_index(self, e: nodes.Getitem, depth: int) -> str | None:
        text = self.fold(e.node, depth + 1)
        if text is None:
            return None
        arg = e.arg
        if isinstance(arg, nodes.Const) and isinstance(arg.value, int):
            index = arg.value
            return text[index] if -len(text) <= index < len(text) else None
        if isinstance(arg, nodes.Slice):
            bounds: list[int | None] = []
            for part in (arg.start, arg.stop, arg.step):
                if part is None:
                    bounds.append(None)
                elif isinstance(part, nodes.Const) and isinstance(part.value, int):
                    bounds.append(part.value)
                elif (
                    isinstance(part, nodes.Neg)
                    and isinstance(part.node, nodes.Const)
                    and isinstance(part.node.value, int)
                ):
                    bounds.append(-part.node.value)
                else:
                    return None
            if bounds[2] == 0:
                return None
            return text[slice(*bounds)]
        return None

    # --- sandbox escapes --------------------------------------------------------------------

    def _escape(self, node: nodes.Node, what: str) -> None:
        self.escapes.append((node.lineno or 0, what))

    def _check_name_string(
        self, node: nodes.Node, name: str, *, item: bool = False, called: bool = False
    ) -> None:
        """An attribute or item name: dunders, privates, Python internals, module names."""
        if _DUNDER.search(name) or name.startswith("__"):
            self._escape(node, f"reaches the dunder attribute '{short(name, 40)}'")
        elif _MANGLED.match(name):
            self._escape(node, f"reaches the private attribute '{short(name, 40)}'")
        elif name in _INTERNAL_ATTRS:
            self._escape(node, f"reaches the Python internal '{name}'")
        elif name in (_DANGEROUS_ITEMS if item else _DANGEROUS_ATTRS):
            self._escape(node, f"reaches '{name}'")
        elif called and name in _DANGEROUS_CALLS:
            self._escape(node, f"calls '{name}'")

    def _check_computed(self, node: nodes.Node, expr: nodes.Node, what: str) -> None:
        """An attribute or item name given as an expression: fold it, or report it as hidden."""
        text = self.fold(expr)
        if text is not None:
            self._check_name_string(node, text, item=what == "item")
        elif what == "attribute" or self._builds_strings(expr):
            self._escape(node, f"looks up an {what} whose name is computed at render time")

    def _builds_strings(self, e: nodes.Node) -> bool:
        """Whether an expression builds a string (concatenation, formatting, joining)."""
        if isinstance(e, nodes.Concat):
            return True
        if isinstance(e, nodes.Add | nodes.Mod):
            return self.fold(e.left) is not None or (
                isinstance(e, nodes.Add) and self.fold(e.right) is not None
            )
        if isinstance(e, nodes.Filter):
            return e.name in ("join", "format", "reverse", "replace")
        if isinstance(e, nodes.Call) and isinstance(e.node, nodes.Getattr):
            return e.node.attr in ("format", "join", "replace")
        return False

    def _escapes(self, all_nodes: list[tuple[nodes.Node, nodes.Node | None]]) -> None:
        emitted = self._emitted_ids(all_nodes)
        for node, parent in all_nodes:
            if isinstance(node, nodes.Getattr):
                called = isinstance(parent, nodes.Call) and parent.node is node
                self._check_name_string(node, node.attr, called=called)
            elif isinstance(node, nodes.Getitem):
                if not isinstance(node.arg, nodes.Slice):
                    self._check_computed(node, node.arg, "item")
            elif isinstance(node, nodes.NSRef):
                self._check_name_string(node, node.attr)
            elif isinstance(node, nodes.Keyword):
                if _DUNDER.search(node.key) or node.key.startswith("__"):
                    self._escape(node, f"passes the dunder keyword '{short(node.key, 40)}'")
            elif isinstance(node, nodes.Filter):
                self._check_filter(node)
            elif isinstance(node, nodes.Mod):
                fmt = self.fold(node.left)
                if fmt is not None and _PERCENT_C.search(fmt):
                    self._escape(node, "builds characters from numbers with '%c'")
            elif isinstance(node, nodes.Call):
                self._check_call(node)
            elif isinstance(node, nodes.Name):
                self._check_name(node, parent)
            elif isinstance(node, nodes.Const) and isinstance(node.value, str):
                if id(node) not in emitted and _looks_dunder(node.value):
                    self._escape(node, f"uses the string '{short(node.value, 40)}'")
            elif isinstance(node, nodes.AssignBlock):
                text = self.fold(node)
                if text is not None and _looks_dunder(text.strip()):
                    self._escape(node, f"builds the string '{short(text, 40)}'")
            elif isinstance(node, nodes.Import | nodes.FromImport):
                self._escape(node, f"imports the template {self._template_name(node.template)}")
            elif isinstance(node, nodes.Include):
                self._escape(node, f"includes the template {self._template_name(node.template)}")
            elif isinstance(node, nodes.Extends):
                self._escape(node, f"extends the template {self._template_name(node.template)}")

    def _template_name(self, expr: nodes.Node) -> str:
        name = self.fold(expr)
        return f"'{short(name, 60)}'" if name is not None else "named at render time"

    def _check_filter(self, node: nodes.Filter) -> None:
        if node.name == "attr":
            if node.args:
                self._check_computed(node, node.args[0], "attribute")
            return
        if node.name == "format":
            fmt = self.fold(node.node)
            if fmt is not None and _PERCENT_C.search(fmt):
                self._escape(node, "builds characters from numbers with '%c'")
            return
        if node.name not in _ATTRIBUTE_FILTERS:
            return
        for kw in node.kwargs:
            if kw.key == "attribute":
                self._check_computed(node, kw.value, "attribute")
        if node.name == "map" and node.args and self.fold(node.args[0]) == "attr":
            if len(node.args) > 1:
                self._check_computed(node, node.args[1], "attribute")
        elif node.name != "map" and node.args:
            text = self.fold(node.args[0])
            if text is not None:
                self._check_name_string(node, text)

    def _check_call(self, node: nodes.Call) -> None:
        callee = node.node
        if isinstance(callee, nodes.Getattr) and callee.attr == "format":
            fmt = self.fold(callee.node)
            if fmt is not None and _FORMAT_C.search(fmt):
                self._escape(node, "builds characters from numbers with '{:c}'")

    def _check_name(self, node: nodes.Name, parent: nodes.Node | None) -> None:
        name = node.name
        if name in self.assigned or node.ctx != "load":
            return
        if _DUNDER.search(name) or name.startswith("__"):
            self._escape(node, f"refers to the Python name '{name}'")
        elif name in _DANGEROUS_NAMES:
            self._escape(node, f"refers to Python's '{name}'")
        elif name in _GLOBAL_FUNCTIONS:
            called = isinstance(parent, nodes.Call) and parent.node is node
            if not called and not isinstance(parent, nodes.Test):
                self._escape(node, f"reaches into the global function '{name}'")

    def _emitted_ids(self, all_nodes: list[tuple[nodes.Node, nodes.Node | None]]) -> set[int]:
        """Constants a template prints (``{{ '<|im_start|>' }}``): text, not names."""
        ids: set[int] = set()
        for node, _ in all_nodes:
            if isinstance(node, nodes.Output):
                for expr in node.nodes:
                    ids.update(id(c) for c in self._emitted_consts(expr))
        return ids

    def _emitted_consts(self, expr: nodes.Node) -> list[nodes.Const]:
        out: list[nodes.Const] = []
        stack = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, nodes.Const):
                if isinstance(e.value, str):
                    out.append(e)
            elif isinstance(e, nodes.Concat):
                stack.extend(e.nodes)
            elif isinstance(e, nodes.Add):
                stack.extend((e.left, e.right))
            elif isinstance(e, nodes.CondExpr):
                stack.extend(x for x in (e.expr1, e.expr2) if x is not None)
            elif isinstance(e, nodes.Filter) and e.node is not None:
                stack.append(e.node)
                if e.name in ("default", "d") and e.args:
                    stack.append(e.args[0])
            elif isinstance(e, nodes.List | nodes.Tuple):
                stack.extend(e.items)
            elif isinstance(e, nodes.Mod):
                stack.append(e.left)
        return out

    def _emitted_text(self, expr: nodes.Node) -> list[str]:
        folded = self.fold(expr)
        if folded is not None and not isinstance(expr, nodes.Name | nodes.Getattr):
            return [folded]
        return [c.value for c in self._emitted_consts(expr)]

    # --- backdoors --------------------------------------------------------------------------

    def _taint(self, all_nodes: list[tuple[nodes.Node, nodes.Node | None]]) -> None:
        """Variables that hold message content (``{% set c = message.content %}``)."""
        sources: list[tuple[list[str], nodes.Node]] = []
        for node, _ in all_nodes:
            if isinstance(node, nodes.Assign):
                sources.append((list(_target_names(node.target)), node.node))
            elif isinstance(node, nodes.For) and _splits_text(node.iter):
                # Looping over message content gives parts ({"type": "image"}); only a split
                # (content.split('\n')) gives text.
                sources.append((list(_target_names(node.target)), node.iter))
        for _ in range(8):
            before = len(self.content_names)
            for names, value in sources:
                if not set(names) <= self.content_names and self.is_content(value):
                    self.content_names.update(names)
            if len(self.content_names) == before:
                break

    def is_content(self, e: nodes.Node | None, depth: int = 0) -> bool:
        """Whether an expression is (derived from) what a message says."""
        if e is None or depth > 64:
            return False
        if isinstance(e, nodes.Getattr):
            if e.attr in CONTENT_KEYS:
                return True
            ref = _ref_name(e)
            return ref is not None and ref in self.content_names
        if isinstance(e, nodes.Getitem):
            key = self.fold(e.arg)
            if key is not None:
                return key in CONTENT_KEYS
            return self.is_content(e.node, depth + 1)
        if isinstance(e, nodes.Name):
            return e.name in self.content_names
        if isinstance(e, nodes.Filter):
            if any(
                kw.key == "attribute" and self.fold(kw.value) in CONTENT_KEYS for kw in e.kwargs
            ):
                return True
            if e.name in _STRINGIFY and _is_messages(e.node):
                return True
            return self.is_content(e.node, depth + 1)
        if isinstance(e, nodes.Call):
            callee = e.node
            return (
                isinstance(callee, nodes.Getattr)
                and callee.attr in _STR_TRANSFORMS
                and self.is_content(callee.node, depth + 1)
            )
        if isinstance(e, nodes.Concat):
            return any(self.is_content(n, depth + 1) for n in e.nodes)
        if isinstance(e, nodes.Add):
            return self.is_content(e.left, depth + 1) or self.is_content(e.right, depth + 1)
        if isinstance(e, nodes.CondExpr):
            return self.is_content(e.expr1, depth + 1) or self.is_content(e.expr2, depth + 1)
        return False

    def _phrase(self, e: nodes.Node) -> bool:
        """A constant that could be a trigger phrase, or a list holding one.

        Markup and switches (``'</think>'``, ``'<tool_response>'``, ``'/no_think'``) are what
        templates legitimately look for in messages, so they do not count.
        """
        if isinstance(e, nodes.List | nodes.Tuple):
            return any(self._phrase(i) for i in e.items)
        text = self.fold(e)
        return text is not None and _NATURAL.search(_CONTROL_MARKER.sub(" ", text)) is not None

    def tests_content(self, test: nodes.Node | None) -> bool:
        """Whether a condition compares message content with a constant, or reads a flag that
        such a comparison set."""
        if test is None:
            return False
        for node, _ in _walk(test):
            if isinstance(node, nodes.Compare):
                left = node.expr
                for operand in node.ops:
                    right = operand.expr
                    if operand.op in ("in", "notin"):
                        if (self.is_content(right) and self._phrase(left)) or (
                            self.is_content(left) and self._phrase(right)
                        ):
                            return True
                    elif operand.op in ("eq", "ne") and (
                        (self.is_content(left) and self._phrase(right))
                        or (self.is_content(right) and self._phrase(left))
                    ):
                        return True
                    left = right
            elif isinstance(node, nodes.Call):
                callee = node.node
                if (
                    isinstance(callee, nodes.Getattr)
                    and callee.attr in _MATCH_METHODS
                    and self.is_content(callee.node)
                    and any(self._phrase(a) for a in node.args)
                ):
                    return True
            elif isinstance(node, nodes.Filter | nodes.Test):
                subject = node.node
                if node.name in _MATCH_FILTERS and self.is_content(subject):
                    return True
                if (
                    node.name in _EQUALITY_TESTS
                    and self.is_content(subject)
                    and any(self._phrase(a) for a in node.args)
                ):
                    return True
                if (
                    node.name in ("selectattr", "rejectattr")
                    and len(node.args) >= 2
                    and self.fold(node.args[0]) in CONTENT_KEYS
                    and (node.args[1:] and self.fold(node.args[1]) not in ("defined", "none"))
                ):
                    return True
            ref = _ref_name(node)
            if ref is not None and ref in self.flags:
                return True
        return False

    def _branch(
        self, body: Sequence[nodes.Node], covered: set[int]
    ) -> tuple[list[tuple[int, str]], set[str]]:
        """Meaningful text a triggered block emits or stores for later, and the variables it
        sets to constants (``{% set ns.hit = true %}``). Nodes already ``covered`` by an
        enclosing triggered block are skipped, so nested triggers cost one walk."""
        found: list[tuple[int, str]] = []
        flags: set[str] = set()
        stack = list(reversed(body))
        while stack:
            node = stack.pop()
            if id(node) in covered:
                continue
            covered.add(id(node))
            texts: list[str] = []
            if id(node) in self._branch_exprs:
                texts = self._emitted_text(node)
            elif isinstance(node, nodes.TemplateData):
                texts = [node.data]
            elif isinstance(node, nodes.Output):
                texts = [
                    t
                    for e in node.nodes
                    if not isinstance(e, nodes.TemplateData)
                    for t in self._emitted_text(e)
                ]
            elif isinstance(node, nodes.Assign):
                texts = self._emitted_text(node.node)
                if isinstance(node.node, nodes.Const):
                    flags.update(_target_names(node.target))
            found.extend((node.lineno or 0, t) for t in texts if _meaningful(t))
            stack.extend(reversed(list(node.iter_child_nodes())))
        return found, flags

    def _triggers(self, all_nodes: list[tuple[nodes.Node, nodes.Node | None]]) -> None:
        for round_ in range(2):  # second round: conditions on flags the first round found
            covered: set[int] = set()
            for node, _ in all_nodes:
                if id(node) in covered:
                    continue  # inside a triggered block already reported
                test: nodes.Node | None = None
                branches: list[Sequence[nodes.Node]] = []
                if isinstance(node, nodes.If):
                    test = node.test
                    branches = [node.body, node.else_, *(b.body for b in node.elif_)]
                elif isinstance(node, nodes.For):
                    test = node.test if node.test is not None else node.iter
                    branches = [node.body]
                elif isinstance(node, nodes.CondExpr):
                    test = node.test
                    branches = [[x] for x in (node.expr1, node.expr2) if x is not None]
                    self._branch_exprs.update(id(x) for b in branches for x in b)
                if test is None or not self.tests_content(test):
                    continue
                for branch in branches:
                    found, flags = self._branch(branch, covered)
                    for lineno, text in found:
                        what = (
                            f"emits its own text when a message contains a trigger: '{short(text)}'"
                        )
                        self.backdoors.append((lineno, what))
                    if round_ == 0:
                        self.flags.update(flags)

    def _injections(self, all_nodes: list[tuple[nodes.Node, nodes.Node | None]]) -> None:
        """Fixed prompt-injection phrases and URLs in anything the template emits."""
        for node, _ in all_nodes:
            texts: list[str] = []
            if isinstance(node, nodes.TemplateData):
                texts = [node.data]
            elif isinstance(node, nodes.Output):
                texts = [
                    t
                    for e in node.nodes
                    if not isinstance(e, nodes.TemplateData)
                    for t in self._emitted_text(e)
                ]
            elif isinstance(node, nodes.Assign):
                texts = self._emitted_text(node.node)
            elif isinstance(node, nodes.Keyword):
                texts = self._emitted_text(node.value)
            for text in texts:
                lineno = node.lineno or 0
                if m := _URL.search(text):
                    self.backdoors.append((lineno, f"emits the URL '{short(m.group(0))}'"))
                if m := _INJECTION.search(text):
                    self.backdoors.append((lineno, f"emits the instruction '{short(m.group(0))}'"))


def _splits_text(e: nodes.Node) -> bool:
    while isinstance(e, nodes.Filter) and e.node is not None:
        e = e.node
    return (
        isinstance(e, nodes.Call)
        and isinstance(e.node, nodes.Getattr)
        and e.node.attr in ("split", "rsplit", "splitlines")
    )


def _is_messages(e: nodes.Node | None) -> bool:
    while isinstance(e, nodes.Getitem | nodes.Filter):
        e = e.node
    return isinstance(e, nodes.Name) and e.name in _MESSAGE_NAMES


def _looks_dunder(text: str) -> bool:
    """A dunder name, or half of one (``'__cla'``, ``'ss__'``) waiting to be joined."""
    if _DUNDER.search(text) or _MANGLED.match(text):
        return True
    return (text.startswith("__") and text[2:3].isalpha()) or (
        text.endswith("__") and text[-3:-2].isalnum()
    )


_SIMPLE_PERCENT = re.compile(r"%[s%]")
_SIMPLE_BRACES = re.compile(r"\{\d*\}")


def _percent_s(fmt: str | None, args: list[str] | None) -> str | None:
    """``fmt % args`` when it uses only ``%s`` (anything else is not rebuilt)."""
    if fmt is None or args is None:
        return None
    if re.sub(_SIMPLE_PERCENT, "", fmt).count("%"):
        return None
    if fmt.count("%s") != len(args):
        return None
    try:
        out = fmt % tuple(args)
    except (TypeError, ValueError):
        return None
    return out if len(out) <= MAX_FOLD else None


def _brace_format(fmt: str, args: list[str]) -> str | None:
    """``fmt.format(*args)`` when it uses only ``{}`` and ``{0}`` fields."""
    stripped = _SIMPLE_BRACES.sub("", fmt.replace("{{", "").replace("}}", ""))
    if "{" in stripped or "}" in stripped:
        return None
    try:
        out = fmt.format(*args)
    except (IndexError, ValueError, KeyError):
        return None
    return out if len(out) <= MAX_FOLD else None


# --- reporting ----------------------------------------------------------------------------------


def _report(
    ctx: ScanContext,
    rule: Rule,
    location: Location,
    source: str,
    issues: list[tuple[int, str]],
    lines: list[str],
) -> None:
    unique = list(dict.fromkeys(issues))
    if not unique:
        return
    shown = "; ".join(f"{what} (line {n})" if n else what for n, what in unique[:MAX_SHOWN])
    if len(unique) > MAX_SHOWN:
        shown += f"; and {len(unique) - MAX_SHOWN} more"
    first = unique[0][0]
    evidence = None
    if 0 < first <= len(lines):
        evidence = f"line {first}: {short(lines[first - 1], 200)}"
    ctx.report(rule.finding(location, f"The chat template ({source}) {shown}.", evidence=evidence))


def _matches(pattern: re.Pattern[str], text: str, what: str) -> list[tuple[int, str]]:
    """The first matches of ``pattern`` with their line numbers (counted once, forwards)."""
    found: list[tuple[int, str]] = []
    line, pos = 1, 0
    for m in itertools.islice(pattern.finditer(text), MAX_FALLBACK_MATCHES):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        found.append((line, f"{what} '{short(m.group(0), 60)}'"))
    return found


def fallback(text: str, location: Location, ctx: ScanContext, source: str) -> None:
    """Regular expressions over a template that could not be parsed."""
    lines = text.split("\n")
    escapes = _matches(_FALLBACK_ESCAPE, text, "mentions")
    backdoors = _matches(_URL, text, "contains") + _matches(_INJECTION, text, "contains")
    _report(ctx, rules.TPL_SANDBOX_ESCAPE, location, source, escapes, lines)
    _report(ctx, rules.TPL_BACKDOOR, location, source, backdoors, lines)


def analyse_template(
    text: str, location: Location, ctx: ScanContext, source: str, *, parse: bool = True
) -> None:
    """Parse a chat template (never render it) and report escapes, backdoors, parse failures.

    ``source`` says where the template came from, for messages: ``"GGUF key
    'tokenizer.chat_template'"``, ``"'chat_template'"``. ``parse=False`` (the caller has already
    had :data:`MAX_PARSE_PER_FILE` characters parsed in this file) only searches the text.
    """
    if not parse or len(text) > MAX_PARSE:
        why = (
            f"is {len(text)} characters long, more than the {MAX_PARSE} modeltrust parses"
            if parse
            else f"follows {MAX_PARSE_PER_FILE} characters of other templates in the same file, "
            "more than modeltrust parses per file"
        )
        ctx.report(
            rules.TPL_UNPARSABLE.finding(
                location,
                f"The chat template ({source}) {why}; it was only searched for dangerous names "
                "and phrases.",
                severity=Severity.HIGH,
            )
        )
        fallback(text, location, ctx, source)
        return
    try:
        tree = _ENV.parse(text)
    except TemplateSyntaxError as e:
        ctx.report(
            rules.TPL_UNPARSABLE.finding(
                location,
                f"The chat template ({source}) is not valid Jinja: {e.message} (line "
                f"{e.lineno}); it was only searched for dangerous names.",
            )
        )
        fallback(text, location, ctx, source)
        return
    except RecursionError:
        ctx.report(
            rules.TPL_UNPARSABLE.finding(
                location,
                f"The chat template ({source}) nests expressions too deeply to parse; it was only "
                "searched for dangerous names.",
            )
        )
        fallback(text, location, ctx, source)
        return
    except (ValueError, OverflowError) as e:  # a literal Python cannot convert (a huge number)
        ctx.report(
            rules.TPL_UNPARSABLE.finding(
                location,
                f"The chat template ({source}) holds a literal that cannot be read ({e}); it was "
                "only searched for dangerous names.",
            )
        )
        fallback(text, location, ctx, source)
        return
    analysis = _Analysis(tree)
    try:
        analysis.run()
    except RecursionError:
        analysis.escapes.append((0, "nests expressions too deeply to analyse"))
    lines = text.split("\n")
    _report(ctx, rules.TPL_SANDBOX_ESCAPE, location, source, analysis.escapes, lines)
    _report(ctx, rules.TPL_BACKDOOR, location, source, analysis.backdoors, lines)
