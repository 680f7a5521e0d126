"""Code a model repository asks its users to run: ``auto_map`` configs and Python files.

transformers loads a class named in ``auto_map`` (``config.json``, ``tokenizer_config.json``,
processor configs) or in ``custom_pipelines`` by importing the repository's own Python file when
the caller passes ``trust_remote_code=True``. Such a config is reported (MT-CODE-001). When the
config is a file on disk, the Python files it names, and the files those import relatively, are
analysed and reported under their own paths, so scanning ``config.json`` alone still covers the
code it pulls in.

Configs are recognised by content: a JSON object that names ``auto_map`` or ``custom_pipelines``
anywhere in the file (JSON-escaped spellings such as ``"auto\\u005fmap"`` included, so padding or
escapes cannot hide the key); only top-level keys count, as in transformers. Every ``*.py`` file
is analysed as well, wherever it is found: Python source has no magic bytes, so this one format is
recognised by its file name, inside archives too (TorchServe handlers; TorchScript ``code/``
members, which normal TorchScript never trips, are also read by the TorchScript scanner, which
reports them as MT-TS-*; a ``code/`` member outside a real TorchScript archive is still covered
here). A Python file with nothing dangerous gets no finding; it is listed with format
``python`` and the fact ``python.imports`` (the top-level modules it imports).

The analysis reads the syntax tree from :func:`ast.parse`; nothing is imported, compiled or run.
Calls are resolved to qualified names through import aliases (``import subprocess as sp``,
``from os import system as s``), assignments (``run = os.system``), ``getattr``/``__import__``
with constant names, ``sys.modules[...]`` and ``globals()[...]``. What is flagged (MT-CODE-002):

- processes (``os.system``, ``subprocess``, ``pty``, ``multiprocessing`` ...), ``eval``/``exec``/
  ``compile`` of anything but a constant, imports of computed module names, code objects and
  native libraries (``types.FunctionType``, ``marshal``, ``ctypes``): critical;
- network clients (sockets, ``urllib.request``, ``requests``, ``httpx`` ...), file writes,
  moves and deletes, pickle-style loaders, credentials and start-up files: high.

What normal remote code does stays quiet: reading files (vocabularies), ``os.path``, logging,
``importlib.util.find_spec``, constant ``importlib.import_module("transformers...")``, guarded
optional imports, ``huggingface_hub`` downloads (loading a model downloads files anyway; uploads
are flagged), and file writes inside ``save_*``/``write_*`` functions (``save_vocabulary``), unless
they target a fixed path outside the model folder.

Encoded payloads (MT-CODE-003): the result of a decoder (base64, zlib, bz2, lzma, marshal,
hex, rot13, ``chr`` codes, reversed literals) or a long base64/hex literal that reaches ``exec``,
``eval``, ``compile``, an import, ``getattr``, a pickle loader or a process, directly or through
variables, attributes or function results (flow-insensitive def-use); names of dangerous
functions assembled from pieces (``'ex' + 'ec'``); and source encodings that hide code
(``# coding: utf-7``). Constant payloads are decoded (bounded) and analysed in turn.

Limits and known gaps: the analysis is per file and flow-insensitive (a variable is "constant"
only if every assignment gives the same value); calls through objects of unknown type are not
resolved (``s = socket.socket(); s.connect(...)`` is flagged at ``socket.socket``); writes in
``save_*`` functions to computed paths are trusted; files that cannot be parsed are reported
(MT-CODE-004), high when they are too large or deep for the parser or mention dangerous names.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePath

from modeltrust import rules
from modeltrust.findings import Location
from modeltrust.scanners.common import sniff
from modeltrust.scanners.interface import Blob, FileBlob, MiB, ScanContext, Scanner
from modeltrust.scanners.remote_code.names import (
    _CHUNK,
    _HIGH,
    MAX_CONFIG,
    MAX_LOCAL_FILES,
    MAX_REFERENCES,
    MAX_SOURCE,
)
from modeltrust.scanners.remote_code.python import (
    analyse_python,
)

# --- auto_map configs ----------------------------------------------------------------------------

_KEYS = ("auto_map", "custom_pipelines")
_PLAIN_KEYS = tuple(f'"{k}"'.encode() for k in _KEYS)
_ESCAPED_KEY = re.compile(
    rb'("[A-Za-z_]{0,24}\\u00[0-9a-fA-F]{2}(?:[A-Za-z_]|\\u00[0-9a-fA-F]{2}){0,24}")\s*:'
)


def _mentions_keys(chunk: bytes) -> bool:
    if any(k in chunk for k in _PLAIN_KEYS):
        return True
    for m in _ESCAPED_KEY.finditer(chunk):
        try:
            if json.loads(m.group(1)) in _KEYS:
                return True
        except ValueError:
            continue
    return False


@dataclass(slots=True)
class _Reference:
    auto_class: str
    text: str
    repo: str | None = None
    path: tuple[str, ...] | None = None
    problem: str | None = None


def _parse_reference(auto_class: str, text: str) -> _Reference:
    """``module.Class``, ``sub/module.Class`` or ``owner/repo--module.Class``."""
    ref = _Reference(auto_class, text)
    rest = text
    if "--" in text:
        ref.repo, _, rest = text.partition("--")
    module, _, cls = rest.rpartition(".")
    if not module or not cls:
        ref.problem = "it is not 'module.ClassName'"
        return ref
    if ref.repo is not None:
        return ref
    if module.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", module):
        ref.problem = "it is an absolute path"
        return ref
    parts: list[str] = []
    for piece in re.split(r"[/\\]", module):
        if piece.startswith(".."):
            ref.problem = "it climbs out of the repository folder with '..'"
            return ref
        if not piece or piece.startswith("."):
            ref.problem = "it has an empty or hidden path part"
            return ref
        parts.extend(piece.split("."))
    if not all(parts):
        ref.problem = "it has an empty path part"
        return ref
    parts[-1] += ".py"
    ref.path = tuple(parts)
    return ref


def _references(data: dict[str, object]) -> tuple[list[_Reference], list[str]]:
    refs: list[_Reference] = []
    problems: list[str] = []
    auto_map = data.get("auto_map")
    if isinstance(auto_map, dict):
        for auto_class, value in auto_map.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, str):
                    ref = _parse_reference(str(auto_class), v)
                    refs.append(ref)
                    if ref.problem is not None and ref.path is None and ref.repo is None:
                        problems.append(f"auto_map[{auto_class!r}] = {v!r}: {ref.problem}")
                elif v is not None:
                    problems.append(f"auto_map[{auto_class!r}] is not a class reference")
    elif auto_map is not None:
        problems.append("auto_map is not an object")
    pipelines = data.get("custom_pipelines")
    if isinstance(pipelines, dict):
        for task, spec in pipelines.items():
            impl = spec.get("impl") if isinstance(spec, dict) else None
            if isinstance(impl, str):
                refs.append(_parse_reference(f"pipeline {task}", impl))
    return refs[:MAX_REFERENCES], problems


def _local_display(config: Location, parts: tuple[str, ...]) -> str:
    return os.fspath(PurePath(config.path).parent.joinpath(*parts))


class RemoteCodeScanner(Scanner):
    """Configs with ``auto_map`` (and the code they name), and every ``*.py`` file."""

    name = "remote-code"

    def sniff(self, head: bytes, blob: Blob) -> bool:
        return sniff.remote_code(head, blob)

    def scan(self, blob: Blob, ctx: ScanContext) -> bool:
        if _is_python_name(blob.location):
            if ctx.pickle_dialect == "torchscript":
                return False  # TorchScript code/, judged by the TorchScript scanner (MT-TS-001)
            return self._scan_python(blob, ctx)
        return self._scan_config(blob, ctx)

    # -- Python files ------------------------------------------------------------------------------

    @staticmethod
    def _scan_python(blob: Blob, ctx: ScanContext) -> bool:
        ctx.saw("python")
        with blob.open() as f:
            data = f.read(MAX_SOURCE + 1)
        if len(data) > MAX_SOURCE:
            ctx.report(
                rules.CODE_UNPARSABLE.finding(
                    blob.location,
                    f"Python file is larger than {MAX_SOURCE // MiB} MiB and was not analysed; "
                    "Python would still run it. Review it by hand.",
                    severity=_HIGH,
                )
            )
            return True
        report = analyse_python(data, blob.location.at(None))
        for finding in report.findings:
            ctx.report(finding)
        if report.imports:
            ctx.fact("python.imports", ", ".join(report.imports))
        return True

    # -- configs -----------------------------------------------------------------------------------

    def _scan_config(self, blob: Blob, ctx: ScanContext) -> bool:
        loc = blob.location
        data, found, size = _read_config(blob)
        if not found:
            return False
        if size > MAX_CONFIG:
            ctx.saw("transformers-config")
            ctx.report(
                rules.CODE_REMOTE.finding(
                    loc,
                    f"The config mentions auto_map but is larger than {MAX_CONFIG // MiB} MiB, so "
                    "the code it names was not determined. Review it by hand.",
                    severity=_HIGH,
                )
            )
            return True
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError) as e:
            ctx.saw("transformers-config")
            ctx.report(
                rules.CODE_REMOTE.finding(
                    loc,
                    f"The config mentions auto_map but is not valid JSON ({e}); transformers cannot "
                    "read it either. Fix or remove it.",
                    evidence=str(e)[:300],
                )
            )
            return True
        if not isinstance(parsed, dict) or not any(k in parsed for k in _KEYS):
            return False
        ctx.saw("transformers-config")
        refs, problems = _references(parsed)
        self._report_config(blob, ctx, parsed, refs, problems)
        local = [r for r in refs if r.repo is None and r.path is not None]
        if local and isinstance(blob, FileBlob) and not loc.members:
            _analyse_local_code(blob, ctx, local)
        return True

    @staticmethod
    def _report_config(
        blob: Blob,
        ctx: ScanContext,
        parsed: dict[str, object],
        refs: list[_Reference],
        problems: list[str],
    ) -> None:
        loc = blob.location
        evidence = json.dumps(
            {k: parsed[k] for k in _KEYS if k in parsed}, ensure_ascii=False, sort_keys=True
        )[:2000]
        files = sorted({"/".join(r.path) for r in refs if r.path is not None})
        repos = sorted({r.repo for r in refs if r.repo is not None})
        what = []
        if files:
            what.append(f"runs {', '.join(files)} from this repository")
        if repos:
            what.append(f"downloads and runs code from {', '.join(repos)}")
        if not what:
            what.append("names no usable class reference")
        message = (
            f"auto_map makes transformers import the repository's own Python code: loading with "
            f"trust_remote_code=True {' and '.join(what)}."
        )
        if files:
            message += " Review those files (their findings are listed under their own paths)."
        if problems:
            message += " Malformed entries: " + "; ".join(problems[:5]) + "."
        ctx.report(rules.CODE_REMOTE.finding(loc, message, evidence=evidence))
        for repo in repos:
            named = sorted({f"{r.auto_class} -> {r.text}" for r in refs if r.repo == repo})
            ctx.report(
                rules.CODE_REMOTE.finding(
                    loc,
                    f"auto_map takes code from another repository, '{repo}': transformers "
                    "downloads and runs it with trust_remote_code=True. It is not in this folder, "
                    f"so it was not analysed: scan '{repo}' too.",
                    evidence="; ".join(named)[:2000],
                )
            )
        for ref in refs:
            if (
                ref.repo is None
                and ref.problem is not None
                and "module.ClassName" not in ref.problem
            ):
                ctx.report(
                    rules.CODE_REMOTE.finding(
                        loc,
                        f"auto_map entry {ref.auto_class!r} names '{ref.text}', a module outside "
                        f"the repository folder ({ref.problem}); transformers would import code "
                        "from elsewhere on this machine. Do not load it with "
                        "trust_remote_code=True.",
                        evidence=f"{ref.auto_class}: {ref.text}"[:2000],
                        severity=_HIGH,
                    )
                )


def _is_python_name(location: Location) -> bool:
    name = location.members[-1] if location.members else location.path
    return name.lower().endswith(".py")


def _read_config(blob: Blob) -> tuple[bytes, bool, int]:
    """The config's bytes (up to MAX_CONFIG), whether it names auto_map, and its size."""
    kept = bytearray()
    found = False
    size = 0
    tail = b""
    with blob.open() as f:
        while chunk := f.read(_CHUNK):
            size += len(chunk)
            if not found:
                found = _mentions_keys(tail + chunk)
                tail = chunk[-128:]
            if size <= MAX_CONFIG:
                kept += chunk
            elif found:
                size = max(size, blob.size or 0)
                break
    return bytes(kept), found, size


