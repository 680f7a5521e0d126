"""Git object ids for hosted commits, computed as git computes them, so that every id the hub
gives out (a file's ``oid``, a commit sha) is the id git would give the same content.

An LFS file is, to git, its pointer file: its ``oid`` is the blob id of the pointer text, and the
content is named by its SHA-256. No git objects are stored: the ids are derived from the file
list, which the catalogue keeps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

FILE_MODE = b"100644"
TREE_MODE = b"40000"
LFS_SPEC = "https://git-lfs.github.com/spec/v1"


def blob_oid(data: bytes) -> str:
    """The git blob id of ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's id


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The pointer file git stores for an LFS file."""
    return f"version {LFS_SPEC}\noid sha256:{sha256}\nsize {size}\n".encode()


def lfs_oid(sha256: str, size: int) -> str:
    """The git blob id of an LFS file (its pointer's)."""
    return blob_oid(lfs_pointer(sha256, size))


def pointer_size(size: int) -> int:
    return len(lfs_pointer("0" * 64, size))


def tree_oid(files: Iterable[tuple[str, str]]) -> str:
    """The id of the root tree holding ``(path, blob oid)`` files (folders are implied)."""
    root: dict[str, object] = {}
    for path, oid in files:
        *folders, name = path.split("/")
        node = root
        for folder in folders:
            child = node.setdefault(folder, {})
            if not isinstance(child, dict):
                raise ValueError(f"'{path}' puts a file under the file '{folder}'")  # noqa: TRY004
            node = child
        if name in node:
            raise ValueError(f"'{path}' is listed twice, or both as a file and a folder")
        node[name] = oid
    return _tree(root)


def _tree(node: dict[str, object]) -> str:
    # Git orders entries by name, a folder's name as if it ended with '/'.
    def key(item: tuple[str, object]) -> bytes:
        name, value = item
        return name.encode() + (b"/" if isinstance(value, dict) else b"")

    body = bytearray()
    for name, value in sorted(node.items(), key=key):
        if isinstance(value, dict):
            body += TREE_MODE + b" " + name.encode() + b"\0" + bytes.fromhex(_tree(value))
        else:
            body += FILE_MODE + b" " + name.encode() + b"\0" + bytes.fromhex(str(value))
    return hashlib.sha1(b"tree %d\0" % len(body) + bytes(body)).hexdigest()  # noqa: S324


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    email: str
    when: datetime

    def encode(self) -> bytes:
        seconds = int(self.when.timestamp())
        return f"{self.name} <{self.email}> {seconds} +0000".encode()


def commit_oid(tree: str, parents: Sequence[str], author: Signature, message: str) -> str:
    """The id of a commit of ``tree`` (author and committer alike)."""
    lines = [b"tree " + tree.encode()]
    lines += [b"parent " + p.encode() for p in parents]
    lines += [b"author " + author.encode(), b"committer " + author.encode()]
    body = b"\n".join(lines) + b"\n\n" + message.encode()
    return hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()  # noqa: S324
