"""The governed hub's core: pull a revision through from the upstream, store it, audit it, and
decide whether its files may be served.

Three steps, each done once per repo revision however many requests arrive together (a lock per
key; the second request waits and then finds the work done):

1. *listing*: the upstream resolves the revision to a commit and lists its files (size, git blob
   id, LFS SHA-256); branch and tag names are remembered so they still resolve without upstream.
2. *fetch*: every file is downloaded once (a lock per blob), verified and stored atomically.
3. *audit*: the stored files are laid out as a folder (hard links) and audited with the server's
   policy; the verdict and the JSON and HTML reports are recorded. A changed policy re-audits.

The gate is :meth:`GovernedHub.verdict`: no file byte is served before it returns an allowed
verdict, and it returns only after steps 1-3 succeeded.

Cached downloads must cost little more than a static file server's, so what cannot change is
kept in memory once known: a completely stored revision (its file list no longer changes) and its
verdict under this process's policy (fixed for the process's life). A branch or tag name stays
cached only until its resolution is due to be checked upstream again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from modeltrust.errors import StorageError
from modeltrust.policy.model import Policy, builtin_policy
from modeltrust.server.settings import Settings
from modeltrust.server.upstream import Upstream, UpstreamError
from modeltrust.storage.blobs import BlobStore
from modeltrust.storage.catalog import AuditView, Catalog, FileSpec, RevisionView

log = logging.getLogger(__name__)
_SHA = re.compile(r"[0-9a-f]{40}")


class NotFoundError(UpstreamError):
    """A repo, revision or file that neither the store nor the upstream has."""


class GovernedHub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(settings.data_dir / "blobs")
        swept = self.blobs.sweep()
        if swept:
            log.warning("removed %d partial blob(s) left by an interrupted write", swept)
        self.work = settings.data_dir / "work"
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir()
        self.catalog = Catalog(settings.url)
        self.policy: Policy = settings.policy or builtin_policy("default")
        digest = hashlib.sha256(self.policy.model_dump_json().encode()).hexdigest()[:12]
        self.policy_key = f"{self.policy.name}@{digest}"
        self.upstream = (
            Upstream(
                settings.upstream,
                token=settings.upstream_token,
                timeout=settings.upstream_timeout,
            )
            if settings.upstream
            else None
        )
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._stored_views: dict[tuple[str, str], tuple[datetime | None, RevisionView]] = {}
        """(repo, revision) -> (when to look again, None: never; the completely stored revision)."""
        self._verdicts: dict[tuple[str, str], AuditView] = {}

    def close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
        self.catalog.close()

    @contextmanager
    def _lock(self, *key: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    # --- 1. listing ----------------------------------------------------------------------------

    def revision(self, repo_id: str, revision: str) -> RevisionView:
        """The stored revision ``revision`` names, listed from the upstream on first use."""
        key = (repo_id.lower(), revision)
        cached = self._stored_views.get(key)
        if cached is not None and (cached[0] is None or datetime.now(UTC) < cached[0]):
            return cached[1]
        if _SHA.fullmatch(revision) and (row := self.catalog.revision(repo_id, revision)):
            return self._remember(key, row, None)
        ref = self.catalog.find_ref(repo_id, revision)
        if (
            ref is not None
            and self._fresh(ref.checked_at)
            and (row := self.catalog.revision(repo_id, ref.sha))
        ):
            due = None if self.upstream is None else ref.checked_at + self._ttl
            return self._remember(key, row, due)
        with self._lock("list", repo_id.lower(), revision):
            ref = self.catalog.find_ref(repo_id, revision)
            if (
                ref is not None
                and self._fresh(ref.checked_at)
                and (row := self.catalog.revision(repo_id, ref.sha))
            ):
                return row
            try:
                listing = self._upstream().listing(repo_id, revision)
            except UpstreamError as e:
                # Unreachable or failing upstream (no error code): fall back to what we know.
                stored = self.catalog.revision(repo_id, ref.sha) if ref is not None else None
                if e.code is None and stored is not None:
                    log.warning("upstream unavailable, serving stored %s: %s", stored.sha, e)
                    return stored
                raise
            for spec in listing.files:
                _check_path(repo_id, spec.path)
            row = self.catalog.save_listing(
                listing.repo_id, listing.sha, listing.info, listing.files
            )
            if not _SHA.fullmatch(revision):
                self.catalog.save_ref(listing.repo_id, revision, listing.sha)
            return row

    @property
    def _ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.ref_ttl)

    def _remember(
        self, key: tuple[str, str], row: RevisionView, due: datetime | None
    ) -> RevisionView:
        """Cache ``row`` once every file is stored: from then on it cannot change."""
        if row.status != "listed" and all(f.stored and f.sha256 for f in row.files):
            self._stored_views[key] = (due, row)
        return row

    def _fresh(self, checked_at: datetime) -> bool:
        age = (datetime.now(UTC) - checked_at).total_seconds()
        return age < self.settings.ref_ttl or self.upstream is None

    def _upstream(self) -> Upstream:
        if self.upstream is None:
            raise NotFoundError(
                "This hub has no upstream and does not hold that repo revision.",
                status=404,
                code="RevisionNotFound",
            )
        return self.upstream

    # --- 2. fetch and 3. audit: the gate ----------------------------------------------------------

    def verdict(self, row: RevisionView) -> AuditView:
        """The audit of ``row`` under the current policy; fetches and audits on first use.

        Returned without its reports (``report_json`` and ``report_html`` are empty: read them
        with ``catalog.latest_audit``), so that keeping every verdict in memory stays cheap."""
        key = (row.repo_id.lower(), row.sha)
        if (known := self._verdicts.get(key)) is not None:
            return known
        with self._lock("audit", row.repo_id.lower(), row.sha):
            done = self.catalog.latest_audit(row.repo_id, row.sha, self.policy_key)
            if done is None:
                done = self._ingest(row)
            slim = replace(done, report_json="", report_html="")
            self._verdicts[key] = slim
            return slim

    def _ingest(self, row: RevisionView) -> AuditView:
        """Fetch and audit ``row``; called under its audit lock."""
        for spec in row.files:
            self._fetch(row, spec)
        self.catalog.set_status(row.repo_id, row.sha, "fetched")
        self._audit(self._stored(row))
        done = self.catalog.latest_audit(row.repo_id, row.sha, self.policy_key)
        if done is None:  # pragma: no cover - _audit records one or raises
            raise StorageError(f"The audit of {row.repo_id}@{row.sha} was not recorded.")
        return done

    def _stored(self, row: RevisionView) -> RevisionView:
        """``row`` as the catalogue has it now, every blob's SHA-256 known."""
        fresh = self.catalog.revision(row.repo_id, row.sha)
        missing = [] if fresh is None else [f.path for f in fresh.files if not self.blob_path(f)]
        if fresh is None or missing:
            raise StorageError(
                f"{row.repo_id}@{row.sha} is not completely stored (missing: "
                f"{', '.join(missing) or 'the revision'}); ask again to fetch it."
            )
        return fresh

    def blob_path(self, spec: FileSpec) -> Path | None:
        if not spec.stored or spec.sha256 is None:
            return None
        path = self.blobs.path(spec.sha256)
        return path if path.is_file() else None

    def _fetch(self, row: RevisionView, spec: FileSpec) -> None:
        if spec.stored and spec.sha256 and self.blobs.has(spec.sha256):
            return
        with self._lock("blob", spec.sha256 or spec.git_oid):
            if spec.sha256 and self.blobs.has(spec.sha256):
                self.catalog.mark_stored(row.repo_id, row.sha, spec.path, spec.sha256)
                return
            label = f"'{spec.path}' of {row.repo_id}@{row.sha}"
            with self._upstream().download(row.repo_id, row.sha, spec.path) as chunks:
                written = self.blobs.write(
                    chunks,
                    expected_sha256=spec.sha256,
                    expected_size=spec.size,
                    expected_git_oid=None if spec.lfs else spec.git_oid,
                    label=label,
                )
            self.catalog.mark_stored(row.repo_id, row.sha, spec.path, written.sha256)

    def _audit(self, row: RevisionView) -> None:
        from modeltrust.auditor.audit import audit
        from modeltrust.policy.engine import Evidence, evaluate
        from modeltrust.report.audit_json import render_audit_json
        from modeltrust.report.html import render_audit_html

        subject = f"{row.repo_id}@{row.sha}"
        folder = Path(tempfile.mkdtemp(prefix="audit-", dir=self.work))
        try:
            for spec in row.files:
                _link(self.blobs.path(spec.sha256 or ""), folder / spec.path)
            result = audit(
                str(folder),
                self.policy,
                policy_origin=self.settings.policy_origin,
                jobs=1,
                max_depth=self.settings.max_depth,
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        # Judge again with the repo id known, so exceptions scoped to a repo apply.
        evaluation = evaluate(
            self.policy,
            Evidence(
                subject=subject,
                repo_id=row.repo_id,
                findings=result.scan_findings,
                license=result.license,
                documentation=result.documentation,
            ),
        )
        result = replace(
            result,
            target=subject,
            repo_id=row.repo_id,
            revision=row.sha,
            display=subject,
            evaluation=evaluation,
        )

        def named(text: str) -> str:
            """Findings located in the scratch folder, located in the repo revision instead."""
            return text.replace(f"{folder}/", f"{subject}/").replace(str(folder), subject)

        self.catalog.save_audit(
            row.repo_id,
            row.sha,
            verdict=result.verdict.status,
            policy=self.policy_key,
            reasons=[named(r) for r in result.verdict.reasons],
            report_json=named(render_audit_json(result)),
            report_html=named(render_audit_html(result)),
        )


def _check_path(repo_id: str, path: str) -> None:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path or "\0" in path:
        raise UpstreamError(
            f"The upstream listed an unsafe file path {path!r} in {repo_id}; refusing the repo."
        )


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        with contextlib.suppress(FileExistsError):
            shutil.copyfile(source, target)
