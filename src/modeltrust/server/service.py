"""The governed hub's core: pull a revision through from the upstream, store it, audit it, and
decide whether its files may be served.

Three steps, each done once per repo revision however many requests arrive together:

1. *listing* (in the request, under a lock per key): the upstream resolves the revision to a
   commit and lists its files (size, git blob id, LFS SHA-256); branch and tag names are
   remembered so they still resolve without upstream.
2. *fetch* and 3. *audit* (the *ingest*, in a worker thread; see :mod:`.ingest` for why): every
   file is downloaded once (a lock per blob), verified and stored atomically; then the stored
   files are laid out as a folder (hard links), the base models' metadata is fetched for the
   licence lineage (:mod:`.bases`), and the folder is audited with the server's policy. The
   verdict and the JSON and HTML reports are recorded. A changed policy re-audits.

The gate is :meth:`GovernedHub.verdict`: no file byte is served before it returns an allowed
verdict, and it returns only after steps 1-3 succeeded.

Cached downloads must cost little more than a static file server's, so what cannot change is
kept in memory once known: a completely stored revision (its file list no longer changes) and its
verdict under this process's policy. A verdict can change only by a re-audit, here or in another
process sharing the database; the cache is checked against the database's audit counter at most
every ``verdict_recheck`` seconds, and each cached verdict carries the counter it was read under,
so one read before a re-audit can never outlive it. A branch or tag name stays cached only until
its resolution is due to be checked upstream again.

An upstream that fails or does not answer is not asked again for ``upstream_backoff`` seconds
for what the store already holds: a branch due for a new look is answered from its stored
resolution meanwhile, and requests queued behind the one that timed out fall back at once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from modeltrust.errors import ModelTrustError, StorageError
from modeltrust.policy.model import Policy, builtin_policy
from modeltrust.server.auditing import Auditor
from modeltrust.server.ingest import Ingest, IngestFailedError, IngestRunning
from modeltrust.server.listing import check_listing
from modeltrust.server.settings import Settings
from modeltrust.server.upstream import Upstream, UpstreamError
from modeltrust.storage.blobs import BlobStore, LocalBlobStore, S3BlobStore
from modeltrust.storage.catalog import AuditView, Catalog, FileSpec, RevisionView
from modeltrust.storage.locks import KeyedLocks
from modeltrust.storage.reviews import Reviews
from modeltrust.storage.scratch import ScratchSpace

log = logging.getLogger(__name__)
_SHA = re.compile(r"[0-9a-f]{40}")


class NotFoundError(UpstreamError):
    """A repo, revision or file that neither the store nor the upstream has."""


class NotStoredError(ModelTrustError):
    """Asked to audit again a revision that is not (yet) completely stored; answered 409."""


class GovernedHub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        blobs = settings.data_dir / "blobs"
        # Partial downloads and audit copies of this process, apart from any other server's on
        # the same data directory; what dead processes left is removed (see storage/scratch.py).
        self._scratch = (
            ScratchSpace(blobs / "sha256" / "incoming"),
            ScratchSpace(settings.data_dir / "work"),
        )
        swept = sum(space.sweep() for space in self._scratch)
        if swept:
            log.warning("removed %d scratch folder(s) left by stopped servers", swept)
        self.blobs = open_blob_store(settings, blobs, self._scratch[0].path)
        self.work = self._scratch[1].path
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
        from modeltrust.server.webhooks import Webhooks

        self.webhooks = Webhooks(self.catalog, settings)
        self._auditor = Auditor(
            settings,
            self.policy,
            self.policy_key,
            self.catalog,
            self.blobs,
            self.upstream,
            self.work,
            Reviews(self.catalog),
            self._announce_verdict,
        )
        self._guard = threading.Lock()
        self._locks = KeyedLocks()
        self._stored_views: dict[tuple[str, str], tuple[datetime | None, RevisionView]] = {}
        """(repo, revision) -> (when to look again, None: never; the completely stored revision)."""
        self._upstream_down_until = datetime.min.replace(tzinfo=UTC)
        """Until when the upstream is not asked about what is stored (it failed or was silent)."""
        self._upstream_down_error: UpstreamError | None = None
        self._upstream_down_since = self._upstream_down_until
        self._verdicts: dict[tuple[str, str], tuple[int, AuditView]] = {}
        """(repo, sha) -> (the generation it was read under, the verdict)."""
        self._jobs: dict[tuple[str, str], Ingest] = {}
        self._failures: dict[tuple[str, str], tuple[float, IngestFailedError]] = {}
        """(repo, sha) -> (until when, the error): failures clients were told to come back for."""
        self._generation = self.catalog.generation()
        self._generation_seen = time.monotonic()
        self._generation_lock = threading.Lock()
        self._closing = threading.Event()
        self._pool = ThreadPoolExecutor(settings.ingest_workers, thread_name_prefix="ingest")
        from modeltrust.server.registry import Registry

        self.registry = Registry(self)
        """Users, tokens and the repos pushed here (see :mod:`.registry`)."""
        from modeltrust.server.review import Review

        self.review = Review(self, self.registry.access, self.webhooks)
        """Reviewers' decisions, the audit trail and the webhooks (see :mod:`.review`)."""
        self._record_policy()
        self.webhooks.resume()  # deliveries left pending by a restart, or by a stopped peer

    def _record_policy(self) -> None:
        """A trail entry when this server judges under another policy than the last one
        recorded (every server sharing the database records the policy it starts with)."""
        last = self.review.trail.entries(limit=1, newest_first=True, action="policy.load")
        if last and last[0].details.get("key") == self.policy_key:
            return
        self.review.trail.append(
            "server",
            "policy.load",
            self.policy.name,
            "",
            {
                "key": self.policy_key,
                "origin": self.settings.policy_origin,
                "previous": last[0].details.get("key") if last else None,
            },
        )

    def close(self) -> None:
        self._closing.set()
        self.webhooks.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.upstream is not None:
            self.upstream.close()
        self.catalog.close()
        for space in self._scratch:
            # Released, not removed: a worker may still be finishing; the next start sweeps.
            space.release()

    # --- 1. listing ----------------------------------------------------------------------------

    def revision(self, repo_id: str, revision: str) -> RevisionView:
        """The stored revision ``revision`` names, listed from the upstream on first use."""
        key = (repo_id.lower(), revision)
        cached = self._stored_views.get(key)
        if cached is not None and (cached[0] is None or datetime.now(UTC) < cached[0]):
            return cached[1]
        if _SHA.fullmatch(revision) and (row := self.catalog.revision(repo_id, revision)):
            return self._remember(key, row, None)
        if (known := self._known(key, repo_id, revision)) is not None:
            return known
        arrived = datetime.now(UTC)
        with self._locks.hold("list", repo_id.lower(), revision):
            if (known := self._known(key, repo_id, revision)) is not None:
                return known
            return self._list(key, repo_id, revision, arrived)

    def _known(self, key: tuple[str, str], repo_id: str, revision: str) -> RevisionView | None:
        """The stored resolution of a branch or tag when it is fresh, or when the upstream is
        down and must not be asked; None when the upstream is to be asked."""
        ref = self.catalog.find_ref(repo_id, revision)
        if ref is None or (row := self.catalog.revision(repo_id, ref.sha)) is None:
            return None
        if self._fresh(ref.checked_at):
            due = None if self.upstream is None else ref.checked_at + self._ttl
            return self._remember(key, row, due)
        if datetime.now(UTC) < self._upstream_down_until:
            return self._remember(key, row, self._upstream_down_until)
        return None

    def _list(
        self, key: tuple[str, str], repo_id: str, revision: str, arrived: datetime
    ) -> RevisionView:
        """Ask the upstream (the caller holds the key's lock)."""
        error, since = self._upstream_down_error, self._upstream_down_since
        if error is not None and since >= arrived and datetime.now(UTC) < self._upstream_down_until:
            # The upstream failed while this request waited for the lock behind one that asked
            # it: do not make it wait a full timeout again for the same answer.
            raise UpstreamError(
                f"The upstream '{self.settings.upstream}' failed moments ago, so "
                f"{repo_id}@{revision} was not listed ({error}). Ask again in "
                f"{math.ceil(self.settings.upstream_backoff)} s.",
                status=error.status,
            )
        ref = self.catalog.find_ref(repo_id, revision)
        try:
            listing = self._upstream(repo_id, revision).listing(repo_id, revision)
        except UpstreamError as e:
            if e.code is not None:  # the upstream answered: no such repo, revision, access
                raise
            now = datetime.now(UTC)
            until = now + timedelta(seconds=self.settings.upstream_backoff)
            self._upstream_down_until, self._upstream_down_error = until, e
            self._upstream_down_since = now
            stored = self.catalog.revision(repo_id, ref.sha) if ref is not None else None
            if stored is None:
                raise
            log.warning(
                "upstream unavailable, serving stored %s@%s until %s: %s",
                stored.repo_id,
                stored.sha,
                until.isoformat(timespec="seconds"),
                e,
            )
            return self._remember(key, stored, until)
        self._upstream_down_error = None
        self._upstream_down_until = datetime.min.replace(tzinfo=UTC)
        check_listing(listing.repo_id, listing.files)
        row = self.catalog.save_listing(listing.repo_id, listing.sha, listing.info, listing.files)
        if listing.repo_id.lower() != repo_id.lower():
            # A renamed repo: the upstream answers the old name with the new id. Found by the
            # name asked for from now on, also when the upstream is gone.
            self.catalog.save_alias(repo_id, listing.repo_id)
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

    def _upstream(self, repo_id: str, revision: str) -> Upstream:
        if self.upstream is None:
            known = self.catalog.has_repo(repo_id)
            raise NotFoundError(
                f"This hub has no upstream and does not hold {repo_id}@{revision}"
                + (
                    "; ask for one of its revisions that is stored (see its refs)."
                    if known
                    else "; it serves only repos pulled through it before."
                ),
                status=404,
                code="RevisionNotFound" if known else "RepoNotFound",
            )
        return self.upstream

    # --- 2. fetch and 3. audit: the gate ----------------------------------------------------------

    def verdict(
        self, row: RevisionView, *, block: bool = True, waited: Ingest | None = None
    ) -> AuditView:
        """The audit of ``row`` under the current policy; fetches and audits on first use.

        The fetch and audit run in a worker thread (one per revision however many requests ask);
        a request waits ``settings.ingest_wait`` seconds for them, then gets
        :class:`IngestPendingError` (answered 503 with Retry-After; see :mod:`.ingest`).
        ``block=False``: raise :class:`IngestRunning` instead of waiting, for a caller that waits
        without holding a thread and then asks again with ``waited``, the ingest it waited for.
        Returned without its reports (``report_json`` and ``report_html`` are empty: read them
        with ``catalog.latest_audit``), so that keeping every verdict in memory stays cheap."""
        key = (row.repo_id.lower(), row.sha)
        known = self._verdicts.get(key)
        if known is not None and self._verdicts_current() and known[0] == self._generation:
            return known[1]
        if waited is not None:
            # Its outcome, even when it already ended and left the table of running ones.
            return self.review.judge(waited.wait(0, self.settings.retry_after_max))
        failed = self._failures.get(key)
        if failed is not None:
            if time.monotonic() < failed[0]:
                raise failed[1]
            self._failures.pop(key, None)
        with self._guard:
            job = self._jobs.get(key)
        if job is None:
            # The stamp is read before the audit: a re-audit recorded in between (noticed by
            # another thread, which empties the cache) makes this entry stale, never current.
            stamp = self._generation
            done = self.catalog.latest_audit(row.repo_id, row.sha, self.policy_key)
            if done is not None:
                slim = self.review.judge(replace(done, report_json="", report_html=""))
                self._verdicts[key] = (stamp, slim)
                return slim
            job = self._start(key, row)
        if not block:
            raise IngestRunning(job)
        return self.review.judge(job.wait(self.settings.ingest_wait, self.settings.retry_after_max))

    def forget_verdicts(self) -> None:
        """Judge every revision again on its next request (a reviewer decided something)."""
        self._verdicts.clear()
        # And read the generation on the next request: a verdict judged before the decision
        # and stored after this clear carries the old generation, so it is dropped then.
        self._generation_seen = float("-inf")

    def _announce_verdict(self, repo_id: str, sha: str, verdict: str, reasons: list[str]) -> None:
        self.webhooks.announce(
            "audit.verdict",
            _namespace_of(repo_id),
            {
                "event": "audit.verdict",
                "subject": f"{repo_id}@{sha}",
                "verdict": verdict,
                "reasons": reasons,
            },
        )

    def _verdicts_current(self) -> bool:
        """False (and the verdict cache emptied) when some process, this one included, recorded
        an audit since the last look. Looks at most every ``settings.verdict_recheck`` seconds:
        one one-row query per interval, not per request, bounds how long another process's
        re-audit goes unseen."""
        now = time.monotonic()
        if now - self._generation_seen < self.settings.verdict_recheck:
            return True
        with self._generation_lock:
            if now - self._generation_seen < self.settings.verdict_recheck:
                return True
            generation = self.catalog.generation()
            current = generation == self._generation
            if not current:
                self._verdicts.clear()
                self._generation = generation
            self._generation_seen = time.monotonic()
            return current

    def reaudit(self, repo_id: str, revision: str) -> AuditView:
        """Audit a completely stored revision again under the current policy and today's date
        (an exception that expired since counts no more; new scanners apply). Every process
        sharing the database follows the new verdict within ``settings.verdict_recheck``."""
        row = self.revision(repo_id, revision)
        if self.ingest_of(row.repo_id, row.sha) is not None:
            raise NotStoredError(
                f"{row.repo_id}@{row.sha} is being fetched and audited right now; its audit is "
                "recorded when that ends."
            )
        try:
            stored = self._stored(row)
        except StorageError as e:
            raise NotStoredError(
                f"{row.repo_id}@{row.sha} is not completely stored here, so there is nothing to "
                "audit again; request one of its files to have it fetched and audited."
            ) from e
        key = (row.repo_id.lower(), row.sha)
        with self._locks.hold("audit", *key):
            self._audit(stored)
        self._verdicts.pop(key, None)
        done = self.catalog.latest_audit(row.repo_id, row.sha, self.policy_key)
        if done is None:  # pragma: no cover - _audit records one or raises
            raise StorageError(f"The audit of {row.repo_id}@{row.sha} was not recorded.")
        return done

    def quarantine(self, row: RevisionView) -> None:
        """Start the audit of a revision pushed here (every blob is stored): until its verdict
        allows it, :meth:`verdict` holds back its bytes like a first pull's."""
        self._start((row.repo_id.lower(), row.sha), row)

    def ingest_of(self, repo_id: str, sha: str) -> Ingest | None:
        """The ingest of that revision running now, if any."""
        with self._guard:
            return self._jobs.get((repo_id.lower(), sha))

    def _start(self, key: tuple[str, str], row: RevisionView) -> Ingest:
        """The running ingest of ``row``, started now unless one already runs."""
        with self._guard:
            if (job := self._jobs.get(key)) is not None:
                return job
            job = Ingest(f"{row.repo_id}@{row.sha}", sum(f.size for f in row.files if not f.stored))
            try:
                job.future = self._pool.submit(self._run, row, job)
            except RuntimeError as e:  # the pool is shut down: the server is stopping
                raise StorageError(
                    f"The server is shutting down; {job.label} was not fetched. Ask again once "
                    "it is back."
                ) from e
            self._jobs[key] = job
        job.future.add_done_callback(lambda f: self._finished(key, job, f))
        return job

    def _run(self, row: RevisionView, job: Ingest) -> AuditView:
        """The worker's task; the pool hands its outcome or error to every waiting request."""
        job.stamp = self._generation  # before the audit is read: see verdict()
        done = self.catalog.latest_audit(row.repo_id, row.sha, self.policy_key)
        if done is None:
            done = self._ingest(row, job)
        return replace(done, report_json="", report_html="")

    def _finished(self, key: tuple[str, str], job: Ingest, future: Future[AuditView]) -> None:
        error = None if future.cancelled() else future.exception()
        if error is None and not future.cancelled():  # cancelled: the server is stopping
            try:
                judged = self.review.judge(future.result())
            except Exception:  # the database is away: judged on the next request instead
                log.exception("the verdict of %s could not be judged", job.label)
            else:
                self._verdicts[key] = (job.stamp, judged)
        elif error is not None:
            log.warning("the ingest of %s failed: %s", job.label, error)
            if job.come_back_by is not None:
                # Clients were told to come back: give them the failure, not a new attempt.
                # The margin covers slow networks and requests queued behind others.
                until = max(job.come_back_by, time.monotonic()) + self.settings.failed_ingest_hold
                self._failures[key] = (until, _failed(job, error, until - time.monotonic()))
        with self._guard:
            if self._jobs.get(key) is job:
                del self._jobs[key]

    def _ingest(self, row: RevisionView, job: Ingest) -> AuditView:
        """Fetch and audit ``row``; runs in an ingest worker."""
        for spec in row.files:
            self._fetch(row, spec, job)
        self.catalog.set_status(row.repo_id, row.sha, "fetched")
        job.fetched_at = time.monotonic()
        self._audit(self._stored(row))
        done = self.catalog.latest_audit(row.repo_id, row.sha, self.policy_key)
        if done is None:  # pragma: no cover - _audit records one or raises
            raise StorageError(f"The audit of {row.repo_id}@{row.sha} was not recorded.")
        return done

    def _stored(self, row: RevisionView) -> RevisionView:
        """``row`` as the catalogue has it now, every blob's SHA-256 known."""
        fresh = self.catalog.revision(row.repo_id, row.sha)
        missing = [] if fresh is None else [f.path for f in fresh.files if not self.blob_stored(f)]
        if fresh is None or missing:
            raise StorageError(
                f"{row.repo_id}@{row.sha} is not completely stored (missing: "
                f"{', '.join(missing) or 'the revision'}); ask again to fetch it."
            )
        return fresh

    def revision_file(self, row: RevisionView, spec: FileSpec) -> FileSpec:
        """``spec`` as the catalogue has it now (once stored, with its SHA-256)."""
        return self.revision(row.repo_id, row.sha).file(spec.path) or spec

    def blob_stored(self, spec: FileSpec) -> bool:
        return bool(spec.stored and spec.sha256 and self.blobs.has(spec.sha256))

    def _fetch(self, row: RevisionView, spec: FileSpec, job: Ingest) -> None:
        if spec.stored and spec.sha256 and self.blobs.has(spec.sha256):
            return
        with self._locks.hold("blob", spec.sha256 or spec.git_oid):
            if spec.sha256 and self.blobs.has(spec.sha256):
                self.catalog.mark_stored(row.repo_id, row.sha, spec.path, spec.sha256)
                return
            label = f"'{spec.path}' of {row.repo_id}@{row.sha}"
            with self._upstream(row.repo_id, row.sha).download(
                row.repo_id, row.sha, spec.path
            ) as chunks:
                written = self.blobs.write(
                    job.counted(chunks, self._closing),
                    expected_sha256=spec.sha256,
                    expected_size=spec.size,
                    expected_git_oid=None if spec.lfs else spec.git_oid,
                    label=label,
                )
            self.catalog.mark_stored(row.repo_id, row.sha, spec.path, written.sha256)

    def _audit(self, row: RevisionView) -> None:
        self._auditor.audit(row)


def open_blob_store(settings: Settings, local: Path, incoming: Path) -> BlobStore:
    """The blob store ``settings`` name: the data directory's, or an S3 bucket."""
    if settings.blob_store is None:
        return LocalBlobStore(local, incoming, fsync=settings.fsync)
    return S3BlobStore(settings.blob_store, incoming, endpoint_url=settings.s3_endpoint_url)


def _failed(job: Ingest, error: BaseException, hold: float) -> IngestFailedError:
    return IngestFailedError(
        f"modeltrust could not fetch and audit {job.label}: {error} No file of it is served; "
        f"a request in {math.ceil(hold)} s or later tries the upstream again."
    )


def _namespace_of(key: str) -> str | None:
    from modeltrust.storage.hosted import split_key

    repo_id = split_key(key)[1]
    return repo_id.split("/", 1)[0] if "/" in repo_id else None
