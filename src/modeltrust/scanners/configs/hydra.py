"""Hydra/NeMo configs: every ``_target_`` names a class or function that is imported and called.

``hydra.utils.instantiate`` (NeMo's ``restore_from``, Lightning CLIs and many training scripts)
imports the dotted path in ``_target_`` and calls it with the sibling keys (``_args_`` as
positional arguments, ``_partial_: true`` for a ``functools.partial``). A config is therefore
code: ``_target_: os.system`` with ``_args_: ["curl ... | sh"]`` runs a shell (CVE-2025-23304).

The scanner claims text (YAML or JSON, found by content: ``_target_`` in the first 64 MiB)
anywhere - a standalone ``*.yaml``, ``model_config.yaml`` inside a ``.nemo`` tar, a JSON config.
YAML is only *parsed*: the safe loader's event stream is walked with an explicit stack (no node
graph, no Python object is ever built), which shows every duplicate key and every anchor once,
so alias bombs and deep nesting cost nothing; JSON keeps duplicate keys too.

Each target is rated with the pickle policy over every module/attribute split of its dotted path
(Hydra imports the longest importable module prefix and walks the rest as attributes):

- code execution, processes, dynamic imports, nested loaders, dunders, scanner tampering:
  MT-CFG-001 at **critical**;
- file, network and model-tampering callables: MT-CFG-001 at high;
- anything under an allowlisted ML prefix (:data:`ALLOWED_PREFIXES`), or a plain value type /
  known ML library class by the pickle policy: no finding;
- anything else: MT-CFG-001 at high ("outside the allowlist").
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from modeltrust import rules
from modeltrust.findings import Severity
from modeltrust.scanners.common import sniff
from modeltrust.scanners.common.callables import SEVERITY_ORDER, Category, classify
from modeltrust.scanners.common.sniff import HYDRA_SNIFF_LIMIT as SNIFF_LIMIT
from modeltrust.scanners.common.sniff import HYDRA_TARGET, find
from modeltrust.scanners.interface import Blob, MiB, ScanContext, Scanner

MAX_CONFIG = 16 * MiB
"""Bytes of a config read; JSON up to this size is parsed."""
MAX_YAML = 4 * MiB
"""YAML bigger than this is searched as text instead (parsing costs about a second per MiB)."""
MAX_PURE_YAML = 1 * MiB
"""The same, when PyYAML runs without libyaml (ten times slower)."""
MAX_DEPTH = 200
"""Nesting beyond this is refused: configs are a few levels deep, and libyaml's parser slows
down with every open flow level (quadratic time on ``[[[[...``)."""
_MAX_FINDINGS = 100

ALLOWED_PREFIXES = (
    "nemo.collections.",
    "nemo.core.",
    "torch.optim.",
    "torch.nn.",
    "torch.utils.data.",
    "pytorch_lightning.",
    "lightning.",
    "transformers.",
    "omegaconf.",
    "torchmetrics.",
)
"""Dotted prefixes of well-known ML libraries whose classes configs instantiate routinely:
NeMo's model, module, dataset and optimiser classes, PyTorch optimisers, schedulers, layers and
data loaders, PyTorch Lightning, Hugging Face transformers, OmegaConf and torchmetrics. Dangerous
names under them (``torch.nn.Module.register_forward_hook``, ``...from_pretrained`` loaders) are
still reported: the policy's verdict is checked first."""

CRITICAL = frozenset(
    {
        Category.EXEC,
        Category.PROCESS,
        Category.IMPORT,
        Category.LOADER,
        Category.DUNDER,
        Category.SCANNER,
    }
)
HIGH = frozenset({Category.FILE, Category.NETWORK, Category.TAMPER})
_ORDER = (*SEVERITY_ORDER, Category.UNKNOWN, Category.LIBRARY, Category.SAFE)

_DENY_PREFIXES: dict[str, Category] = {
    "hydra.utils.": Category.IMPORT,
    "hydra._internal.": Category.IMPORT,
    "omegaconf.OmegaConf.load": Category.FILE,
    "omegaconf.OmegaConf.save": Category.FILE,
}
"""Names the pickle policy does not know that configs reach: Hydra's own resolvers import any
name given to them (``hydra.utils.get_method``, ``call``, ``instantiate``)."""
_LOADER_METHODS = frozenset({"load_from_checkpoint", "restore_from", "load_checkpoint", "load"})
"""Methods of allowlisted libraries that unpickle another file (Lightning checkpoints, ``.nemo``
archives): the file they are given is not part of this scan."""

_SNIFF = HYDRA_TARGET
_TARGET_LINE = re.compile(r"""["']?_target_["']?\s*:\s*["']?([^\s"',}#]+)""")


@dataclass(frozen=True, slots=True)
class Target:
    value: object
    """The ``_target_`` value (a string unless the config is broken)."""
    path: str
    """Where it is, as ``key.key[index]``."""
    args: str | None = None
    """``_args_`` beside it, as text."""
    partial: bool = False
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Rating:
    severity: Severity | None
    why: str


def rate_target(target: str) -> Rating:
    """How dangerous instantiating ``target`` is; severity None means no finding."""
    parts = target.strip().split(".")
    if len(parts) < 2 or any(not p.isidentifier() for p in parts):
        if len(parts) == 1 and parts[0].isidentifier():
            verdict = classify("builtins", parts[0])
            if verdict.category in CRITICAL | HIGH:
                return _from_category(verdict.category, verdict.why)
        return Rating(Severity.HIGH, "is not a dotted Python path Hydra could import safely")
    verdicts = [classify(".".join(parts[:i]), ".".join(parts[i:])) for i in range(1, len(parts))]
    worst = min(verdicts, key=lambda v: _ORDER.index(v.category))
    for prefix, category in _DENY_PREFIXES.items():
        if (target + ".").startswith(prefix) or target == prefix:
            return _from_category(category, f"{target} resolves or touches more than it names")
    if worst.category not in CRITICAL | HIGH and parts[-1] in _LOADER_METHODS:
        return _from_category(Category.LOADER, f"calls {parts[-1]}, which unpickles another file")
    if worst.category in CRITICAL | HIGH:
        if parts[-1] == "from_pretrained" and worst.category is Category.LOADER:
            return Rating(
                Severity.HIGH,
                "loads another model (whose files are not part of this scan) when instantiated",
            )
        return _from_category(worst.category, worst.why)
    if target.startswith(ALLOWED_PREFIXES):
        return Rating(None, "is under an allowlisted library prefix")
    if any(v.category in (Category.SAFE, Category.LIBRARY) for v in verdicts):
        return Rating(None, "is a plain value type or a known ML library class")
    return Rating(Severity.HIGH, "is outside the allowlist of known ML library classes")


def _from_category(category: Category, why: str) -> Rating:
    severity = Severity.CRITICAL if category in CRITICAL else Severity.HIGH
    return Rating(severity, f"is a dangerous callable ({category.value}: {why})")


# --- walking parsed configs -----------------------------------------------------------------------
class ParseError(Exception):
    """The config could not be parsed (the message says why)."""


class NotAString:
    """A ``_target_`` whose value is a mapping, a sequence or an alias to one."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __str__(self) -> str:
        return f"<{self.what}>"


@dataclass(slots=True)
class _Frame:
    """An open YAML collection while the event stream is walked."""

    mapping: bool
    path: str
    start: int
    role: str | None = None
    """The key this collection is the value of in its parent mapping."""
    is_key: bool = False
    """A collection used as a mapping key (YAML allows it; Hydra never does)."""
    expect_key: bool = True
    key: str = "?"
    index: int = 0
    targets: list[tuple[object, int | None]] = field(default_factory=list)
    args: str | None = None
    partial: bool = False

    def child_path(self) -> str:
        if self.mapping:
            return f"{self.path}.{self.key}" if self.path else self.key
        self.index += 1
        return f"{self.path}[{self.index - 1}]"


def _yaml_targets(text: str) -> Iterator[Target]:
    """``_target_`` entries found by walking the parser's events with an explicit stack.

    Only the event parser runs (libyaml's when present): no node graph is composed and no object
    constructed, so nesting costs no recursion and an alias bomb costs one event per alias.
    Aliases to scalars are resolved, so ``_target_: *t`` and ``*k: os.system`` are seen.
    """
    import yaml  # loaded when a config is met

    fast = getattr(yaml, "CSafeLoader", None)
    limit = MAX_YAML if fast is not None else MAX_PURE_YAML
    if len(text) > limit:
        raise ParseError(f"YAML larger than {limit} bytes is not parsed")
    anchors: dict[str, str] = {}
    stack: list[_Frame] = []
    for ev in yaml.parse(text, Loader=fast or yaml.SafeLoader):
        if isinstance(ev, yaml.CollectionEndEvent):
            frame = stack.pop()
            yield from _frame_targets(frame)
            parent = stack[-1] if stack else None
            if parent is not None and parent.mapping and not frame.is_key:
                if frame.role == "_args_":
                    parent.args = text[frame.start : ev.end_mark.index][:300]
                elif frame.role == "_target_":
                    parent.targets.append(
                        (NotAString("mapping" if frame.mapping else "sequence"), frame.start)
                    )
                parent.expect_key = True
            continue
        if not isinstance(ev, yaml.NodeEvent):
            continue
        value: str | None = None
        if isinstance(ev, yaml.ScalarEvent):
            value = ev.value
            if ev.anchor is not None:
                anchors[ev.anchor] = ev.value
        elif isinstance(ev, yaml.AliasEvent):
            value = anchors.get(ev.anchor)
        collection = isinstance(ev, yaml.CollectionStartEvent)
        parent = stack[-1] if stack else None
        start = ev.start_mark.index
        if parent is not None and parent.mapping and parent.expect_key:
            parent.expect_key = False
            parent.key = value if value is not None else "?"
            if collection:
                stack.append(
                    _Frame(isinstance(ev, yaml.MappingStartEvent), parent.path, start, is_key=True)
                )
            continue
        path = parent.child_path() if parent is not None else ""
        role = parent.key if parent is not None and parent.mapping else None
        if collection:
            if len(stack) >= MAX_DEPTH:
                raise ParseError(f"the YAML is nested more than {MAX_DEPTH} levels deep")
            stack.append(_Frame(isinstance(ev, yaml.MappingStartEvent), path, start, role))
        elif parent is not None and parent.mapping:
            if role == "_target_":
                parent.targets.append((value if value is not None else NotAString("alias"), start))
            elif role == "_args_":
                parent.args = text[start : ev.end_mark.index][:300]
            elif role == "_partial_":
                parent.partial = str(value).lower() == "true"
            parent.expect_key = True


def _frame_targets(frame: _Frame) -> Iterator[Target]:
    where = f"{frame.path}._target_" if frame.path else "_target_"
    for value, offset in frame.targets:
        yield Target(value, where, frame.args, frame.partial, offset)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object with every key kept, duplicates included."""


def _json_targets(text: str) -> Iterator[Target]:
    root = json.loads(text, object_pairs_hook=_Pairs)
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, _Pairs):
            yield from _mapping_targets(list(node), path, lambda v: v, lambda v: None)
            stack.extend((v, f"{path}.{k}" if path else k) for k, v in reversed(node))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(node))))


def _mapping_targets(
    pairs: list[tuple[str, Any]], path: str, as_text: Any, offset_of: Any
) -> Iterator[Target]:
    keys = [k for k, _ in pairs]
    if "_target_" not in keys:
        return
    args = next((as_text(v) for k, v in pairs if k == "_args_"), None)
    partial = any(k == "_partial_" and str(as_text(v)).lower() == "true" for k, v in pairs)
    for k, v in pairs:
        if k == "_target_":
            where = f"{path}._target_" if path else "_target_"
            args_text = None if args is None else json.dumps(args, default=str)[:300]
            yield Target(as_text(v), where, args_text, partial, offset_of(v))


def _text_targets(text: str) -> Iterator[Target]:
    for m in _TARGET_LINE.finditer(text):
        yield Target(m.group(1), f"line {text.count(chr(10), 0, m.start()) + 1}", offset=None)


def parse_targets(text: str) -> list[Target]:
    """Every ``_target_`` in a YAML or JSON config, in file order. Raises ParseError."""
    import yaml

    try:
        targets: list[Target] | None = None
        if text.lstrip().startswith(("{", "[")):
            with contextlib.suppress(ValueError):  # YAML flow style or broken JSON: YAML decides
                targets = list(_json_targets(text))
        if targets is None:
            targets = list(_yaml_targets(text))
    except (yaml.YAMLError, ValueError, RecursionError, MemoryError) as e:
        raise ParseError(f"{type(e).__name__}: {str(e)[:300]}") from None
    return sorted(targets, key=lambda t: -1 if t.offset is None else t.offset)


# --- the scanner ----------------------------------------------------------------------------------
class HydraConfigScanner(Scanner):
    name = "hydra-config"

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.hydra(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        loc = blob.location
        with blob.open() as f:
            data = f.read(MAX_CONFIG + 1)
        if len(data) > MAX_CONFIG:
            return self._too_big(data, blob, ctx)
        if not _SNIFF.search(data):
            return False
        text = data.decode("utf-8-sig", "replace")
        error: str | None = None
        try:
            targets = parse_targets(text)
        except ParseError as e:
            if _is_python(text):
                return False  # source code that mentions _target_: the code scanners' business
            error = str(e)
            targets = list(_text_targets(text))
            if not targets and b"_target_" not in data:
                return False  # not a config: the sniff matched an escape or a line continuation
        if not targets and error is None:
            return False  # `_target_` only in a comment, a value or prose
        ctx.saw("hydra-config")
        if error is not None:
            ctx.report(
                rules.CFG_TARGET.finding(
                    loc,
                    f"'{loc.display_path}' has _target_ entries but could not be parsed as YAML "
                    f"or JSON ({error}); the {len(targets)} target(s) found by a text search are "
                    "rated separately, others may be missed.",
                    evidence=error,
                )
            )
        shift = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        self._rate(targets, blob, ctx, _Offsets(text, shift))
        return True

    def _too_big(self, data: bytes, blob: Blob, ctx: ScanContext) -> bool:
        if not find(blob, re.compile(rb"_target_"), SNIFF_LIMIT):
            return False
        text = data[:MAX_CONFIG].decode("utf-8-sig", "replace")
        targets = list(_text_targets(text))
        ctx.saw("hydra-config")
        ctx.report(
            rules.CFG_TARGET.finding(
                blob.location,
                f"'{blob.location.display_path}' has _target_ entries but is larger than "
                f"{MAX_CONFIG} bytes, so it was not parsed; the {len(targets)} target(s) a text "
                "search found in its first part are rated separately. Review the rest by hand.",
            )
        )
        self._rate(targets, blob, ctx, _Offsets(text, 0))
        return True

    @staticmethod
    def _rate(targets: list[Target], blob: Blob, ctx: ScanContext, offsets: _Offsets) -> None:
        reported = 0
        for t in targets:
            if reported >= _MAX_FINDINGS:
                ctx.report(
                    rules.CFG_TARGET.finding(
                        blob.location,
                        f"More than {_MAX_FINDINGS} _target_ entries need review; the rest are "
                        "not listed.",
                    )
                )
                return
            if not isinstance(t.value, str):
                rating = Rating(Severity.HIGH, "is not a string, so what it resolves to is unclear")
                shown = str(t.value)[:200]
            else:
                rating = rate_target(t.value)
                shown = t.value[:200]
            if rating.severity is None:
                continue
            reported += 1
            extra = ""
            if t.args is not None:
                extra += f" It is called with _args_ {t.args}."
            if t.partial:
                extra += " _partial_ makes it a callable that runs whenever the model calls it."
            ctx.report(
                rules.CFG_TARGET.finding(
                    blob.location.at(offsets.byte(t.offset)),
                    f"Config '{blob.location.display_path}' instantiates {shown!r} at {t.path}, "
                    f"which {rating.why}.{extra} Hydra imports and calls it when the config is "
                    "instantiated: do not load this config unless you trust that target.",
                    evidence=f"_target_: {shown}" + (f"; _args_: {t.args}" if t.args else ""),
                    severity=rating.severity,
                )
            )


class _Offsets:
    """Turns character offsets in the decoded text into byte offsets in the file."""

    def __init__(self, text: str, shift: int) -> None:
        self.text = text
        self.shift = shift
        self.ascii = text.isascii()

    def byte(self, index: int | None) -> int | None:
        if index is None:
            return None
        if not self.ascii:
            index = len(self.text[:index].encode("utf-8", "replace"))
        return index + self.shift


def _is_python(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
