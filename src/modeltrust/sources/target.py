"""Turn what the user typed into a source: an existing folder, or a Hub repo id.

An existing path always wins, so ``./org/name`` and a folder called ``org/name`` are read from
disk; ``hf:org/name`` forces the Hub. A revision follows ``@``: ``org/name@v1.0``,
``org/name@refs/pr/3`` or a 40-hex commit sha.

With ``HF_HUB_OFFLINE`` set the Hub is never contacted: a repo id is read from the snapshot that
huggingface_hub's cache holds for it (``HF_HUB_CACHE``, else ``HF_HOME/hub``), pinned to that
snapshot's commit, or the open fails saying so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from modeltrust.errors import SourceError
from modeltrust.sources.interface import Source, is_repo_id


def parse_repo_ref(text: str) -> tuple[str, str | None]:
    """``org/name[@revision]`` -> ``(repo_id, revision)``; raises SourceError otherwise."""
    repo_id, at, revision = text.strip().partition("@")
    if not is_repo_id(repo_id) or (at and not revision.strip()):
        raise SourceError(
            f"'{text}' is neither an existing folder nor a Hub repo id. Give a folder path, or "
            "'org/name' with an optional '@branch', '@tag' or '@commit-sha'."
        )
    return repo_id, (revision.strip() or None)


def open_source(
    target: str,
    *,
    search_paths: tuple[Path, ...] = (),
    token: str | None = None,
) -> Source:
    """Open ``target`` as a local folder if it exists, else as a Hub repo (``HF_ENDPOINT``)."""
    forced_hub = target.startswith("hf:")
    text = target.removeprefix("hf:").removeprefix("//") if forced_hub else target
    path = Path(text).expanduser()
    if not forced_hub and (path.exists() or text.startswith((".", "/", "~")) or "\\" in text):
        from modeltrust.sources.local import LocalSource

        return LocalSource(path, ref=target, search_paths=search_paths)
    repo_id, revision = parse_repo_ref(text)
    if hub_offline():
        return _from_hub_cache(repo_id, revision, text, search_paths)
    from modeltrust.sources.hub import HubSettings, HubSource

    return HubSource(repo_id, revision, ref=text, settings=HubSettings.from_env(token))


_TRUE = frozenset({"1", "ON", "YES", "TRUE"})
_SHA = re.compile(r"[0-9a-f]{40}")


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` asks for no Hub traffic (read now, not at import time)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in _TRUE


def hub_cache_dir() -> Path:
    """huggingface_hub's cache folder, as it resolves it: ``HF_HUB_CACHE``, else
    ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache).expanduser()
    home = os.environ.get("HF_HOME") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "huggingface"
    )
    return Path(home).expanduser() / "hub"


def _from_hub_cache(
    repo_id: str, revision: str | None, ref: str, search_paths: tuple[Path, ...]
) -> Source:
    from modeltrust.sources.local import LocalSource

    cache = hub_cache_dir()
    repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
    sha = revision if revision and _SHA.fullmatch(revision) else None
    if sha is None:
        try:
            sha = (repo_dir / "refs" / (revision or "main")).read_text("utf-8").strip()
        except OSError:
            sha = None
    snapshot = repo_dir / "snapshots" / sha if sha and _SHA.fullmatch(sha) else None
    if snapshot is None or not snapshot.is_dir():
        raise SourceError(
            f"HF_HUB_OFFLINE is set, so the Hub is not contacted, and '{ref}' "
            f"{'at ' + revision + ' ' if revision else ''}is not in the Hugging Face cache at "
            f"{cache}. Download it first (huggingface-cli download {repo_id}), point HF_HUB_CACHE "
            "at the cache that has it, or unset HF_HUB_OFFLINE."
        )
    return LocalSource(snapshot, ref=ref, search_paths=(*search_paths, cache))
