"""Who may do what on the registry: users, organisations, memberships, API tokens, per-repo
grants and access requests to gated repos.

Users and organisations share one namespace (``alice/model`` and ``acme/model`` cannot both be
ambiguous): a name is one or the other. Roles are ``read`` < ``write`` < ``admin``. A token
carries a role too, the most it may do whatever its user may (a ``read`` token of an admin
cannot push). Only a token's SHA-256 is stored: tokens are long random strings, so the hash can
be neither reversed nor searched, and a copy of the database holds no usable token.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modeltrust.errors import UsageError
from modeltrust.storage.catalog import Catalog, aware
from modeltrust.storage.models import (
    AccessRequestRow,
    MembershipRow,
    OrgRow,
    RepoGrantRow,
    RepoRow,
    TokenRow,
    UserRow,
)

Role = Literal["read", "write", "admin"]
ROLES: tuple[Role, ...] = ("read", "write", "admin")
TOKEN_ROLES: tuple[Role, ...] = ("read", "write")
_RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}
NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")
"""A user or organisation name: what the Hub accepts as the first part of a repo id."""
TOKEN_PREFIX = "hf_"  # noqa: S105 - the prefix the Hub's tokens have, not a secret
_TOKEN_ALPHABET = string.ascii_letters + string.digits
_TOKEN_LENGTH = 37
"""Random characters after the prefix: 37 of 62 is about 220 bits."""


def rank(role: str | None) -> int:
    """-1 for no role; then read < write < admin."""
    return -1 if role is None else _RANK[role]


def weaker(a: Role | None, b: Role | None) -> Role | None:
    return a if rank(a) <= rank(b) else b


def stronger(a: Role | None, b: Role | None) -> Role | None:
    return a if rank(a) >= rank(b) else b


def token_digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


RESERVED = frozenset({"api", "datasets", "models", "spaces", "resolve", "static"})
"""Names a user or organisation may not take: the Hub's own path segments (a namespace called
``datasets`` would read as a dataset repo's prefix)."""


def check_name(name: str, what: str) -> str:
    if name.lower() in RESERVED:
        raise UsageError(
            f"'{name}' cannot name a {what}: the Hub's paths use it. Pick another name."
        )
    if not NAME.fullmatch(name) or "--" in name or ".." in name:
        raise UsageError(
            f"'{name}' is not a valid {what} name: use letters, digits, '-', '_' and '.' (not at "
            "either end, no '--' or '..'), at most 96 characters."
        )
    return name


def check_role(role: str, allowed: tuple[Role, ...] = ROLES) -> Role:
    if role not in allowed:
        raise UsageError(f"'{role}' is not a role; use one of {', '.join(allowed)}.")
    return role


