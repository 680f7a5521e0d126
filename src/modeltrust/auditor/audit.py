"""``audit(target, policy)``: every check on one model and the policy's verdict.

Orchestration only, no printing. The order is the cheap checks first (licences and lineage, then
documentation: both read small files and headers through the source), then the scan, then the
optional fairness audit, then the policy.

The scan needs the bytes of the files a loader would read. A local folder is scanned in place. A
Hub repo is pinned to the commit its revision resolved to, and each file is streamed from that
commit through the source (huggingface_hub's session, ``HF_ENDPOINT``, ``HF_TOKEN``; with
``HF_HUB_OFFLINE`` the Hub is never contacted: the sources read the cached snapshot instead) in
16 MiB ranges into a private temporary folder, hashed on the way, scanned there and deleted at the
end: nothing is held in memory and the user's Hub cache is not touched. Files no loader reads
(Markdown, licence texts, images, ``.gitattributes``) are not downloaded; the licence and
documentation checks have already read what they need of them. A file whose SHA-256 is known (the
Hub's LFS hash) and whose result is in the cache is not downloaded at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from modeltrust import __version__, rules
from modeltrust.auditor.cache import ResultCache
from modeltrust.auditor.result import (
    AuditFile,
    AuditResult,
    CacheSummary,
    FairnessRequest,
    Hooks,
)
from modeltrust.errors import SourceError
from modeltrust.findings import Finding, Location, ScannedFile, printable
from modeltrust.licenses.lineage import DEFAULT_MAX_DEPTH
from modeltrust.policy.engine import Evidence, evaluate
from modeltrust.policy.model import Policy, builtin_policy
from modeltrust.scanners.engine import Engine
from modeltrust.sources import Source, open_source
from modeltrust.sources.interface import MiB, RepoFile, Unreadable

if TYPE_CHECKING:
    from modeltrust.fairness.result import FairnessResult

CHUNK = 16 * MiB
MAX_HASHED = 4 * MiB
"""Largest unscanned file hashed for the record."""
_NEVER_LOADED = re.compile(
    r"(^|/)(\.gitattributes|\.gitignore|(LICEN[CS]E|NOTICE|COPYING|USE_POLICY)[^/]*"
    r"|[^/]*\.(md|markdown|rst|png|jpe?g|gif|svg|webp))$",
    re.IGNORECASE,
)
"""Files no model loader reads: the scanner skips them on the Hub (they are not downloaded)."""


def audit(
    target: str | Source,
    policy: Policy | None = None,
    *,
    policy_origin: str | None = None,
    fairness: FairnessRequest | None = None,
    cache: ResultCache | None = None,
    hooks: Hooks | None = None,
    jobs: int = 0,
    max_depth: int = DEFAULT_MAX_DEPTH,
    search_paths: tuple[Path, ...] = (),
    today: date | None = None,
) -> AuditResult:
    """Audit ``target`` (a folder, a file, or a Hub repo ``org/name[@revision]``; or a source
    opened by the caller, when how its files are listed matters, as for the governed hub's
    copy of a repo revision, whose every file must be scanned; ``search_paths`` is then the
    source's own).

    ``cache``: None scans everything; ``jobs``: scanner worker processes (0: one per CPU).
    """
    from modeltrust.cards.coverage import assess_coverage
    from modeltrust.cards.facts import collect_facts
    from modeltrust.licenses.check import check_license

    hooks = hooks or Hooks()
    if policy is None:
        policy, policy_origin = builtin_policy("default"), "builtin:default"
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    source, only = _open(target, search_paths)
    _stage(hooks, "checking licences and lineage")
    license_report = check_license(source, policy.use.profile(), max_depth=max_depth)
    _stage(hooks, "checking documentation")
    coverage = assess_coverage(
        collect_facts(source, max_depth=max_depth, license_report=license_report)
    )
    scan = _Scan(source, Engine(jobs=jobs), cache, hooks)
    files, findings = scan.run(only)
    fairness_result = None
    if fairness is not None:
        _stage(hooks, "auditing fairness")
        fairness_result = _fairness(fairness, policy)
    evaluation = evaluate(
        policy,
        Evidence(
            subject=source.display,
            repo_id=source.repo_id,
            findings=findings,
            license=license_report,
            documentation=coverage,
            fairness=fairness_result,
        ),
        today=today,
    )
    return AuditResult(
        target=target if isinstance(target, str) else source.ref,
        source_kind=source.kind,
        repo_id=source.repo_id,
        revision=source.revision,
        display=source.display,
        policy=policy,
        policy_origin=policy_origin or f"policy '{policy.name}'",
        files=files,
        scan_findings=findings,
        license=license_report,
        documentation=coverage,
        fairness=fairness_result,
        evaluation=evaluation,
        cache=CacheSummary(
            enabled=cache is not None,
            hits=cache.stats.hits if cache else 0,
            misses=cache.stats.misses if cache else 0,
            location=str(cache.path) if cache else None,
        ),
        downloaded_bytes=scan.downloaded,
        tool_version=__version__,
        started_at=started_at,
        duration_s=time.perf_counter() - started,
    )


def _stage(hooks: Hooks, text: str) -> None:
    if hooks.stage is not None:
        hooks.stage(text)


def _open(target: str | Source, search_paths: tuple[Path, ...]) -> tuple[Source, str | None]:
    """The source, and the one file to scan when the target is a file."""
    if isinstance(target, Source):
        return target, None
    path = Path(target).expanduser()
    if not target.startswith("hf:") and path.is_file():
        return open_source(str(path.parent), search_paths=search_paths), path.name
    return open_source(target, search_paths=search_paths), None


def _fairness(request: FairnessRequest, policy: Policy) -> FairnessResult:
    from modeltrust.fairness import Settings, audit, parse_privileged

    p = policy.fairness
    settings = Settings(
        privileged=parse_privileged(request.privileged),
        positive_label=request.positive_label,
        threshold=p.threshold,
        max_difference=p.max_difference,
        min_group_size=p.min_group_size,
        checks=p.checks,
    )
    return audit(
        list(request.data),
        label=request.label,
        prediction=request.prediction,
        sensitive=request.sensitive,
        score=request.score,
        settings=settings,
    )


@dataclass
class _Pending:
    entry: RepoFile
    local: Path
    sha256: str | None


class _Scan:
    """Finds the bytes of each file (in place, from the cache, or downloaded) and scans them."""

    def __init__(
        self, source: Source, engine: Engine, cache: ResultCache | None, hooks: Hooks
    ) -> None:
        self.source = source
        self.engine = engine
        self.cache = cache
        self.hooks = hooks
        self.downloaded = 0
        self.files: dict[str, AuditFile] = {}
        self.findings: list[Finding] = []

    def run(self, only: str | None) -> tuple[tuple[AuditFile, ...], tuple[Finding, ...]]:
        entries = [f for f in self.source.list_files() if only is None or f.path == only]
        root = getattr(self.source, "root", None)
        if self.source.kind == "local" and isinstance(root, Path):
            pending = self._local(root, entries)
            self._scan(root, pending)
        else:
            with tempfile.TemporaryDirectory(prefix="modeltrust-audit-") as tmp:
                pending = self._remote(Path(tmp), entries)
                self._scan(Path(tmp), pending)
        for problem in self.source.unreadable():
            if only is None or problem.path == only:
                self._unreadable(problem)
        ordered = tuple(self.files[e.path] for e in entries if e.path in self.files)
        unique = tuple(dict.fromkeys(self.findings))
        return ordered, unique

    # --- where the bytes come from ---------------------------------------------------------------

    def _local(self, root: Path, entries: Iterable[RepoFile]) -> list[_Pending]:
        pending = []
        locate = getattr(self.source, "local_path", None)
        for e in entries:
            local = locate(e.path) if locate is not None else root / e.path
            try:
                digest = _sha256(local)
            except OSError:
                digest = None  # the scanner reports the unreadable file
            if digest is None or not self._from_cache(e, digest):
                pending.append(_Pending(e, local, digest))
        return pending

    def _remote(self, tmp: Path, entries: Iterable[RepoFile]) -> list[_Pending]:
        pending = []
        for e in entries:
            if _NEVER_LOADED.search(e.path):
                digest = e.sha256.lower() if e.sha256 else self._hash_small(e)
                self.files[e.path] = AuditFile(e.path, e.size, digest, scanned=False)
                continue
            if not _safe(e.path):
                self._unsafe(e)
                continue
            if e.sha256 and self._from_cache(e, e.sha256.lower()):
                continue
            local = tmp / e.path
            digest = self._download(e, local)
            if digest is None:
                continue
            if e.sha256 and digest != e.sha256.lower():
                self.findings.append(
                    rules.GEN_UNREADABLE.finding(
                        Location(e.path),
                        f"The bytes downloaded for '{e.path}' do not match the SHA-256 the Hub "
                        "reports for it; the file cannot be trusted to be what was published.",
                        evidence=f"reported {e.sha256.lower()}, downloaded {digest}",
                    )
                )
            if e.sha256 is None and self._from_cache(e, digest):
                continue
            pending.append(_Pending(e, local, digest))
        return pending

    def _from_cache(self, e: RepoFile, digest: str) -> bool:
        if self.cache is None:
            return False
        hit = self.cache.get(self.source.identity, self.source.revision, e.path, digest)
        if hit is None:
            return False
        self.files[e.path] = _file(hit.file, digest, cached=True)
        self.findings.extend(hit.findings)
        return True

    def _download(self, e: RepoFile, local: Path) -> str | None:
        h = hashlib.sha256()
        done = 0
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            with local.open("wb") as out:
                while True:
                    chunk = self.source.read_range(e.path, done, CHUNK)
                    out.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    if self.hooks.download is not None:
                        self.hooks.download(e.path, done, e.size)
                    if len(chunk) < CHUNK or (e.size is not None and done >= e.size):
                        break
        except SourceError as err:
            self.findings.append(
                rules.GEN_UNREADABLE.finding(
                    Location(e.path),
                    f"Could not download '{e.path}', so it was not scanned: {err}",
                )
            )
            self.files[e.path] = AuditFile(e.path, e.size, e.sha256, scanned=False)
            return None
        self.downloaded += done
        return h.hexdigest()

    def _hash_small(self, e: RepoFile) -> str | None:
        """The SHA-256 of a small file that is not scanned (a card, a licence text), for the
        record; None for a large one or one that cannot be read."""
        if e.size is None or e.size > MAX_HASHED:
            return None
        try:
            data = self.source.read_range(e.path, 0, e.size)
        except SourceError:
            return None
        return hashlib.sha256(data).hexdigest()

    def _unreadable(self, problem: Unreadable) -> None:
        rule = rules.GEN_SPECIAL_FILE if problem.special else rules.GEN_UNREADABLE
        what = f"is {problem.detail}, not a regular file" if problem.special else problem.detail
        self.findings.append(
            rule.finding(
                Location(problem.path),
                f"'{problem.path}' was not scanned: {what}.",
                evidence=problem.detail,
            )
        )

    def _unsafe(self, e: RepoFile) -> None:
        self.findings.append(
            rules.GEN_SPECIAL_FILE.finding(
                Location(e.path),
                f"The repo lists a file named '{e.path}', which would be written outside the "
                "repo's folder; it was not downloaded or scanned.",
            )
        )
        self.files[e.path] = AuditFile(e.path, e.size, e.sha256, scanned=False)

    # --- scanning --------------------------------------------------------------------------------

    def _scan(self, root: Path, pending: list[_Pending]) -> None:
        if not pending:
            return
        if self.hooks.stage is not None:
            self.hooks.stage(f"scanning {len(pending)} file(s)")
        prefix = printable(str(root) + os.sep)  # the engine shows names escaped
        hook = self.hooks.scan_file

        def on_file(path: str, size: int) -> None:
            if hook is not None:
                hook(printable(path.removeprefix(prefix)), size)

        result = self.engine.scan(
            [str(p.local) for p in pending],
            on_file=on_file,
            on_total=self.hooks.scan_total,
        )
        found = [_rebase(f, prefix) for f in result.findings]
        by_file: dict[str, list[Finding]] = {p.entry.path: [] for p in pending}
        stray = False
        for f in found:
            if f.location.path in by_file:
                by_file[f.location.path].append(f)
            else:
                stray = True
        self.findings.extend(found)
        for p, scanned in zip(pending, result.files, strict=True):
            rel = replace(scanned, path=p.entry.path, sha256=p.sha256)
            self.files[p.entry.path] = _file(rel, p.sha256, cached=False)
            if self.cache is not None and p.sha256 is not None and not stray:
                self.cache.put(
                    self.source.identity,
                    self.source.revision,
                    p.sha256,
                    rel,
                    tuple(by_file[p.entry.path]),
                )


def _file(scanned: ScannedFile, digest: str | None, *, cached: bool) -> AuditFile:
    return AuditFile(scanned.path, scanned.size, digest, scanned.formats, True, cached)


def _rebase(f: Finding, prefix: str) -> Finding:
    """Paths relative to the repo root instead of the folder the bytes were read from."""
    loc = f.location
    return replace(
        f,
        location=replace(
            loc,
            path=printable(loc.path.removeprefix(prefix)),
            members=tuple(printable(m) for m in loc.members),
        ),
        message=printable(f.message.replace(prefix, "")),
        evidence=printable(f.evidence.replace(prefix, "")) if f.evidence else f.evidence,
    )


def _safe(path: str) -> bool:
    p = PurePosixPath(path)
    return not p.is_absolute() and ".." not in p.parts and "\\" not in path and path.strip() != ""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.hexdigest()
