"""Signing in to the review UI through an OpenID Connect provider: the authorization code flow
with PKCE against a provider this test runs on 127.0.0.1 (discovery, authorize, token, keys),
its ID tokens signed with an RSA key made here."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest

CLIENT_ID, CLIENT_SECRET = "modeltrust-hub", "client-secret-0123456789"


@dataclass
class Provider:
    url: str = ""
    user: str = "alice"
    claims: dict[str, Any] = field(default_factory=dict)
    """Claims to override in the next ID token (a wrong audience, nonce...)."""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)


@pytest.fixture
def provider() -> Iterator[Provider]:
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, {
                    "issuer": state.url,
                    "authorization_endpoint": f"{state.url}/authorize",
                    "token_endpoint": f"{state.url}/token",
                    "jwks_uri": f"{state.url}/jwks",
                })  # fmt: skip
            elif parts.path == "/jwks":
                self._json(200, {"keys": [key.as_dict(private=False)]})
            elif parts.path == "/authorize":
                q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                assert q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256"
                code = f"code-{len(state.codes)}"
                state.codes[code] = q
                back = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
                self.send_response(302)
                self.send_header("location", back)
                self.end_headers()
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            form = {
                k: v[-1]
                for k, v in parse_qs(
                    self.rfile.read(int(self.headers["content-length"])).decode()
                ).items()
            }
            basic = base64.b64decode(self.headers["authorization"].split()[1]).decode()
            asked = state.codes.pop(form.get("code", ""), None)
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            ).rstrip(b"=")
            if (
                basic != f"{CLIENT_ID}:{CLIENT_SECRET}"
                or asked is None
                or challenge.decode() != asked["code_challenge"]
            ):
                self._json(400, {"error": "invalid_grant"})
                return
            now = int(time.time())
            claims = {
                "iss": state.url, "aud": CLIENT_ID, "sub": f"sub-{state.user}",
                "iat": now, "exp": now + 300, "nonce": asked["nonce"],
                "preferred_username": state.user,
            } | state.claims  # fmt: skip
            token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, key)
            self._json(200, {"id_token": token, "access_token": "x", "token_type": "Bearer"})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def hub(start_registry: Any, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> Any:
    return start_registry(
        oidc_issuer=provider.url, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET
    )


def _sign_in(hub: Any, next_page: str = "/-/queue") -> tuple[httpx2.Client, httpx2.Response]:
    """Follow the flow as a browser would: the hub, the provider, back to the hub."""
    client = httpx2.Client(timeout=30, follow_redirects=False)
    login = client.get(f"{hub.url}/-/login", params={"next": next_page})
    assert "identity provider" in login.text
    start = client.get(f"{hub.url}/-/oidc/start", params={"next": next_page})
    assert start.status_code == 303
    authorize = client.get(start.headers["location"])
    assert authorize.status_code == 302
    return client, client.get(authorize.headers["location"])


def test_a_person_signs_in_through_the_identity_provider(hub: Any) -> None:
    client, back = _sign_in(hub)
    with closing(client):
        assert back.status_code == 200, back.text
        assert 'http-equiv="refresh" content="0; url=/-/queue"' in back.text
        queue = client.get(f"{hub.url}/-/queue")
        assert queue.status_code == 200 and "Signed in as <strong>alice</strong>" in queue.text
        session = next(
            t for t in hub.accounts.tokens("alice") if t.name == "browser session (OIDC)"
        )
        assert session.expires_at is not None
        page = client.get(f"{hub.url}/-/queue").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post(f"{hub.url}/-/logout", data={"csrf": csrf})  # signing out revokes it
        revoked = next(t for t in hub.accounts.tokens("alice") if t.id == session.id)
        assert revoked.revoked_at is not None
        assert client.get(f"{hub.url}/-/queue").status_code == 303
    created = [e for e in hub.state.review.trail if e.action == "token.create"]
    assert created[-1].actor == "oidc:alice"


@pytest.mark.parametrize(
    ("claims", "user", "expected"),
    [
        ({"aud": "another-client"}, "alice", "did not verify"),
        ({"nonce": "replayed"}, "alice", "did not verify"),
        ({"iss": "http://127.0.0.1:1"}, "alice", "did not verify"),
        ({"exp": 1}, "alice", "did not verify"),
        ({}, "mallory", "'mallory', who is not a user of this hub"),
    ],
)
def test_a_token_that_does_not_verify_or_an_unknown_user_is_refused(
    hub: Any, provider: Provider, claims: dict[str, Any], user: str, expected: str
) -> None:
    provider.claims, provider.user = claims, user
    client, back = _sign_in(hub)
    with closing(client):
        assert back.status_code in (401, 403) and expected in html.unescape(back.text)
        assert "mt_session" not in back.headers.get("set-cookie", "")


def test_a_callback_that_did_not_start_here_is_refused(hub: Any, provider: Provider) -> None:
    client, _back = _sign_in(hub)
    with closing(client):
        forged = client.get(
            f"{hub.url}/-/oidc/callback", params={"code": "code-9", "state": "someone-elses"}
        )
        assert forged.status_code == 400 and "did not start here" in forged.text
