"""Who is asking, and what they may do with a repo.

A request names its caller with ``Authorization: Bearer <token>`` (huggingface_hub sends the
token it was given, ``HF_TOKEN``, or the stored login). Roles are ``read`` < ``write`` <
``admin``; a caller's role on a repo is the strongest of:

- ``admin`` for a site admin (and the server's ``MODELTRUST_ADMIN_TOKEN``), and on repos of the
  caller's own namespace;
- the caller's membership role in the organisation that owns the repo;
- a grant on the repo itself (a collaborator, or an accepted access request to a gated repo);

then capped by the token's own role: a ``read`` token only reads, a ``write`` token does all
its user may. Pulled-through mirrors are
public copies of public upstream repos: anyone who may read this hub may read them.

A private repo does not exist for whoever may not read it (``404 RepoNotFound``, as on the
Hub), so names cannot be probed. Tokens are looked up once and remembered for
``token_cache_s`` seconds (a revoked token stops working within that bound), so cached
downloads cost no database query.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass

from modeltrust.server.responses import HubError
from modeltrust.server.settings import Settings
from modeltrust.storage.accounts import (
    Accounts,
    Principal,
    Role,
    rank,
    stronger,
    token_digest,
    weaker,
)
from modeltrust.storage.hosted import RepoInfo

_TOUCH_EVERY = 60.0
"""Seconds between two records of a token's last use."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller of one request: a principal, the server's admin token, or nobody."""

    principal: Principal | None = None
    server_admin: bool = False

    @property
    def anonymous(self) -> bool:
        return self.principal is None and not self.server_admin

    @property
    def name(self) -> str | None:
        return self.principal.name if self.principal else None

    @property
    def site_admin(self) -> bool:
        return self.server_admin or (self.principal is not None and self.principal.user.site_admin)


ANONYMOUS = Caller()


class Access:
    def __init__(self, accounts: Accounts, settings: Settings) -> None:
        self.accounts = accounts
        self.settings = settings
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._touched: dict[int, float] = {}

    # --- identity -------------------------------------------------------------------------------

    def caller(self, authorization: str | None) -> Caller:
        """The caller an ``Authorization`` header names; ``401`` for a token that is unknown,
        revoked or expired (a wrong token must not silently read as anonymous)."""
        if not authorization:
            return ANONYMOUS
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise HubError(
                401,
                "The Authorization header must be 'Bearer <token>'. Set HF_TOKEN to a token of "
                "this hub ('modeltrust tokens create').",
            )
        admin = self.settings.admin_token
        # Bytes: compare_digest refuses non-ASCII text, and a header may carry any byte.
        raw = value.encode("utf-8", "surrogateescape")
        if admin and hmac.compare_digest(raw, admin.encode()):
            return Caller(server_admin=True)
        principal = self._lookup(value)
        if principal is None:
            raise HubError(
                401,
                "Invalid credentials in Authorization header: this token is unknown to this hub, "
                "revoked or expired. Ask an admin for a new one ('modeltrust tokens create').",
            )
        return Caller(principal)

    def _lookup(self, value: str) -> Principal | None:
        digest = token_digest(value)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            principal = cached[1]
        else:
            principal = self.accounts.authenticate(value)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()  # tokens come from requests: bound what they can fill
                self._cache[digest] = (now + self.settings.token_cache_s, principal)
        if principal is not None and principal.token_id is not None:
            self._touch(principal.token_id, now)
        return principal

    def _touch(self, token_id: int, now: float) -> None:
        with self._lock:
            if now - self._touched.get(token_id, -_TOUCH_EVERY) < _TOUCH_EVERY:
                return
            self._touched[token_id] = now
        self.accounts.touch(token_id)

    def forget(self) -> None:
        """Drop remembered tokens (after a token or membership changed here)."""
        with self._lock:
            self._cache.clear()

    # --- rights ---------------------------------------------------------------------------------

    def role(self, caller: Caller, repo: RepoInfo, *, capped: bool = True) -> Role | None:
        """The caller's role on ``repo``; ``capped``: limited by the token's role."""
        if caller.site_admin:
            return "admin"
        principal = caller.principal
        if principal is None:
            return None
        namespace = repo.namespace
        role: Role | None = None
        if namespace is not None and namespace.lower() == principal.name.lower():
            role = "admin"
        elif namespace is not None:
            role = principal.org_role(namespace)
        if rank(role) < rank("admin") and repo.kind == "hosted":
            role = stronger(role, self.accounts.repo_role(repo.key, principal.name))
        # A read token reads, whatever its user may do; a write token does all its user may.
        return weaker(role, "read") if capped and principal.scope == "read" else role

    def check_anonymous(self, caller: Caller) -> None:
        if caller.anonymous and not self.settings.anonymous_read:
            raise HubError(
                401,
                "This hub does not serve anonymous requests: set HF_TOKEN to a token of this hub "
                "(an admin creates one with 'modeltrust tokens create').",
            )

    def require_read(self, caller: Caller, repo: RepoInfo) -> Role | None:
        """Raise unless the caller may see ``repo``; a private repo is ``404`` to others."""
        self.check_anonymous(caller)
        role = self.role(caller, repo)
        if repo.private and role is None:
            raise not_found(repo.repo_id)
        return role

    def require(self, caller: Caller, repo: RepoInfo, needed: Role, action: str) -> None:
        """Raise unless the caller holds ``needed`` on ``repo``. ``action`` is what is asked,
        as a verb phrase ending before the repo's name ("push to", "delete")."""
        role = self.require_read(caller, repo)
        if role is None and not repo.private and not caller.anonymous:
            role = "read"  # a public repo: anyone with a token may read it (and open a PR)
        if rank(role) >= rank(needed):
            return
        if caller.anonymous:
            raise HubError(
                401,
                f"To {action} {repo.repo_id} you need a token with {needed} access: set HF_TOKEN.",
            )
        principal = caller.principal
        if (
            principal is not None
            and principal.scope == "read"
            and rank(self.role(caller, repo, capped=False)) >= rank(needed)
        ):
            raise HubError(
                403,
                f"To {action} {repo.repo_id} you need a write token; the token "
                f"'{principal.token_name}' is read-only. Create a write token "
                "('modeltrust tokens create --role write').",
            )
        raise HubError(
            403,
            f"{caller.name or 'This caller'} may not {action} {repo.repo_id}: it needs {needed} "
            f"access, which an admin of '{repo.namespace}' can give.",
        )

    def reviewer(self, caller: Caller, repo: RepoInfo) -> bool:
        """Whether the caller reviews ``repo``'s quarantined revisions (its admins)."""
        return self.role(caller, repo, capped=False) == "admin"

    def may_create_in(self, caller: Caller, namespace: str) -> bool:
        if caller.site_admin:
            return True
        principal = caller.principal
        if principal is None:
            return False
        if rank(principal.scope) < rank("write"):
            return False
        if namespace.lower() == principal.name.lower():
            return True
        return rank(principal.org_role(namespace)) >= rank("write")


def not_found(repo_id: str) -> HubError:
    """404 ``RepoNotFound``. The message is the Hub's own short one: huggingface_hub's error
    already says to check the id, the repo type and the token, and adds a server message only
    when it says more (its tests compare the whole text)."""
    del repo_id
    return HubError(404, "Repository not found", "RepoNotFound")
