"""A Hub repo, read through ``huggingface_hub`` and pinned to the commit its revision resolves to.

Only metadata and bounded byte ranges are fetched: ``model_info`` (one call: the commit sha, the
file list with sizes and LFS hashes, the card metadata) and HTTP ``Range`` reads of ``resolve/``
URLs. A Hub-compatible server whose model info lacks the sizes (it ignores ``blobs=true``) is
asked for the commit's recursive file tree instead, which has them. Nothing is written to disk,
so the user's Hub cache never holds a partial file of ours.

``huggingface_hub`` reads ``HF_ENDPOINT`` once, at import time. This module reads it (and
``HF_HUB_DOWNLOAD_TIMEOUT``) at call time and passes the endpoint explicitly, so a program that set
the variable after importing the client, or a test, gets what it asked for. The token is left to
``huggingface_hub`` (``HF_TOKEN``, then the stored login) unless one is given.

Every client error is translated here into :class:`SourceError` (what failed, on which repo, what
to do); a missing file becomes :class:`MissingFileError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from modeltrust.errors import AccessDeniedError, MissingFileError, SourceError
from modeltrust.sources.interface import (
    RepoFile,
    Source,
    is_repo_id,
)

if TYPE_CHECKING:
    from huggingface_hub.hf_api import ModelInfo

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT_S = 30.0
_USER_AGENT = "modeltrust"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class HubSettings:
    """Where the Hub is and how to authenticate; read from the environment at call time."""

    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = None
    """None: let huggingface_hub find one (``HF_TOKEN``, then the stored login)."""
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_env(cls, token: str | None = None) -> HubSettings:
        endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT
        try:
            timeout = float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT", DEFAULT_TIMEOUT_S))
        except ValueError:
            timeout = DEFAULT_TIMEOUT_S
        return cls(endpoint=endpoint, token=token, timeout_s=max(timeout, 1.0))


class HubSource(Source):
    """A Hub model repo at one commit. Opening it costs one ``model_info`` call."""

    kind = "hub"

    def __init__(
        self,
        repo_id: str,
        revision: str | None = None,
        *,
        ref: str | None = None,
        settings: HubSettings | None = None,
    ) -> None:
        self.settings = settings or HubSettings.from_env()
        self.repo_id: str = repo_id
        self.requested_revision = revision
        self.ref = ref or (f"{repo_id}@{revision}" if revision else repo_id)
        info = self._model_info()
        if not info.sha:
            raise SourceError(
                f"The Hub at {self.settings.endpoint} did not say which commit '{self.ref}' is at, "
                "so nothing read from it could be pinned. Check that HF_ENDPOINT points at a "
                "Hugging Face Hub compatible server."
            )
        self.revision: str = info.sha
        if isinstance(info.id, str) and is_repo_id(info.id):
            self.repo_id = info.id  # the Hub's spelling (and name after a rename): one identity
        self.gated = info.gated
        self.private = bool(info.private)
        self._card = _card_dict(info)
        files = _files_of(info)
        self._files = files if files is not None else self._tree()

    @property
    def identity(self) -> str:
        return f"hub:{self.settings.endpoint}/{self.repo_id.lower()}"

    @property
    def url(self) -> str:
        return f"{self.settings.endpoint}/{self.repo_id}"

    def url_hosts(self) -> tuple[str, ...]:
        host = urlsplit(self.settings.endpoint).netloc.lower()
        return (host,) if host else ()

    def card_metadata(self) -> Mapping[str, object] | None:
        """The card metadata the Hub parsed (``cardData``); readable even for gated repos."""
        return self._card

    def list_files(self) -> tuple[RepoFile, ...]:
        return tuple(self._files.values())

    def exists(self, path: str) -> bool:
        return path in self._files

    def file(self, path: str) -> RepoFile:
        try:
            return self._files[path]
        except KeyError:
            raise MissingFileError(f"'{path}' is not in {self.display}.") from None

    def read_range(self, path: str, start: int, length: int) -> bytes:
        entry = self.file(path)
        start = max(0, start)
        if entry.size is not None:
            length = min(length, entry.size - start)
        if length <= 0:
            return b""
        return self._call(f"'{path}'", lambda: self._get_range(path, start, length))

    def open_related(self, repo_id: str, revision: str | None = None) -> Source:
        return HubSource(repo_id, revision, settings=self.settings)

    # --- HTTP ------------------------------------------------------------------------------------

    def _model_info(self) -> ModelInfo:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self.settings.endpoint, token=self.settings.token)
        return self._call(
            "the repo information",
            lambda: api.model_info(
                self.repo_id,
                revision=self.requested_revision,
                files_metadata=True,
                timeout=self.settings.timeout_s,
            ),
        )

    def _tree(self) -> dict[str, RepoFile]:
        """Every file of the pinned commit, from its recursive tree (the client follows the
        pages)."""
        from huggingface_hub import HfApi
        from huggingface_hub.hf_api import RepoFile as HubFile

        api = HfApi(endpoint=self.settings.endpoint, token=self.settings.token)

        def entries() -> list[object]:
            try:
                return list(
                    api.list_repo_tree(self.repo_id, revision=self.revision, recursive=True)
                )
            except (KeyError, TypeError, AttributeError) as e:  # the client read a bad entry
                raise SourceError(
                    f"The Hub at {self.settings.endpoint} gave no file sizes in the repo "
                    f"information of '{self.ref}', and its file tree has a malformed entry "
                    f"({type(e).__name__}: {e}). Check that HF_ENDPOINT points at a Hugging Face "
                    "Hub compatible server."
                ) from None

        files = {
            e.path: RepoFile(e.path, e.size, e.lfs.sha256 if e.lfs is not None else None)
            for e in self._call("the file tree", entries)
            if isinstance(e, HubFile)
        }
        return dict(sorted(files.items()))

    def _get_range(self, path: str, start: int, length: int) -> bytes:
        from huggingface_hub import get_session, hf_raise_for_status
        from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

        url = (
            f"{self.settings.endpoint}/{self.repo_id}/resolve/"
            f"{quote(self.revision, safe='')}/{quote(path)}"
        )
        headers = build_hf_headers(
            token=self.settings.token,
            library_name=_USER_AGENT,
            headers={"Range": f"bytes={start}-{start + length - 1}", "Accept-Encoding": "identity"},
        )
        session = get_session()
        with session.stream("GET", url, headers=headers, timeout=self.settings.timeout_s) as r:
            if r.status_code >= 400:
                r.read()
                hf_raise_for_status(r)
            # A server that ignores Range answers 200 with the whole file: skip to ``start``.
            skip = start if r.status_code == 200 else 0
            return _take(r.iter_bytes(), skip, length)

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        """Run one client call, translating its errors into SourceError."""
        with _translated(self, what):
            return fn()


def _take(chunks: Iterator[bytes], skip: int, length: int) -> bytes:
    out = bytearray()
    for chunk in chunks:
        if skip:
            cut = min(skip, len(chunk))
            chunk = chunk[cut:]
            skip -= cut
        out += chunk[: length - len(out)]
        if len(out) >= length:
            break
    return bytes(out)


@contextmanager
def _translated(source: HubSource, what: str) -> Iterator[None]:
    import httpx2
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo = f"'{source.ref}'"
    endpoint = source.settings.endpoint
    try:
        yield
    except GatedRepoError as e:
        raise AccessDeniedError(
            f"Could not read {what} of {repo}: the repo is gated and this account has not been "
            f"granted access{_server_says(e)}. Accept its conditions at {endpoint}/"
            f"{source.repo_id}, then set HF_TOKEN to a token of that account."
        ) from None
    except RepositoryNotFoundError:
        raise SourceError(
            f"Hub repo {repo} was not found at {endpoint}, or it is private and no token with "
            "access was sent. Check the repo id; for a private repo set HF_TOKEN."
        ) from None
    except RevisionNotFoundError:
        raise SourceError(
            f"Revision '{source.requested_revision}' of '{source.repo_id}' was not found at "
            f"{endpoint}. Give an existing branch, tag or full commit sha after '@'."
        ) from None
    except EntryNotFoundError:
        raise MissingFileError(f"{what} is not in {source.display}.") from None
    except OfflineModeIsEnabled:
        raise SourceError(
            f"Could not read {what} of {repo}: HF_HUB_OFFLINE is set, so the Hub is not "
            "contacted. Unset it, or check a local folder instead."
        ) from None
    except HFValidationError as e:
        raise SourceError(
            f"{repo} is not a valid Hub repo or revision: {e}. Use 'org/name' or "
            "'org/name@revision'."
        ) from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "?"
        raise SourceError(
            f"The Hub at {endpoint} refused to send {what} of {repo} (HTTP {status})"
            f"{_server_says(e)}. Check HF_TOKEN and your access to the repo, then try again."
        ) from None
    except (httpx2.HTTPError, httpx2.InvalidURL, OSError) as e:
        raise SourceError(
            f"Could not reach the Hub at {endpoint} to read {what} of {repo}: "
            f"{type(e).__name__}: {e}. Check your network connection and HF_ENDPOINT."
        ) from None


def _server_says(e: Any) -> str:
    message = getattr(e, "server_message", None)
    if not message:
        return ""
    return f" (the server says: {str(message).strip()[:300]})"


def _card_dict(info: ModelInfo) -> dict[str, object] | None:
    data = info.card_data
    if data is None:
        return None
    try:
        result: dict[str, object] = data.to_dict()  # type: ignore[no-untyped-call]
    except (TypeError, ValueError, AttributeError):
        return None
    return result


def _files_of(info: ModelInfo) -> dict[str, RepoFile] | None:
    """The files model info lists, or None when it lacks their sizes (a server that ignores
    ``blobs=true``, or lists no siblings at all): the tree has to be asked."""
    if info.siblings is None:
        return None
    files: dict[str, RepoFile] = {}
    for sibling in info.siblings:
        lfs = sibling.lfs
        if lfs is None and sibling.size is None:
            return None
        files[sibling.rfilename] = RepoFile(
            sibling.rfilename,
            lfs.size if lfs is not None else sibling.size,
            lfs.sha256 if lfs is not None else None,
        )
    return dict(sorted(files.items()))
