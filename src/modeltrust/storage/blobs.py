"""Content-addressed blob stores: every file the hub holds, once, named by its SHA-256.

:class:`BlobStore` is the interface; two backends implement it:

- :class:`LocalBlobStore` (the default): ``<root>/sha256/ab/cd/<sha256>`` on this machine;
- :class:`S3BlobStore`: objects ``<prefix>sha256/ab/cd/<sha256>`` in an S3-compatible bucket
  (AWS S3, MinIO, Ceph, ...), for hubs whose servers share no disk (``--blob-store s3://...``).

Either way a blob becomes visible only once complete and verified: bytes go to a temporary file
in a local *incoming* folder, are hashed on the way, fsynced and compared with the expected
SHA-256 (and size) before they are *published*: renamed into place with :func:`os.replace`
(atomic on one filesystem), or uploaded as one object (an S3 PUT or multipart upload becomes
visible only when it completes). A crash (even ``kill -9``) mid-write leaves only a ``.tmp-*``
file; a reader never sees a partial blob. An upload may leave the flush to the background
(:meth:`BlobWriter.finish` with ``flush_later``): the blob counts as stored at once for this
process, is published once on the disk, and :meth:`BlobStore.settle` waits for that (a commit
does, before it references the blob). Several processes may write to one store: each gives
its own incoming folder (a :class:`~modeltrust.storage.scratch.ScratchSpace`, which also removes
what crashed processes left), so none removes another's writes in progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeltrust.errors import IntegrityError, MissingExtraError, StorageError

_SHA256 = re.compile(r"[0-9a-f]{64}")
TMP_PREFIX = ".tmp-"
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Written:
    """What was stored: the content's SHA-256, its git blob SHA-1 and its size."""

    sha256: str
    git_oid: str
    size: int


