"""Keras models: the ``config.json`` of ``.keras`` archives, and the checks that ``.h5`` model
configs share with it (:func:`check_keras_config`).

Keras rebuilds a model from its JSON config by importing what each object names. The config is
walked whole (nested models, ``inbound_nodes``, ``compile_config``, ``build_config``, custom
objects) and every object is judged by its ``module``, ``class_name`` and ``registered_name``:

- ``Lambda`` layers and ``__lambda__`` functions carry marshalled Python bytecode (MT-KERAS-001).
  The bytecode is never unmarshalled; the names and strings in it are read as evidence.
- Objects outside Keras' own namespaces (:data:`KERAS_MODULES`) are foreign (MT-KERAS-002), and
  critical when the pickle policy calls them code execution, processes or dynamic imports.
- ``TorchModuleWrapper``, ``TFSMLayer``, ``get_file`` and ``enable_unsafe_deserialization``
  defeat ``safe_mode`` (MT-KERAS-003).

Nothing here imports Keras or TensorFlow.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Iterator
from typing import Any

from modeltrust import rules
from modeltrust.findings import Location, Severity
from modeltrust.scanners.common import sniff
from modeltrust.scanners.common.callables import classify
from modeltrust.scanners.common.zip import (
    ZipEntry,
    read_central_directory,
    read_local_headers,
    read_zip_member,
)
from modeltrust.scanners.interface import (
    Blob,
    CappedReporter,
    CorruptData,
    LimitExceeded,
    MiB,
    ScanContext,
    Scanner,
)

KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "keras_nlp", "keras_hub", "keras_cv")
"""Modules (and their submodules) that count as Keras' own namespaces."""
KERAS_PACKAGES = frozenset({"keras", "tf_keras", "keras_nlp", "keras_hub", "keras_cv"})
"""Packages of ``registered_name`` values (``package>Name``) that count as Keras' own."""
KERAS_SPECIAL_CLASSES = frozenset(
    {
        "__tuple__",
        "__numpy__",
        "__tensor__",
        "__keras_tensor__",
        "__bytes__",
        "__ellipsis__",
        "__slice__",
        "__typespec__",
        "__lambda__",
    }
)
"""Dunder class names Keras' serialisation uses for plain values."""
BYPASS_CLASSES = {
    "TorchModuleWrapper": "wraps a torch module that Keras restores with torch.load (CVE-2025-49655)",
    "TFSMLayer": "loads an external TensorFlow SavedModel (CVE-2026-1462)",
}
BYPASS_FUNCTIONS = {
    "get_file": "keras.utils.get_file downloads and writes files (CVE-2025-8747)",
    "enable_unsafe_deserialization": "turns safe_mode off for the rest of the load (CVE-2025-9906)",
}
MAX_CONFIG = 100 * MiB
"""Largest config read into memory (the scan limits' max_header may be lower)."""
MAX_PER_RULE = 20
_MAX_CODE = 4 * MiB


# --- findings ------------------------------------------------------------------------------------
# --- helpers -------------------------------------------------------------------------------------
def in_keras_namespace(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in KERAS_MODULES)


