"""LFS transfers: ``PUT`` of an object to the signed URL the batch answer gave, and ``verify``.

The upload is streamed: the event loop receives the body while a worker thread hashes and
writes the previous megabytes, so a large upload costs about what writing the bytes costs.
Nothing is visible before the whole object is in and its SHA-256 and size match the ones signed
into the URL (:class:`~modeltrust.storage.blobs.BlobWriter`); a connection cut mid-way leaves
nothing behind. The answer does not wait for the disk: the object is flushed in the background,
and the commit that first references it waits for that flush, so what a commit acknowledges
survives a power cut.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modeltrust.errors import IntegrityError
from modeltrust.server.responses import HubError
from modeltrust.server.service import GovernedHub
from modeltrust.storage.blobs import BlobWriter

router = APIRouter(prefix="/api/modeltrust/lfs")
_BATCH = 8 << 20
"""Bytes handed to the writer thread at a time."""
_IN_FLIGHT = 64 << 20
"""Bytes of one upload received and not yet written, at most (memory per upload)."""


def _key_and_oid(request: Request, prefix: str) -> tuple[str, str]:
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    rest = raw.split("?", 1)[0].removeprefix(prefix)
    key, _, oid = rest.rpartition("/")
    return unquote(key), oid.lower()


@router.put("/upload/{_rest:path}")
async def upload(request: Request, _rest: str) -> Response:
    hub: GovernedHub = request.app.state.hub
    key, oid = _key_and_oid(request, "/api/modeltrust/lfs/upload/")
    params = {k: v[-1] for k, v in parse_qs(request.url.query).items()}
    size, user = hub.registry.check_upload(key, oid, params)
    if await run_in_threadpool(hub.blobs.size, oid) == size:
        async for _chunk in request.stream():  # already stored: read and drop the body
            pass
        await run_in_threadpool(hub.registry.record_upload, key, oid, size, user)
        return Response(status_code=200)
    writer = await run_in_threadpool(
        partial(
            hub.blobs.writer,
            expected_sha256=oid,
            expected_size=size,
            label=f"LFS object {oid}",
            git_oid=False,
        )
    )
    try:
        await _receive(request, writer)
        # Verified, then flushed to the disk in the background: a commit that references the
        # object waits for that flush (BlobStore.settle) before it lands.
        await run_in_threadpool(partial(writer.finish, flush_later=True))
    except IntegrityError as e:
        raise HubError(400, str(e)) from None
    finally:
        await run_in_threadpool(writer.abort)
    await run_in_threadpool(hub.registry.record_upload, key, oid, size, user)
    return Response(status_code=200)


async def _receive(request: Request, writer: BlobWriter) -> None:
    """Pass the body to ``writer`` in batches, in order, on a thread of its own. The event loop
    never waits for the writer unless :data:`_IN_FLIGHT` bytes are queued: uvicorn stops reading
    the socket while the app does not ask for more, so waiting on each write would stall the
    transfer."""
    loop = asyncio.get_running_loop()
    queued: deque[asyncio.Future[None]] = deque()
    pending: list[bytes] = []
    held = 0
    with ThreadPoolExecutor(1, thread_name_prefix="lfs-upload") as lane:
        try:
            async for chunk in request.stream():
                pending.append(chunk)
                held += len(chunk)
                if held >= _BATCH:
                    queued.append(loop.run_in_executor(lane, _write, writer, pending))
                    pending, held = [], 0
                    while len(queued) * _BATCH > _IN_FLIGHT:
                        await queued.popleft()
            if pending:
                queued.append(loop.run_in_executor(lane, _write, writer, pending))
            while queued:
                await queued.popleft()
        finally:
            for future in queued:  # the client went away, or a write failed: drop the rest
                future.cancel()


def _write(writer: BlobWriter, chunks: list[bytes]) -> None:
    # One call for the batch: a single writev, and the hash of its megabytes in another thread
    # meanwhile, with no copy to join the chunks first.
    writer.write_many(chunks)


@router.post("/verify/{_rest:path}")
async def verify(request: Request, _rest: str) -> Response:
    hub: GovernedHub = request.app.state.hub
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    key = unquote(raw.split("?", 1)[0].removeprefix("/api/modeltrust/lfs/verify/"))
    body = await request.json()
    oid, size = body.get("oid"), body.get("size")
    if not isinstance(oid, str) or not isinstance(size, int):
        raise HubError(422, "verify needs {oid, size}.")

    def check() -> None:
        registry = hub.registry
        caller = registry.access.caller(request.headers.get("authorization"))
        repo = registry.readable(caller, key)
        registry.verify(caller, repo, oid, size)

    await run_in_threadpool(check)
    return JSONResponse({"ok": True})
