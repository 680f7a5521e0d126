"""Hosted repos: created and pushed here, their branches, tags and pull requests the truth.

A repo is stored under its *key*, the path the Hub gives it in URLs: ``ns/name`` for a model,
``datasets/ns/name`` for a dataset. Each commit is a revision row with its whole file list (a
snapshot: reading any revision is one query) and its git metadata; its id is the id git would
give it (:mod:`.gitobjects`), so a commit sha names its content and history.

A ref moves by compare-and-set: the commit's rows are written and the ref is updated with
``WHERE sha = <the head the commit was built on>`` in one transaction. If another writer (this
process or another sharing the database) moved the ref meanwhile, nothing of the commit is
kept: a commit that named its parent fails with 412, one that did not is rebuilt on the new head.
A commit is visible whole or not at all, whatever kills the process when.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from modeltrust.errors import ConflictError, InvalidRequestError, NotFoundError
from modeltrust.storage.catalog import Catalog, FileSpec, RevisionView, aware, revision_view
from modeltrust.storage.gitobjects import Signature, commit_oid, tree_oid
from modeltrust.storage.locks import KeyedLocks
from modeltrust.storage.models import (
    DiscussionRow,
    FileRow,
    HostedRefRow,
    RepoRow,
    RevisionRow,
    UploadRow,
)

RepoType = Literal["model", "dataset"]
REPO_TYPES: tuple[RepoType, ...] = ("model", "dataset")
_PREFIX = {"model": "", "dataset": "datasets/"}
_SHA = re.compile(r"[0-9a-f]{40}")
_SHORT_SHA = re.compile(r"[0-9a-f]{7,40}")
_REF_NAME = re.compile(r"[A-Za-z0-9._/-]{1,200}")
MAIN = "main"
CONFLICT_MESSAGE = (
    "The branch was updated since you opened this page. Please refresh and try again."
)
"""The Hub's words for a stale ``parentCommit`` (huggingface_hub's tests look for them)."""
_ATTEMPTS = 30
"""Times a commit without a named parent is rebuilt on a head that another process moved
meanwhile (with a growing, jittered pause between tries)."""

_LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gguf", "*.gz", "*.h5", "*.joblib",
    "*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
    "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
    "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
    "*.zst", "*tfevents*",
)  # fmt: skip
_DATASET_PATTERNS = (
    "*.mds", "*.mp3", "*.ogg", "*.wav", "*.jpg", "*.jpeg", "*.png", "*.webp", "*.mp4", "*.webm",
    "*.tiff", "*.flac",
)  # fmt: skip


def default_gitattributes(repo_type: RepoType) -> str:
    """The ``.gitattributes`` a new repo starts with: the Hub's LFS patterns for its type."""
    patterns = _LFS_PATTERNS + (_DATASET_PATTERNS if repo_type == "dataset" else ())
    return "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in patterns)


def repo_key(repo_type: str, repo_id: str) -> str:
    """Where a repo lives: ``ns/name`` (models), ``datasets/ns/name``."""
    if repo_type not in _PREFIX:
        raise InvalidRequestError(
            f"Repos of type '{repo_type}' are not hosted here; use 'model' or 'dataset'."
        )
    return _PREFIX[repo_type] + repo_id


def split_key(key: str) -> tuple[RepoType, str]:
    if key.startswith("datasets/"):
        return "dataset", key.removeprefix("datasets/")
    return "model", key


@dataclass(frozen=True, slots=True)
class RepoInfo:
    key: str
    kind: str
    """``hosted`` or ``mirror``."""
    private: bool
    gated: str
    created_at: datetime

    @property
    def repo_type(self) -> RepoType:
        return split_key(self.key)[0]

    @property
    def repo_id(self) -> str:
        return split_key(self.key)[1]

    @property
    def namespace(self) -> str | None:
        parts = self.repo_id.split("/")
        return parts[0] if len(parts) == 2 else None


@dataclass(frozen=True, slots=True)
class RefInfo:
    kind: str
    """``branch``, ``tag`` or ``pr``."""
    name: str
    sha: str
    message: str | None = None

    @property
    def ref(self) -> str:
        if self.kind == "branch":
            return f"refs/heads/{self.name}"
        if self.kind == "tag":
            return f"refs/tags/{self.name}"
        return self.name


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    title: str
    message: str
    author: str | None
    date: datetime


