"""Runs the scanners over files and folders: dispatch by content, fail closed, never crash.

Every blob is offered to every scanner whose ``sniff`` matches its first bytes, so a file that is
both a zip and a pickle polyglot is analysed as both. A scanner that raises is reported as
MT-INT-001 and the scan goes on.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from modeltrust import __version__, rules
from modeltrust.errors import TargetError
from modeltrust.findings import (
    Finding,
    Location,
    ScannedFile,
    ScanResult,
    file_result_from_record,
    file_result_record,
    printable,
)
from modeltrust.scanners.engine.handoff import HANDOFF
from modeltrust.scanners.engine.registry import load_scanners, sniff_steps
from modeltrust.scanners.interface import (
    Blob,
    CorruptData,
    FileBlob,
    LimitExceeded,
    Limits,
    MiB,
    ScanContext,
    Scanner,
    spooled,
)
from modeltrust.sources.walk import Kind, special_kind, walk

SNIFF_BYTES = 512
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})
MODEL_SUFFIXES = frozenset(
    [
        ".pt",
        ".pth",
        ".bin",
        ".ckpt",
        ".pkl",
        ".pickle",
        ".joblib",
        ".jbl",
        ".npy",
        ".npz",
        ".dat",
        ".sav",
        ".model",
        ".mdl",
        ".h5",
        ".hdf5",
        ".keras",
        ".onnx",
        ".safetensors",
        ".gguf",
        ".ggml",
        ".pb",
        ".tflite",
        ".mar",
        ".nemo",
        ".msgpack",
        ".pdparams",
        ".llamafile",
        ".zip",
        ".tar",
        ".gz",
        ".bz2",
        ".xz",
        ".lz4",
        ".7z",
        ".z",
    ]
)

# Names that promise one format: content that is something else is a format confusion.
PROMISED_FORMATS: dict[str, frozenset[str]] = {
    ".safetensors": frozenset({"safetensors"}),
    ".gguf": frozenset({"gguf"}),
    ".onnx": frozenset({"onnx"}),
    ".npy": frozenset({"npy"}),
    ".npz": frozenset({"zip"}),
    ".h5": frozenset({"hdf5"}),
    ".hdf5": frozenset({"hdf5"}),
    ".keras": frozenset({"keras", "zip"}),
}

ProgressCallback = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class _Target:
    path: Path
    display: str
    size: int


PARALLEL_MIN_FILES = 8
"""Fewer files than this are scanned in-process: starting workers would cost more."""
READ_WHOLE = 2 * MiB
"""Files up to this size are read in one go and then scanned from memory."""


def _encode_result(result: tuple[ScannedFile, list[Finding]]) -> bytes:
    return json.dumps(file_result_record(*result)).encode()


def _decode_result(data: bytes) -> tuple[ScannedFile, list[Finding]]:
    return file_result_from_record(json.loads(data))


def _lost_file(target: _Target, status: str) -> tuple[ScannedFile, list[Finding]]:
    """The result for a file whose worker process died before it finished."""
    finding = rules.INT_SCANNER_CRASH.finding(
        Location(target.display),
        f"The worker process scanning '{target.display}' ended before it finished ({status}); "
        "the file was not fully analysed. Scan it alone with --jobs 1 to see the cause.",
        evidence=status,
    )
    return ScannedFile(target.display, target.size, ("unknown",), None, ()), [finding]


class Engine:
    """Scans blobs with a fixed set of scanners and limits.

    ``jobs`` processes scan files in parallel (0: one per CPU): this one and ``jobs - 1`` forked
    workers, which share the scanners already loaded; each file is read by exactly one process.
    """

    def __init__(
        self,
        scanners: Sequence[Scanner] | None = None,
        limits: Limits | None = None,
        *,
        jobs: int = 1,
    ) -> None:
        self.scanners = tuple(scanners) if scanners is not None else load_scanners()
        self._steps = sniff_steps(self.scanners)
        self.limits = limits or Limits()
        self.jobs = jobs if jobs > 0 else (os.cpu_count() or 1)

    def dispatch(self, blob: Blob, ctx: ScanContext) -> bool:
        """Offer ``blob`` to every scanner that recognises its first bytes."""
        try:
            head = blob.head(SNIFF_BYTES)
        except (LimitExceeded, CorruptData) as e:
            rule = rules.ARC_LIMIT if isinstance(e, LimitExceeded) else rules.ARC_MALFORMED
            ctx.report(rule.finding(blob.location, f"Could not read the content: {e}."))
            return True
        candidates = [s for first, then, s in self._steps if first(head, blob) and then(head, blob)]
        if not blob.seekable and any(s.needs_seek for s in candidates):
            try:
                with spooled(blob, self.limits.max_decompressed) as copy:
                    return self._run(candidates, copy, ctx)
            except (LimitExceeded, CorruptData) as e:
                rule = rules.ARC_LIMIT if isinstance(e, LimitExceeded) else rules.ARC_MALFORMED
                ctx.report(rule.finding(blob.location, f"Could not read the content: {e}."))
                return True
        return self._run(candidates, blob, ctx)

    def _run(self, candidates: list[Scanner], blob: Blob, ctx: ScanContext) -> bool:
        recognised = False
        for scanner in candidates:
            try:
                recognised = scanner.scan(blob, ctx) or recognised
            except LimitExceeded as e:
                ctx.report(rules.ARC_LIMIT.finding(blob.location, f"Stopped reading: {e}."))
                recognised = True
            except CorruptData as e:
                ctx.report(rules.ARC_MALFORMED.finding(blob.location, f"{e}."))
                recognised = True
            except OSError as e:
                ctx.report(
                    rules.GEN_UNREADABLE.finding(
                        blob.location, f"Reading failed in the {scanner.name} scanner: {e}."
                    )
                )
                recognised = True
            except Exception as e:
                import logging  # only here: a scan that goes well never loads it

                logging.getLogger(__name__).debug(
                    "scanner %s failed on %s", scanner.name, blob.location, exc_info=True
                )
                ctx.report(
                    rules.INT_SCANNER_CRASH.finding(
                        blob.location,
                        f"The {scanner.name} scanner failed: {type(e).__name__}: {e}.",
                        evidence=f"{type(e).__name__}: {e}",
                    )
                )
                recognised = True
        return recognised

    def scan_file(
        self, path: Path, display: str, size: int, *, sha256: bool = False
    ) -> tuple[ScannedFile, list[Finding]]:
        loc = Location(display)
        ctx = ScanContext(self.limits, self.dispatch, handoff=HANDOFF)
        digest = None
        if size == 0 and path.suffix.lower() in MODEL_SUFFIXES:
            finding = rules.GEN_EMPTY_WEIGHTS.finding(
                loc,
                f"'{display}' is named like a model file ({path.suffix}) but is empty (0 bytes); "
                "a loader would fail on it or read something else in its place.",
            )
            digest = _sha256(path) if sha256 else None
            return ScannedFile(display, 0, ("unknown",), digest, ()), [finding]
        try:
            data = path.read_bytes() if size <= READ_WHOLE else None
            blob = FileBlob(path, loc, size, data)
            recognised = self.dispatch(blob, ctx)
            if sha256:
                digest = _sha256(path)
        except OSError as e:
            ctx.report(
                rules.GEN_UNREADABLE.finding(loc, f"Could not read '{display}': {e.strerror or e}.")
            )
            recognised = True
        promised = PROMISED_FORMATS.get(path.suffix.lower())
        if recognised and promised is not None and not promised & set(ctx.formats):
            found = ", ".join(f for f in ctx.formats if f != "unknown") or "something else"
            ctx.report(
                rules.GEN_FORMAT_CONFUSION.finding(
                    loc,
                    f"'{display}' is named {path.suffix} but its content is {found}; a loader "
                    "chosen by the name would read it as the wrong format.",
                    evidence=f"name {path.suffix}, content {found}",
                )
            )
        if not recognised:
            if path.suffix.lower() in MODEL_SUFFIXES:
                ctx.report(
                    rules.GEN_UNRECOGNISED.finding(
                        loc,
                        f"'{display}' is named like a model file ({path.suffix}) but its content "
                        "matches no format modeltrust reads; it was not analysed.",
                    )
                )
            ctx.saw("unknown")
        facts = tuple(sorted(ctx.facts.items()))
        return ScannedFile(display, size, tuple(ctx.formats), digest, facts), ctx.findings

    def scan(
        self,
        targets: Sequence[str | os.PathLike[str]],
        *,
        sha256: bool = False,
        on_file: ProgressCallback | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> ScanResult:
        started = time.perf_counter()
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        files: list[ScannedFile] = []
        findings: list[Finding] = []
        walked = list(self._walk(targets, findings))
        if on_total is not None:
            on_total(len(walked))
        for scanned, found in self._scan_all(walked, sha256, on_file):
            files.append(scanned)
            findings.extend(found)
        # A file reached twice (a .py scanned on its own and through the config that names it)
        # yields the same findings twice: keep one of each.
        findings = list(dict.fromkeys(findings))
        return ScanResult(
            targets=tuple(printable(os.fspath(t)) for t in targets),
            files=tuple(files),
            findings=tuple(findings),
            duration_s=time.perf_counter() - started,
            tool_version=__version__,
            started_at=started_at,
        )

    def _scan_all(
        self, walked: list[_Target], sha256: bool, on_file: ProgressCallback | None
    ) -> list[tuple[ScannedFile, list[Finding]]]:
        """Scan every target, in parallel when it pays; results come back in target order."""
        if self.jobs < 2 or len(walked) < PARALLEL_MIN_FILES or not _can_fork():
            out = []
            for t in walked:
                out.append(self.scan_file(t.path, t.display, t.size, sha256=sha256))
                if on_file is not None:
                    on_file(t.display, t.size)
            return out
        from modeltrust.scanners.engine.parallel import ForkPool

        results: dict[int, tuple[ScannedFile, list[Finding]]] = {}
        # Largest files first, so one big checkpoint does not start last and finish alone.
        order = sorted(range(len(walked)), key=lambda i: -walked[i].size)

        def work(position: int) -> tuple[ScannedFile, list[Finding]]:
            t = walked[order[position]]
            return self.scan_file(t.path, t.display, t.size, sha256=sha256)

        def done(position: int, result: tuple[ScannedFile, list[Finding]]) -> None:
            i = order[position]
            results[i] = result
            if on_file is not None:
                on_file(walked[i].display, walked[i].size)

        workers = min(self.jobs, len(walked)) - 1  # this process scans too
        pool = ForkPool(work, done, workers, encode=_encode_result, decode=_decode_result)
        for lost in pool.run(len(walked)):
            t = walked[order[lost.position]]
            done(lost.position, _lost_file(t, lost.status))
        return [results[i] for i in range(len(walked))]

    def _walk(
        self, targets: Sequence[str | os.PathLike[str]], findings: list[Finding]
    ) -> Iterator[_Target]:
        for target in targets:
            root = Path(target)
            shown = printable(os.fspath(target))  # names that are not UTF-8 are shown escaped
            try:
                st = root.stat()
            except OSError as e:
                raise TargetError(
                    f"Cannot scan '{shown}': {e.strerror or e}. Check the path and try again."
                ) from None
            if stat.S_ISREG(st.st_mode):
                if root.is_symlink():
                    real = root.resolve()
                    findings.append(
                        rules.GEN_LINK.finding(
                            Location(shown),
                            f"'{shown}' is a link to '{printable(str(real))}'; the file it points to was "
                            "scanned, as a loader would read it.",
                            evidence=printable(os.fspath(real)),
                        )
                    )
                yield _Target(root, shown, st.st_size)
                continue
            if not stat.S_ISDIR(st.st_mode):
                kind = special_kind(st.st_mode)
                findings.append(
                    rules.GEN_SPECIAL_FILE.finding(
                        Location(shown),
                        f"'{shown}' is {kind}, not a regular file or folder; it was not read.",
                        evidence=kind,
                    )
                )
                continue
            yield from self._walk_dir(root, findings)

    @staticmethod
    def _walk_dir(root: Path, findings: list[Finding]) -> Iterator[_Target]:
        """The files a loader could read under ``root``: links are followed (the Hub cache is
        made of them), each file is scanned once, and what cannot be read is a finding."""
        for entry in walk(root, skip=SKIPPED_DIRS):
            display = printable(os.fspath(entry.path))
            loc = Location(display)
            if entry.kind is Kind.FILE:
                if entry.link is not None:
                    findings.append(
                        rules.GEN_LINK.finding(
                            loc,
                            f"'{display}' is a link to '{printable(os.fspath(entry.link))}'; the file it points to "
                            "was scanned, as a loader would read it.",
                            evidence=printable(os.fspath(entry.link)),
                        )
                    )
                yield _Target(entry.path, display, entry.size)
            elif entry.kind is Kind.SAME:
                findings.append(
                    rules.GEN_SAME_FILE.finding(
                        loc,
                        f"'{display}' leads to the same content as '{printable(entry.detail)}', which is "
                        "scanned under that name; it was scanned once.",
                        evidence=printable(entry.detail),
                    )
                )
            elif entry.kind is Kind.SPECIAL:
                findings.append(
                    rules.GEN_SPECIAL_FILE.finding(
                        loc,
                        f"'{display}' is {entry.detail}, not a regular file; it was not read "
                        "(reading could block or never end), so nothing there was analysed.",
                        evidence=entry.detail,
                    )
                )
            else:
                findings.append(
                    rules.GEN_UNREADABLE.finding(
                        loc,
                        f"'{display}' was not scanned: {printable(entry.detail)}.",
                        evidence=printable(entry.detail),
                    )
                )


def _can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform != "win32"


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def scan_paths(
    targets: Sequence[str | os.PathLike[str]],
    *,
    limits: Limits | None = None,
    sha256: bool = False,
    jobs: int = 1,
) -> ScanResult:
    """Scan files and folders (recursively) and return every finding.

    ``jobs``: worker processes for many files (1: in this process; 0: one per CPU).
    """
    return Engine(limits=limits, jobs=jobs).scan(targets, sha256=sha256)
