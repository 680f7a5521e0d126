"""A Hugging Face Hub compatible HTTP server for tests, serving fixture repos on 127.0.0.1.

It speaks the part of the Hub API that ``huggingface_hub`` 2.x calls for reading (see
``shared/reference/hub-api-contract.md``): ``model_info`` (with ``blobs`` and ``expand``),
revision resolution for branches, tags and commit shas, tree listing with ``Link`` pagination,
``paths-info``, refs, commits, ``resolve/`` HEAD and GET with ``X-Repo-Commit``, ``ETag``,
``X-Linked-*`` and single ``Range`` requests, tokens, private and gated repos, and the
``X-Error-Code`` / ``X-Error-Message`` headers from which the client raises its typed errors.

Repos are built in memory by the test::

    with HubServer(tokens={"hf_alice": "alice"}) as hub:
        sha = hub.add_repo("org/model", {"README.md": "---\\nlicense: mit\\n---\\n"})
        hub.commit("org/model", {"LICENSE": "..."})          # a second commit on main
        hub.env(monkeypatch, tmp_path, token="hf_alice")      # HF_ENDPOINT, HF_HOME, HF_TOKEN

``hub.requests`` records every request (method, path, headers) for assertions.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
import yaml

LFS_SUFFIXES = (".gguf", ".safetensors", ".bin", ".pt", ".pth", ".onnx", ".h5", ".msgpack", ".ckpt")
LFS_MIN_SIZE = 10 * 1024 * 1024
PUBLIC_IN_GATED = frozenset({"README.md", ".gitattributes"})
"""Files of a gated repo anyone may read, as on the Hub (the card is shown before access)."""
_SHA = re.compile(r"[0-9a-f]{40}")
_API_WORDS = frozenset({"revision", "tree", "paths-info", "refs", "commits"})
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

Gated = Literal[False, "auto", "manual"]


@dataclass(frozen=True)
class Blob:
    data: bytes
    lfs: bool

    @property
    def oid(self) -> str:
        """The git blob sha1, as the Hub reports it for every file."""
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()  # noqa: S324

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.oid


@dataclass(frozen=True)
class Commit:
    sha: str
    files: dict[str, Blob]
    parent: str | None
    title: str
    date: datetime


@dataclass
class Repo:
    repo_id: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    private: bool = False
    gated: Gated = False
    users: frozenset[str] | None = None
    """Who may read a private repo's files or a gated repo's files; None: any valid token."""

    def resolve(self, revision: str) -> Commit | None:
        sha = self.branches.get(revision) or self.tags.get(revision)
        if sha is None and _SHA.fullmatch(revision):
            sha = revision
        return self.commits.get(sha) if sha else None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


class HubServer:
    """Fixture repos behind a real HTTP server; a context manager that starts and stops it."""

    def __init__(self, *, tokens: Mapping[str, str] | None = None, page_size: int = 1000) -> None:
        self.tokens = dict(tokens or {})
        """token -> user name."""
        self.page_size = page_size
        self.slow: dict[str, float] = {}
        """Path fragment -> seconds over which a matching ``resolve`` GET's body is spread: a
        slow upstream, for first pulls that outlast the client's timeouts."""
        self.repos: dict[str, Repo] = {}
        self.aliases: dict[str, str] = {}
        """Old name (lower case) -> repo id: a renamed repo, which the Hub still answers under
        its old name, with its new id (``gpt2`` is ``openai-community/gpt2``)."""
        self.siblings: Literal["blobs", "names", "none"] = "blobs"
        """How model info lists a commit's files: with sizes, blob ids and LFS details when
        asked (``blobs=true``), as the Hub does; by name only, whatever is asked (a mirror that
        ignores ``blobs``); or not at all. The tree listing always has the details."""
        self.info_extra: dict[str, dict[str, Any]] = {}
        """Repo id -> more fields for its model info (as the Hub adds, e.g. Xet ones)."""
        self.requests: list[Request] = []
        self._clock = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- building repos ----------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str],
        *,
        private: bool = False,
        gated: Gated = False,
        users: Iterable[str] | None = None,
        message: str = "Initial commit",
    ) -> str:
        """Create ``repo_id`` with one commit on ``main``; returns the commit sha."""
        if repo_id.lower() in (r.lower() for r in self.repos):
            raise ValueError(f"repo {repo_id} already exists")
        self.repos[repo_id] = Repo(
            repo_id,
            private=private,
            gated=gated,
            users=frozenset(users) if users is not None else None,
        )
        return self.commit(repo_id, files, message=message)

    def commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str],
        *,
        branch: str = "main",
        delete: Iterable[str] = (),
        message: str = "Update",
    ) -> str:
        """Add a commit on ``branch`` (created from main if new) changing ``files``."""
        repo = self.repos[repo_id]
        parent_sha = repo.branches.get(branch) or repo.branches.get("main")
        parent = repo.commits.get(parent_sha) if parent_sha else None
        tree = dict(parent.files) if parent else {}
        for path in delete:
            tree.pop(path, None)
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else bytes(content)
            lfs = path.endswith(LFS_SUFFIXES) or len(data) >= LFS_MIN_SIZE
            tree[path] = Blob(data, lfs)
        self._clock += 1
        digest = hashlib.sha1(  # noqa: S324 - a commit id, as git makes them
            json.dumps(
                [
                    repo_id,
                    parent_sha,
                    message,
                    self._clock,
                    sorted((p, b.oid) for p, b in tree.items()),
                ]
            ).encode()
        ).hexdigest()
        repo.commits[digest] = Commit(
            digest, tree, parent_sha, message, _EPOCH + timedelta(minutes=self._clock)
        )
        repo.branches[branch] = digest
        return digest

    def tag(self, repo_id: str, tag: str, revision: str = "main") -> str:
        repo = self.repos[repo_id]
        commit = repo.resolve(revision)
        if commit is None:
            raise ValueError(f"no revision {revision} in {repo_id}")
        repo.tags[tag] = commit.sha
        return commit.sha

    def head(self, repo_id: str, branch: str = "main") -> str:
        return self.repos[repo_id].branches[branch]

    # --- running -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the hub server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        handler = type("BoundHandler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        _close_client_session()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, token: str | None = None
    ) -> None:
        """Point ``huggingface_hub`` at this server, with a private cache and no stored login."""
        home = tmp_path / "hf-home"
        values = {
            "HF_ENDPOINT": self.url,
            "HF_HOME": str(home),
            "HF_HUB_CACHE": str(home / "hub"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_IMPLICIT_TOKEN": "0",
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        for name in ("HF_HUB_OFFLINE", "HUGGINGFACE_CO_STAGING", "HF_OIDC_RESOURCE"):
            monkeypatch.delenv(name, raising=False)
        if token is None:
            monkeypatch.delenv("HF_TOKEN", raising=False)
        else:
            monkeypatch.setenv("HF_TOKEN", token)
        # huggingface_hub read these at import time; code that relies on its defaults
        # (hf_hub_download without endpoint=) must see this server and this cache too.
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "ENDPOINT", self.url)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            self.url + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(constants, "HF_HOME", str(home))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
        monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))

    def requests_to(self, fragment: str, method: str | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if fragment in r.path and (method is None or r.method == method)
        ]

    # --- access ------------------------------------------------------------------------------

    def user_for(self, headers: Mapping[str, str]) -> str | Literal[False] | None:
        """The user a request authenticates as; None without a token, False for a bad one."""
        auth = headers.get("authorization", "")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return self.tokens.get(token.strip(), False)

    def rename(self, old_name: str, repo_id: str) -> None:
        """Answer ``old_name`` with the repo ``repo_id`` (its ``id`` stays ``repo_id``)."""
        if self.find(repo_id) is None:
            raise ValueError(f"repo {repo_id} does not exist")
        self.aliases[old_name.lower()] = repo_id

    def find(self, repo_id: str) -> Repo | None:
        for name, repo in self.repos.items():
            if name.lower() == repo_id.lower():
                return repo
        target = self.aliases.get(repo_id.lower())
        return None if target is None else self.find(target)