def _analyse_local_code(blob: FileBlob, ctx: ScanContext, refs: list[_Reference]) -> None:
    """Analyse the files auto_map names, then the files they import relatively (bounded)."""
    folder = Path(blob.path).parent
    queue: deque[tuple[tuple[str, ...], _Reference | None]] = deque(
        (ref.path, ref) for ref in refs if ref.path is not None
    )
    seen: set[tuple[str, ...]] = set()
    analysed = 0
    while queue and analysed < MAX_LOCAL_FILES:
        parts, named = queue.popleft()
        if parts in seen:
            continue
        seen.add(parts)
        path = folder.joinpath(*parts)
        display = _local_display(blob.location, parts)
        try:
            st = path.stat()  # follows links, as Python's import does (the Hub cache is links)
        except (FileNotFoundError, NotADirectoryError):
            if named is not None:
                ctx.report(
                    rules.CODE_UNPARSABLE.finding(
                        blob.location,
                        f"auto_map entry {named.auto_class!r} names '{named.text}', but "
                        f"'{display}' is not in the folder. transformers would fetch it from the "
                        "Hub when loading, and that code was not analysed: download the whole "
                        "repository and scan it again.",
                        evidence=f"{named.auto_class}: {named.text}",
                        severity=_HIGH,
                    )
                )
            continue  # a relative import that is not a file here: nothing to read
        except (OSError, RuntimeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            ctx.report(
                rules.CODE_UNPARSABLE.finding(
                    blob.location,
                    f"'{display}', which auto_map makes transformers import, could not be read "
                    f"({reason}); it was not analysed. Fix access and scan again.",
                    severity=_HIGH,
                )
            )
            continue
        if not stat.S_ISREG(st.st_mode):
            ctx.report(
                rules.CODE_REMOTE.finding(
                    blob.location,
                    f"'{display}', which auto_map makes transformers import, is not a regular "
                    "file; it was not "
                    "analysed. Do not load this model with trust_remote_code=True.",
                    severity=_HIGH,
                )
            )
            continue
        analysed += 1
        location = Location(display)
        if st.st_size > MAX_SOURCE:
            ctx.report(
                rules.CODE_UNPARSABLE.finding(
                    location,
                    f"Python file is larger than {MAX_SOURCE // MiB} MiB and was not analysed; "
                    "Python would still run it. Review it by hand.",
                    severity=_HIGH,
                )
            )
            continue
        with FileBlob(path, location, st.st_size).open() as f:
            data = f.read(MAX_SOURCE + 1)
        report = analyse_python(data, location)
        for finding in report.findings:
            ctx.report(finding)
        for level, module in report.relative:
            base = parts[:-1]
            if level - 1 > len(base) or not module:
                continue
            base = base[: len(base) - (level - 1)]
            pieces = tuple(module.split("."))
            if all(pieces):
                queue.append(((*base, *pieces[:-1], pieces[-1] + ".py"), None))
                queue.append(((*base, *pieces, "__init__.py"), None))
