"""The upstream: any Hub-compatible endpoint the governed hub pulls from, over plain HTTP.

Only two calls are needed: a revision's metadata with its file list (``blobs=true`` gives sizes,
git blob ids and LFS SHA-256s) and a file's bytes at a pinned commit. The upstream's error codes
are kept so a client asking us gets the same typed error the upstream would have given. Xet is
never used: every file is fetched over plain HTTP and hashed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2

from modeltrust import __version__
from modeltrust.errors import SourceError
from modeltrust.storage.catalog import FileSpec

CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_XET_KEYS = frozenset({"xetHash", "xetEnabled", "xet_hash", "xetAuth"})


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
        """The revision's commit sha, metadata (siblings and Xet fields removed) and files."""
        url = f"{self.url}/api/models/{repo_id}/revision/{quote(revision, safe='')}"
        response = self._send("GET", url, params={"blobs": "true"}, what=f"{repo_id}@{revision}")
        try:
            info = response.json()
        except ValueError as e:
            raise UpstreamError(
                f"The upstream '{self.url}' answered {repo_id}@{revision} with something that is "
                "not JSON; is it a Hub-compatible endpoint?"
            ) from e
        sha = info.get("sha") if isinstance(info, dict) else None
        if not isinstance(sha, str) or len(sha) != 40:
            raise UpstreamError(
                f"The upstream '{self.url}' gave no commit sha for {repo_id}@{revision}."
            )
        files = tuple(_spec(s) for s in info.get("siblings") or [] if isinstance(s, dict))
        clean = strip_xet({k: v for k, v in info.items() if k != "siblings"})
        return Listing(str(info.get("id") or repo_id), sha, clean, files)

    def refs(self, repo_id: str) -> dict[str, Any]:
        response = self._send("GET", f"{self.url}/api/models/{repo_id}/refs", what=repo_id)
        data = response.json()
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


def _spec(sibling: dict[str, Any]) -> FileSpec:
    lfs = sibling.get("lfs") if isinstance(sibling.get("lfs"), dict) else None
    size = sibling.get("size")
    if lfs is not None and not isinstance(size, int):
        size = lfs.get("size")
    blob_id = sibling.get("blobId")
    if (
        not isinstance(size, int)
        or not isinstance(blob_id, str)
        or not isinstance(sibling.get("rfilename"), str)
    ):
        raise UpstreamError(
            f"The upstream listed '{sibling.get('rfilename')}' without a name, size or blob id; it "
            "must answer model info with blobs=true."
        )
    sha256 = lfs.get("sha256") if lfs is not None else None
    if lfs is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256.lower())):
        # Without it an LFS file's bytes could only be checked against their size.
        raise UpstreamError(
            f"The upstream listed the LFS file '{sibling.get('rfilename')}' without a valid "
            "SHA-256, so its bytes cannot be verified; nothing of the repo is stored. Check "
            "that --upstream is a Hub-compatible endpoint."
        )
    return FileSpec(
        path=str(sibling["rfilename"]),
        size=size,
        git_oid=blob_id,
        lfs=lfs is not None,
        sha256=sha256.lower() if isinstance(sha256, str) else None,
    )


def strip_xet(value: Any) -> Any:
    """``value`` with every Xet field removed, at any depth: we never advertise Xet."""
    if isinstance(value, dict):
        return {k: strip_xet(v) for k, v in value.items() if k not in _XET_KEYS}
    if isinstance(value, list):
        return [strip_xet(v) for v in value]
    return value
