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
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from fastapi import Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from modeltrust.server.ingest import Ingest, IngestRunning
from modeltrust.server.request import Gate, Incoming
from modeltrust.server.responses import HubError, header_text
from modeltrust.server.service import GovernedHub
from modeltrust.storage.catalog import FileSpec, RevisionView
from modeltrust.storage.gitobjects import pointer_size

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
    ranged: str | None = None,
    block: bool = True,
    waited: Ingest | None = None,
    authorization: str | None = None,
    upload: IO[bytes] | None = None,
) -> Response:
    """The response to one request; ``ranged``: it asks for a byte range (``Range``).
    ``block`` and ``waited``: see :meth:`GovernedHub.verdict` (the async route waits for a
    first ingest itself, holding no thread). ``upload``: a commit's payload, spooled."""
    from modeltrust.server.registry_api import dispatch as registry_dispatch

    parts = raw_path.split("?", 1)[0].split("/")[1:]
    params = parse_qs(query, keep_blank_values=True)
    registry = hub.registry
    caller = registry.access.caller(authorization)
    request = Incoming(
        method,
        parts,
        params,
        body,
        base_url,
        caller,
        upload,
        range_header=ranged,
        gate=Gate(block, waited),
    )
    answer = registry_dispatch(registry, request)
    if answer is not None:
        return answer
    registry.access.check_anonymous(caller)
    if parts[:2] == ["api", "models"] and len(parts) >= 3:
        for repo_id, rest in candidates(parts[2:]):
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
        for repo_id, rest in candidates(parts):
            if len(rest) >= 3 and rest[0] == "resolve":
                path = "/".join(unquote(p) for p in rest[2:])
                row = hub.revision(repo_id, unquote(rest[1]))
                spec = row.file(path)
                if spec is None:
                    raise HubError(
                        404,
                        f"Entry not found: '{path}' is not in {row.repo_id}@{row.sha}.",
                        "EntryNotFound",
                        {"X-Repo-Commit": row.sha},
                    )
                return serve_file(hub, row.repo_id, row, spec, request)
    raise HubError(
        404,
        f"modeltrust serve has no route for {method} {raw_path}: it serves the Hub's model "
        "routes (/api/models/..., /REPO/resolve/REVISION/PATH) and /api/modeltrust/...; check "
        "the URL, and that HF_ENDPOINT has no path after the host.",
    )


def candidates(segments: list[str]) -> Iterator[tuple[str, list[str]]]:
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
    info.update(id=row.repo_id, modelId=row.repo_id, sha=row.sha, siblings=siblings(row))
    expand = params.get("expand")
    if expand:
        info = {k: v for k, v in info.items() if k in expand or k in ("_id", "id")}
    return JSONResponse(info)


def siblings(row: RevisionView) -> list[dict[str, Any]]:
    out = []
    for f in row.files:
        sibling: dict[str, Any] = {"rfilename": f.path, "size": f.size, "blobId": f.git_oid}
        if f.lfs and f.sha256:
            sibling["lfs"] = {
                "size": f.size,
                "sha256": f.sha256,
                "pointerSize": pointer_size(f.size),
            }
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
    row = hub.revision(repo_id, revision)
    url = f"{base_url.rstrip('/')}/api/models/{quote(row.repo_id)}/tree/{row.sha}"
    return render_tree(row, path, params, url, hub.settings.tree_page_size)


LastCommits = Callable[[list[str]], dict[str, dict[str, str]]]
"""For an ``expand`` listing: each path's last commit (``id``, ``title``, ``date``)."""


def render_tree(
    row: RevisionView,
    path: str,
    params: dict[str, list[str]],
    url: str,
    page_size: int,
    last_commits: LastCommits | None = None,
) -> Response:
    """One page of the folder's entries, sorted by path; ``Link: <...>; rel="next"`` names the
    next page, as the Hub does and as ``list_repo_tree`` follows. ``url`` is the tree's URL
    pinned to the commit, so a branch that moves between two pages cannot mix two listings."""
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
    page = [entries[k] for k in keys[start : start + page_size]]
    if last_commits is not None and page:
        found = last_commits([e["path"] for e in page])
        for entry in page:
            if entry["path"] in found:
                entry["lastCommit"] = found[entry["path"]]
    headers = {}
    if start + page_size < len(keys):
        query = {
            "recursive": str(recursive).lower(),
            "cursor": _cursor(keys[start + page_size - 1]),
        }
        if "expand" in params:
            query["expand"] = params["expand"][-1]
        folder = "/" + quote(path, safe="") if path else ""
        headers["Link"] = f'<{url}{folder}?{urlencode(query)}>; rel="next"'
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
    return render_paths_info(row, form.get("paths", []))


