"""Error responses in one shape, with the headers huggingface_hub turns into typed errors.

Body: ``{"ok": false, "error", "errors", "status", "code"}``; headers ``X-Error-Code``
(``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``) and
``X-Error-Message``, which the client puts in the exception it raises. Header values must be
latin-1 and one line, so messages are flattened and made ASCII-safe.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from fastapi.responses import JSONResponse


class HubError(Exception):
    """Raised by a route to answer with an error; carries the status, code and extra headers."""

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


def error_response(e: HubError) -> JSONResponse:
    # X-Request-Id: huggingface_hub puts it in the message of the error it raises, which is
    # what a user quotes when asking an admin to look at the server's log.
    headers = {
        "X-Error-Message": header_text(e.message),
        "X-Request-Id": uuid.uuid4().hex,
        **e.headers,
    }
    if e.code:
        headers["X-Error-Code"] = e.code
    body = {
        "ok": False,
        "error": e.message,
        "errors": [e.message],
        "status": e.status,
        "code": e.code or "Error",
    }
    return JSONResponse(body, status_code=e.status, headers=headers)


def header_text(text: str, limit: int = 2000) -> str:
    """``text`` as one line of printable ASCII (a header cannot carry control characters,
    which names taken from requests may hold)."""
    flat = " ".join(text.split())
    flat = "".join(c if " " <= c < "\x7f" else "?" for c in flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "~"