@contextmanager
def running_hub(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    tokens: Mapping[str, str] | None = None,
    token: str | None = None,
) -> Iterator[HubServer]:
    """A started server with the client environment pointed at it; what fixtures yield."""
    with HubServer(tokens=tokens) as server:
        server.env(monkeypatch, tmp_path, token=token)
        yield server


def card(body: str = "# Model\n", **metadata: object) -> str:
    """README.md text with ``metadata`` as its YAML block (keys as given, e.g. ``license``)."""
    if not metadata:
        return body
    return "---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n" + body


def _close_client_session() -> None:
    """Drop huggingface_hub's pooled connections to a server that is going away."""
    try:
        from huggingface_hub.utils import close_session
    except ImportError:  # pragma: no cover - the client is a dev dependency
        return
    close_session()


class _HttpError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"
    server_version = "modeltrust-test-hub/1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    # --- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.hub.requests.append(Request(method, self.path, headers))
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        parts = split.path.split("/")[1:]  # raw segments: decode each once, after routing
        try:
            self._route(method, parts, query, headers, body)
        except _HttpError as e:
            self._error(method, e)

    def _route(
        self,
        method: str,
        parts: list[str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        if parts[:2] == ["api", "whoami-v2"] and method == "GET":
            self._whoami(headers)
            return
        if len(parts) >= 3 and parts[:2] == ["api", "models"]:
            if self._canonical(parts[2]) and (len(parts) == 3 or parts[3] in _API_WORDS):
                repo, rest = self._repo(unquote(parts[2]), headers), parts[3:]
            elif len(parts) >= 4:
                repo, rest = (
                    self._repo(unquote(parts[2]) + "/" + unquote(parts[3]), headers),
                    parts[4:],
                )
            else:
                repo, rest = self._repo(unquote(parts[2]), headers), []
            if not rest and method == "GET":
                self._model_info(repo, "main", query, headers)
            elif rest[:1] == ["revision"] and len(rest) == 2 and method == "GET":
                self._model_info(repo, unquote(rest[1]), query, headers)
            elif rest[:1] == ["tree"] and len(rest) >= 2 and method == "GET":
                path = "/".join(unquote(p) for p in rest[2:])
                self._tree(repo, unquote(rest[1]), path, query, headers)
            elif rest[:1] == ["paths-info"] and len(rest) == 2 and method == "POST":
                self._paths_info(repo, unquote(rest[1]), body, headers)
            elif rest == ["refs"] and method == "GET":
                self._refs(repo)
            elif rest[:1] == ["commits"] and len(rest) == 2 and method == "GET":
                self._commits(repo, unquote(rest[1]))
            else:
                raise _HttpError(404, f"no route {method} /{'/'.join(parts)}")
            return
        canonical = len(parts) >= 4 and parts[1] == "resolve" and self._canonical(parts[0])
        if canonical and method in ("GET", "HEAD"):
            repo = self._repo(unquote(parts[0]), headers)
            path = "/".join(unquote(p) for p in parts[3:])
            self._resolve(method, repo, unquote(parts[2]), path, headers)
            return
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            repo = self._repo(unquote(parts[0]) + "/" + unquote(parts[1]), headers)
            path = "/".join(unquote(p) for p in parts[4:])
            self._resolve(method, repo, unquote(parts[3]), path, headers)
            return
        raise _HttpError(404, f"no route {method} /{'/'.join(parts)}")

    # --- access ------------------------------------------------------------------------------

    def _canonical(self, segment: str) -> bool:
        """Whether ``segment`` names a repo without an org (``gpt2``), which the Hub serves at
        ``/api/models/gpt2`` and ``/gpt2/resolve/...``."""
        return self.hub.find(unquote(segment)) is not None

    def _repo(self, repo_id: str, headers: Mapping[str, str]) -> Repo:
        user = self.hub.user_for(headers)
        if user is False:
            raise _HttpError(401, "Invalid credentials in Authorization header")
        repo = self.hub.find(repo_id)
        if repo is None or (repo.private and not _may_read(repo, user)):
            # Over plain HTTP the client needs the code to raise RepositoryNotFoundError.
            raise _HttpError(
                401 if user is None else 404,
                "Repository not found",
                "RepoNotFound",
            )
        return repo

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise _HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def _check_file_access(self, repo: Repo, path: str, headers: Mapping[str, str]) -> None:
        if not repo.gated or path in PUBLIC_IN_GATED:
            return
        user = self.hub.user_for(headers)
        if not user or not _may_read(repo, user):
            raise _HttpError(
                403 if user else 401,
                f"Access to model {repo.repo_id} is restricted. You must have access to it and "
                "be authenticated to access it. Please log in.",
                "GatedRepo",
            )

    # --- endpoints ---------------------------------------------------------------------------

    def _whoami(self, headers: Mapping[str, str]) -> None:
        user = self.hub.user_for(headers)
        if not user:
            raise _HttpError(401, "Invalid user token")
        self._json(
            {
                "type": "user",
                "name": user,
                "orgs": [],
                "auth": {"accessToken": {"displayName": "test", "role": "read"}},
            }
        )

    def _model_info(
        self,
        repo: Repo,
        revision: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> None:
        commit = self._commit(repo, revision)
        card = _card_data(commit)
        asked = query.get("blobs", ["false"])[-1].lower() in ("1", "true")
        blobs = asked and self.hub.siblings == "blobs"
        siblings = []
        for path in sorted(commit.files):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                blob = commit.files[path]
                sibling.update(size=len(blob.data), blobId=blob.oid)
                if blob.lfs:
                    sibling["lfs"] = {
                        "size": len(blob.data),
                        "sha256": blob.sha256,
                        "pointerSize": 134,
                    }
            siblings.append(sibling)
        org = repo.repo_id.split("/")[0]
        info: dict[str, Any] = {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],  # noqa: S324
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": org,
            "sha": commit.sha,
            "lastModified": _iso(commit.date),
            "createdAt": _iso(_EPOCH),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": _tags(card),
            "library_name": card.get("library_name") if card else None,
            "pipeline_tag": card.get("pipeline_tag") if card else None,
        }
        if self.hub.siblings != "none":
            info["siblings"] = siblings
        if card is not None:
            info["cardData"] = card
        info.update(self.hub.info_extra.get(repo.repo_id, {}))
        expand = query.get("expand")
        if expand:
            info = {k: v for k, v in info.items() if k in expand or k in ("_id", "id")}
        self._json(info)

    def _tree(
        self,
        repo: Repo,
        revision: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
    ) -> None:
        commit = self._commit(repo, revision)
        recursive = query.get("recursive", ["false"])[-1].lower() in ("1", "true")
        expand = query.get("expand", ["false"])[-1].lower() in ("1", "true")
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        if prefix and not any(p.startswith(prefix) for p in commit.files):
            raise _HttpError(
                404,
                f"{path} does not exist on {revision}",
                "EntryNotFound",
                {"X-Repo-Commit": commit.sha},
            )
        entries: dict[str, dict[str, Any]] = {}
        for file_path in sorted(commit.files):
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :]
            dirs = rest.split("/")[:-1]
            for i in range(len(dirs) if recursive else min(1, len(dirs))):
                folder = prefix + "/".join(dirs[: i + 1])
                entries.setdefault(folder, _folder_entry(folder, commit, expand))
            if recursive or not dirs:
                entries[file_path] = _file_entry(file_path, commit.files[file_path], commit, expand)
        listing = [entries[k] for k in sorted(entries)]
        start = int(query.get("cursor", ["0"])[-1] or 0)
        page = listing[start : start + self.hub.page_size]
        extra = {}
        if start + self.hub.page_size < len(listing):
            params = f"recursive={str(recursive).lower()}&expand={str(expand).lower()}"
            next_url = (
                f"{self.hub.url}/api/models/{repo.repo_id}/tree/{quote(revision, safe='')}"
                + (f"/{quote(path, safe='')}" if path else "")
                + f"?{params}&cursor={start + self.hub.page_size}"
            )
            extra["Link"] = f'<{next_url}>; rel="next"'
        self._json(page, extra)

    def _paths_info(
        self, repo: Repo, revision: str, body: bytes, headers: Mapping[str, str]
    ) -> None:
        commit = self._commit(repo, revision)
        form = parse_qs(body.decode(), keep_blank_values=True)
        expand = form.get("expand", ["false"])[-1].lower() in ("1", "true")
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.files:
                out.append(_file_entry(path, commit.files[path], commit, expand))
            elif any(p.startswith(path + "/") for p in commit.files):
                out.append(_folder_entry(path, commit, expand))
        self._json(out)

    def _refs(self, repo: Repo) -> None:
        def ref(kind: str, name: str, sha: str) -> dict[str, str]:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": sha}

        self._json(
            {
                "branches": [ref("heads", n, s) for n, s in sorted(repo.branches.items())],
                "tags": [ref("tags", n, s) for n, s in sorted(repo.tags.items())],
                "converts": [],
                "pullRequests": [],
            }
        )

    def _commits(self, repo: Repo, revision: str) -> None:
        commit: Commit | None = self._commit(repo, revision)
        out = []
        while commit is not None:
            out.append(
                {
                    "id": commit.sha,
                    "title": commit.title,
                    "message": "",
                    "authors": [{"user": repo.repo_id.split("/")[0]}],
                    "date": _iso(commit.date),
                }
            )
            commit = repo.commits.get(commit.parent) if commit.parent else None
        self._json(out)

    def _resolve(
        self, method: str, repo: Repo, revision: str, path: str, headers: Mapping[str, str]
    ) -> None:
        commit = self._commit(repo, revision)
        blob = commit.files.get(path)
        if blob is None:
            raise _HttpError(
                404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.sha}
            )
        self._check_file_access(repo, path, headers)
        size = len(blob.data)
        out = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{blob.etag}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if blob.lfs:
            out["X-Linked-Etag"] = f'"{blob.sha256}"'
            out["X-Linked-Size"] = str(size)
        wanted = _byte_range(headers.get("range"), size)
        if wanted == "unsatisfiable":
            raise _HttpError(
                416, "Range not satisfiable", None, {"Content-Range": f"bytes */{size}"}
            )
        status = 200
        data = blob.data
        if wanted is not None:
            first, last = wanted
            status = 206
            data = blob.data[first : last + 1]
            out["Content-Range"] = f"bytes {first}-{last}/{size}"
        pace = next((s for f, s in self.hub.slow.items() if f in self.path), 0.0)
        self._send(status, data, out, head=method == "HEAD", pace=pace)

    # --- responses ---------------------------------------------------------------------------

    def _json(self, payload: object, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._send(200, data, {"Content-Type": "application/json", **(headers or {})})

    def _error(self, method: str, e: _HttpError) -> None:
        out = {"Content-Type": "application/json", "X-Error-Message": e.message, **e.headers}
        if e.code:
            out["X-Error-Code"] = e.code
        self._send(e.status, json.dumps({"error": e.message}).encode(), out, head=method == "HEAD")

    def _send(
        self,
        status: int,
        data: bytes,
        headers: Mapping[str, str],
        *,
        head: bool = False,
        pace: float = 0.0,
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if head:
            return
        if pace <= 0:
            self.wfile.write(data)
            return
        steps = 20
        piece = -(-len(data) // steps) or 1
        for start in range(0, len(data), piece):
            time.sleep(pace / steps)
            self.wfile.write(data[start : start + piece])
            self.wfile.flush()


def _may_read(repo: Repo, user: str | None) -> bool:
    return bool(user) and (repo.users is None or user in repo.users)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """One ``bytes=`` range, clipped to the file; None for no (or an unparsable) Range header."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":
        n = int(last_text)
        if n == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        return "unsatisfiable"
    return first, min(last, size - 1)


def _card_data(commit: Commit) -> dict[str, Any] | None:
    blob = commit.files.get("README.md")
    if blob is None:
        return None
    text = blob.data.decode("utf-8", errors="replace")
    match = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", text, flags=re.DOTALL)
    if match is None:
        return None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _tags(card: Mapping[str, Any] | None) -> list[str]:
    if not card:
        return []
    tags = [str(t) for t in card.get("tags") or [] if isinstance(t, str | int | float)]
    if isinstance(card.get("license"), str):
        tags.append(f"license:{card['license']}")
    bases = card.get("base_model")
    relation = card.get("base_model_relation")
    for base in [bases] if isinstance(bases, str) else bases or []:
        if isinstance(base, str):
            tags.append(f"base_model:{base}")
            if isinstance(relation, str):
                tags.append(f"base_model:{relation}:{base}")
    return tags


def _file_entry(path: str, blob: Blob, commit: Commit, expand: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "oid": blob.oid, "size": len(blob.data), "path": path}
    if blob.lfs:
        entry["lfs"] = {"oid": blob.sha256, "size": len(blob.data), "pointerSize": 134}
    if expand:
        entry["lastCommit"] = {"id": commit.sha, "title": commit.title, "date": _iso(commit.date)}
    return entry


def _folder_entry(path: str, commit: Commit, expand: bool) -> dict[str, Any]:
    oid = hashlib.sha1(f"tree {commit.sha} {path}".encode()).hexdigest()  # noqa: S324
    entry: dict[str, Any] = {"type": "directory", "oid": oid, "path": path}
    if expand:
        entry["lastCommit"] = {"id": commit.sha, "title": commit.title, "date": _iso(commit.date)}
    return entry


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