@dataclass(frozen=True, slots=True)
class Discussion:
    num: int
    title: str
    author: str
    status: str
    is_pull_request: bool
    created_at: datetime
    ref: str


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    email: str

    def at(self, when: datetime) -> Signature:
        return Signature(self.name, self.email, when)


@dataclass(frozen=True, slots=True)
class CommitResult:
    sha: str
    ref: str
    pr_num: int | None
    revision: RevisionView


class _Raced(Exception):  # noqa: N818 - internal signal
    """The ref moved between reading its head and moving it."""


Build = Callable[[tuple[FileSpec, ...]], Sequence[FileSpec]]
"""From the head's files to the commit's files (raises to refuse the commit)."""
Describe = Callable[[Sequence[FileSpec]], dict[str, Any]]
"""What model info shows of a commit beyond its files (its card's metadata), from its files."""


def check_path(path: str) -> str:
    """A file path a repo may hold; 422 otherwise (it would escape a folder, or git refuses)."""
    parts = path.split("/")
    if (
        not path
        or len(path.encode("utf-8", "surrogateescape")) > 1024
        or any(p in ("", ".", "..", ".git") for p in parts)
        or "\\" in path
        or any(ord(c) < 32 or c == "\x7f" for c in path)
    ):
        raise InvalidRequestError(
            f"{path!r} cannot be a path in a repo: use '/' between folders, no '.', '..' or "
            "'.git' parts, no backslash or control characters, at most 1024 bytes.",
            status=422,
        )
    return path


def check_ref_name(name: str, what: str) -> str:
    if (
        not _REF_NAME.fullmatch(name)
        or name.startswith(("/", "refs/", "-"))
        or name.endswith(("/", ".lock", "."))
        or ".." in name
        or "//" in name
        or _SHA.fullmatch(name)
    ):
        raise InvalidRequestError(
            f"Invalid reference for a {what}: '{name}'. Use letters, digits, '.', '_', '-' and "
            "'/' between parts; not a commit id, not starting with 'refs/'."
        )
    return name