def render_paths_info(
    row: RevisionView, paths: list[str], last_commits: LastCommits | None = None
) -> Response:
    out = []
    seen = set()
    for path in paths:
        path = path.strip("/")
        if path in seen:
            continue
        seen.add(path)
        spec = row.file(path)
        if spec is not None:
            out.append(_file(spec))
        elif any(f.path.startswith(path + "/") for f in row.files):
            out.append(_folder(path, row.sha))
    if last_commits is not None and out:
        found = last_commits([e["path"] for e in out])
        for entry in out:
            if entry["path"] in found:
                entry["lastCommit"] = found[entry["path"]]
    return JSONResponse(out)


def _file(f: FileSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "oid": f.git_oid, "size": f.size, "path": f.path}
    if f.lfs and f.sha256:
        entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": pointer_size(f.size)}
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


def serve_file(
    hub: GovernedHub,
    repo_id: str,
    row: RevisionView,
    spec: FileSpec,
    request: Incoming,
    *,
    bypass_gate: bool = False,
    prefix: str = "",
) -> Response:
    """A file's bytes, once the revision's verdict allows it. ``bypass_gate``: the caller may
    read the revision whatever its audit says (its uploader, the repo's admins)."""
    verdict: str | None
    if bypass_gate:
        audit = hub.catalog.latest_audit(row.repo_id, row.sha, hub.policy_key)
        verdict, reasons = (audit.verdict, audit.reasons) if audit else (None, ())
    else:
        audit = hub.verdict(row, block=request.gate.block, waited=request.gate.waited)
        verdict, reasons = audit.verdict, audit.reasons
    spec = hub.revision_file(row, spec)  # now stored, with its SHA-256
    report = f"{request.base_url}api/modeltrust/audits/{prefix}{repo_id}/{row.sha}/html"
    if verdict == "fail" and not bypass_gate:
        first = reasons[0].rstrip(".") if reasons else "no reason recorded"
        first = first.removeprefix("fail: ")
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise HubError(
            403,
            f"modeltrust blocked {repo_id}@{row.sha[:12]}: its audit under policy "
            f"'{hub.policy.name}' found {first}{more}. Read the report at {report}; to allow "
            "the model anyway, add a reviewed exception to the policy.",
            "GatedRepo",
            {"X-Repo-Commit": row.sha},
        )
    if spec.sha256 is None or not hub.blob_stored(spec):  # pragma: no cover - see verdict()
        raise HubError(503, f"'{spec.path}' of {repo_id}@{row.sha} is not stored yet; retry.")
    etag = spec.sha256 if spec.lfs and spec.sha256 else spec.git_oid
    headers = {
        "X-Repo-Commit": row.sha,
        "ETag": f'"{etag}"',
        "Content-Type": "application/octet-stream",
        # Revalidated on every use: a re-audit can revoke a verdict, also for a commit URL, so
        # no cache in between may answer for the gate. (The client keeps its own copy by ETag.)
        "Cache-Control": "no-cache",
        "X-Modeltrust-Verdict": verdict or "pending",
    }
    if spec.lfs:
        headers["X-Linked-Etag"] = f'"{etag}"'
        headers["X-Linked-Size"] = str(spec.size)
    if verdict == "warn" and not bypass_gate:
        first = reasons[0].rstrip(".") if reasons else "see the report"
        headers["X-HF-Warning"] = header_text(
            f"modeltrust; {repo_id}@{row.sha[:12]} passed with warnings: {first}. Report: {report}"
        )
    local = hub.blobs.local_path(spec.sha256)
    if spec.size <= SMALL_FILE and not request.ranged:
        # Configs, tokenizers, cards: read here, in the worker thread this request already
        # runs in. FileResponse would hop to a thread for each of stat, open, read and close,
        # most of what a small download costs. HEAD gets the length and no body.
        if request.method == "HEAD":
            headers["Content-Length"] = str(spec.size)
            data = b""
        else:
            data = local.read_bytes() if local else hub.blobs.read(spec.sha256)
        headers["Accept-Ranges"] = "bytes"
        return Response(data, headers=headers, media_type="application/octet-stream")
    if local is not None:
        # Large files and ranges: streamed by FileResponse, from a stat taken here (one thread
        # hop fewer per request).
        response = FileResponse(
            local, headers=headers, media_type="application/octet-stream", stat_result=local.stat()
        )
        response.chunk_size = CHUNK
        return response
    return _stream(hub, spec, headers, request)


