"""The base models' metadata, fetched through the upstream, so the licence lineage of a served
revision is judged on what its bases really are (a Llama fine-tune whose card says MIT is still
bound by the Llama licence).

Only what the lineage reads is fetched: each base's listing and its small top-level metadata
files (card, licence and notice texts, ``config.json``, ``adapter_config.json``, a merge
config), each checked against the git blob id or SHA-256 the listing announces. They are laid out
as ``<bases>/<org>/<name>/`` for the audit (a folder the local lineage walk searches) and
deleted with the audit's scratch folder: bases are never stored or served. A base the upstream
cannot give is skipped here; the lineage then reports it as not found and the policy decides.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from modeltrust.server.upstream import Upstream, UpstreamError
from modeltrust.storage.catalog import FileSpec

log = logging.getLogger(__name__)

MAX_METADATA_BYTES = 1 << 20
"""Larger files are not metadata; they are skipped."""
_METADATA = re.compile(
    r"(README\.md|config\.json|adapter_config\.json|mergekit_config\.ya?ml"
    r"|(LICEN[CS]E|NOTICE|COPYING|USE_POLICY)[^/]*)",
    re.IGNORECASE,
)


def fetch_bases(
    upstream: Upstream, model: Path, bases: Path, *, max_depth: int, max_repos: int
) -> tuple[Path, ...]:
    """Fetch the metadata of the bases ``model`` declares, and theirs, breadth first, down to
    ``max_depth`` generations and at most ``max_repos`` repos; returns the folders to search."""
    from modeltrust.licenses.lineage import declared_bases
    from modeltrust.licenses.repo import read_repo_facts
    from modeltrust.sources.local import LocalSource

    queue = deque([(LocalSource(model), 0)])
    seen: set[str] = set()
    while queue:
        source, depth = queue.popleft()
        if depth >= max_depth:
            continue
        for ref in declared_bases(read_repo_facts(source)):
            if ref.repo_id is None or ref.repo_id.lower() in seen or len(seen) >= max_repos:
                continue
            seen.add(ref.repo_id.lower())
            target = bases / ref.repo_id
            try:
                _fetch_metadata(upstream, ref.repo_id, ref.revision or "main", target)
            except (UpstreamError, OSError) as e:
                log.warning("base model %s of %s not fetched: %s", ref.repo_id, model, e)
                continue
            queue.append((LocalSource(target, ref=ref.repo_id, repo_id=ref.repo_id), depth + 1))
    return (bases,)


def _fetch_metadata(upstream: Upstream, repo_id: str, revision: str, target: Path) -> None:
    listing = upstream.listing(repo_id, revision)
    target.mkdir(parents=True, exist_ok=True)
    for spec in listing.files:
        if "/" in spec.path or not _METADATA.fullmatch(spec.path):
            continue
        if spec.size > MAX_METADATA_BYTES:
            continue
        with upstream.download(listing.repo_id, listing.sha, spec.path) as chunks:
            data = b"".join(_capped(chunks, spec))
        _verify(listing.repo_id, spec, data)
        (target / spec.path).write_bytes(data)


def _capped(chunks: Iterator[bytes], spec: FileSpec) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > spec.size:
            raise UpstreamError(f"'{spec.path}' is longer than the {spec.size} bytes announced.")
        yield chunk


def _verify(repo_id: str, spec: FileSpec, data: bytes) -> None:
    if spec.lfs and spec.sha256:
        ok = hashlib.sha256(data).hexdigest() == spec.sha256
    else:
        git = hashlib.sha1(b"blob %d\0" % len(data) + data)  # noqa: S324 - git's blob id
        ok = git.hexdigest() == spec.git_oid
    if not ok or len(data) != spec.size:
        raise UpstreamError(
            f"'{spec.path}' of base model {repo_id} does not match its listing; not used."
        )