class Hosted:
    def __init__(self, catalog: Catalog, describe: Describe | None = None) -> None:
        self.catalog = catalog
        self.describe: Describe = describe or (lambda _files: {})
        self._locks = KeyedLocks()
        """One commit at a time per branch in this process; across processes sharing the
        database, the ref's row lock (PostgreSQL) and compare-and-set serialise them."""

    # --- repos ----------------------------------------------------------------------------------

    def info(self, key: str) -> RepoInfo | None:
        """The repo stored under ``key`` (hosted or mirror), matched case-insensitively."""
        with self.catalog.transaction() as s:
            row = _repo(s, key)
            return None if row is None else _info(row)

    def create(
        self,
        key: str,
        *,
        private: bool,
        author: Author,
        files: Sequence[FileSpec],
        when: datetime | None = None,
    ) -> tuple[RepoInfo, str]:
        """A new hosted repo whose ``main`` holds ``files`` in one commit, "initial commit"."""
        when = when or datetime.now(UTC)
        with self.catalog.transaction() as s:
            if _repo(s, key) is not None:
                raise ConflictError(f"You already created this {split_key(key)[0]} repo: {key}.")
            row = RepoRow(repo_id=key, kind="hosted", private=private, gated="")
            s.add(row)
            s.flush()
            revision = self._new_revision(s, row, files, [], "initial commit", "", author, when)
            s.add(HostedRefRow(repo_pk=row.id, name=MAIN, sha=revision.sha, kind="branch"))
            return _info(row), revision.sha

    def delete(self, key: str) -> None:
        with self.catalog.transaction() as s:
            s.delete(self._hosted(s, key))

    def move(self, source: str, target: str) -> RepoInfo:
        with self.catalog.transaction() as s:
            row = self._hosted(s, source)
            existing = _repo(s, target)
            if existing is not None and existing.id != row.id:
                kind = split_key(target)[0]
                raise ConflictError(
                    f"A {kind} repository called {split_key(target)[1]} already exists; choose "
                    "another name or delete it first."
                )
            row.repo_id = target
            return _info(row)

    def update(self, key: str, *, private: bool | None = None, gated: str | None = None) -> None:
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            if private is not None:
                row.private = private
            if gated is not None:
                if gated not in ("", "auto", "manual"):
                    raise InvalidRequestError(
                        f"'gated' must be false, 'auto' or 'manual', not {gated!r}."
                    )
                row.gated = gated

    def usage(self, namespace: str) -> int:
        """Bytes the hosted repos of ``namespace`` hold, each distinct blob counted once."""
        with self.catalog.transaction() as s:
            distinct = (
                select(FileRow.sha256, FileRow.size)
                .join(RevisionRow, RevisionRow.id == FileRow.revision_pk)
                .join(RepoRow, RepoRow.id == RevisionRow.repo_pk)
                .where(RepoRow.kind == "hosted", _in_namespace(namespace))
                .distinct()
                .subquery()
            )
            return int(s.scalar(select(func.coalesce(func.sum(distinct.c.size), 0))) or 0)

    # --- blobs a repo may reference -------------------------------------------------------------

    def record_upload(self, key: str, sha256: str, size: int, user: str) -> None:
        """``sha256`` was uploaded to ``key`` (verified): the repo may now reference it."""
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            exists = s.scalar(
                select(UploadRow.id).where(UploadRow.repo_pk == row.id, UploadRow.sha256 == sha256)
            )
            if exists is None:
                s.add(UploadRow(repo_pk=row.id, sha256=sha256, size=size, user=user))

    def holds(self, key: str, sha256: str) -> bool:
        """Whether the repo was given ``sha256``: uploaded to it, or in one of its commits."""
        return self.size_of(key, sha256) is not None

    def size_of(self, key: str, sha256: str) -> int | None:
        """The size of blob ``sha256`` as this repo knows it (None: it was never given it)."""
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            size = s.scalar(
                select(UploadRow.size).where(
                    UploadRow.repo_pk == row.id, UploadRow.sha256 == sha256
                )
            )
            if size is None:
                size = s.scalar(
                    select(FileRow.size)
                    .join(RevisionRow, RevisionRow.id == FileRow.revision_pk)
                    .where(RevisionRow.repo_pk == row.id, FileRow.sha256 == sha256)
                    .limit(1)
                )
            return None if size is None else int(size)

    def absent_from(self, namespace: str, shas: Sequence[str]) -> list[str]:
        """Those of ``shas`` that no hosted repo of ``namespace`` references yet."""
        with self.catalog.transaction() as s:
            present = set(
                s.scalars(
                    select(FileRow.sha256)
                    .join(RevisionRow, RevisionRow.id == FileRow.revision_pk)
                    .join(RepoRow, RepoRow.id == RevisionRow.repo_pk)
                    .where(RepoRow.kind == "hosted", FileRow.sha256.in_(list(shas)))
                    .where(_in_namespace(namespace))
                    .distinct()
                )
            )
        return [sha for sha in shas if sha not in present]

    # --- refs -----------------------------------------------------------------------------------

    def resolve(self, key: str, revision: str) -> str | None:
        """The commit a branch, tag, ``refs/pr/N``, commit id or 7+ character prefix names."""
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            return _resolve(s, row, revision)

    def refs(self, key: str) -> list[RefInfo]:
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            rows = s.scalars(
                select(HostedRefRow)
                .where(HostedRefRow.repo_pk == row.id)
                .order_by(HostedRefRow.name)
            )
            return [RefInfo(r.kind, r.name, r.sha, r.message) for r in rows]

    def create_ref(
        self, key: str, kind: Literal["branch", "tag"], name: str, sha: str, message: str = ""
    ) -> None:
        check_ref_name(name, kind)
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            existing = s.scalar(
                select(HostedRefRow).where(
                    HostedRefRow.repo_pk == row.id,
                    HostedRefRow.name == name,
                    HostedRefRow.kind == kind,
                )
            )
            if existing is not None:
                prefix = "refs/heads" if kind == "branch" else "refs/tags"
                raise ConflictError(f"Reference {prefix}/{name} already exists.")
            s.add(
                HostedRefRow(repo_pk=row.id, name=name, sha=sha, kind=kind, message=message or None)
            )

    def delete_ref(self, key: str, kind: Literal["branch", "tag"], name: str) -> None:
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            if kind == "branch" and name == MAIN:
                raise InvalidRequestError(
                    "Cannot delete refs/heads/main: it is the default branch.", status=403
                )
            ref = s.scalar(
                select(HostedRefRow).where(
                    HostedRefRow.repo_pk == row.id,
                    HostedRefRow.name == name,
                    HostedRefRow.kind == kind,
                )
            )
            if ref is None:
                raise NotFoundError(
                    f"Invalid rev id: {name} is not a {kind} of {key}.", code="RevisionNotFound"
                )
            s.delete(ref)

    # --- commits --------------------------------------------------------------------------------

    def revision(self, key: str, sha: str) -> RevisionView | None:
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            revision = s.scalar(
                select(RevisionRow).where(RevisionRow.repo_pk == row.id, RevisionRow.sha == sha)
            )
            return None if revision is None else revision_view(revision)

    def commit(
        self,
        key: str,
        revision: str,
        build: Build,
        *,
        title: str,
        message: str,
        author: Author,
        parent: str | None = None,
        create_pr: bool = False,
        pr_title: str | None = None,
    ) -> CommitResult:
        """Commit onto branch (or ``refs/pr/N``) ``revision``: ``build`` makes the new file list
        from the head's. ``parent``: the head the caller saw (412 if it moved). ``create_pr``:
        open pull request N from the branch's head and commit there instead."""
        for attempt in range(_ATTEMPTS):
            try:
                with self._locks.hold(key.lower(), revision):
                    return self._commit_once(
                        key, revision, build, title, message, author, parent, create_pr, pr_title
                    )
            except _Raced:
                if parent is not None:
                    raise ConflictError(CONFLICT_MESSAGE, status=412) from None
                _back_off(attempt)
        raise ConflictError(
            f"{key}@{revision} kept moving while this commit was built ({_ATTEMPTS} tries); "
            "try again.",
            status=409,
        )

    def _commit_once(
        self,
        key: str,
        revision: str,
        build: Build,
        title: str,
        message: str,
        author: Author,
        parent: str | None,
        create_pr: bool,
        pr_title: str | None,
    ) -> CommitResult:
        when = datetime.now(UTC)
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            ref, base = _locked_head(s, row, key, revision, branch_only=create_pr)
            head = ref.sha
            if parent is not None and not head.startswith(parent.lower()):
                raise ConflictError(CONFLICT_MESSAGE, status=412)
            files = build(revision_view(base).files)
            new = self._new_revision(s, row, files, [head], title, message, author, when)
            pr_num = None
            if create_pr:
                pr_num = _next_num(s, row)
                s.add(
                    DiscussionRow(
                        repo_pk=row.id,
                        num=pr_num,
                        title=pr_title or title,
                        author=author.name,
                        status="open",
                        is_pull_request=True,
                    )
                )
                target = f"refs/pr/{pr_num}"
                s.add(HostedRefRow(repo_pk=row.id, name=target, sha=new.sha, kind="pr"))
            else:
                target = ref.name
                _move(s, ref, head, new.sha, when)
            s.flush()
            return CommitResult(new.sha, target, pr_num, revision_view(new))

    def squash(self, key: str, revision: str, *, message: str, author: Author) -> str:
        """Replace the history of a branch or pull request by one commit of its head's files."""
        for attempt in range(_ATTEMPTS):
            try:
                with self._locks.hold(key.lower(), revision):
                    return self._squash_once(key, revision, message, author)
            except _Raced:
                _back_off(attempt)
        raise ConflictError(f"{key}@{revision} kept moving while it was squashed; try again.")

    def _squash_once(self, key: str, revision: str, message: str, author: Author) -> str:
        when = datetime.now(UTC)
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            ref, base = _locked_head(s, row, key, revision, branch_only=False)
            head = ref.sha
            files = revision_view(base).files
            new = self._new_revision(s, row, files, [], message, "", author, when)
            _move(s, ref, head, new.sha, when)
            return new.sha

    def commits(self, key: str, sha: str, *, limit: int, offset: int = 0) -> list[CommitInfo]:
        """History from ``sha``, newest first (first parents)."""
        out: list[CommitInfo] = []
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            current: str | None = sha
            index = 0
            while current is not None and len(out) < limit:
                commit = s.scalar(
                    select(RevisionRow).where(
                        RevisionRow.repo_pk == row.id, RevisionRow.sha == current
                    )
                )
                if commit is None:
                    break
                if index >= offset:
                    out.append(_commit_info(commit))
                parents = json.loads(commit.parents_json)
                current = parents[0] if parents else None
                index += 1
        return out

    def last_commits(self, key: str, sha: str, paths: Sequence[str]) -> dict[str, CommitInfo]:
        """For each path (a file or a folder) the newest commit, from ``sha`` back, that changed
        it: the first commit whose parent held it otherwise."""
        wanted = set(paths)
        found: dict[str, CommitInfo] = {}
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            current = s.scalar(
                select(RevisionRow).where(RevisionRow.repo_pk == row.id, RevisionRow.sha == sha)
            )
            state = _fingerprints(current) if current else {}
            while current is not None and wanted - found.keys():
                parents = json.loads(current.parents_json)
                parent = (
                    s.scalar(
                        select(RevisionRow).where(
                            RevisionRow.repo_pk == row.id, RevisionRow.sha == parents[0]
                        )
                    )
                    if parents
                    else None
                )
                before = _fingerprints(parent) if parent else {}
                info = _commit_info(current)
                for path in wanted - found.keys():
                    if _subtree(state, path) != _subtree(before, path):
                        found[path] = info
                current, state = parent, before
        return found

    # --- pull requests --------------------------------------------------------------------------

    def open_pull_request(
        self, key: str, *, title: str, author: str, base: str = MAIN, is_pr: bool = True
    ) -> Discussion:
        """A discussion; a pull request gets ``refs/pr/N`` at the head of ``base``."""
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            num = _next_num(s, row)
            s.add(
                DiscussionRow(
                    repo_pk=row.id,
                    num=num,
                    title=title,
                    author=author,
                    status="open",
                    is_pull_request=is_pr,
                )
            )
            if is_pr:
                head = _resolve(s, row, base)
                if head is None:
                    raise NotFoundError(
                        f"Invalid rev id: {base} is not a branch of {key}.",
                        code="RevisionNotFound",
                    )
                s.add(HostedRefRow(repo_pk=row.id, name=f"refs/pr/{num}", sha=head, kind="pr"))
            s.flush()
            return Discussion(
                num, title, author, "open", is_pr, datetime.now(UTC), f"refs/pr/{num}"
            )

    def discussion(self, key: str, num: int) -> Discussion | None:
        with self.catalog.transaction() as s:
            row = self._hosted(s, key)
            found = s.scalar(
                select(DiscussionRow).where(
                    DiscussionRow.repo_pk == row.id, DiscussionRow.num == num
                )
            )
            if found is None:
                return None
            return Discussion(
                found.num,
                found.title,
                found.author,
                found.status,
                found.is_pull_request,
                aware(found.created_at),
                f"refs/pr/{found.num}",
            )

    # --- helpers --------------------------------------------------------------------------------

    def _new_revision(
        self,
        s: Session,
        repo: RepoRow,
        files: Sequence[FileSpec],
        parents: list[str],
        title: str,
        message: str,
        author: Author,
        when: datetime,
    ) -> RevisionRow:
        specs = sorted(files, key=lambda f: f.path)
        try:
            tree = tree_oid((f.path, f.git_oid) for f in specs)
        except ValueError as e:
            raise InvalidRequestError(f"The commit cannot be stored: {e}.", status=422) from None
        text = title + ("\n\n" + message if message else "") + "\n"
        sha = commit_oid(tree, parents, author.at(when), text)
        existing = s.scalar(
            select(RevisionRow).where(RevisionRow.repo_pk == repo.id, RevisionRow.sha == sha)
        )
        if existing is not None:
            # The same tree, parents, author and second: git would give it the same id too.
            return existing
        row = RevisionRow(
            repo_pk=repo.id,
            sha=sha,
            status="fetched",
            info_json=json.dumps(self.describe(specs)),
            parents_json=json.dumps(parents),
            title=title,
            message=message,
            author=author.name,
            created_at=when,
        )
        row.files = [
            FileRow(
                path=f.path, size=f.size, git_oid=f.git_oid, lfs=f.lfs, sha256=f.sha256, stored=True
            )
            for f in specs
        ]
        s.add(row)
        s.flush()
        return row

    def _hosted(self, s: Session, key: str) -> RepoRow:
        row = _repo(s, key)
        if row is None or row.kind != "hosted":
            raise NotFoundError(f"Repository Not Found: {key}.", code="RepoNotFound")
        return row


