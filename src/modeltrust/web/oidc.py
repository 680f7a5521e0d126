"""Signing in to the review UI through an organisation's identity provider (OpenID Connect).

The authorization code flow with PKCE (S256), a ``state`` and a ``nonce``:

1. ``/-/oidc/start`` sends the browser to the provider's authorization endpoint (found through
   its discovery document), keeping ``state``, ``nonce``, the PKCE verifier and the page to
   return to in a short-lived cookie signed with the hub's secret;
2. ``/-/oidc/callback`` checks ``state``, exchanges the code at the token endpoint (the client
   secret as HTTP basic authentication, and the PKCE verifier), and verifies the ID token: its
   signature against the provider's published keys (``joserfc``, from authlib), its issuer, its
   audience (this client), its expiry and its ``nonce``;
3. the user named by the configured claim (``preferred_username`` by default) must exist on the
   hub already (``modeltrust users add``): signing in never creates users or rights. The browser
   session is backed by a token of that user created for it (named ``browser session (OIDC)``,
   expiring with the session), so that revoking it, or the user, ends the session as for any
   token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx2

from modeltrust.errors import MissingExtraError
from modeltrust.server.responses import HubError
from modeltrust.server.settings import Settings

STATE_COOKIE = "mt_oidc"
_STATE_TTL = 600
_DISCOVERY_TTL = 3600.0


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class OidcLogin:
    def __init__(self, settings: Settings, secret: bytes) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id):
            raise ValueError("OIDC needs an issuer and a client id")
        try:
            import joserfc  # noqa: F401
            from authlib.oauth2.rfc7636 import create_s256_code_challenge  # noqa: F401
        except ImportError:
            raise MissingExtraError(
                "Signing in through OIDC needs authlib: pip install 'modeltrust[oidc]'."
            ) from None
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret or ""
        self.claim = settings.oidc_username_claim
        self.redirect_url = settings.oidc_redirect_url
        self.timeout = settings.upstream_timeout
        self._secret = hashlib.sha256(b"oidc-state\n" + secret).digest()
        self._lock = threading.Lock()
        self._provider: tuple[float, Provider] | None = None
        self._keys: tuple[float, Any] | None = None

    # --- the provider ---------------------------------------------------------------------------

    def provider(self) -> Provider:
        now = time.monotonic()
        with self._lock:
            if self._provider is not None and self._provider[0] > now:
                return self._provider[1]
        found = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        if str(found.get("issuer", "")).rstrip("/") != self.issuer:
            raise HubError(
                502,
                f"The identity provider at {self.issuer} names itself "
                f"'{found.get('issuer')}': check --oidc-issuer.",
            )
        try:
            provider = Provider(
                str(found["issuer"]),  # as the provider writes it in its tokens, "/" and all
                str(found["authorization_endpoint"]),
                str(found["token_endpoint"]),
                str(found["jwks_uri"]),
            )
        except KeyError as e:
            raise HubError(
                502, f"The identity provider's discovery document has no {e.args[0]}."
            ) from None
        with self._lock:
            self._provider = (now + _DISCOVERY_TTL, provider)
        return provider

    def _key_set(self, refresh: bool = False) -> Any:
        from joserfc.jwk import KeySet

        now = time.monotonic()
        with self._lock:
            if not refresh and self._keys is not None and self._keys[0] > now:
                return self._keys[1]
        keys = KeySet.import_key_set(self._get_json(self.provider().jwks_uri))  # type: ignore[arg-type]
        with self._lock:
            self._keys = (now + _DISCOVERY_TTL, keys)
        return keys

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = httpx2.get(url, timeout=self.timeout)
            answer.raise_for_status()
            data = answer.json()
        except (httpx2.HTTPError, ValueError) as e:
            raise HubError(
                502, f"The identity provider did not answer {url} as expected: {e}. Try again."
            ) from None
        if not isinstance(data, dict):
            raise HubError(502, f"The identity provider answered {url} with no JSON object.")
        return data

    # --- 1. start -------------------------------------------------------------------------------

    def start(self, callback_url: str, next_page: str) -> tuple[str, str]:
        """The URL to send the browser to, and the signed state cookie's value."""
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        redirect = self.redirect_url or callback_url
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect,
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        kept = {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "next": next_page,
            "redirect": redirect,
            "until": int(time.time()) + _STATE_TTL,
        }
        return f"{self.provider().authorization_endpoint}?{urlencode(query)}", self._sign(kept)

    # --- 2. the callback ------------------------------------------------------------------------

    def finish(self, cookie: str, state: str, code: str, error: str) -> tuple[str, str]:
        """The hub user name the provider vouches for, and the page to return to."""
        kept = self._unsign(cookie)
        if kept is None or not hmac.compare_digest(str(kept["state"]).encode(), state.encode()):
            raise HubError(400, "This sign-in did not start here, or took too long: start again.")
        if error:
            raise HubError(401, f"The identity provider refused the sign-in: {error}.")
        if not code:
            raise HubError(400, "The identity provider sent no code back: start again.")
        tokens = self._exchange(code, str(kept["verifier"]), str(kept["redirect"]))
        claims = self._verify(str(tokens.get("id_token", "")), str(kept["nonce"]))
        name = claims.get(self.claim)
        if not isinstance(name, str) or not name:
            raise HubError(
                403,
                f"The identity provider's ID token has no '{self.claim}' claim to name a hub user "
                "by; set --oidc-username-claim to one it sends.",
            )
        return name, str(kept["next"])

    def _exchange(self, code: str, verifier: str, redirect: str) -> dict[str, Any]:
        try:
            answer = httpx2.post(
                self.provider().token_endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect,
                    "code_verifier": verifier,
                },
                auth=(self.client_id, self.client_secret),
                headers={"accept": "application/json"},
                timeout=self.timeout,
            )
            data = answer.json()
        except (httpx2.HTTPError, ValueError) as e:
            raise HubError(502, f"The identity provider's token endpoint failed: {e}.") from None
        if answer.status_code != 200 or not isinstance(data, dict):
            detail = data.get("error") if isinstance(data, dict) else answer.status_code
            raise HubError(401, f"The identity provider refused the code: {detail}. Start again.")
        return data

    def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwt import JWTClaimsRegistry

        if not id_token:
            raise HubError(401, "The identity provider sent no ID token.")
        try:
            try:
                token = jwt.decode(id_token, self._key_set(), algorithms=["RS256", "ES256"])
            except JoseError:  # the provider may have rotated its keys
                token = jwt.decode(
                    id_token, self._key_set(refresh=True), algorithms=["RS256", "ES256"]
                )
            claims = token.claims
            JWTClaimsRegistry(
                leeway=60,  # clocks differ a little between the provider and this hub
                iss={"essential": True, "value": self.provider().issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(claims)
        except (JoseError, ValueError) as e:
            raise HubError(
                401, f"The ID token did not verify ({type(e).__name__}: {e}); sign-in refused."
            ) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise HubError(
                401,
                "The ID token did not verify (it names several audiences and this hub is not "
                "its authorized party); sign-in refused.",
            )
        return dict(token.claims)

    # --- the state cookie -----------------------------------------------------------------------

    def _sign(self, data: dict[str, Any]) -> str:
        raw = base64.urlsafe_b64encode(json.dumps(data, sort_keys=True).encode()).decode()
        mac = hmac.new(self._secret, raw.encode(), hashlib.sha256).hexdigest()
        return f"{raw}.{mac}"

    def _unsign(self, value: str) -> dict[str, Any] | None:
        raw, _, mac = value.rpartition(".")
        expected = hmac.new(self._secret, raw.encode(), hashlib.sha256).hexdigest()
        if not raw or not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        except ValueError:
            return None
        if not isinstance(data, dict) or int(data.get("until", 0)) < time.time():
            return None
        return data


def session_expiry(settings: Settings) -> datetime:
    return datetime.now(UTC) + timedelta(hours=settings.session_hours)
