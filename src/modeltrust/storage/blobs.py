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
        writer = self.writer(
            expected_sha256=expected_sha256,
            expected_size=expected_size,
            expected_git_oid=expected_git_oid,
            label=label,
        )
        try:
            for chunk in chunks:
                writer.write(chunk)
            return writer.finish()
        except OSError as e:  # the chunks' source failed (a disk, a connection)
            raise writer.disk_error(e) from e
        finally:
            writer.abort()

    def writer(
        self,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        expected_git_oid: str | None = None,
        label: str = "blob",
    ) -> BlobWriter:
        """A blob written piece by piece (an upload as it arrives); see :meth:`write`."""
        return BlobWriter(self, expected_sha256, expected_size, expected_git_oid, label)


class BlobWriter:
    """One blob on its way in: :meth:`write` its bytes, then :meth:`finish` (verify, fsync,
    rename into place) or :meth:`abort` (remove the partial file; harmless after finish)."""

    def __init__(
        self,
        store: BlobStore,
        expected_sha256: str | None,
        expected_size: int | None,
        expected_git_oid: str | None,
        label: str,
    ) -> None:
        self.store = store
        self.expected = (expected_sha256, expected_size, expected_git_oid)
        self.label = label
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._git = (
            hashlib.sha1(f"blob {expected_size}\0".encode())  # noqa: S324 - git's blob id
            if expected_size and expected_git_oid
            else None
        )
        try:
            fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=store.incoming)
        except OSError as e:
            raise self.disk_error(e) from e
        self._tmp = Path(name)
        self._out = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        expected_size = self.expected[1]
        if expected_size is not None and self.size + len(chunk) > expected_size:
            raise IntegrityError(
                f"{self.label}: received {self.size + len(chunk)} bytes, expected "
                f"{expected_size}; more was sent than announced. Nothing was stored."
            )
        try:
            self._out.write(chunk)
        except OSError as e:
            raise self.disk_error(e) from e
        self._sha256.update(chunk)
        if self._git is not None:
            self._git.update(chunk)
        self.size += len(chunk)

    def finish(self) -> Written:
        expected_sha256, expected_size, expected_git_oid = self.expected
        try:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            digest = self._sha256.hexdigest()
            _verify(
                self.label,
                digest,
                self.size,
                self._git,
                expected_sha256,
                expected_size,
                expected_git_oid,
            )
            final = self.store.path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            self._tmp.replace(final)  # atomic: os.replace on one filesystem
            _fsync_dir(final.parent)
        except OSError as e:
            raise self.disk_error(e) from e
        if self._git is not None and self.size == expected_size:
            oid = self._git.hexdigest()
        else:
            oid = _git_oid(final)
        return Written(digest, oid, self.size)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._out.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def disk_error(self, e: OSError) -> StorageError:
        return StorageError(
            f"Could not store {self.label} under '{self.store.root}': {e.strerror or e}. Free "
            "disk space or fix the data directory's permissions, then ask again."
        )


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
