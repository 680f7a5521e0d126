"""The Hub-compatible routes: model info, tree, paths-info, refs and ``resolve``.

Routing is done on the raw request path, one segment at a time, each decoded once: a revision
such as ``refs%2Fpr%2F1`` or a tree path ``sub%2Fdir`` must not be split at its encoded slashes
(see ``hub-api-contract.md``). Metadata is served as soon as a revision is listed; file bytes
only once its audit has a verdict the policy allows.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from fastapi import Request, Response
from fastapi.responses import FileResponse, JSONResponse

from modeltrust.server.ingest import Ingest, IngestRunning
from modeltrust.server.responses import HubError, header_text
from modeltrust.server.service import GovernedHub
from modeltrust.storage.catalog import FileSpec, RevisionView

CHUNK = 1 << 20
SMALL_FILE = 256 * 1024
"""Files up to this size are read in the request's worker thread and sent from memory."""
_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")


def dispatch(
    hub: GovernedHub,
    method: str,
    raw_path: str,
    query: str,
    body: bytes,
    base_url: str,
    *,
    ranged: bool = False,
    block: bool = True,
    waited: Ingest | None = None,
) -> Response:
    """The response to one request; ``ranged``: it asks for a byte range (``Range``).
    ``block`` and ``waited``: see :meth:`GovernedHub.verdict` (the async route waits for a
    first ingest itself, holding no thread)."""
    parts = raw_path.split("?", 1)[0].split("/")[1:]
    params = parse_qs(query, keep_blank_values=True)
    if parts[:2] == ["api", "models"] and len(parts) >= 3:
        for repo_id, rest in _candidates(parts[2:]):
            if not rest and method == "GET":
                return _info(hub, repo_id, "main", params)
            if rest[:1] == ["revision"] and len(rest) == 2 and method == "GET":
                return _info(hub, repo_id, unquote(rest[1]), params)
            if rest[:1] == ["tree"] and len(rest) >= 2 and method == "GET":
                path = "/".join(unquote(p) for p in rest[2:]).strip("/")
                return _tree(hub, repo_id, unquote(rest[1]), path, params, base_url)
            if rest[:1] == ["paths-info"] and len(rest) == 2 and method == "POST":
                return _paths_info(hub, repo_id, unquote(rest[1]), body)
            if rest == ["refs"] and method == "GET":
                return _refs(hub, repo_id)
    elif parts[:1] != ["api"] and method in ("GET", "HEAD"):
        for repo_id, rest in _candidates(parts):
            if len(rest) >= 3 and rest[0] == "resolve":
                path = "/".join(unquote(p) for p in rest[2:])
                gate = Gate(block, waited)
                return _resolve(
                    hub, repo_id, unquote(rest[1]), path, base_url, method, ranged, gate
                )
    raise HubError(
        404,
        f"modeltrust serve has no route for {method} {raw_path}: it serves the Hub's model "
        "routes (/api/models/..., /REPO/resolve/REVISION/PATH) and /api/modeltrust/...; check "
        "the URL, and that HF_ENDPOINT has no path after the host.",
    )


def _candidates(segments: list[str]) -> Iterator[tuple[str, list[str]]]:
    """The ways ``segments`` split into a repo id and the rest of a route: a canonical repo
    without an org (``gpt2``, as the Hub still serves them) first, then ``org/name``.

    The first reading whose rest matches a route wins. Only an ``org/name`` repo itself named
    like a route word (``refs``, ``tree``, ``resolve``...) is read the other way, and then only
    for a few URL shapes; the Hub has the same ambiguity."""
    if segments:
        yield repo_id_of(segments[:1]), segments[1:]
    if len(segments) >= 2:
        yield repo_id_of(segments[:2]), segments[2:]


def repo_id_of(raw: list[str]) -> str:
    """The repo id from its raw URL segments (``name`` or ``org``, ``name``), each decoded once
    and checked as the Hub checks them, so nothing odd reaches the upstream's URLs or the
    database."""
    names = [unquote(p) for p in raw]
    for name in names:
        if not _NAME.fullmatch(name) or "--" in name or ".." in name:
            raise HubError(
                404,
                f"'{'/'.join(names)}' is not a valid repo id: use letters, digits, '-', '_' and "
                "'.', as 'name' or 'org/name'.",
                "RepoNotFound",
            )
    return "/".join(names)


# --- metadata ------------------------------------------------------------------------------------


def _info(hub: GovernedHub, repo_id: str, revision: str, params: dict[str, list[str]]) -> Response:
    row = hub.revision(repo_id, revision)
    info: dict[str, Any] = dict(row.info)
    info.update(id=row.repo_id, modelId=row.repo_id, sha=row.sha, siblings=_siblings(row))
    expand = params.get("expand")
    if expand:
        info = {k: v for k, v in info.items() if k in expand or k in ("_id", "id")}
    return JSONResponse(info)


