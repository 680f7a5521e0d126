"""The review UI, served by ``modeltrust serve`` in the same process and with the same
accounts as the Hub API: a catalogue, each repo's report, lineage and revisions, the review
queue, and the audit trail (see :mod:`.routes`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from modeltrust.server.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """The governed hub with its review UI."""
    from modeltrust.server.app import create_app as create_hub
    from modeltrust.web.routes import router

    app = create_hub(settings, routers=[router])
    app.state.oidc = None
    if settings.oidc_issuer:
        from modeltrust.web.oidc import OidcLogin

        app.state.oidc = OidcLogin(settings, app.state.hub.registry.signing_key)
    return app