def _short(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _is_dunder(part: str) -> bool:
    return len(part) > 4 and part.startswith("__") and part.endswith("__")


def _bypass_name(text: str) -> str | None:
    """The safe_mode bypass function a string names (``get_file``, ``keras.utils.get_file``)."""
    last = re.split(r"[.>:]", text.strip())[-1]
    return last if last in BYPASS_FUNCTIONS else None


_MARSHAL_SHORT = frozenset(b"zZ\xfa\xda")  # short ASCII strings (interned or not, with FLAG_REF)
_MARSHAL_LONG = frozenset(b"aAut\xe1\xc1\xf5\xf4")  # ASCII / unicode strings with a 4-byte size


def bytecode_strings(code: bytes, limit: int = 16) -> list[str]:
    """Names and string constants visible in marshalled bytecode, read as bytes (never
    unmarshalled): evidence of what a Lambda does."""
    found: list[str] = []
    i = 0
    while i < len(code) - 1 and len(found) < limit:
        b = code[i]
        if b in _MARSHAL_SHORT:
            n, start = code[i + 1], i + 2
        elif b in _MARSHAL_LONG and i + 5 <= len(code):
            n, start = int.from_bytes(code[i + 1 : i + 5], "little"), i + 5
        else:
            i += 1
            continue
        text = code[start : start + n]
        if 0 < n <= 200 and len(text) == n and all(32 <= c < 127 for c in text):
            value = text.decode("ascii")
            if value not in found:
                found.append(value)
            i = start + n
        else:
            i += 1
    return found


def _code_text(value: object) -> str | None:
    """The base64 bytecode string in a serialised function (Keras 2 list/str, Keras 3 dict)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    if isinstance(value, dict):
        for key in ("code", "value", "function"):
            if key in value:
                return _code_text(value[key])
    return None


def _lambda_evidence(value: object) -> str:
    text = _code_text(value)
    if text is None:
        return "no bytecode string found"
    try:
        code = base64.b64decode(text[: _MAX_CODE * 2], validate=False)
    except (binascii.Error, ValueError):
        return f"{len(text)} characters that are not valid base64"
    names = bytecode_strings(code)
    shown = ", ".join(repr(n) for n in names) if names else "none readable"
    return f"{len(code)} bytes of marshalled bytecode; names and strings in it: {shown}"


def _children(node: object, path: str) -> Iterator[tuple[object, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, dict | list):
                yield v, f"{path}.{k}"
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, dict | list):
                yield v, f"{path}[{i}]"


# --- the config walk -----------------------------------------------------------------------------
class _ConfigCheck:
    def __init__(self, report: CappedReporter, source: str) -> None:
        self.report = report
        self.source = source

    def run(self, config: object) -> None:
        stack: list[tuple[object, str]] = [(config, "$")]
        while stack:
            node, path = stack.pop()
            if isinstance(node, dict):
                self._object(node, path)
            self._bypass_strings(node, path)
            stack.extend(reversed(list(_children(node, path))))

    def _where(self, node: dict[str, Any], path: str) -> str:
        inner = node.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
        layer = f" (layer {_short(name, 80)})" if isinstance(name, str) and name else ""
        return f"{self.source} at {path}{layer}"

    def _object(self, node: dict[str, Any], path: str) -> None:
        cls = node.get("class_name")
        module = node.get("module")
        registered = node.get("registered_name")
        inner = node.get("config")
        if not isinstance(cls, str):
            return
        where = self._where(node, path)
        if cls == "__lambda__":
            self.report(
                rules.KERAS_LAMBDA,
                f"{where}: a function is stored as Python bytecode (__lambda__); it runs when the "
                "model is loaded or called. Do not load this model.",
                evidence=_lambda_evidence(inner),
            )
        elif cls.rpartition(".")[2] == "Lambda" and isinstance(inner, dict):
            self._lambda_layer(inner, where)
        bypass = BYPASS_CLASSES.get(cls.rpartition(".")[2])
        if bypass is not None:
            self.report(
                rules.KERAS_BYPASS,
                f"{where}: a {cls.rpartition('.')[2]} layer {bypass}, even in safe_mode. Do not "
                "load this model.",
                evidence=cls[:1000],
            )
        self._names(cls, module, registered, inner, where)

    def _lambda_layer(self, inner: dict[str, Any], where: str) -> None:
        """Keras 2 Lambda layers keep their bytecode in ``function`` / ``output_shape`` with a
        ``*_type`` of "lambda" (Keras 3 uses a nested __lambda__ object, reported on its own)."""
        for key in ("function", "output_shape"):
            value = inner.get(key)
            kind = inner.get(f"{key}_type")
            if isinstance(value, dict) or value is None:
                continue
            is_code = kind == "lambda" or (kind is None and key == "function")
            if is_code and isinstance(value, str | list):
                self.report(
                    rules.KERAS_LAMBDA,
                    f"{where}: the Lambda layer's {key} is Python bytecode; it runs when the "
                    "model is loaded or called. Do not load this model.",
                    evidence=_lambda_evidence(value),
                )

    def _names(
        self, cls: str, module: object, registered: object, inner: object, where: str
    ) -> None:
        target = inner if cls == "function" and isinstance(inner, str) else cls
        if isinstance(module, str):
            if not in_keras_namespace(module):
                self._foreign(module, target, where, f"module {_short(module)}")
                return
            if any(_is_dunder(p) for p in [*module.split("."), *target.split(".")]):
                self.report(
                    rules.KERAS_FOREIGN_OBJECT,
                    f"{where}: {_short(module + '.' + target)} reaches a dunder attribute, which "
                    "leads to arbitrary code. Do not load this model.",
                    severity=Severity.CRITICAL,
                    evidence=f"{module}:{target}"[:1000],
                )
                return
        elif module is None and "." in cls:
            mod, _, name = cls.rpartition(".")
            if not in_keras_namespace(mod):
                self._foreign(mod, name, where, "a dotted class_name")
                return
        elif module is None and _is_dunder(cls) and cls not in KERAS_SPECIAL_CLASSES:
            self.report(
                rules.KERAS_FOREIGN_OBJECT,
                f"{where}: class_name {_short(cls)} is a dunder name Keras never writes. Do not "
                "load this model.",
                evidence=cls[:1000],
            )
            return
        if isinstance(registered, str) and ">" in registered:
            package = registered.split(">", 1)[0]
            if package not in KERAS_PACKAGES:
                self.report(
                    rules.KERAS_FOREIGN_OBJECT,
                    f"{where}: {_short(registered)} is a custom object registered by package "
                    f"{_short(package)}, outside Keras; loading needs that package's code. Check "
                    "that you trust it.",
                    evidence=registered[:1000],
                )

    def _foreign(self, module: str, name: str, where: str, how: str) -> None:
        # The pickle policy knows which importable names run code; its critical categories
        # (code execution, processes, dynamic imports, nested loaders, dunders) are critical here.
        verdict = classify(module, name) if module and name else None
        rule = verdict.rule if verdict is not None else None
        dangerous = rule is not None and rule.severity >= Severity.CRITICAL
        qualified = f"{module}.{name}"
        if dangerous and verdict is not None:
            why = f"it is a {verdict.category} gadget ({verdict.why}). Do not load this model."
        else:
            why = "loading imports and calls it. Check that you trust it."
        self.report(
            rules.KERAS_FOREIGN_OBJECT,
            f"{where}: {_short(qualified)} ({how}) is outside Keras' namespaces; {why}",
            severity=Severity.CRITICAL if dangerous else None,
            evidence=qualified[:1000],
        )

    def _bypass_strings(self, node: object, path: str) -> None:
        if isinstance(node, dict):
            texts = [*(k for k in node if isinstance(k, str)), *node.values()]
            cls = node.get("class_name")
            if isinstance(cls, str) and cls.rpartition(".")[2] in BYPASS_CLASSES:
                return  # already reported as a bypass layer
            where = self._where(node, path)
        elif isinstance(node, list):
            texts, where = list(node), f"{self.source} at {path}"
        else:
            return
        names = sorted({n for t in texts if isinstance(t, str) and (n := _bypass_name(t))})
        for name in names:
            self.report(
                rules.KERAS_BYPASS,
                f"{where}: the config calls {name}, which {BYPASS_FUNCTIONS[name]}. Do not load "
                "this model.",
                evidence=name,
            )


def check_keras_config(
    config: object, location: Location, ctx: ScanContext, *, source: str = "config.json"
) -> None:
    """Report Lambda layers, foreign objects and safe_mode bypasses anywhere in a Keras config.

    ``source`` names the config in messages (``config.json``, ``attribute 'model_config'``).
    """
    report = CappedReporter(ctx, location, "config", MAX_PER_RULE)
    _ConfigCheck(report, source).run(config)
    report.close()


def parse_config(raw: bytes | str) -> object:
    """JSON text to a value. Raises ValueError (RecursionError included) when it is not JSON."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None


# --- .keras archives -----------------------------------------------------------------------------
class KerasScanner(Scanner):
    """``.keras`` archives: zips whose ``config.json`` Keras reads to rebuild the model. The
    other members (``model.weights.h5``, assets) are scanned by the zip scanner."""

    name = "keras"
    needs_seek = True

    def sniff(self, head: bytes, blob: Blob) -> bool:
        # Keras opens zips with zipfile, which finds an archive at the end of other data too.
        return sniff.keras(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        if not sniff.zip_may_name(blob, b"config.json"):
            return False  # most zips: torch checkpoints, npz, archives of anything
        try:
            entries, _ = read_central_directory(blob)
        except (CorruptData, struct.error):
            entries = read_local_headers(blob, ctx.limits.max_members + 1)
        configs = [e for e in entries if e.name == "config.json"]
        if not configs:
            return False
        ctx.saw("keras")
        limit = min(MAX_CONFIG, ctx.limits.max_header)
        for entry in entries:
            if entry.name == "metadata.json":
                self._metadata(blob, entry, ctx)
                break
        for entry in configs:
            loc = blob.location.inner(entry.name)
            try:
                config = parse_config(read_zip_member(blob, entry, ctx.limits, limit))
            except (ValueError, CorruptData, LimitExceeded) as e:
                ctx.report(
                    rules.KERAS_MALFORMED.finding(
                        loc,
                        f"The Keras archive's config.json cannot be read: {e}. The model was "
                        "not analysed; re-download or re-save it.",
                    )
                )
                continue
            check_keras_config(config, loc, ctx, source="config.json")
        return True

    @staticmethod
    def _metadata(blob: Blob, entry: ZipEntry, ctx: ScanContext) -> None:
        try:
            meta = parse_config(read_zip_member(blob, entry, ctx.limits, MiB))
        except (ValueError, CorruptData, LimitExceeded):
            return  # Keras only reads it for its version; config.json is what matters
        if isinstance(meta, dict):
            for key, fact in (("keras_version", "keras.version"), ("date_saved", "keras.saved")):
                if isinstance(meta.get(key), str):
                    ctx.fact(fact, meta[key], limit=100)
