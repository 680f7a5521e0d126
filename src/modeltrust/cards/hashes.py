"""SHA-256 of a model's files, for bills of materials.

The Hub already reports the sha256 of every LFS file (the weights), so those cost nothing. Other
files are hashed by reading them through the source in chunks: on the Hub only small files
(non-LFS files are small by construction, and a cap guards against an odd server); in a local
folder every file, since that is the only way to know what is on disk. A file that cannot be read
is left without a hash and reported, never guessed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from modeltrust.errors import SourceError
from modeltrust.sources.interface import MiB, Source

CHUNK = 8 * MiB
MAX_REMOTE_HASH_BYTES = 16 * MiB
"""Largest non-LFS Hub file hashed by downloading it."""


@dataclass(frozen=True, slots=True)
class FileHashes:
    sha256: dict[str, str]
    """Path -> lower-case hex digest, for the files whose digest is known."""
    skipped: dict[str, str]
    """Path -> why it has no digest."""


def file_hashes(source: Source, *, compute: bool = True) -> FileHashes:
    """Digests of every file of ``source``: from the backend where it knows them, else computed
    (``compute=False`` keeps only the known ones)."""
    known: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for f in source.list_files():
        if f.sha256:
            known[f.path] = f.sha256.lower()
            continue
        if not compute:
            skipped[f.path] = "not computed (--no-hash)"
            continue
        if source.kind != "local" and (f.size is None or f.size > MAX_REMOTE_HASH_BYTES):
            skipped[f.path] = "a large remote file without an LFS hash"
            continue
        try:
            known[f.path] = _digest(source, f.path, f.size)
        except SourceError as e:
            skipped[f.path] = f"could not be read: {e}"
    return FileHashes(known, skipped)


def _digest(source: Source, path: str, size: int | None) -> str:
    h = hashlib.sha256()
    offset = 0
    while True:
        chunk = source.read_range(path, offset, CHUNK)
        h.update(chunk)
        offset += len(chunk)
        if len(chunk) < CHUNK or (size is not None and offset >= size):
            break
    return h.hexdigest()
