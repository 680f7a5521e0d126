"""The audit of a stored repo revision, as the governed hub records it.

The stored blobs are laid out as a folder (hard links) in a scratch folder of this process, the
base models' metadata is fetched for the licence lineage (:mod:`.bases`), and the folder is
audited as ``modeltrust audit`` would, with the server's policy and the repo's exceptions.

What is served is exactly the listing, so what is audited must be exactly the listing too: the
folder is read with every file listed (a local folder audit skips ``.cache``, ``__pycache__``,
``.venv``, ``node_modules`` and stops at 100,000 files, which here would let a file be served
with a verdict that never looked at it), and base models are searched for only where
:func:`~modeltrust.server.bases.fetch_bases` put them, never next to the scratch folder. As a
last line, a listed file the audit did not scan becomes a critical finding, so the revision fails
closed rather than serving it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from modeltrust import rules
from modeltrust.errors import StorageError
from modeltrust.findings import Finding, Location, Severity
from modeltrust.licenses.lineage import MAX_REPOS
from modeltrust.policy.model import Policy, PolicyException
from modeltrust.server.bases import fetch_bases
from modeltrust.server.settings import Settings
from modeltrust.server.upstream import Upstream
from modeltrust.storage.blobs import BlobStore
from modeltrust.storage.catalog import Catalog, RevisionView
from modeltrust.storage.reviews import Reviews


@dataclass(frozen=True, slots=True)
class Auditor:
    """What an audit needs from the hub; one per hub."""

    settings: Settings
    policy: Policy
    policy_key: str
    catalog: Catalog
    blobs: BlobStore
    upstream: Upstream | None
    work: Path
    """This process's own scratch folder (see :mod:`.scratch`)."""
    reviews: Reviews | None = None
    """Exceptions granted by reviewers, judged as policy exceptions scoped to their repo."""
    announce: Callable[[str, str, str, list[str]], None] | None = None
    """Told of every verdict recorded (the webhooks)."""

    def audit(self, row: RevisionView) -> None:
        """Audit the completely stored ``row`` and record the verdict and reports."""
        from modeltrust.auditor.audit import audit
        from modeltrust.policy.engine import Evidence, evaluate
        from modeltrust.report.audit_json import render_audit_json
        from modeltrust.report.html import render_audit_html
        from modeltrust.sources.local import LocalSource

        subject = f"{row.repo_id}@{row.sha}"
        scratch = Path(tempfile.mkdtemp(prefix="audit-", dir=self.work))
        folder, bases = scratch / "model", scratch / "bases"
        try:
            folder.mkdir()
            for spec in row.files:
                _lay_out(self.blobs, spec.sha256 or "", folder / spec.path, subject)
            search: tuple[Path, ...] = ()
            if self.upstream is not None and self.settings.max_depth > 0:
                search = fetch_bases(
                    self.upstream,
                    folder,
                    bases,
                    max_depth=self.settings.max_depth,
                    max_repos=MAX_REPOS,
                )
            source = LocalSource(
                folder, ref=str(folder), search_paths=search, every_file=True, nearby=False
            )
            result = audit(
                source,
                self.policy,
                policy_origin=self.settings.policy_origin,
                jobs=1,
                max_depth=self.settings.max_depth,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        scanned = {f.path for f in result.files if f.scanned}
        findings = result.scan_findings + unscanned(row, scanned)
        # Judge again with the repo id known, so exceptions scoped to a repo apply.
        evaluation = evaluate(
            self._policy_for(row.repo_id),
            Evidence(
                subject=subject,
                repo_id=row.repo_id,
                findings=findings,
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
            scan_findings=findings,
            evaluation=evaluation,
        )

        def named(text: str) -> str:
            """Findings located in the scratch folder, located in the repo revision (or the
            base model: ``bases/org/name`` is ``org/name``) instead."""
            text = text.replace(f"{bases}/", "").replace(f"{folder}/", f"{subject}/")
            return text.replace(str(folder), subject)

        reasons = [named(r) for r in result.verdict.reasons]
        self.catalog.save_audit(
            row.repo_id,
            row.sha,
            verdict=result.verdict.status,
            policy=self.policy_key,
            reasons=reasons,
            report_json=named(render_audit_json(result)),
            report_html=named(render_audit_html(result)),
            license=" AND ".join(result.license.effective_ids)[:255],
            licenses=list(result.license.effective_ids),
            base_models=[n.repo_id or n.name for n in result.license.lineage.ancestors()],
        )
        if self.announce is not None:
            self.announce(row.repo_id, row.sha, result.verdict.status, reasons)

    def _policy_for(self, repo_id: str) -> Policy:
        """The policy, with the exceptions reviewers granted in this repo."""
        if self.reviews is None:
            return self.policy
        granted = self.reviews.exceptions(repo_id)
        if not granted:
            return self.policy
        extra = tuple(
            PolicyException(
                rule=g.rule,
                repo=repo_id,
                file=g.file,
                reason=g.reason,
                approver=g.approver,
                expires=g.expires,
            )
            for g in granted
        )
        return self.policy.model_copy(update={"exceptions": self.policy.exceptions + extra})


def unscanned(row: RevisionView, scanned: set[str]) -> tuple[Finding, ...]:
    """A critical finding for each listed file the audit did not scan: it would be served
    under a verdict that never looked at it."""
    return tuple(
        rules.GEN_UNREADABLE.finding(
            Location(spec.path),
            f"'{spec.path}' of {row.repo_id}@{row.sha} was not analysed by the audit, so it "
            "cannot be served under the revision's verdict; report this to the modeltrust "
            "maintainers and audit the revision again after upgrading.",
            severity=Severity.CRITICAL,
        )
        for spec in row.files
        if spec.path not in scanned
    )


def _lay_out(blobs: BlobStore, sha256: str, target: Path, subject: str) -> None:
    """``target`` as the blob's bytes: a hard link to a local blob, else a copy."""
    try:
        blobs.materialise(sha256, target)
    except OSError as e:
        raise StorageError(
            f"Could not lay out '{target.name}' of {subject} for its audit: {e.strerror or e}. "
            "Free disk space or fix the data directory's permissions, then ask again."
        ) from e
