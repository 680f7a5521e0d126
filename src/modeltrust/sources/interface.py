"""What a model source offers: its identity, its file list, and bounded reads of its files.

A source is a local folder or a Hub repo pinned to one commit. The checks above this layer
(licences, lineage, documentation) only ever read *small* files (cards, licence texts, JSON
configs) and the *headers* of large ones, so the interface offers capped reads and byte ranges,
never "download everything". A source can also open another repo on the same backend, which is
how lineage walks from a fine-tune to its base.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from modeltrust.errors import MissingFileError

KiB = 1024
MiB = 1024 * KiB

DEFAULT_MAX_BYTES = 2 * MiB
"""How much of a small file (README, LICENSE, JSON config) a check reads by default."""

_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"{_REPO_PART}/{_REPO_PART}")


def is_repo_id(text: str) -> bool:
    """Whether ``text`` has the shape of a Hub repo id, ``org/name`` (no ``..``, no ``--``)."""
    return bool(_REPO_ID.fullmatch(text)) and ".." not in text and "--" not in text


@dataclass(frozen=True, slots=True)
class RepoFile:
    """One file of a source. ``size`` is None when the backend does not say (rare)."""

    path: str
    """Relative to the repo root, with ``/`` separators."""
    size: int | None
    sha256: str | None = None
    """The LFS sha256, when the backend knows it without reading the file."""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A path in a source that is there but could not be read as a file: a link that cannot be
    resolved, a folder that cannot be listed, or (``special``) a FIFO, device or socket."""

    path: str
    special: bool
    detail: str


class Source(ABC):
    """A model repo to read: a local folder or a Hub repo at one commit."""

    kind: str
    """``local`` or ``hub``."""
    ref: str
    """What the user (or a card's ``base_model``) named: a path, ``org/name`` or ``org/name@rev``."""
    repo_id: str | None
    """The Hub repo id, or None for a local folder."""
    revision: str | None
    """The commit the reads come from: the resolved sha on the Hub; for a local folder the git
    HEAD sha when it is a git checkout, else None."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """A key that is equal for two sources reading the same repo (cycle detection)."""

    @property
    def name(self) -> str:
        """The model's short name: the repo name after the namespace, or the folder name."""
        return (self.repo_id or self.ref).rstrip("/").rsplit("/", 1)[-1]

    @property
    def display(self) -> str:
        """How reports name this source: ``org/name@sha`` or the folder path."""
        if self.repo_id is None:
            return self.ref
        return f"{self.repo_id}@{self.revision[:12]}" if self.revision else self.repo_id

    @abstractmethod
    def list_files(self) -> tuple[RepoFile, ...]:
        """Every file, sorted by path."""

    def unreadable(self) -> tuple[Unreadable, ...]:
        """Paths that are there but could not be read; checks report them, never skip them."""
        return ()

    def exists(self, path: str) -> bool:
        return any(f.path == path for f in self.list_files())

    def file(self, path: str) -> RepoFile:
        for f in self.list_files():
            if f.path == path:
                return f
        raise MissingFileError(f"'{path}' is not in {self.display}.")

    @abstractmethod
    def read_range(self, path: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes of ``path`` from byte ``start`` (fewer at the end of the file)."""

    def read_bytes(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
        """The file's first ``max_bytes`` bytes at most: a file longer than that comes back cut,
        which the caller sees by comparing with :meth:`file`'s size."""
        return self.read_range(path, 0, max_bytes)

    def read_text(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
        """The file decoded as UTF-8 (a BOM is dropped, undecodable bytes replaced)."""
        return self.read_bytes(path, max_bytes).decode("utf-8-sig", errors="replace")

    def url_hosts(self) -> tuple[str, ...]:
        """Hosts whose URLs name repos on this backend (beyond huggingface.co), for bases
        declared as URLs (GGUF ``general.base_model.N.repo_url``)."""
        return ()

    def card_metadata(self) -> Mapping[str, object] | None:
        """Card metadata the backend already parsed, without reading README.md (the Hub's
        ``cardData``, readable even where a gated repo's files are not); None if it has none."""
        return None

    @abstractmethod
    def open_related(self, repo_id: str, revision: str | None = None) -> Source:
        """Open another repo (a base model) on the same backend. Raises :class:`SourceError`
        with a message saying what failed when it cannot be found or read."""
