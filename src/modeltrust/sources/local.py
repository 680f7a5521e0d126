"""A model in a local folder: a checkout, a ``local_dir`` download or a Hub cache snapshot.

Bases named by a card (``meta-llama/Llama-3.1-8B``) are looked for next to the folder, in the
layouts people keep models in: ``<root>/<org>/<name>``, ``<root>/<org>--<name>`` and the Hub
cache's ``<root>/models--<org>--<name>/snapshots/<sha>``. The roots are the folder's parent and
grandparent plus any the caller adds, so nothing outside what the user pointed at is searched
unless asked.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path

from modeltrust.errors import MissingFileError, SourceError
from modeltrust.findings import printable
from modeltrust.sources.interface import RepoFile, Source, Unreadable, is_repo_id
from modeltrust.sources.walk import Kind, walk

MAX_FILES = 100_000
"""Files listed in one folder tree; a model repo has tens."""
SKIPPED_DIRS = frozenset({".git", ".cache", "__pycache__", ".venv", "node_modules"})
_SHA = re.compile(r"[0-9a-f]{40}")
_CACHE_DIR = re.compile(r"models--(?P<org>[^/]+?)--(?P<name>[^/]+)")


class LocalSource(Source):
    kind = "local"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ref: str | None = None,
        repo_id: str | None = None,
        search_paths: tuple[Path, ...] = (),
        every_file: bool = False,
        nearby: bool = True,
    ) -> None:
        """``every_file``: list every file, in every folder (no folder skipped, no cap on the
        count), for a folder whose files were all chosen on purpose, such as the governed hub's
        copy of a repo revision, where a file left out would go unaudited. ``nearby``: also look
        for base models next to the folder (its parent and grandparent); False searches only
        ``search_paths``, for a folder whose surroundings are not the user's (a scratch
        folder)."""
        root = Path(path).expanduser()
        if not root.is_dir():
            what = "does not exist" if not root.exists() else "is not a folder"
            raise SourceError(
                f"Model folder '{root}' {what}. Give a folder holding the model's files, or a Hub "
                "repo id such as 'org/name'."
            )
        self.root = root.resolve()
        self.ref = ref if ref is not None else str(path)
        cache = _cache_identity(self.root)
        self.repo_id = repo_id or (cache[0] if cache else None)
        self.revision = cache[1] if cache else _git_head(self.root)
        self.search_paths = search_paths
        self.every_file = every_file
        self.nearby = nearby
        self._real_names: dict[str, str] = {}

    @property
    def identity(self) -> str:
        return f"local:{self.root}"

    @property
    def name(self) -> str:
        return self.repo_id.rsplit("/", 1)[-1] if self.repo_id else self.root.name

    @cached_property
    def _walked(self) -> tuple[dict[str, RepoFile], tuple[Unreadable, ...]]:
        """The files a loader could read (links followed: a Hub cache snapshot is made of
        them), and what could not be read, which the audit reports instead of dropping."""
        found: dict[str, RepoFile] = {}
        problems: list[Unreadable] = []
        skipped = frozenset() if self.every_file else SKIPPED_DIRS
        cap = None if self.every_file else MAX_FILES
        for entry in walk(self.root, skip=skipped):
            raw = entry.path.relative_to(self.root).as_posix()
            # A name that is not UTF-8 is listed escaped (every report can show it) and read
            # under its real name; one that would collide with another once escaped is not
            # listed but reported, so no file hides behind another's name.
            rel = printable(raw)
            if rel in self._real_names:
                problems.append(
                    Unreadable(rel, False, "its name, escaped, is the name of another file")
                )
                continue
            if entry.kind in (Kind.FILE, Kind.SAME):
                if entry.kind is Kind.SAME and not entry.path.is_file():
                    continue  # a folder already walked under another name
                self._real_names[rel] = raw
                found[rel] = RepoFile(rel, entry.size)
                if cap is not None and len(found) >= cap:
                    break
            else:
                problems.append(Unreadable(rel, entry.kind is Kind.SPECIAL, entry.detail))
        return dict(sorted(found.items())), tuple(problems)

    @property
    def _files(self) -> dict[str, RepoFile]:
        return self._walked[0]

    def unreadable(self) -> tuple[Unreadable, ...]:
        return self._walked[1]

    def list_files(self) -> tuple[RepoFile, ...]:
        return tuple(self._files.values())

    def exists(self, path: str) -> bool:
        return path in self._files

    def file(self, path: str) -> RepoFile:
        try:
            return self._files[path]
        except KeyError:
            raise MissingFileError(f"'{path}' is not in the folder '{self.ref}'.") from None

    def local_path(self, path: str) -> Path:
        """Where the listed file ``path`` is on disk (its real name, if it was escaped)."""
        self.file(path)  # only listed files: no '..' or absolute paths
        return self.root / self._real_names.get(path, path)

    def read_range(self, path: str, start: int, length: int) -> bytes:
        try:
            with self.local_path(path).open("rb") as f:
                f.seek(max(0, start))
                return f.read(max(0, length))
        except OSError as e:
            raise SourceError(
                f"Could not read '{path}' in '{self.ref}': {e.strerror or e}. Check the file's "
                "permissions."
            ) from None

    def open_related(self, repo_id: str, revision: str | None = None) -> Source:
        tried: list[str] = []
        for root in self._roots():
            for candidate in _layouts(root, repo_id, revision):
                tried.append(str(candidate))
                if candidate.is_dir():
                    return LocalSource(
                        candidate,
                        ref=repo_id,
                        repo_id=repo_id,
                        search_paths=self.search_paths,
                        nearby=self.nearby,
                    )
        where = ", ".join(dict.fromkeys(str(r) for r in self._roots())) or "nowhere"
        raise SourceError(
            f"Base model '{repo_id}' was not found next to '{self.ref}' (looked in {where} for "
            f"'{repo_id}', '{repo_id.replace('/', '--')}' and a Hub cache entry). Download it "
            "there, or check the Hub repo instead of the local folder."
        )

    def _roots(self) -> tuple[Path, ...]:
        if not self.nearby:
            return self.search_paths
        own = [self.root.parent, self.root.parent.parent]
        cache = _cache_identity(self.root)
        if cache:  # <cache>/models--org--name/snapshots/<sha>
            own.insert(0, self.root.parents[2])
        return tuple(dict.fromkeys([*self.search_paths, *own]))


def _layouts(root: Path, repo_id: str, revision: str | None) -> list[Path]:
    if not is_repo_id(repo_id):
        return []
    org, _, name = repo_id.partition("/")
    paths = [root / org / name, root / f"{org}--{name}"]
    snapshots = root / f"models--{org}--{name}" / "snapshots"
    if revision and _SHA.fullmatch(revision):
        paths.append(snapshots / revision)
    else:
        head = _read_small(root / f"models--{org}--{name}" / "refs" / (revision or "main"))
        if head and _SHA.fullmatch(head):
            paths.append(snapshots / head)
    return paths


def _cache_identity(root: Path) -> tuple[str, str] | None:
    """``(org/name, sha)`` when ``root`` is a Hub cache snapshot folder."""
    if root.parent.name != "snapshots" or not _SHA.fullmatch(root.name):
        return None
    match = _CACHE_DIR.fullmatch(root.parent.parent.name)
    if match is None:
        return None
    return f"{match['org']}/{match['name']}", root.name


def _git_head(root: Path) -> str | None:
    """The commit a git checkout is at, read from ``.git`` without running git."""
    git = root / ".git"
    if git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = _read_small(git)
        if not text or not text.startswith("gitdir:"):
            return None
        git = (root / text.removeprefix("gitdir:").strip()).resolve()
    head = _read_small(git / "HEAD")
    if head is None:
        return None
    if _SHA.fullmatch(head):
        return head
    if not head.startswith("ref:"):
        return None
    ref = head.removeprefix("ref:").strip()
    common = git
    common_text = _read_small(git / "commondir")
    if common_text:
        common = (git / common_text).resolve()
    for base in (git, common):
        sha = _read_small(base / ref)
        if sha and _SHA.fullmatch(sha):
            return sha
    packed = _read_small(common / "packed-refs", limit=1 << 20) or ""
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name == ref and _SHA.fullmatch(sha):
            return sha
    return None


def _read_small(path: Path, limit: int = 4096) -> str | None:
    try:
        with path.open("rb") as f:
            return f.read(limit).decode("utf-8", errors="replace").strip()
    except OSError:
        return None
