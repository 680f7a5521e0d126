"""The upstream: any Hub-compatible endpoint the governed hub pulls from, over plain HTTP.

Two calls are needed: a revision's metadata with its file list (``blobs=true`` gives sizes,
git blob ids and LFS SHA-256s) and a file's bytes at a pinned commit. An upstream that ignores
``blobs=true`` (siblings with names only, or none) is asked for the commit's recursive tree
listing instead, which carries the same facts, page by page (``Link: <...>; rel="next"``). The
upstream's error codes are kept so a client asking us gets the same typed error the upstream
would have given. Xet is never used: every file is fetched over plain HTTP and hashed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

import httpx2

from modeltrust import __version__
from modeltrust.errors import SourceError
from modeltrust.storage.catalog import FileSpec

CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_XET_KEYS = frozenset({"xetHash", "xetEnabled", "xet_hash", "xetAuth"})
MAX_TREE_PAGES = 10_000
"""Pages of a tree listing followed before the upstream is deemed to link without end."""


class UpstreamError(SourceError):
    """The upstream refused or failed; ``code`` is its ``X-Error-Code`` when it gave one."""

    def __init__(self, message: str, *, status: int = 502, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Listing:
    repo_id: str
    sha: str
    info: dict[str, Any]
    files: tuple[FileSpec, ...]


class Upstream:
    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"user-agent": f"modeltrust/{__version__}", "accept-encoding": "identity"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = httpx2.Client(
            headers=headers,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()

    def listing(self, repo_id: str, revision: str) -> Listing:
        """The revision's commit sha, metadata (siblings and Xet fields removed) and files: from
        the siblings when they carry sizes and blob ids, else from the commit's file tree."""
        url = f"{self.url}/api/models/{repo_id}/revision/{quote(revision, safe='')}"
        response = self._send("GET", url, params={"blobs": "true"}, what=f"{repo_id}@{revision}")
        info = self._json(response, f"{repo_id}@{revision}")
        sha = info.get("sha") if isinstance(info, dict) else None
        if not isinstance(info, dict) or not isinstance(sha, str) or not _COMMIT.fullmatch(sha):
            raise UpstreamError(
                f"The upstream '{self.url}' gave no commit sha for {repo_id}@{revision}."
            )
        files = _from_siblings(info.get("siblings"))
        if files is None:
            files = self._tree(repo_id, sha)
        clean = strip_xet({k: v for k, v in info.items() if k != "siblings"})
        return Listing(str(info.get("id") or repo_id), sha, clean, files)

    def _tree(self, repo_id: str, sha: str) -> tuple[FileSpec, ...]:
        """Every file of commit ``sha``, from its recursive tree listing, following each
        ``rel="next"`` link; links must stay on the upstream (they are sent our token)."""
        what = f"the file tree of {repo_id}@{sha}"
        url = f"{self.url}/api/models/{repo_id}/tree/{sha}"
        params: dict[str, str] | None = {"recursive": "true", "expand": "false"}
        seen: set[str] = set()
        files: list[FileSpec] = []
        for _ in range(MAX_TREE_PAGES):
            try:
                response = self._send("GET", url, params=params, what=what)
            except UpstreamError as e:
                raise UpstreamError(
                    f"The upstream '{self.url}' answered model info of {repo_id}@{sha} without "
                    f"file sizes and blob ids (blobs=true), and its file tree could not be read "
                    f"either: {e}",
                    status=e.status,
                    code=e.code,
                ) from e
            page = self._json(response, what)
            if not isinstance(page, list):
                raise UpstreamError(
                    f"The upstream '{self.url}' answered {what} with something that is not a "
                    "list of entries; is it a Hub-compatible endpoint?"
                )
            files.extend(_from_tree(page, repo_id))
            link = response.links.get("next", {}).get("url")
            if not link:
                return tuple(files)
            seen.add(str(response.url))
            url, params = urljoin(str(response.url), link), None
            if not url.startswith(self.url + "/"):
                raise UpstreamError(
                    f"The upstream '{self.url}' linked the next page of {what} to '{url}', "
                    "which is not on the upstream; it is not followed and nothing of the repo "
                    "is stored."
                )
            if url in seen:
                break
        raise UpstreamError(
            f"The upstream '{self.url}' linked the pages of {what} in a loop or past "
            f"{MAX_TREE_PAGES} pages; nothing of the repo is stored."
        )

    def _json(self, response: httpx2.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as e:
            raise UpstreamError(
                f"The upstream '{self.url}' answered {what} with something that is not JSON; "
                "is it a Hub-compatible endpoint?"
            ) from e

    def refs(self, repo_id: str) -> dict[str, Any]:
        response = self._send("GET", f"{self.url}/api/models/{repo_id}/refs", what=repo_id)
        data = self._json(response, f"the refs of {repo_id}")
        if not isinstance(data, dict):
            raise UpstreamError(f"The upstream '{self.url}' gave malformed refs for {repo_id}.")
        return data

    @contextmanager
    def download(self, repo_id: str, sha: str, path: str) -> Iterator[Iterator[bytes]]:
        """The file's bytes in chunks; transport errors while reading become UpstreamError."""
        url = f"{self.url}/{repo_id}/resolve/{sha}/{quote(path)}"
        what = f"'{path}' of {repo_id}@{sha}"
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    response.read()
                    raise _error(response, self.url, what)
                yield _chunks(response, what, self.url)
        except httpx2.HTTPError as e:
            raise UpstreamError(
                f"Could not download {what} from the upstream '{self.url}': {e}."
            ) from e

    def _send(
        self, method: str, url: str, *, what: str, params: dict[str, str] | None = None
    ) -> httpx2.Response:
        try:
            response = self._client.request(method, url, params=params)
        except httpx2.HTTPError as e:
            raise UpstreamError(
                f"Could not reach the upstream '{self.url}' for {what}: {e}.", status=504
            ) from e
        if response.status_code != 200:
            raise _error(response, self.url, what)
        return response


def _chunks(response: httpx2.Response, what: str, base: str) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes(CHUNK)
    except httpx2.HTTPError as e:
        raise UpstreamError(f"The transfer of {what} from '{base}' broke off: {e}.") from e


def _error(response: httpx2.Response, base: str, what: str) -> UpstreamError:
    code = response.headers.get("x-error-code")
    message = response.headers.get("x-error-message") or response.reason_phrase
    status = response.status_code if code else 502
    return UpstreamError(
        f"The upstream '{base}' answered {response.status_code} for {what}: {message}",
        status=status,
        code=code,
    )


def _from_siblings(siblings: object) -> tuple[FileSpec, ...] | None:
    """The files model info lists, or None when it does not say everything needed of each
    (name, size, git blob id and, for an LFS file, its SHA-256): the tree must be asked."""
    if not isinstance(siblings, list):
        return None
    files = []
    for sibling in siblings:
        if not isinstance(sibling, dict):
            return None
        spec = _spec(
            sibling.get("rfilename"),
            sibling.get("size"),
            sibling.get("blobId"),
            sibling.get("lfs"),
            "sha256",
        )
        if isinstance(spec, str):
            return None
        files.append(spec)
    return tuple(files)


def _from_tree(page: list[Any], repo_id: str) -> list[FileSpec]:
    """The files of one page of a tree listing; folders are implied by the files' paths."""
    files = []
    for entry in page:
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind == "directory":
            continue
        path = entry.get("path") if isinstance(entry, dict) else None
        if kind != "file" or not isinstance(entry, dict):
            raise UpstreamError(
                f"The upstream's file tree of {repo_id} has an entry that is neither a file nor "
                f"a folder ({str(entry)[:100]!r}); nothing of the repo is stored. Check that "
                "--upstream is a Hub-compatible endpoint."
            )
        spec = _spec(path, entry.get("size"), entry.get("oid"), entry.get("lfs"), "oid")
        if isinstance(spec, str):
            raise UpstreamError(
                f"The upstream listed {spec}, in its model info (blobs=true) and in its file "
                f"tree of {repo_id} alike, so its bytes cannot be verified; nothing of the repo "
                "is stored. Check that --upstream is a Hub-compatible endpoint."
            )
        files.append(spec)
    return files


def _spec(path: object, size: object, oid: object, lfs: object, sha_key: str) -> FileSpec | str:
    """A file as the upstream describes it, or what is missing from the description.
    ``sha_key`` names the SHA-256 in ``lfs``: ``sha256`` in siblings, ``oid`` in a tree."""
    info = lfs if isinstance(lfs, dict) else None
    if info is not None and not _is_size(size):
        size = info.get("size")
    if not isinstance(path, str):
        return f"a file whose name ({str(path)[:100]!r}) is not a path"
    if not isinstance(size, int) or not _is_size(size) or not isinstance(oid, str):
        return f"'{path}' without its size or git blob id"
    if lfs is not None and info is None:
        return f"'{path}' with malformed LFS details"
    sha256 = info.get(sha_key) if info is not None else None
    if info is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256.lower())):
        return f"the LFS file '{path}' without a valid SHA-256"
    return FileSpec(
        path=path,
        size=size,
        git_oid=oid,
        lfs=info is not None,
        sha256=sha256.lower() if isinstance(sha256, str) else None,
    )


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def strip_xet(value: Any) -> Any:
    """``value`` with every Xet field removed, at any depth: we never advertise Xet."""
    if isinstance(value, dict):
        return {k: strip_xet(v) for k, v in value.items() if k not in _XET_KEYS}
    if isinstance(value, list):
        return [strip_xet(v) for v in value]
    return value