def _siblings(row: RevisionView) -> list[dict[str, Any]]:
    out = []
    for f in row.files:
        sibling: dict[str, Any] = {"rfilename": f.path, "size": f.size, "blobId": f.git_oid}
        if f.lfs and f.sha256:
            sibling["lfs"] = {"size": f.size, "sha256": f.sha256, "pointerSize": 134}
        out.append(sibling)
    return out


def _tree(
    hub: GovernedHub,
    repo_id: str,
    revision: str,
    path: str,
    params: dict[str, list[str]],
    base_url: str,
) -> Response:
    """One page of the folder's entries, sorted by path; ``Link: <...>; rel="next"`` names the
    next page, as the Hub does and as ``list_repo_tree`` follows. The link is pinned to the
    commit, so a branch that moves between two pages cannot mix two listings."""
    row = hub.revision(repo_id, revision)
    recursive = params.get("recursive", ["false"])[-1].lower() in ("1", "true")
    prefix = path + "/" if path else ""
    if prefix and not any(f.path.startswith(prefix) for f in row.files):
        raise HubError(
            404,
            f"'{path}' does not exist in {row.repo_id}@{row.sha}.",
            "EntryNotFound",
            {"X-Repo-Commit": row.sha},
        )
    entries: dict[str, dict[str, Any]] = {}
    for f in row.files:
        if not f.path.startswith(prefix):
            continue
        dirs = f.path[len(prefix) :].split("/")[:-1]
        for i in range(len(dirs) if recursive else min(1, len(dirs))):
            folder = prefix + "/".join(dirs[: i + 1])
            entries.setdefault(folder, _folder(folder, row.sha))
        if recursive or not dirs:
            entries[f.path] = _file(f)
    keys = sorted(entries)
    cursor = params.get("cursor", [""])[-1]
    start = bisect.bisect_right(keys, _after(cursor, row.repo_id)) if cursor else 0
    size = hub.settings.tree_page_size
    page = [entries[k] for k in keys[start : start + size]]
    headers = {}
    if start + size < len(keys):
        query = {"recursive": str(recursive).lower(), "cursor": _cursor(keys[start + size - 1])}
        if "expand" in params:
            query["expand"] = params["expand"][-1]
        folder = "/" + quote(path, safe="") if path else ""
        url = (
            f"{base_url.rstrip('/')}/api/models/{quote(row.repo_id)}/tree/{row.sha}{folder}"
            f"?{urlencode(query)}"
        )
        headers["Link"] = f'<{url}>; rel="next"'
    return JSONResponse(page, headers=headers)


def _cursor(last_path: str) -> str:
    """An opaque page cursor: the last path of the page before, base64url-encoded."""
    return base64.urlsafe_b64encode(last_path.encode()).decode().rstrip("=")


