"""The registry: hosted repos that users push to, beside the pulled-through mirror.

What happens to a push (``huggingface_hub``'s ``create_commit``, see ``hub-api-contract.md`` §6):

1. ``validate-yaml``: the README's metadata is read as the Hub reads it, then judged by the
   server's policy on licence and documentation alone; a README the policy refuses is
   answered 400 with the policy's reasons, before any byte is sent.
2. ``preupload``: each file is declared with its size and first 512 bytes. The answer says which
   go through LFS (``.gitattributes`` patterns, binary samples, large files), which the repo's
   ``.gitignore`` drops, and which are unchanged; a sample that is a pickle is named in an
   ``X-HF-Warning`` (the client logs it): it will be audited before anyone downloads it.
3. LFS: objects are uploaded with ``PUT`` to signed URLs (no token travels), hashed on the way
   and stored only when their SHA-256 and size match; an object this repo already holds is not
   asked for again. Blobs are stored once for every repo (content-addressed), but a repo may
   reference only blobs it was given: uploaded to it, or already in its history.
4. ``commit``: the NDJSON operations are applied to the branch's head and the commit is written
   in one transaction that moves the branch by compare-and-set (412 when ``parentCommit`` is
   stale). The revision is stored at once and *quarantined*: its audit starts right away, and no
   byte of it is served to anyone but its uploader and the repo's admins before the verdict
   allows it. The commit answer and ``model_info`` say so.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from modeltrust.errors import (
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
    StorageError,
)
from modeltrust.licenses.card import parse_card
from modeltrust.server.access import Access, Caller, not_found
from modeltrust.server.responses import HubError
from modeltrust.server.service import GovernedHub
from modeltrust.storage.accounts import Accounts, Role
from modeltrust.storage.catalog import FileSpec, RevisionView
from modeltrust.storage.gitobjects import blob_oid, lfs_oid
from modeltrust.storage.hosted import (
    Author,
    CommitResult,
    Hosted,
    RepoInfo,
    check_path,
    default_gitattributes,
    repo_key,
    split_key,
)

log = logging.getLogger(__name__)

LFS_THRESHOLD = 10 * 1024 * 1024
"""Files above this size always go through LFS (the Hub's rule)."""
MAX_REGULAR = 10 * 1024 * 1024
"""The largest file a commit may carry inline (base64) rather than through LFS."""
MAX_LINE = 16 * 1024 * 1024
"""The longest NDJSON line read: a base64 file of MAX_REGULAR bytes and its JSON."""
SAMPLE_BYTES = 512
UPLOAD_URL_TTL = 24 * 3600
"""Seconds a signed upload URL stays valid."""
UPLOAD_SETTLE_S = 30.0
"""How long a commit or verify waits for an LFS object another server answered to become
visible in the shared store (it is flushed to the disk first)."""


@dataclass(frozen=True, slots=True)
class Operation:
    kind: str
    """``file``, ``lfsFile``, ``deletedFile`` or ``deletedFolder``."""
    path: str
    spec: FileSpec | None = None
    """For additions: the file as it will be listed (its blob already stored)."""


@dataclass
class CommitRequest:
    summary: str = ""
    description: str = ""
    parent: str | None = None
    operations: list[Operation] = field(default_factory=list)


def iso(moment: datetime) -> str:
    """The Hub's timestamps: UTC with milliseconds and ``Z`` (huggingface_hub parses no other)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class Registry:
    def __init__(self, hub: GovernedHub) -> None:
        self.hub = hub
        self.settings = hub.settings
        self.accounts = Accounts(hub.catalog)
        self.hosted = Hosted(hub.catalog, describe=self._describe)
        self.access = Access(self.accounts, hub.settings)
        self._secret = _upload_secret(hub.settings.data_dir)
        self._info_cache: dict[str, tuple[float, RepoInfo | None]] = {}

    # --- repos ----------------------------------------------------------------------------------

    @property
    def signing_key(self) -> bytes:
        """The data directory's secret (``upload.key``), shared by the servers using it; what
        signs upload URLs, and (derived from it) the review UI's sign-in state."""
        return self._secret

    def repo(self, key: str, *, fresh: bool = False) -> RepoInfo | None:
        """The repo stored under ``key``; remembered ``repo_info_cache_s`` seconds (a setting
        changed by another process is followed within that bound; here, at once)."""
        now = time.monotonic()
        cached = self._info_cache.get(key.lower())
        if not fresh and cached is not None and cached[0] > now:
            return cached[1]
        info = self.hosted.info(key)
        if len(self._info_cache) > 100_000:
            self._info_cache.clear()
        self._info_cache[key.lower()] = (now + self.settings.repo_info_cache_s, info)
        return info

    def forget(self, key: str) -> None:
        self._info_cache.pop(key.lower(), None)

    def create_repo(
        self, caller: Caller, repo_type: str, namespace: str | None, name: str, private: bool | None
    ) -> tuple[RepoInfo, bool]:
        """Create a hosted repo (True) or find the one that exists (False, for a 409 answer)."""
        if caller.anonymous:
            raise HubError(401, "Creating a repo needs a token: set HF_TOKEN to a write token.")
        namespace = namespace or caller.name
        if namespace is None:
            raise InvalidRequestError(
                "The server's admin token has no namespace of its own: name the organisation."
            )
        from modeltrust.server.hub_api import repo_id_of

        repo_id = repo_id_of([quote(namespace, safe=""), quote(name, safe="")])
        key = repo_key(repo_type, repo_id)
        existing = self.repo(key, fresh=True)
        if existing is not None:
            if existing.private and self.access.role(caller, existing) is None:
                raise HubError(
                    403, f"You don't have the rights to create a {repo_type} under '{namespace}'."
                )
            return existing, False
        kind = self.accounts.namespace(namespace)
        if kind is None or not self.access.may_create_in(caller, namespace):
            raise HubError(
                403,
                f"You don't have the rights to create a {repo_type} under the namespace "
                f"'{namespace}': it needs a write token of that user, or write access to that "
                "organisation.",
            )
        if private is None:
            org = self.accounts.org(namespace) if kind == "org" else None
            private = bool(org and org.private_by_default)
        gitattributes = default_gitattributes(split_key(key)[0]).encode()
        written = self.hub.blobs.write([gitattributes], label=".gitattributes")
        spec = FileSpec(
            ".gitattributes", written.size, written.git_oid, False, written.sha256, True
        )
        info, sha = self.hosted.create(
            key, private=private, author=self._author(caller), files=[spec]
        )
        self.forget(key)
        self._record(caller, "repo.create", f"{repo_id}@{sha}", {"private": private})
        return info, True

    def delete_repo(self, caller: Caller, key: str) -> None:
        repo = self._hosted_repo(caller, key)
        self.access.require(caller, repo, "admin", "delete")
        self.hosted.delete(repo.key)
        self.forget(repo.key)
        self._record(caller, "repo.delete", repo.repo_id, {})

    def move_repo(self, caller: Caller, source: str, target: str) -> RepoInfo:
        repo = self._hosted_repo(caller, source)
        self.access.require(caller, repo, "admin", "move")
        namespace = split_key(target)[1].split("/")[0]
        if not self.access.may_create_in(caller, namespace):
            raise HubError(403, f"You don't have the rights to create a repo under '{namespace}'.")
        moved = self.hosted.move(repo.key, target)
        self.forget(source)
        self.forget(target)
        self._record(caller, "repo.move", repo.repo_id, {"to": moved.repo_id})
        return moved

    def update_settings(
        self, caller: Caller, key: str, *, private: bool | None, gated: str | None
    ) -> RepoInfo:
        repo = self._hosted_repo(caller, key)
        self.access.require(caller, repo, "admin", "change the settings of")
        self.hosted.update(repo.key, private=private, gated=gated)
        self.forget(repo.key)
        changed = {"private": private, "gated": gated}
        self._record(
            caller,
            "repo.settings",
            repo.repo_id,
            {k: v for k, v in changed.items() if v is not None},
        )
        info = self.repo(repo.key, fresh=True)
        assert info is not None  # noqa: S101 - just updated
        return info

    def _record(self, caller: Caller, action: str, subject: str, details: dict[str, Any]) -> None:
        """An entry in the audit trail (and the webhooks), as ``caller``."""
        self.hub.review.record(caller.name or "admin", action, subject, "", details)

    def _hosted_repo(self, caller: Caller, key: str) -> RepoInfo:
        repo = self.repo(key, fresh=True)
        if repo is None or repo.kind != "hosted":
            raise not_found(split_key(key)[1])
        self.access.require_read(caller, repo)
        return repo

    def readable(self, caller: Caller, key: str) -> RepoInfo:
        """The hosted repo ``key`` if the caller may see it (404 otherwise)."""
        return self._hosted_repo(caller, key)

    def head(self, repo: RepoInfo, revision: str) -> str:
        sha = self.hosted.resolve(repo.key, revision)
        if sha is None:
            raise NotFoundError(
                f"Invalid rev id: {revision} is not a branch, tag or commit of {repo.repo_id}.",
                code="RevisionNotFound",
            )
        return sha

    def revision(self, repo: RepoInfo, revision: str) -> RevisionView:
        sha = self.head(repo, revision)
        view = self.hosted.revision(repo.key, sha)
        if view is None:  # pragma: no cover - a resolved sha is stored
            raise NotFoundError(f"{repo.repo_id}@{sha} is missing.", code="RevisionNotFound")
        return view

    # --- preupload ------------------------------------------------------------------------------

    def preupload(
        self,
        caller: Caller,
        repo: RepoInfo,
        revision: str,
        files: Sequence[dict[str, Any]],
        git_ignore: str | None,
        *,
        create_pr: bool,
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Upload modes, ignore flags and current oids of the declared files; and the notes
        (pickles sniffed in the samples) the answer should carry."""
        self._require_push(caller, repo, create_pr=create_pr)
        head = self.revision(repo, revision)
        import pathspec

        lfs_spec = pathspec.GitIgnoreSpec.from_lines(
            _lfs_patterns(self._text(head, ".gitattributes"))
        )
        ignore_text = git_ignore if git_ignore is not None else self._text(head, ".gitignore")
        ignore = pathspec.GitIgnoreSpec.from_lines((ignore_text or "").splitlines())
        out, notes = [], []
        for entry in files:
            path, size, sample = _declared(entry)
            lfs = size > LFS_THRESHOLD or lfs_spec.match_file(path) or b"\0" in sample
            current = head.file(path)
            oid = None
            if current is not None:
                oid = current.sha256 if lfs else current.git_oid
            out.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": bool(ignore.match_file(path)),
                    "oid": oid,
                }
            )
            what = sniff_sample(sample)
            if what:
                notes.append(f"'{path}' is {what}")
        return out, notes

    # --- LFS ------------------------------------------------------------------------------------

    def lfs_batch(
        self,
        caller: Caller,
        repo: RepoInfo,
        objects: Sequence[dict[str, Any]],
        ref: str | None,
        base_url: str,
    ) -> list[dict[str, Any]]:
        """The LFS batch answer: for each object, nothing to do (this repo has it), or a signed
        upload URL and a verify URL, or an error (bad object, over quota)."""
        self._require_push(caller, repo, create_pr=ref is None)
        quota = self._quota_left(repo)
        answers = []
        for obj in objects:
            oid, size = obj.get("oid"), obj.get("size")
            if not isinstance(oid, str) or not _is_sha256(oid) or not _is_size(size):
                answers.append(
                    {
                        "oid": str(oid),
                        "size": size if isinstance(size, int) else 0,
                        "error": {
                            "code": 422,
                            "message": "An LFS object needs a SHA-256 'oid' and a 'size'.",
                        },
                    }
                )
                continue
            oid = oid.lower()
            assert isinstance(size, int)  # noqa: S101 - _is_size
            if self.hosted.holds(repo.key, oid) and self.hub.blobs.has(oid):
                answers.append({"oid": oid, "size": size})
                continue
            if quota is not None:
                if size > quota:
                    answers.append(
                        {
                            "oid": oid,
                            "size": size,
                            "error": {"code": 413, "message": self._quota_message(repo, size)},
                        }
                    )
                    continue
                quota -= size
            upload = self._signed(repo, oid, size, caller, base_url)
            answers.append(
                {
                    "oid": oid,
                    "size": size,
                    "authenticated": True,
                    "actions": {
                        "upload": {"href": upload, "expires_in": UPLOAD_URL_TTL},
                        "verify": {
                            "href": f"{base_url}api/modeltrust/lfs/verify/{quote(repo.key)}",
                        },
                    },
                }
            )
        return answers

    def _signed(self, repo: RepoInfo, oid: str, size: int, caller: Caller, base_url: str) -> str:
        expires = int(time.time()) + UPLOAD_URL_TTL
        user = caller.name or "admin"
        sig = self._signature(repo.key, oid, size, expires, user)
        return (
            f"{base_url}api/modeltrust/lfs/upload/{quote(repo.key)}/{oid}"
            f"?size={size}&expires={expires}&user={quote(user, safe='')}&sig={sig}"
        )

    def _signature(self, key: str, oid: str, size: int, expires: int, user: str) -> str:
        text = f"{key.lower()}\n{oid}\n{size}\n{expires}\n{user}".encode()
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()

    def check_upload(self, key: str, oid: str, params: dict[str, str]) -> tuple[int, str]:
        """(size, user) of a signed upload URL; 403 when it is forged or expired."""
        try:
            size, expires = int(params["size"]), int(params["expires"])
            user, sig = params["user"], params["sig"]
        except (KeyError, ValueError):
            raise HubError(
                403, "This upload URL is incomplete; ask the LFS batch API again."
            ) from None
        expected = self._signature(key, oid.lower(), size, expires, user)
        if not hmac.compare_digest(expected, sig):
            raise HubError(403, "This upload URL's signature is not valid for this object.")
        if expires < time.time():
            raise HubError(403, "This upload URL has expired; ask the LFS batch API again.")
        return size, user

    def record_upload(self, key: str, oid: str, size: int, user: str) -> None:
        self.hosted.record_upload(key, oid, size, user)

    def verify(self, caller: Caller, repo: RepoInfo, oid: str, size: int) -> None:
        self._require_push(caller, repo, create_pr=True)
        if _is_sha256(oid):
            self._await_uploads(repo, [oid.lower()], settle=False)
        stored = self.hub.blobs.size(oid.lower()) if _is_sha256(oid) else None
        if stored is None:
            raise NotFoundError(
                f"LFS object {oid} was not uploaded to {repo.repo_id}; upload it first.",
                code="EntryNotFound",
            )
        if stored != size or not self.hosted.holds(repo.key, oid.lower()):
            raise InvalidRequestError(
                f"LFS object {oid} of {size} bytes was not uploaded to {repo.repo_id}.",
                status=422,
            )

    # --- commit ---------------------------------------------------------------------------------

    def parse_commit(self, body: IO[bytes], label: str) -> CommitRequest:
        """The NDJSON commit payload; inline files are stored as they are read (each line is
        at most :data:`MAX_LINE` bytes), so memory holds one file at a time."""
        request = CommitRequest()
        number = 0
        while line := body.readline(MAX_LINE + 1):
            number += 1
            if len(line) > MAX_LINE:
                raise InvalidRequestError(
                    f"Line {number} of the commit is over {MAX_LINE // 2**20} MiB: files over "
                    f"{MAX_REGULAR // 2**20} MiB must be uploaded through LFS.",
                    status=413,
                )
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                raise InvalidRequestError(f"Line {number} of the commit is not JSON.") from None
            if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
                raise InvalidRequestError(f"Line {number} of the commit is not a {{key, value}}.")
            self._operation(request, item["key"], item["value"], number, label)
        if not request.summary.strip():
            raise InvalidRequestError("The commit has no header with a 'summary'.")
        return request

    def _operation(
        self, request: CommitRequest, key: object, value: dict[str, Any], number: int, label: str
    ) -> None:
        if key == "header":
            request.summary = str(value.get("summary") or "")
            request.description = str(value.get("description") or "")
            parent = value.get("parentCommit")
            request.parent = str(parent).lower() if parent else None
            return
        path = value.get("path")
        if not isinstance(path, str):
            raise InvalidRequestError(f"Line {number} of the commit names no 'path'.")
        if key == "deletedFolder":
            request.operations.append(Operation("deletedFolder", path.rstrip("/")))
            return
        path = check_path(path)
        if key == "file":
            content = value.get("content", "")
            if value.get("encoding", "base64") != "base64" or not isinstance(content, str):
                raise InvalidRequestError(f"'{path}': inline content must be base64 text.")
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequestError(f"'{path}': its content is not valid base64.") from None
            if len(data) > MAX_REGULAR:
                raise InvalidRequestError(
                    f"'{path}' is {len(data)} bytes: files over {MAX_REGULAR // 2**20} MiB "
                    "must be uploaded through LFS.",
                    status=413,
                )
            written = self.hub.blobs.write(
                [data], expected_size=len(data), label=f"'{path}' of {label}"
            )
            spec = FileSpec(path, written.size, blob_oid(data), False, written.sha256, True)
            request.operations.append(Operation("file", path, spec))
        elif key == "lfsFile":
            oid = value.get("oid")
            if (
                value.get("algo", "sha256") != "sha256"
                or not isinstance(oid, str)
                or not _is_sha256(oid)
            ):
                raise InvalidRequestError(f"'{path}': an LFS file needs a SHA-256 'oid'.")
            size = value.get("size")
            if size is not None and not _is_size(size):
                raise InvalidRequestError(f"'{path}': 'size' must be a whole number of bytes.")
            oid = oid.lower()
            spec = FileSpec(path, size if isinstance(size, int) else -1, "", True, oid, True)
            request.operations.append(Operation("lfsFile", path, spec))
        elif key == "deletedFile":
            request.operations.append(Operation("deletedFile", path))
        else:
            raise InvalidRequestError(f"Line {number} of the commit has an unknown key {key!r}.")

    def commit(
        self,
        caller: Caller,
        repo: RepoInfo,
        revision: str,
        request: CommitRequest,
        *,
        create_pr: bool,
    ) -> CommitResult:
        self._require_push(caller, repo, create_pr=create_pr)
        author = self._author(caller)
        self._await_uploads(
            repo,
            [
                op.spec.sha256
                for op in request.operations
                if op.spec and op.spec.sha256 and op.kind == "lfsFile"
            ],
            settle=True,
        )

        def build(head: tuple[FileSpec, ...]) -> list[FileSpec]:
            files = {f.path: f for f in head}
            for op in request.operations:
                _apply(files, op, repo, self)
            result = list(files.values())
            self._check_quota(repo, result, head)
            return result

        result = self.hosted.commit(
            repo.key,
            revision,
            build,
            title=request.summary,
            message=request.description,
            author=author,
            parent=request.parent,
            create_pr=create_pr,
        )
        self.hub.quarantine(result.revision)
        self._record(
            caller,
            "repo.push",
            f"{repo.repo_id}@{result.sha}",
            {
                "ref": result.ref,
                "pull_request": result.pr_num,
                "operations": len(request.operations),
                "summary": request.summary,
            },
        )
        return result

    def _await_uploads(self, repo: RepoInfo, oids: Sequence[str], *, settle: bool) -> None:
        """Wait for LFS objects uploaded to ``repo`` to be stored. ``settle``: also for the
        ones this server is still flushing to the disk (a commit must not reference a blob a
        power cut could lose). An upload another server answered is visible here once that
        server has flushed it (a shared store): wait for it a while rather than refuse."""
        if not oids:
            return
        if settle:
            self.hub.blobs.settle(oids)
        deadline = time.monotonic() + UPLOAD_SETTLE_S
        for oid in oids:
            while self.hub.blobs.size(oid) is None and self.hosted.holds(repo.key, oid):
                if time.monotonic() > deadline:
                    return  # the caller's check says what is missing
                time.sleep(0.1)

    def _check_quota(
        self, repo: RepoInfo, files: Sequence[FileSpec], head: Sequence[FileSpec]
    ) -> None:
        namespace = repo.namespace
        quota = None if namespace is None else self.accounts.quota(namespace)
        if quota is None or namespace is None:
            return
        known = {f.sha256 for f in head}
        new = {f.sha256: f.size for f in files if f.sha256 not in known and f.sha256}
        if not new:
            return
        fresh = self.hosted.absent_from(namespace, list(new))
        extra = sum(new[s] for s in fresh)
        if extra and self.hosted.usage(namespace) + extra > quota:
            raise QuotaExceededError(self._quota_message(repo, extra))

    def _quota_left(self, repo: RepoInfo) -> int | None:
        namespace = repo.namespace
        quota = None if namespace is None else self.accounts.quota(namespace)
        if quota is None or namespace is None:
            return None
        return max(0, quota - self.hosted.usage(namespace))

    def _quota_message(self, repo: RepoInfo, size: int) -> str:
        from modeltrust.report.interface import human_size

        namespace = repo.namespace or "?"
        quota = self.accounts.quota(namespace) or 0
        used = self.hosted.usage(namespace)
        return (
            f"Storing {human_size(size)} more in {repo.repo_id} would take '{namespace}' over its "
            f"quota of {human_size(quota)} ({human_size(used)} used). Delete repos or files of "
            f"'{namespace}', or ask an admin to raise it ('modeltrust orgs quota')."
        )

    def squash(self, caller: Caller, repo: RepoInfo, revision: str, message: str) -> str:
        self.access.require(caller, repo, "write", "squash the history of")
        sha = self.hosted.squash(repo.key, revision, message=message, author=self._author(caller))
        view = self.hosted.revision(repo.key, sha)
        if view is not None:
            self.hub.quarantine(view)
        return sha

    def _require_push(self, caller: Caller, repo: RepoInfo, *, create_pr: bool) -> None:
        """Writing to a branch needs write access; opening (or adding to) a pull request only
        read access, as on the Hub (a PR is how outsiders propose changes)."""
        needed: Role = "read" if create_pr else "write"
        if caller.anonymous:
            self.access.check_anonymous(caller)
            raise HubError(401, f"Pushing to {repo.repo_id} needs a token: set HF_TOKEN.")
        self.access.require(caller, repo, needed, "push to")
        if repo.kind != "hosted":
            raise HubError(
                403,
                f"{repo.repo_id} is a mirror of the upstream; it cannot be pushed to here. "
                "Create a repo of your own and push there.",
            )

    def _author(self, caller: Caller) -> Author:
        if caller.principal is not None:
            user = caller.principal.user
            return Author(user.name, user.email or f"{user.name}@users.noreply.modeltrust")
        return Author("admin", "admin@users.noreply.modeltrust")

    # --- reading --------------------------------------------------------------------------------

    def _text(self, view: RevisionView, path: str) -> str | None:
        spec = view.file(path)
        return None if spec is None else self._small_text(spec)

    def _small_text(self, spec: FileSpec, limit: int = 1 << 20) -> str | None:
        """A stored file of at most ``limit`` bytes as text (None: absent, larger, unreadable)."""
        if spec.sha256 is None or spec.size > limit:
            return None
        try:
            return self.hub.blobs.read(spec.sha256).decode("utf-8", "replace")
        except (OSError, StorageError):
            return None

    def _describe(self, files: Sequence[FileSpec]) -> dict[str, Any]:
        """What model info shows of a commit's card: its metadata, tags and licence."""
        readme = next((f for f in files if f.path == "README.md"), None)
        text = None if readme is None else self._small_text(readme)
        if text is None:
            return {}
        card = parse_card(text)
        if not card.data:
            return {}
        data = dict(card.data)
        info: dict[str, Any] = {"cardData": data}
        tags = [t for t in _as_list(data.get("tags")) if isinstance(t, str)]
        tags += [f"license:{lic}" for lic in _as_list(data.get("license")) if isinstance(lic, str)]
        for key in ("library_name", "pipeline_tag"):
            if isinstance(data.get(key), str):
                info[key] = data[key]
        if tags:
            info["tags"] = tags
        return info


def _apply(files: dict[str, FileSpec], op: Operation, repo: RepoInfo, registry: Registry) -> None:
    if op.kind == "file":
        assert op.spec is not None  # noqa: S101 - parse_commit sets it
        files[op.path] = op.spec
    elif op.kind == "lfsFile":
        assert op.spec is not None  # noqa: S101 - parse_commit sets it
        oid = op.spec.sha256 or ""
        given = registry.hosted.size_of(repo.key, oid)  # None: never given to this repo
        size = op.spec.size if op.spec.size >= 0 else given
        stored = registry.hub.blobs.size(oid)
        if size is None or stored is None or given is None:
            raise InvalidRequestError(
                f"'{op.path}': LFS object {oid} was not uploaded to {repo.repo_id}; upload it "
                "through the LFS batch API first.",
                status=422,
            )
        if stored != size:
            raise InvalidRequestError(
                f"'{op.path}': LFS object {oid} is {stored} bytes, not {size}.", status=422
            )
        files[op.path] = FileSpec(op.path, size, lfs_oid(oid, size), True, oid, True)
    elif op.kind == "deletedFile":
        if files.pop(op.path, None) is None:
            inside = [p for p in files if p.startswith(op.path + "/")]
            if not inside:
                raise NotFoundError(
                    f"A file with this name doesn't exist: '{op.path}' is not in {repo.repo_id}.",
                    code="EntryNotFound",
                )
            for p in inside:
                del files[p]
    elif op.kind == "deletedFolder":
        prefix = op.path + "/" if op.path else ""
        inside = [p for p in files if p.startswith(prefix)] if prefix else []
        if not inside:
            raise NotFoundError(
                f"A folder with this name doesn't exist: '{op.path}' is not in {repo.repo_id}.",
                code="EntryNotFound",
            )
        for p in inside:
            del files[p]


def _declared(entry: dict[str, Any]) -> tuple[str, int, bytes]:
    path, size, sample = entry.get("path"), entry.get("size"), entry.get("sample", "")
    if not isinstance(path, str) or not _is_size(size) or not isinstance(sample, str):
        raise InvalidRequestError(
            "Each preupload file needs a 'path', a 'size' in bytes and a base64 'sample'."
        )
    check_path(path)
    try:
        data = base64.b64decode(sample, validate=True)[:SAMPLE_BYTES]
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"'{path}': the sample is not valid base64.") from None
    assert isinstance(size, int)  # noqa: S101 - _is_size
    return path, size, data


def sniff_sample(sample: bytes) -> str | None:
    """What a file's first bytes say it is, when that is code a loader would run: a pickle
    (protocol 2 or later starts with 0x80 and the protocol), or a zip whose first member is a
    pickle (PyTorch's format)."""
    if len(sample) >= 2 and sample[0] == 0x80 and 2 <= sample[1] <= 5:
        return f"a pickle (protocol {sample[1]})"
    if sample.startswith(b"PK\x03\x04") and b".pkl" in sample[:200]:
        return "a zip holding a pickle (a PyTorch checkpoint)"
    return None


def _lfs_patterns(text: str | None) -> list[str]:
    """The patterns ``.gitattributes`` sends through LFS (``filter=lfs``)."""
    patterns = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def _as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _upload_secret(data_dir: Path) -> bytes:
    """The key that signs upload URLs, shared by every server on the data directory: created
    once (0600), then read."""
    path = data_dir / "upload.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as e:
        raise StorageError(f"Could not create '{path}': {e.strerror or e}.") from e
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32).hex().encode())
    for _ in range(50):
        with contextlib.suppress(OSError):
            key = path.read_bytes().strip()
            if len(key) == 64:
                return bytes.fromhex(key.decode())
        time.sleep(0.01)  # another server is writing it
    raise StorageError(f"'{path}' does not hold an upload key; delete it and restart.")
