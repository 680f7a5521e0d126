"""Turn what the user typed into a source: an existing folder, or a Hub repo id.

An existing path always wins, so ``./org/name`` and a folder called ``org/name`` are read from
disk; ``hf:org/name`` forces the Hub. A revision follows ``@``: ``org/name@v1.0``,
``org/name@refs/pr/3`` or a 40-hex commit sha.
"""

from __future__ import annotations

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
    from modeltrust.sources.hub import HubSettings, HubSource

    return HubSource(repo_id, revision, ref=text, settings=HubSettings.from_env(token))