def _in_namespace(namespace: str) -> Any:
    pattern = namespace.lower().replace("_", "\\_").replace("%", "\\%") + "/%"
    lowered = func.lower(RepoRow.repo_id)
    return or_(lowered.like(pattern, escape="\\"), lowered.like("datasets/" + pattern, escape="\\"))


def _locked_head(
    s: Session, row: RepoRow, key: str, revision: str, *, branch_only: bool
) -> tuple[HostedRefRow, RevisionRow]:
    """The branch (or pull request) ``revision`` and its head commit, the ref's row locked
    (PostgreSQL: the next writer waits for this transaction, then reads the new head)."""
    ref = s.scalar(
        select(HostedRefRow)
        .where(
            HostedRefRow.repo_pk == row.id,
            HostedRefRow.name == revision,
            HostedRefRow.kind.in_(("branch", "pr")),
        )
        .with_for_update()
    )
    if ref is None or (branch_only and ref.kind != "branch"):
        raise NotFoundError(
            f"Invalid rev id: {revision} is not a branch of {key}"
            + (" (a pull request starts from a branch)." if branch_only else "."),
            code="RevisionNotFound",
        )
    base = s.scalar(
        select(RevisionRow).where(RevisionRow.repo_pk == row.id, RevisionRow.sha == ref.sha)
    )
    if base is None:  # pragma: no cover - a ref always names a stored commit
        raise NotFoundError(f"{key}@{ref.sha} is missing.", code="RevisionNotFound")
    return ref, base


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311 - jitter only