@dataclass(frozen=True, slots=True)
class User:
    name: str
    fullname: str
    email: str | None
    site_admin: bool
    quota_bytes: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Org:
    name: str
    fullname: str
    quota_bytes: int | None
    private_by_default: bool
    created_at: datetime
    members: tuple[tuple[str, Role], ...]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    user: str
    name: str
    role: Role
    hint: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a user through one token (its role caps what the user may do)."""

    user: User
    token_id: int | None
    token_name: str
    scope: Role
    orgs: tuple[tuple[str, Role], ...]

    @property
    def name(self) -> str:
        return self.user.name

    def org_role(self, org: str) -> Role | None:
        for name, role in self.orgs:
            if name.lower() == org.lower():
                return role
        return None


@dataclass(frozen=True, slots=True)
class AccessRequest:
    id: int
    repo_id: str
    user: str
    email: str | None
    fullname: str
    status: str
    fields: str
    created_at: datetime
    decided_by: str | None


class Accounts:
    """The registry's people and their rights, in the catalogue's database."""

    def __init__(self, catalog: Catalog, actor: str | None = None) -> None:
        """``actor``: who the changes made through this object are recorded as in the audit
        trail (default: ``local:<the OS user>``, as for the admin CLI)."""
        self.catalog = catalog
        self.actor = actor or f"local:{_os_user()}"

    def _record(
        self,
        action: str,
        subject: str,
        details: dict[str, object] | None = None,
        *,
        actor: str | None = None,
    ) -> None:
        from modeltrust.storage.trail import Trail

        Trail(self.catalog).append(actor or self.actor, action, subject, "", details or {})

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self.catalog.transaction() as s:
            yield s

    # --- users ----------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        fullname: str = "",
        email: str | None = None,
        site_admin: bool = False,
    ) -> User:
        check_name(name, "user")
        with self._session() as s:
            self._free(s, name)
            row = UserRow(name=name, fullname=fullname, email=email, site_admin=site_admin)
            s.add(row)
            s.flush()
            user = _user(row)
        self._record("user.add", name, {"site_admin": site_admin})
        return user

    def update_user(
        self,
        name: str,
        *,
        fullname: str | None = None,
        email: str | None = None,
        site_admin: bool | None = None,
    ) -> User:
        with self._session() as s:
            row = self._user_row(s, name)
            if fullname is not None:
                row.fullname = fullname
            if email is not None:
                row.email = email or None
            if site_admin is not None:
                row.site_admin = site_admin
            user = _user(row)
        changed = {"fullname": fullname, "email": email, "site_admin": site_admin}
        self._record("user.update", name, {k: v for k, v in changed.items() if v is not None})
        return user

    def remove_user(self, name: str) -> None:
        with self._session() as s:
            s.delete(self._user_row(s, name))
        self._record("user.remove", name)

    def user(self, name: str) -> User | None:
        with self._session() as s:
            row = _find_user(s, name)
            return None if row is None else _user(row)

    def users(self) -> list[User]:
        with self._session() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]

    # --- organisations --------------------------------------------------------------------------

    def add_org(self, name: str, *, fullname: str = "", private_by_default: bool = False) -> Org:
        check_name(name, "organisation")
        with self._session() as s:
            self._free(s, name)
            row = OrgRow(name=name, fullname=fullname, private_by_default=private_by_default)
            s.add(row)
            s.flush()
            org = self._org(s, row)
        self._record("org.add", name, {"private_by_default": private_by_default})
        return org

    def remove_org(self, name: str) -> None:
        with self._session() as s:
            s.delete(self._org_row(s, name))
        self._record("org.remove", name)

    def org(self, name: str) -> Org | None:
        with self._session() as s:
            row = _find_org(s, name)
            return None if row is None else self._org(s, row)

    def orgs(self) -> list[Org]:
        with self._session() as s:
            return [self._org(s, r) for r in s.scalars(select(OrgRow).order_by(OrgRow.name))]

    def set_member(self, org: str, user: str, role: str) -> None:
        checked = check_role(role)
        with self._session() as s:
            org_row, user_row = self._org_row(s, org), self._user_row(s, user)
            row = _membership(s, org_row, user_row)
            if row is None:
                s.add(MembershipRow(org_pk=org_row.id, user_pk=user_row.id, role=checked))
            else:
                row.role = checked
        self._record("org.member", org, {"user": user, "role": checked})

    def remove_member(self, org: str, user: str) -> None:
        with self._session() as s:
            org_row, user_row = self._org_row(s, org), self._user_row(s, user)
            row = _membership(s, org_row, user_row)
            if row is None:
                raise UsageError(f"'{user}' is not a member of '{org}'.")
            s.delete(row)
        self._record("org.remove-member", org, {"user": user})

    def namespace(self, name: str) -> Literal["user", "org"] | None:
        """Whether ``name`` is a user's or an organisation's namespace (None: neither)."""
        with self._session() as s:
            if _find_user(s, name) is not None:
                return "user"
            if _find_org(s, name) is not None:
                return "org"
            return None

    def set_quota(self, namespace: str, quota_bytes: int | None) -> None:
        """The bytes a namespace's hosted repos may hold together (None: no limit)."""
        if quota_bytes is not None and quota_bytes < 0:
            raise UsageError("A quota is a number of bytes, 0 or more.")
        with self._session() as s:
            row: UserRow | OrgRow | None = _find_org(s, namespace) or _find_user(s, namespace)
            if row is None:
                raise UsageError(f"No user or organisation is named '{namespace}'.")
            row.quota_bytes = quota_bytes
        self._record("quota.set", namespace, {"bytes": quota_bytes})

    def quota(self, namespace: str) -> int | None:
        with self._session() as s:
            row: UserRow | OrgRow | None = _find_org(s, namespace) or _find_user(s, namespace)
            return None if row is None else row.quota_bytes

    # --- tokens ---------------------------------------------------------------------------------

    def create_token(
        self,
        user: str,
        name: str,
        role: str = "read",
        *,
        expires_at: datetime | None = None,
        value: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new token for ``user``; returns its record and its value, which is never stored
        and cannot be shown again. ``value``: import a token made elsewhere (a CI fixture)."""
        checked = check_role(role, TOKEN_ROLES)
        if not name.strip():
            raise UsageError("Give the token a name (what it is for), e.g. --name ci.")
        value = value or TOKEN_PREFIX + "".join(
            secrets.choice(_TOKEN_ALPHABET) for _ in range(_TOKEN_LENGTH)
        )
        if len(value) < 16 or any(c.isspace() for c in value):
            raise UsageError("A token value must be at least 16 characters, without spaces.")
        with self._session() as s:
            owner = self._user_row(s, user)
            digest = token_digest(value)
            if s.scalar(select(TokenRow.id).where(TokenRow.digest == digest)) is not None:
                raise UsageError("That token value is already in use; choose another.")
            row = TokenRow(
                user_pk=owner.id,
                name=name.strip(),
                role=checked,
                digest=digest,
                hint=f"{value[:5]}…{value[-4:]}",
                expires_at=expires_at,
            )
            s.add(row)
            s.flush()
            info = _token(row, owner.name)
        self._record(
            "token.create",
            info.user,
            {
                "token": info.id,
                "name": info.name,
                "role": info.role,
                "expires": expires_at.isoformat() if expires_at else None,
            },
        )
        return info, value

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        with self._session() as s:
            query = select(TokenRow, UserRow.name).join(UserRow, UserRow.id == TokenRow.user_pk)
            if user is not None:
                query = query.where(UserRow.id == self._user_row(s, user).id)
            return [_token(t, n) for t, n in s.execute(query.order_by(TokenRow.id))]

    def revoke_token(self, token_id: int) -> TokenInfo:
        with self._session() as s:
            row = s.get(TokenRow, token_id)
            if row is None:
                raise UsageError(
                    f"No token has id {token_id}; 'modeltrust tokens list' shows them."
                )
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            owner = s.get(UserRow, row.user_pk)
            info = _token(row, owner.name if owner else "?")
        self._record("token.revoke", info.user, {"token": info.id, "name": info.name})
        return info

    def authenticate(self, value: str) -> Principal | None:
        """The principal a token value stands for; None when it is unknown, revoked or expired."""
        with self._session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.digest == token_digest(value)))
            return self._principal(s, row)

    def principal_of_token(self, token_id: int) -> Principal | None:
        """The principal of a token known by its id (a web session's); None when it is gone,
        revoked or expired."""
        with self._session() as s:
            return self._principal(s, s.get(TokenRow, token_id))

    def _principal(self, s: Session, row: TokenRow | None) -> Principal | None:
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and aware(row.expires_at) <= datetime.now(UTC):
            return None
        user = s.get(UserRow, row.user_pk)
        if user is None:  # pragma: no cover - the foreign key cascades
            return None
        return Principal(
            user=_user(user),
            token_id=row.id,
            token_name=row.name,
            scope=row.role,  # type: ignore[arg-type]
            orgs=self._memberships(s, user.id),
        )

    def touch(self, token_id: int) -> None:
        """Record that a token was used (callers do this at most once a minute per token)."""
        with self._session() as s:
            row = s.get(TokenRow, token_id)
            if row is not None:
                row.last_used_at = datetime.now(UTC)

    # --- per-repo grants and access requests -----------------------------------------------------

    def grant(self, repo_id: str, user: str, role: str) -> None:
        checked = check_role(role)
        with self._session() as s:
            repo, who = self._repo_row(s, repo_id), self._user_row(s, user)
            row = _grant(s, repo.id, who.id)
            if row is None:
                s.add(RepoGrantRow(repo_pk=repo.id, user_pk=who.id, role=checked))
            else:
                row.role = checked
        self._record("repo.grant", repo_id, {"user": user, "role": checked})

    def revoke(self, repo_id: str, user: str) -> None:
        with self._session() as s:
            repo, who = self._repo_row(s, repo_id), self._user_row(s, user)
            row = _grant(s, repo.id, who.id)
            if row is not None:
                s.delete(row)
        self._record("repo.revoke", repo_id, {"user": user})

    def repo_role(self, repo_id: str, user: str) -> Role | None:
        """The role a per-repo grant gives ``user`` (None: no grant)."""
        with self._session() as s:
            role = s.scalar(
                select(RepoGrantRow.role)
                .join(RepoRow, RepoRow.id == RepoGrantRow.repo_pk)
                .join(UserRow, UserRow.id == RepoGrantRow.user_pk)
                .where(
                    func.lower(RepoRow.repo_id) == repo_id.lower(),
                    func.lower(UserRow.name) == user.lower(),
                )
            )
            return None if role is None else check_role(role)

    def request_access(self, repo_id: str, user: str, fields: str, *, auto: bool) -> str:
        """Record ``user``'s request to read the gated ``repo_id``; with ``auto`` it is accepted
        at once (and a read grant given). Returns the request's status."""
        with self._session() as s:
            repo, who = self._repo_row(s, repo_id), self._user_row(s, user)
            row = s.scalar(
                select(AccessRequestRow).where(
                    AccessRequestRow.repo_pk == repo.id, AccessRequestRow.user_pk == who.id
                )
            )
            if row is None:
                row = AccessRequestRow(
                    repo_pk=repo.id, user_pk=who.id, status="pending", fields_json=fields
                )
                s.add(row)
            elif row.status == "rejected":
                return row.status
            if auto and row.status != "accepted":
                row.status, row.decided_by = "accepted", "auto"
                self._grant_read(s, repo.id, who.id)
            return row.status

    def decide_access(self, repo_id: str, user: str, status: str, *, by: str) -> None:
        """Accept, reject or put back to pending ``user``'s request (creating one if needed);
        accepting grants read access, anything else takes a read grant away."""
        if status not in ("accepted", "rejected", "pending"):
            raise UsageError(
                f"'{status}' is not a request status; use accepted, rejected, pending."
            )
        with self._session() as s:
            repo, who = self._repo_row(s, repo_id), self._user_row(s, user)
            row = s.scalar(
                select(AccessRequestRow).where(
                    AccessRequestRow.repo_pk == repo.id, AccessRequestRow.user_pk == who.id
                )
            )
            if row is None:
                row = AccessRequestRow(repo_pk=repo.id, user_pk=who.id, fields_json="{}")
                s.add(row)
            row.status, row.decided_by = status, by
            grant = _grant(s, repo.id, who.id)
            if status == "accepted":
                self._grant_read(s, repo.id, who.id)
            elif grant is not None and grant.role == "read":
                s.delete(grant)
        self._record("access.decide", repo_id, {"user": user, "status": status}, actor=by)

    def access_requests(self, repo_id: str, status: str | None = None) -> list[AccessRequest]:
        with self._session() as s:
            repo = self._repo_row(s, repo_id)
            query = (
                select(AccessRequestRow, UserRow)
                .join(UserRow, UserRow.id == AccessRequestRow.user_pk)
                .where(AccessRequestRow.repo_pk == repo.id)
            )
            if status is not None:
                query = query.where(AccessRequestRow.status == status)
            return [
                AccessRequest(
                    r.id,
                    repo.repo_id,
                    u.name,
                    u.email,
                    u.fullname,
                    r.status,
                    r.fields_json,
                    aware(r.created_at),
                    r.decided_by,
                )
                for r, u in s.execute(query.order_by(AccessRequestRow.id))
            ]

    # --- helpers --------------------------------------------------------------------------------

    def _grant_read(self, s: Session, repo_pk: int, user_pk: int) -> None:
        if _grant(s, repo_pk, user_pk) is None:
            s.add(RepoGrantRow(repo_pk=repo_pk, user_pk=user_pk, role="read"))

    def _free(self, s: Session, name: str) -> None:
        if _find_user(s, name) is not None or _find_org(s, name) is not None:
            raise UsageError(f"The name '{name}' is taken by a user or an organisation.")

    def _user_row(self, s: Session, name: str) -> UserRow:
        row = _find_user(s, name)
        if row is None:
            raise UsageError(f"No user is named '{name}'; 'modeltrust users list' shows them.")
        return row

    def _org_row(self, s: Session, name: str) -> OrgRow:
        row = _find_org(s, name)
        if row is None:
            raise UsageError(
                f"No organisation is named '{name}'; 'modeltrust orgs list' shows them."
            )
        return row

    def _repo_row(self, s: Session, repo_id: str) -> RepoRow:
        row = s.scalar(select(RepoRow).where(func.lower(RepoRow.repo_id) == repo_id.lower()))
        if row is None or row.kind != "hosted":
            raise UsageError(
                f"No repo '{repo_id}' is hosted here (a dataset is 'datasets/org/name'); roles "
                "are given on repos pushed here, not on pulled-through mirrors."
            )
        return row

    def _org(self, s: Session, row: OrgRow) -> Org:
        members = s.execute(
            select(UserRow.name, MembershipRow.role)
            .join(MembershipRow, MembershipRow.user_pk == UserRow.id)
            .where(MembershipRow.org_pk == row.id)
            .order_by(UserRow.name)
        )
        return Org(
            row.name,
            row.fullname,
            row.quota_bytes,
            row.private_by_default,
            aware(row.created_at),
            tuple((n, r) for n, r in members),  # type: ignore[misc]
        )

    def _memberships(self, s: Session, user_pk: int) -> tuple[tuple[str, Role], ...]:
        rows = s.execute(
            select(OrgRow.name, MembershipRow.role)
            .join(MembershipRow, MembershipRow.org_pk == OrgRow.id)
            .where(MembershipRow.user_pk == user_pk)
            .order_by(OrgRow.name)
        )
        return tuple((n, r) for n, r in rows)  # type: ignore[misc]


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _membership(s: Session, org: OrgRow, user: UserRow) -> MembershipRow | None:
    return s.scalar(
        select(MembershipRow).where(
            MembershipRow.org_pk == org.id, MembershipRow.user_pk == user.id
        )
    )


def _grant(s: Session, repo_pk: int, user_pk: int) -> RepoGrantRow | None:
    return s.scalar(
        select(RepoGrantRow).where(RepoGrantRow.repo_pk == repo_pk, RepoGrantRow.user_pk == user_pk)
    )


def _find_user(s: Session, name: str) -> UserRow | None:
    """Names are matched case-insensitively, as the Hub does, so 'Alice' cannot sit beside
    'alice'."""
    return s.scalar(select(UserRow).where(func.lower(UserRow.name) == name.lower()))


def _find_org(s: Session, name: str) -> OrgRow | None:
    return s.scalar(select(OrgRow).where(func.lower(OrgRow.name) == name.lower()))


def _user(row: UserRow) -> User:
    return User(
        row.name, row.fullname, row.email, row.site_admin, row.quota_bytes, aware(row.created_at)
    )


def _token(row: TokenRow, user: str) -> TokenInfo:
    return TokenInfo(
        row.id,
        user,
        row.name,
        row.role,  # type: ignore[arg-type]
        row.hint,
        aware(row.created_at),
        None if row.expires_at is None else aware(row.expires_at),
        None if row.revoked_at is None else aware(row.revoked_at),
        None if row.last_used_at is None else aware(row.last_used_at),
    )