def check_sha256(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise StorageError(f"'{sha256}' is not a SHA-256 hex digest; blobs are named by one.")
    return sha256


def relative_key(sha256: str) -> str:
    """``sha256/ab/cd/<sha256>``: the blob's place under a store's root or prefix."""
    check_sha256(sha256)
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class BlobStore(ABC):
    """Where blobs live. Writes always pass through the local ``incoming`` folder."""

    incoming: Path
    fsync: bool = True
    """Flush a blob's bytes to the local disk before publishing it."""

    @abstractmethod
    def describe(self) -> str:
        """Where the blobs are, for messages."""

    @abstractmethod
    def size(self, sha256: str) -> int | None:
        """The blob's size, or None when it is not stored."""

    def has(self, sha256: str) -> bool:
        return self.size(sha256) is not None

    @abstractmethod
    def local_path(self, sha256: str) -> Path | None:
        """A file on this machine holding the blob (served and linked without a copy), or None
        when the blob is elsewhere or not stored."""

    @abstractmethod
    def open(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The blob's bytes from ``start`` to ``end`` (inclusive; None: the last byte)."""

    @abstractmethod
    def materialise(self, sha256: str, target: Path) -> None:
        """Put the blob's bytes at ``target`` (a hard link where possible; else a copy)."""

    @abstractmethod
    def _publish(self, tmp: Path, sha256: str) -> None:
        """Make the complete, verified file ``tmp`` the blob ``sha256`` (it may be removed)."""

    def _publish_later(self, tmp: Path, sha256: str, size: int) -> None:
        """Flush ``tmp`` to the disk and publish it in the background (:meth:`settle` waits);
        a store without a background flush publishes it now."""
        self._publish(tmp, sha256)

    def settle(self, sha256s: Iterable[str]) -> None:
        """Return once each of these blobs that this process is still flushing is on the disk
        and published; raise :class:`StorageError` if that failed (the blob is then not
        stored). Blobs not being flushed are not waited for."""
        del sha256s  # this store publishes every blob at once: nothing to wait for

    def read(self, sha256: str) -> bytes:
        return b"".join(self.open(sha256))

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
        git_oid: bool = True,
    ) -> BlobWriter:
        """A blob written piece by piece (an upload as it arrives); see :meth:`write`.
        ``git_oid``: also compute the git blob id (an LFS object does not need it: git names it
        by its pointer file), which costs a second hash of the bytes."""
        return BlobWriter(self, expected_sha256, expected_size, expected_git_oid, label, git_oid)


class LocalBlobStore(BlobStore):
    """``<root>/sha256/ab/cd/<sha256>`` on this machine."""

    def __init__(self, root: Path, incoming: Path | None = None, *, fsync: bool = True) -> None:
        """``incoming``: where writes in progress go (this process's own folder, on the same
        filesystem as ``root``); by default ``<root>/sha256/incoming``. ``fsync``: flush each
        blob to the disk before it is published, so that a stored blob survives a power cut
        (off: faster on slow disks; a blob stored moments before a power cut may be lost)."""
        self.root = root
        self.incoming = incoming or root / "sha256" / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._flushing: dict[str, tuple[int, Future[None]]] = {}
        """Blobs verified and being flushed (still in ``incoming``): sha256 -> (size, flush)."""
        self._failed: dict[str, StorageError] = {}
        """Flushes that failed, until :meth:`settle` has said so (or the blob is sent again)."""
        self._lock = threading.Lock()

    def describe(self) -> str:
        return str(self.root)

    def path(self, sha256: str) -> Path:
        return self.root / relative_key(sha256)

    def size(self, sha256: str) -> int | None:
        with self._lock:
            flushing = self._flushing.get(sha256)
        if flushing is not None:
            return flushing[0]
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def local_path(self, sha256: str) -> Path | None:
        self.settle((sha256,))
        path = self.path(sha256)
        return path if path.is_file() else None

    def _publish_later(self, tmp: Path, sha256: str, size: int) -> None:
        with self._lock:
            self._failed.pop(sha256, None)  # sent again: a new chance
            if sha256 in self._flushing:  # the same bytes are on their way already
                tmp.unlink(missing_ok=True)
                return
            flush = _FLUSHERS.submit(self._flush_and_publish, tmp, sha256)
            self._flushing[sha256] = (size, flush)

    def _flush_and_publish(self, tmp: Path, sha256: str) -> None:
        try:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._publish(tmp, sha256)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            error = StorageError(
                f"Could not flush blob {sha256[:12]}… to '{self.root}': {e.strerror or e}. "
                "Free disk space or fix the data directory, then upload the file again."
            )
            with self._lock:
                self._failed[sha256] = error
                self._flushing.pop(sha256, None)
            raise error from e
        with self._lock:
            self._flushing.pop(sha256, None)

    def settle(self, sha256s: Iterable[str]) -> None:
        wanted = list(sha256s)
        with self._lock:
            flushes = [f for s in wanted if (f := self._flushing.get(s)) is not None]
        for _size, flush in flushes:
            flush.exception()  # wait; what failed is in _failed now
        with self._lock:
            failed = [e for s in wanted if (e := self._failed.pop(s, None)) is not None]
        if failed:
            raise failed[0]

    def open(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self.settle((sha256,))
        with self.path(sha256).open("rb") as fh:
            fh.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def materialise(self, sha256: str, target: Path) -> None:
        self.settle((sha256,))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self.path(sha256), target)
        except OSError:  # another filesystem, or no hard links there
            shutil.copyfile(self.path(sha256), target)

    def _publish(self, tmp: Path, sha256: str) -> None:
        final = self.path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(final)  # atomic: os.replace on one filesystem
        if self.fsync:
            _fsync_dir(final.parent)


class S3BlobStore(BlobStore):
    """Objects ``<prefix>sha256/ab/cd/<sha256>`` in an S3-compatible bucket.

    Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``, a profile, an instance
    role); ``endpoint_url`` names a non-AWS server (MinIO...). A blob is uploaded only after it
    was verified locally, and a multipart upload becomes one object only when it completes, so a
    reader never sees a partial blob. Blobs never change (they are named by their content), so
    a size once seen is remembered."""

    def __init__(
        self,
        url: str,
        incoming: Path,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        try:
            import boto3
            from boto3.s3.transfer import TransferConfig
        except ImportError:
            raise MissingExtraError(
                "An S3 blob store needs boto3: pip install 'modeltrust[s3]'."
            ) from None
        if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
            raise StorageError(f"'{url}' is not an S3 location; write it as s3://BUCKET/PREFIX.")
        bucket, _, prefix = url[5:].partition("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = url
        self.incoming = incoming
        incoming.mkdir(parents=True, exist_ok=True)
        self.fsync = False  # the local copy is uploaded, then removed: S3 keeps it durable
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
        self._transfer = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20)
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return self.url

    def _key(self, sha256: str) -> str:
        return self.prefix + relative_key(sha256)

    def size(self, sha256: str) -> int | None:
        with self._lock:
            known = self._sizes.get(sha256)
        if known is not None:
            return known
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except Exception as e:
            if _status(e) == 404:
                return None
            raise self._failed("look up", sha256, e) from e
        size = int(head["ContentLength"])
        with self._lock:
            self._sizes[sha256] = size
        return size

    def local_path(self, sha256: str) -> Path | None:
        return None

    def open(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        span = f"bytes={start}-" + ("" if end is None else str(end))
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._key(sha256), Range=span)
        except Exception as e:
            raise self._failed("read", sha256, e) from e
        body = answer["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def materialise(self, sha256: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._client.download_file(
                self.bucket, self._key(sha256), str(target), Config=self._transfer
            )
        except Exception as e:
            raise self._failed("download", sha256, e) from e

    def _publish(self, tmp: Path, sha256: str) -> None:
        if self.has(sha256):
            return  # content-addressed: the stored object is these bytes already
        try:
            self._client.upload_file(
                str(tmp), self.bucket, self._key(sha256), Config=self._transfer
            )
        except Exception as e:
            raise self._failed("upload", sha256, e) from e
        with self._lock:
            self._sizes[sha256] = tmp.stat().st_size

    def _failed(self, what: str, sha256: str, error: Exception) -> StorageError:
        return StorageError(
            f"Could not {what} blob {sha256[:12]}… in {self.url}: {error}. Check the bucket, the "
            "credentials (AWS_ACCESS_KEY_ID...) and the endpoint (--s3-endpoint-url)."
        )


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
        if code in ("404", "NoSuchKey", "NotFound"):
            return 404
        return int(status) if status is not None else None
    return None


_PARALLEL = 1 << 20
"""From this size up, a piece is hashed in another thread while it is written: both release the
GIL, so the hash (about a second a GiB here) and the copy to the page cache overlap."""
_HASHERS = ThreadPoolExecutor(4, thread_name_prefix="blob-hash")
_FLUSHERS = ThreadPoolExecutor(4, thread_name_prefix="blob-flush")
"""Background flushes (:meth:`BlobStore.settle`); joined when the interpreter exits, so a
server that stops cleanly publishes every upload it verified."""


class BlobWriter:
    """One blob on its way in: :meth:`write` its bytes, then :meth:`finish` (verify, fsync,
    publish) or :meth:`abort` (remove the partial file; harmless after finish)."""

    def __init__(
        self,
        store: BlobStore,
        expected_sha256: str | None,
        expected_size: int | None,
        expected_git_oid: str | None,
        label: str,
        git_oid: bool = True,
    ) -> None:
        self.store = store
        self.want_git_oid = git_oid
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
        self._handed_over = False

    def write(self, chunk: bytes) -> None:
        self.write_many((chunk,))

    def write_many(self, chunks: Sequence[bytes]) -> None:
        """Append ``chunks`` in order: one system call for all of them (no copy joins them),
        hashed in another thread meanwhile when they are large."""
        length = sum(len(c) for c in chunks)
        expected_size = self.expected[1]
        if expected_size is not None and self.size + length > expected_size:
            raise IntegrityError(
                f"{self.label}: received {self.size + length} bytes, expected "
                f"{expected_size}; more was sent than announced. Nothing was stored."
            )
        hashing = _HASHERS.submit(self._hash, chunks) if length >= _PARALLEL else None
        try:
            if len(chunks) == 1:
                self._out.write(chunks[0])
            else:
                self._out.flush()
                _write_all(self._out.fileno(), chunks)
        except OSError as e:
            raise self.disk_error(e) from e
        finally:
            if hashing is not None:
                hashing.result()
        if hashing is None:
            self._hash(chunks)
        self.size += length

    def _hash(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            self._sha256.update(chunk)
            if self._git is not None:
                self._git.update(chunk)

    def finish(self, *, flush_later: bool = False) -> Written:
        """Verify and publish the blob. ``flush_later``: do not wait for the disk; the store
        flushes and publishes it in the background, and :meth:`BlobStore.settle` waits for that
        (what a commit does before it references the blob)."""
        expected_sha256, expected_size, expected_git_oid = self.expected
        try:
            self._out.flush()
            if self.store.fsync and not flush_later:
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
            if self._git is not None and self.size == expected_size:
                oid = self._git.hexdigest()
            else:
                oid = _git_oid(self._tmp) if self.want_git_oid else ""
            if flush_later and self.store.fsync:
                self.store._publish_later(self._tmp, digest, self.size)
                self._handed_over = True
            else:
                self.store._publish(self._tmp, digest)
        except OSError as e:
            raise self.disk_error(e) from e
        return Written(digest, oid, self.size)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._out.close()
        if not self._handed_over:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()

    def disk_error(self, e: OSError) -> StorageError:
        return StorageError(
            f"Could not store {self.label} under '{self.store.describe()}': {e.strerror or e}. "
            "Free disk space or fix the data directory's permissions, then ask again."
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


def _write_all(fd: int, chunks: Sequence[bytes]) -> None:
    """Write every byte of ``chunks`` to ``fd``, in as few system calls as the OS allows."""
    if not hasattr(os, "writev"):  # Windows
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        return
    views = [memoryview(c) for c in chunks if c]
    first = 0
    while first < len(views):
        done = os.writev(fd, views[first : first + _IOV_MAX])
        while first < len(views) and done >= len(views[first]):
            done -= len(views[first])
            first += 1
        if done:
            views[first] = views[first][done:]


_IOV_MAX = 1024
"""Buffers one ``writev`` takes at most (Linux's IOV_MAX)."""


def _git_oid(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 - git's blob id
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
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
