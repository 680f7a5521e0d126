"""A content-addressed blob store: ``<root>/sha256/ab/cd/<sha256>``.

A blob becomes visible only once complete and verified: bytes go to a temporary file in an
*incoming* folder on the same filesystem, are hashed on the way, fsynced, compared with the
expected SHA-256 (and size), and only then renamed into place with :func:`os.replace`, which is
atomic on one filesystem. A crash (even ``kill -9``) mid-write leaves only a ``.tmp-*`` file; a
reader never sees a partial blob. Several processes may write to one store: each gives its own
incoming folder (a :class:`~modeltrust.storage.scratch.ScratchSpace`, which also removes what
crashed processes left), so none removes another's writes in progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from modeltrust.errors import IntegrityError, StorageError

_SHA256 = re.compile(r"[0-9a-f]{64}")
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True, slots=True)
class Written:
    """What was stored: the content's SHA-256, its git blob SHA-1 and its size."""

    sha256: str
    git_oid: str
    size: int


class BlobStore:
    def __init__(self, root: Path, incoming: Path | None = None) -> None:
        """``incoming``: where writes in progress go (this process's own folder, on the same
        filesystem as ``root``); by default ``<root>/sha256/incoming``."""
        self.root = root
        self.incoming = incoming or root / "sha256" / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise StorageError(f"'{sha256}' is not a SHA-256 hex digest; blobs are named by one.")
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def write(
        self,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        expected_git_oid: str | None = None,
        label: str = "blob",
    ) -> Written:
        """Store ``chunks`` atomically; raise :class:`IntegrityError` (storing nothing) when the
        bytes do not match what was expected, :class:`StorageError` when the disk fails.

        The git blob SHA-1 needs the size before the content, so it is checked only when the
        size is known in advance (it always is for Hub files)."""
        fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=self.incoming)
        tmp = Path(tmp_name)
        try:
            sha256 = hashlib.sha256()
            git = hashlib.sha1(f"blob {expected_size}\0".encode()) if expected_size else None  # noqa: S324
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    sha256.update(chunk)
                    if git is not None:
                        git.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = sha256.hexdigest()
            _verify(label, digest, size, git, expected_sha256, expected_size, expected_git_oid)
            final = self.path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(final)  # atomic: os.replace on one filesystem
            _fsync_dir(final.parent)
            oid = git.hexdigest() if git is not None and size == expected_size else _git_oid(final)
            return Written(digest, oid, size)
        except OSError as e:
            raise StorageError(
                f"Could not store {label} under '{self.root}': {e.strerror or e}. Free disk space "
                "or fix the data directory's permissions, then ask again."
            ) from e
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _verify(
    label: str,
    digest: str,
    size: int,
    git: hashlib._Hash | None,
    expected_sha256: str | None,
    expected_size: int | None,
    expected_git_oid: str | None,
) -> None:
    if expected_size is not None and size != expected_size:
        raise IntegrityError(
            f"{label}: received {size} bytes, expected {expected_size}; the transfer was cut "
            "short or the upstream changed. Nothing was stored."
        )
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise IntegrityError(
            f"{label}: SHA-256 {digest} does not match the announced {expected_sha256.lower()}. "
            "Nothing was stored."
        )
    if expected_git_oid is not None and git is not None and git.hexdigest() != expected_git_oid:
        raise IntegrityError(
            f"{label}: git blob id {git.hexdigest()} does not match the announced "
            f"{expected_git_oid}. Nothing was stored."
        )


def _git_oid(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 - git's blob id
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: not every filesystem allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
