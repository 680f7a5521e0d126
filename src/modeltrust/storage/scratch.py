"""Scratch folders of one process under a folder that several processes share.

Several servers may share one data directory. Each writes its partial downloads and audit
copies in a folder of its own, ``<parent>/<owner>/``, and holds an exclusive ``flock`` on
``<parent>/<owner>.lock`` for as long as it lives. The kernel drops that lock when the process
ends, however it ends (``kill -9`` included), so at start-up a server removes exactly the
folders no live process holds: what crashed servers left, never another live server's work.

The lock file is created before the folder, and a folder counts as held while its lock is, so a
folder is never swept between its creation and its lock. Entries of the parent that are neither
(left by an older version that wrote straight into the parent) are removed too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import IO

from modeltrust.errors import StorageError

LOCK_SUFFIX = ".lock"


class ScratchSpace:
    """``<parent>/<owner>/``: this process's own scratch folder, held until :meth:`close`."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path, self._lock = _claim(parent)
            self.path.mkdir()
        except OSError as e:
            raise StorageError(
                f"Could not create a scratch folder under '{parent}': {e.strerror or e}. Check "
                "the data directory's permissions and free space."
            ) from e

    def close(self) -> None:
        """Remove the folder and release it."""
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.path.with_name(self.path.name + LOCK_SUFFIX).unlink()
        self._lock.close()

    def release(self) -> None:
        """Release the folder, leaving what is in it to the next sweep (for a process whose
        threads may still be writing there as it stops)."""
        self._lock.close()

    def sweep(self) -> int:
        """Remove what no live process holds under the parent; returns how many entries."""
        removed = 0
        for entry in sorted(self.parent.iterdir()):
            if entry.name.endswith(LOCK_SUFFIX):
                name = entry.name.removesuffix(LOCK_SUFFIX)
                if name != self.path.name and _sweep_owned(self.parent, name):
                    removed += 1
            elif not (self.parent / (entry.name + LOCK_SUFFIX)).exists():
                # No owner: from an older layout, or a sweep that was interrupted.
                _remove(entry)
                removed += 1
        return removed


def _claim(parent: Path) -> tuple[Path, IO[bytes]]:
    """A fresh owner name with its lock file created and locked by this process."""
    while True:
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        lock_path = parent / (name + LOCK_SUFFIX)
        fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        handle = os.fdopen(fd, "r+b")
        _lock(handle, blocking=True)
        # A sweeper may have taken and deleted the file between its creation and our lock.
        with contextlib.suppress(FileNotFoundError):
            if lock_path.stat().st_ino == os.fstat(fd).st_ino:
                return parent / name, handle
        handle.close()


def _sweep_owned(parent: Path, name: str) -> bool:
    """Remove ``name`` and its lock file when no live process holds the lock."""
    lock_path = parent / (name + LOCK_SUFFIX)
    try:
        handle = lock_path.open("r+b")
    except OSError:
        return False
    with handle:
        if not _lock(handle, blocking=False):
            return False  # a live process owns it
        _remove(parent / name)
        with contextlib.suppress(OSError):
            lock_path.unlink()
    return True


def _lock(handle: IO[bytes], *, blocking: bool) -> bool:
    """Take an exclusive lock on ``handle``; False when another holds it (non-blocking)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock here: treat every folder as held
        return blocking
    flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
    try:
        fcntl.flock(handle.fileno(), flags)
    except BlockingIOError:
        return False
    return True


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            entry.unlink()
