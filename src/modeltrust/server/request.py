"""One request as the routes see it: who sent it, what it asks, and how it may wait."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any

from modeltrust.errors import InvalidRequestError
from modeltrust.server.access import ANONYMOUS, Caller
from modeltrust.server.ingest import Ingest


@dataclass(frozen=True, slots=True)
class Gate:
    """How a file request waits for a revision's first ingest: see
    :meth:`~modeltrust.server.service.GovernedHub.verdict`."""

    block: bool = True
    waited: Ingest | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    method: str
    parts: list[str]
    """The raw path's segments, each still percent-encoded (decoded once, where read)."""
    params: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = "/"
    """The URL the client used, up to the path; ends with ``/``."""
    caller: Caller = ANONYMOUS
    upload: IO[bytes] | None = None
    """A commit's payload, spooled to a temporary file by the route."""
    range_header: str | None = None
    """Its ``Range`` header, if any."""
    gate: Gate = field(default_factory=Gate)

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            raise InvalidRequestError("The request body is not JSON.") from None
        if not isinstance(data, dict):
            raise InvalidRequestError("The request body must be a JSON object.")
        return data

    def flag(self, name: str) -> bool:
        return self.params.get(name, ["0"])[-1].lower() in ("1", "true")

    @property
    def ranged(self) -> bool:
        """It asks for a byte range."""
        return self.range_header is not None