def _stream(
    hub: GovernedHub, spec: FileSpec, headers: dict[str, str], request: Incoming
) -> Response:
    """A blob that is not on this machine (an S3 store), streamed through, with one byte range
    when the client asks for one (``Range: bytes=A-B``, ``A-``, ``-N``)."""
    size = spec.size
    headers["Accept-Ranges"] = "bytes"
    span = _byte_range(request.range_header, size) if request.range_header else None
    if isinstance(span, str):  # unsatisfiable
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = span if span else (0, size - 1)
    length = max(0, end - start + 1)
    headers["Content-Length"] = str(length)
    status = 206 if span else 200
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD" or length == 0:
        return Response(status_code=status, headers=headers)
    assert spec.sha256 is not None  # noqa: S101 - checked by the caller
    return StreamingResponse(
        hub.blobs.open(spec.sha256, start, end),
        status_code=status,
        headers=headers,
        media_type="application/octet-stream",
    )


def _byte_range(header: str, size: int) -> tuple[int, int] | str | None:
    """One ``bytes=`` range as (first, last) byte; None for a header that is not one range
    (the whole file is sent, as the Hub does); ``"unsatisfiable"`` past the end."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if not first:
            count = int(last)
            return (max(0, size - count), size - 1) if count > 0 and size else "unsatisfiable"
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


async def route(request: Request) -> Response:
    """The catch-all route: read the body, then do the (blocking) work in a worker thread.

    A first pull's ingest is waited for here, on the event loop, not in a worker thread: the
    threads are shared by every request (anyio's default pool of 40), and requests waiting
    ``ingest_wait`` for ingests would starve cached downloads. A commit's payload (up to
    ``max_commit_bytes``, inline files in base64) is spooled to a temporary file as it
    arrives; every other body is read into memory, up to 1 MiB."""
    from starlette.concurrency import run_in_threadpool

    hub: GovernedHub = request.app.state.hub
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    path = raw.split("?", 1)[0]
    upload: IO[bytes] | None = None
    body = b""
    if request.method == "POST" and _COMMIT_PATH.search(path):
        upload = await _spool(request, hub.settings.max_commit_bytes)
    elif request.method in ("POST", "PUT", "DELETE"):
        body = await _body(request)
    args = (hub, request.method, raw, request.url.query, body, str(request.base_url))
    options: dict[str, Any] = {
        "ranged": request.headers.get("range"),
        "authorization": request.headers.get("authorization"),
        "upload": upload,
    }
    try:
        try:
            return await run_in_threadpool(dispatch, *args, block=False, **options)
        except IngestRunning as running:
            job = running.job
        await job.settle(hub.settings.ingest_wait)
        return await run_in_threadpool(dispatch, *args, waited=job, **options)
    finally:
        if upload is not None:
            upload.close()


_COMMIT_PATH = re.compile(r"^/api/(?:models|datasets)/.+/commit/[^/]+$")
MAX_BODY = 1 << 20
"""The largest request body read into memory (paths-info, preupload, LFS batch); the Hub's
clients send at most a few hundred KiB."""


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HubError(
                413,
                f"The request body is over {MAX_BODY // 1024} KiB; ask for fewer paths (or files) at a time.",
            )
    return body


async def _spool(request: Request, limit: int) -> IO[bytes]:
    """The body in a temporary file (memory up to 8 MiB), at most ``limit`` bytes."""
    from starlette.concurrency import run_in_threadpool

    spooled = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - closed by route()
    size = 0
    pending: list[bytes] = []
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)  # noqa: TRY301 - closes the spool below
            pending.append(chunk)
            if sum(map(len, pending)) >= 1 << 20:
                await run_in_threadpool(spooled.writelines, pending)
                pending = []
        if pending:
            await run_in_threadpool(spooled.writelines, pending)
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled


def _too_large(limit: int) -> HubError:
    return HubError(
        413,
        f"The commit is over {limit // 2**20} MiB of inline content: upload large files through "
        "LFS (huggingface_hub does for files over 10 MiB).",
    )
