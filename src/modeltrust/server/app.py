"""``create_app(settings)``: the governed hub as an ASGI application (FastAPI).

Opening the app opens the store (migrating the database and removing partial blobs left by a
crash) so a misconfiguration fails at start-up, not on the first request.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from modeltrust import __version__
from modeltrust.errors import IntegrityError, ModelTrustError, RegistryError, StorageError
from modeltrust.server import audit_api, hub_api, lfs_api
from modeltrust.server.ingest import IngestFailedError, IngestPendingError
from modeltrust.server.responses import HubError, error_response
from modeltrust.server.service import GovernedHub, NotStoredError
from modeltrust.server.settings import Settings
from modeltrust.server.upstream import UpstreamError

log = logging.getLogger(__name__)


def create_app(settings: Settings, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The hub's application. ``routers``: more routes (the review UI), matched before the
    Hub API's catch-all route."""
    hub = GovernedHub(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            hub.close()

    app = FastAPI(
        title="modeltrust governed hub",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        **_no_telemetry(),
    )
    app.state.hub = hub
    app.include_router(audit_api.router)
    app.include_router(lfs_api.router)
    for router in routers:
        app.include_router(router)
    app.add_api_route(
        "/{full_path:path}",
        hub_api.route,
        methods=["GET", "HEAD", "POST", "PUT", "DELETE"],
        include_in_schema=False,
    )
    app.add_exception_handler(Exception, _handle)
    app.add_exception_handler(HubError, _handle)
    app.add_exception_handler(ModelTrustError, _handle)
    return app


NO_TELEMETRY = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}
"""FastAPI's built-in OpenTelemetry (0.165 and later), every part off: modeltrust sends no
telemetry, and ``FASTAPI_OTEL_AUTO_CONFIGURE=true`` in the environment must not turn on
exporters behind the operator's back."""


def _no_telemetry() -> dict[str, Any]:
    """``telemetry=NO_TELEMETRY`` for a FastAPI that has the argument; nothing for older ones
    (``fastapi>=0.110`` is the floor), which have no telemetry to turn off."""
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        return {"telemetry": dict(NO_TELEMETRY)}
    return {}


async def _handle(_request: Request, exc: Exception) -> Response:
    return error_response(to_hub_error(exc))


def to_hub_error(exc: Exception) -> HubError:
    """Every failure as the HTTP answer the client understands; nothing unverified is served."""
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, RegistryError):
        return HubError(exc.status, str(exc), exc.code)
    if isinstance(exc, IntegrityError):
        # GatedRepo makes huggingface_hub raise at once with our message, instead of retrying.
        return HubError(403, f"modeltrust refused to serve this revision: {exc}", "GatedRepo")
    if isinstance(exc, IngestPendingError):
        return HubError(503, str(exc), None, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, IngestFailedError):
        return HubError(403, str(exc), "GatedRepo")
    if isinstance(exc, NotStoredError):
        return HubError(409, str(exc))
    if isinstance(exc, UpstreamError):
        if exc.code is not None:
            return HubError(exc.status, str(exc), exc.code)
        return HubError(502, str(exc))
    if isinstance(exc, StorageError):
        return HubError(503, str(exc))
    if isinstance(exc, ModelTrustError):
        return HubError(500, str(exc))
    log.exception("internal error")  # the server's one broad catch: log it, answer 500
    return HubError(
        500,
        f"modeltrust serve hit an internal error ({type(exc).__name__}); nothing was served. "
        "Ask again; if it persists, report it to the modeltrust maintainers with the server's "
        "log, which has the details.",
    )