def _after(cursor: str, repo_id: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except ValueError as e:
        raise HubError(
            400,
            f"The tree cursor '{cursor[:40]}' for {repo_id} is not one this hub gave out; "
            "follow the Link header of the page before.",
        ) from e


def _paths_info(hub: GovernedHub, repo_id: str, revision: str, body: bytes) -> Response:
    row = hub.revision(repo_id, revision)
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    out = []
    for path in form.get("paths", []):
        path = path.strip("/")
        spec = row.file(path)
        if spec is not None:
            out.append(_file(spec))
        elif any(f.path.startswith(path + "/") for f in row.files):
            out.append(_folder(path, row.sha))
    return JSONResponse(out)


def _file(f: FileSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "oid": f.git_oid, "size": f.size, "path": f.path}
    if f.lfs and f.sha256:
        entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
    return entry


def _folder(path: str, sha: str) -> dict[str, Any]:
    oid = hashlib.sha1(f"tree {sha} {path}".encode()).hexdigest()  # noqa: S324 - an id, as git's
    return {"type": "directory", "oid": oid, "path": path}


def _refs(hub: GovernedHub, repo_id: str) -> Response:
    """The upstream's refs when it answers, else the branches and tags resolved so far."""
    from modeltrust.server.upstream import UpstreamError, strip_xet

    if hub.upstream is not None:
        try:
            return JSONResponse(strip_xet(hub.upstream.refs(repo_id)))
        except UpstreamError as e:
            if e.code is not None:
                raise
    known = hub.catalog.refs(repo_id)
    if not known:
        raise HubError(404, f"Repository '{repo_id}' is not stored here.", "RepoNotFound")
    branches = [
        {"name": r.name, "ref": f"refs/heads/{r.name}", "targetCommit": r.sha} for r in known
    ]
    return JSONResponse({"branches": branches, "tags": [], "converts": [], "pullRequests": []})


# --- file bytes: the gate ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gate:
    """How a resolve request waits for a first ingest: see :meth:`GovernedHub.verdict`."""

    block: bool = True
    waited: Ingest | None = None


def _resolve(
    hub: GovernedHub,
    repo_id: str,
    revision: str,
    path: str,
    base_url: str,
    method: str,
    ranged: bool,
    gate: Gate,
) -> Response:
    row = hub.revision(repo_id, revision)
    spec = row.file(path)
    if spec is None:
        raise HubError(
            404,
            f"Entry not found: '{path}' is not in {row.repo_id}@{row.sha}.",
            "EntryNotFound",
            {"X-Repo-Commit": row.sha},
        )
    audit = hub.verdict(row, block=gate.block, waited=gate.waited)
    spec = hub.revision(row.repo_id, row.sha).file(path) or spec  # now stored, with its SHA-256
    report = f"{base_url.rstrip('/')}/api/modeltrust/audits/{row.repo_id}/{row.sha}/html"
    if audit.verdict == "fail":
        first = audit.reasons[0].rstrip(".") if audit.reasons else "no reason recorded"
        first = first.removeprefix("fail: ")
        more = f" (and {len(audit.reasons) - 1} more)" if len(audit.reasons) > 1 else ""
        raise HubError(
            403,
            f"modeltrust blocked {row.repo_id}@{row.sha[:12]}: its audit under policy "
            f"'{hub.policy.name}' found {first}{more}. Read the report at {report}; to allow "
            "the model anyway, add a reviewed exception to the policy.",
            "GatedRepo",
            {"X-Repo-Commit": row.sha},
        )
    blob = hub.blob_path(spec)
    if blob is None:  # pragma: no cover - verdict() returns only once every blob is stored
        raise HubError(503, f"'{path}' of {row.repo_id}@{row.sha} is not stored yet; retry.")
    etag = spec.sha256 if spec.lfs and spec.sha256 else spec.git_oid
    headers = {
        "X-Repo-Commit": row.sha,
        "ETag": f'"{etag}"',
        "Content-Type": "application/octet-stream",
        # Revalidated on every use: a re-audit can revoke a verdict, also for a commit URL, so
        # no cache in between may answer for the gate. (The client keeps its own copy by ETag.)
        "Cache-Control": "no-cache",
    }
    if spec.lfs:
        headers["X-Linked-Etag"] = f'"{etag}"'
        headers["X-Linked-Size"] = str(spec.size)
    if audit.verdict == "warn":
        first = audit.reasons[0].rstrip(".") if audit.reasons else "see the report"
        headers["X-HF-Warning"] = header_text(
            f"modeltrust; {row.repo_id}@{row.sha[:12]} passed with warnings: {first}. "
            f"Report: {report}"
        )
    if spec.size <= SMALL_FILE and not ranged:
        # Configs, tokenizers, cards: read here, in the worker thread this request already
        # runs in. FileResponse would hop to a thread for each of stat, open, read and close,
        # most of what a small download costs. HEAD gets the length and no body.
        if method == "HEAD":
            headers["Content-Length"] = str(spec.size)
            data = b""
        else:
            data = blob.read_bytes()
        headers["Accept-Ranges"] = "bytes"
        return Response(data, headers=headers, media_type="application/octet-stream")
    # Large files and ranges: streamed by FileResponse, from a stat taken here (one thread hop
    # fewer per request).
    response = FileResponse(
        blob, headers=headers, media_type="application/octet-stream", stat_result=blob.stat()
    )
    response.chunk_size = CHUNK
    return response


async def route(request: Request) -> Response:
    """The catch-all route: read the body, then do the (blocking) work in a worker thread.

    A first pull's ingest is waited for here, on the event loop, not in a worker thread: the
    threads are shared by every request (anyio's default pool of 40), and requests waiting
    ``ingest_wait`` for ingests would starve cached downloads."""
    from starlette.concurrency import run_in_threadpool

    hub: GovernedHub = request.app.state.hub
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    body = await _body(request) if request.method == "POST" else b""
    args = (hub, request.method, raw, request.url.query, body, str(request.base_url))
    ranged = "range" in request.headers
    try:
        return await run_in_threadpool(dispatch, *args, ranged=ranged, block=False)
    except IngestRunning as running:
        job = running.job
    await job.settle(hub.settings.ingest_wait)
    return await run_in_threadpool(dispatch, *args, ranged=ranged, waited=job)


MAX_BODY = 1 << 20
"""The largest request body read (paths-info forms); the Hub's clients send a few KiB."""


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HubError(
                413,
                f"The request body is over {MAX_BODY // 1024} KiB; ask for fewer paths at a time.",
            )
    return body