def _move(s: Session, ref: HostedRefRow, head: str, sha: str, when: datetime) -> None:
    """Compare-and-set: move ``ref`` from ``head`` to ``sha``, or raise :class:`_Raced`."""
    moved = s.execute(
        update(HostedRefRow)
        .where(HostedRefRow.id == ref.id, HostedRefRow.sha == head)
        .values(sha=sha, updated_at=when)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise _Raced


def _repo(s: Session, key: str) -> RepoRow | None:
    return s.scalar(select(RepoRow).where(func.lower(RepoRow.repo_id) == key.lower()))


def _info(row: RepoRow) -> RepoInfo:
    return RepoInfo(row.repo_id, row.kind, row.private, row.gated, aware(row.created_at))


def _resolve(s: Session, row: RepoRow, revision: str) -> str | None:
    """A branch first, then a pull request, then a tag of that name; then a commit id (or a
    unique prefix of 7 characters or more)."""
    rows = s.execute(
        select(HostedRefRow.kind, HostedRefRow.sha).where(
            HostedRefRow.repo_pk == row.id, HostedRefRow.name == revision
        )
    )
    refs = dict(rows.all())
    for kind in ("branch", "pr", "tag"):
        if kind in refs:
            return refs[kind]
    if _SHORT_SHA.fullmatch(revision):
        found = s.scalars(
            select(RevisionRow.sha)
            .where(RevisionRow.repo_pk == row.id, RevisionRow.sha.like(revision + "%"))
            .limit(2)
        ).all()
        if len(found) == 1:
            return found[0]
    return None


def _next_num(s: Session, row: RepoRow) -> int:
    return (
        int(
            s.scalar(
                select(func.coalesce(func.max(DiscussionRow.num), 0)).where(
                    DiscussionRow.repo_pk == row.id
                )
            )
            or 0
        )
        + 1
    )


def _commit_info(row: RevisionRow) -> CommitInfo:
    return CommitInfo(
        row.sha,
        tuple(json.loads(row.parents_json)),
        row.title,
        row.message,
        row.author,
        aware(row.created_at),
    )


def _fingerprints(row: RevisionRow) -> dict[str, str]:
    return {f.path: f.git_oid for f in row.files}


def _subtree(state: dict[str, str], path: str) -> tuple[tuple[str, str], ...]:
    prefix = path.rstrip("/") + "/"
    return tuple(sorted((p, o) for p, o in state.items() if p == path or p.startswith(prefix)))


__all__ = [
    "MAIN",
    "REPO_TYPES",
    "Author",
    "CommitInfo",
    "CommitResult",
    "Discussion",
    "Hosted",
    "RefInfo",
    "RepoInfo",
    "check_path",
    "check_ref_name",
    "default_gitattributes",
    "repo_key",
    "split_key",
]
