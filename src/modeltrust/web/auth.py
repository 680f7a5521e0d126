"""Logging in to the review UI: with an API token of the hub, once; a browser session after.

- The session cookie (``mt_session``) is random; only its SHA-256 is stored, with the token it
  was opened with: revoking or expiring the token ends the session, and a read token gives a
  session that only reads. It is ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` when the page
  came over HTTPS (or ``X-Forwarded-Proto: https``), and never outlives ``session_hours``.
- Every form that changes something carries the session's CSRF token, compared in constant
  time; the login form carries one from a short-lived cookie of its own (no login CSRF).
- The token typed in is never written to a page, a log or the database.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response

from modeltrust.server.access import ANONYMOUS, Caller
from modeltrust.server.responses import HubError
from modeltrust.server.service import GovernedHub
from modeltrust.storage.reviews import WebSession

COOKIE = "mt_session"
LOGIN_COOKIE = "mt_login"
PATH = "/-/"


@dataclass(frozen=True, slots=True)
class Visitor:
    caller: Caller
    session: WebSession | None
    cookie: str | None

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""


def visitor(request: Request) -> Visitor:
    """Who is looking: the session's caller, or anonymous."""
    hub: GovernedHub = request.app.state.hub
    value = request.cookies.get(COOKIE)
    if not value:
        return Visitor(ANONYMOUS, None, None)
    session = hub.review.reviews.session(value)
    if session is None:
        return Visitor(ANONYMOUS, None, None)
    principal = hub.registry.accounts.principal_of_token(session.token_id)
    if principal is None:  # revoked or expired since: the session ends with it
        hub.review.reviews.close_session(value)
        return Visitor(ANONYMOUS, None, None)
    return Visitor(Caller(principal), session, value)


def secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


def log_in(request: Request, response: Response, token: str, login_csrf: str) -> None:
    """Open a session for ``token`` (401 when it is not a live token of this hub)."""
    hub: GovernedHub = request.app.state.hub
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), login_csrf.encode()):
        raise HubError(400, "The login form expired; load the login page again.")
    principal = hub.registry.accounts.authenticate(token.strip()) if token.strip() else None
    if principal is None or principal.token_id is None:
        raise HubError(
            401,
            "That token is unknown to this hub, revoked or expired. Paste a token of this hub "
            "(an admin creates one with 'modeltrust tokens create').",
        )
    open_session(request, response, principal.token_id)
    response.delete_cookie(LOGIN_COOKIE, path=PATH)


def open_session(request: Request, response: Response, token_id: int) -> None:
    """A session backed by token ``token_id``, its cookie set on ``response``."""
    hub: GovernedHub = request.app.state.hub
    hours = hub.settings.session_hours
    value, _session = hub.review.reviews.open_session(token_id, timedelta(hours=hours))
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(hours * 3600),
        path=PATH,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


OIDC_TOKEN = "browser session (OIDC)"  # noqa: S105 - a name, not a secret
"""The name of the token an OIDC sign-in creates for its session."""


def log_out(request: Request, response: Response) -> None:
    """End the session; a token made for it (OIDC) is revoked with it."""
    hub: GovernedHub = request.app.state.hub
    value = request.cookies.get(COOKIE)
    if value:
        session = hub.review.reviews.session(value)
        hub.review.reviews.close_session(value)
        accounts = hub.registry.accounts
        if session is not None:
            principal = accounts.principal_of_token(session.token_id)
            if principal is not None and principal.token_name == OIDC_TOKEN:
                accounts.revoke_token(session.token_id)
                hub.registry.access.forget()
    response.delete_cookie(COOKIE, path=PATH)


def login_token(request: Request, response: Response) -> str:
    """The CSRF token of the login form, set as a short-lived cookie as well."""
    value = secrets.token_urlsafe(32)
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=600,
        path=PATH,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
    return value


def check_csrf(who: Visitor, given: str) -> None:
    if who.session is None:
        raise HubError(401, "Log in first: your session ended.")
    if not hmac.compare_digest(who.session.csrf.encode(), given.encode()):
        raise HubError(403, "This form is stale or was not sent by this site; load the page again.")
