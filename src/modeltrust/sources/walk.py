"""Walks a folder the way a model loader sees it: links followed, every file once, nothing lost.

``torch.load``, ``from_pretrained`` and Python's import follow symbolic links, and the Hugging
Face cache is made of them (``snapshots/<rev>/model.bin -> ../../blobs/<sha>``). So the walk
follows file and directory links wherever they lead, and says where each one really points. It
never reads a file: it only ``stat``s, so a FIFO cannot block it.

Protection: a directory is entered once (by device and inode), so a link back to an ancestor is
a loop that ends at once; nesting stops at :data:`MAX_DEPTH`; a file reached by two names (two
links, or a link and the file itself, or hard links) is reported once as a file and then as the
same file. Whatever cannot be listed, resolved or read as a regular file comes back as an entry
of its own, never dropped, so the callers can fail closed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

MAX_DEPTH = 64
"""Folders nested deeper than this are reported, not entered."""


class Kind(Enum):
    FILE = "file"
    """A regular file, seen for the first time: scan it."""
    SAME = "same"
    """A file or folder already reached under another name (``detail``: that name)."""
    SPECIAL = "special"
    """Not a regular file or folder: a FIFO, a device, a socket (``detail`` says which)."""
    UNREADABLE = "unreadable"
    """A link that cannot be resolved, a folder that cannot be listed, nesting too deep."""


@dataclass(frozen=True, slots=True)
class Entry:
    path: Path
    """Where the walk found it: ``root`` joined with the names walked (links not resolved)."""
    kind: Kind
    size: int = 0
    link: Path | None = None
    """The real path, when a link (of this entry or of a folder above it) led here."""
    detail: str = ""


def walk(root: Path, *, skip: Collection[str] = ()) -> Iterator[Entry]:
    """Every entry under the folder ``root``, depth first, names sorted; ``skip``: folder names
    not entered (``.git``)."""
    try:
        st = root.stat()
    except OSError as e:
        yield Entry(root, Kind.UNREADABLE, detail=_why(e))
        return
    dirs = {(st.st_dev, st.st_ino): root}
    files: dict[tuple[int, int], Path] = {}
    yield from _walk(root, False, 0, dirs, files, frozenset(skip))


def _walk(
    folder: Path,
    linked: bool,
    depth: int,
    dirs: dict[tuple[int, int], Path],
    files: dict[tuple[int, int], Path],
    skip: frozenset[str],
) -> Iterator[Entry]:
    try:
        with os.scandir(folder) as it:
            names = sorted((e.name, e.is_symlink()) for e in it)
    except OSError as e:
        yield Entry(folder, Kind.UNREADABLE, detail=f"the folder could not be listed: {_why(e)}")
        return
    for name, is_link in names:
        path = folder / name
        try:
            st = path.stat()  # follows links, as a loader does
        except OSError as e:
            what = "the link cannot be resolved" if is_link else "it cannot be examined"
            yield Entry(path, Kind.UNREADABLE, detail=f"{what}: {_why(e)}")
            continue
        link = _real(path) if is_link or linked else None
        key = (st.st_dev, st.st_ino)
        if stat.S_ISDIR(st.st_mode):
            if name in skip:
                continue
            if key in dirs:
                yield Entry(path, Kind.SAME, link=link, detail=os.fspath(dirs[key]))
                continue
            if depth + 1 > MAX_DEPTH:
                yield Entry(
                    path,
                    Kind.UNREADABLE,
                    link=link,
                    detail=f"folders are nested more than {MAX_DEPTH} deep",
                )
                continue
            dirs[key] = path
            yield from _walk(path, linked or is_link, depth + 1, dirs, files, skip)
        elif stat.S_ISREG(st.st_mode):
            first = files.get(key)
            if first is not None:
                yield Entry(path, Kind.SAME, st.st_size, link, detail=os.fspath(first))
                continue
            files[key] = path
            yield Entry(path, Kind.FILE, st.st_size, link)
        else:
            yield Entry(path, Kind.SPECIAL, link=link, detail=special_kind(st.st_mode))


def special_kind(mode: int) -> str:
    """What a file that is neither regular nor a folder is, in words."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _real(path: Path) -> Path | None:
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None


def _why(e: OSError | RuntimeError) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__
