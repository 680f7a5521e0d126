"""The checks a listing from the upstream must pass before anything of it is stored: its paths
become files in a folder (the audit's copy), so each must be a plain relative path, named once,
and never both a file and a folder."""

from __future__ import annotations

from collections.abc import Iterable

from modeltrust.server.upstream import UpstreamError
from modeltrust.storage.catalog import FileSpec


def check_listing(repo_id: str, files: Iterable[FileSpec]) -> None:
    """Raise :class:`UpstreamError` naming the first path no folder could hold."""
    paths: set[str] = set()
    folders: set[str] = set()
    for spec in files:
        path = spec.path
        parts = path.split("/")
        if (
            not path
            or path.startswith("/")
            or any(part in ("", ".", "..") for part in parts)
            or "\\" in path
            or "\0" in path
        ):
            _refuse(repo_id, path, "is not a plain relative path")
        if path in paths:
            _refuse(repo_id, path, "is listed twice")
        paths.add(path)
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for path in sorted(paths & folders):
        _refuse(repo_id, path, "is listed both as a file and as a folder of other files")


def _refuse(repo_id: str, path: str, why: str) -> None:
    raise UpstreamError(
        f"The upstream's listing of {repo_id} is unsafe: the path {path!r} {why}. Nothing of "
        "the repo is stored or served; check the upstream (--upstream) or ask its owner to fix "
        "the repo."
    )
