"""Where a model comes from: a local folder or a Hugging Face Hub repo, read the same way.

:func:`open_source` decides which; the Hub backend imports ``huggingface_hub`` only when used.
"""

from __future__ import annotations

from modeltrust.errors import AccessDeniedError, MissingFileError
from modeltrust.sources.interface import (
    RepoFile,
    Source,
    is_repo_id,
)
from modeltrust.sources.target import open_source, parse_repo_ref

__all__ = [
    "AccessDeniedError",
    "MissingFileError",
    "RepoFile",
    "Source",
    "is_repo_id",
    "open_source",
    "parse_repo_ref",
]
