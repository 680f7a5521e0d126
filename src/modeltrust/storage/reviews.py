"""What reviewers decided: approvals and denials of revisions, exceptions granted for a repo,
review settings per namespace; and the review UI's browser sessions.

Every change bumps the hub's generation (as an audit does), so every process sharing the
database drops the verdicts it remembers within ``verdict_recheck`` seconds and judges again
with the decision (see :meth:`~modeltrust.server.service.GovernedHub.verdict`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from modeltrust.errors import InvalidRequestError
from modeltrust.storage.catalog import Catalog, aware
from modeltrust.storage.models import (
    DecisionRow,
    HubStateRow,
    RepoRow,
    ReviewExceptionRow,
    ReviewSettingsRow,
    TokenRow,
    WebSessionRow,
)
from modeltrust.storage.trail import Entry, Trail

DecisionKind = Literal["approve", "deny"]


@dataclass(frozen=True, slots=True)
class Decision:
    id: int
    repo_id: str
    sha: str
    kind: DecisionKind
    actor: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GrantedException:
    id: int
    repo_id: str
    rule: str
    file: str | None
    reason: str
    approver: str
    expires: date
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    four_eyes: bool = False
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class WebSession:
    token_id: int
    csrf: str
    expires_at: datetime


class Reviews:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.trail = Trail(catalog)

    # --- decisions ------------------------------------------------------------------------------

    def decide(
        self, repo_id: str, sha: str, kind: DecisionKind, actor: str, reason: str
    ) -> tuple[Decision, Entry]:
        """Record the decision and its trail entry, together."""
        if not reason.strip():
            raise InvalidRequestError("A decision needs a reason: say why, for the trail.")

        def work(s: Session) -> tuple[Decision, Entry]:
            repo = _repo(s, repo_id)
            row = DecisionRow(repo_pk=repo.id, sha=sha, kind=kind, actor=actor, reason=reason)
            s.add(row)
            s.flush()
            _bump(s)
            entry = self.trail.append_in(
                s, actor, f"revision.{kind}", f"{repo.repo_id}@{sha}", reason, {"decision": row.id}
            )
            return _decision(row, repo.repo_id), entry

        return self.trail.atomically(work)

    def decisions(self, repo_id: str, sha: str | None = None) -> list[Decision]:
        """Oldest first."""
        with self.catalog.transaction() as s:
            repo = _repo(s, repo_id)
            query = select(DecisionRow).where(DecisionRow.repo_pk == repo.id)
            if sha is not None:
                query = query.where(DecisionRow.sha == sha)
            return [_decision(r, repo.repo_id) for r in s.scalars(query.order_by(DecisionRow.id))]

    # --- exceptions -----------------------------------------------------------------------------

    def grant_exception(
        self,
        repo_id: str,
        *,
        rule: str,
        file: str | None,
        reason: str,
        approver: str,
        expires: date,
        sha: str = "",
    ) -> tuple[GrantedException, Entry]:
        """Record the exception (for revision ``sha``'s review) and its trail entry, together."""
        from modeltrust.policy.model import PolicyException

        try:  # the policy's own rules: a rule id or glob, a reason, an approver
            PolicyException(
                rule=rule, file=file or None, reason=reason, approver=approver, expires=expires
            )
        except ValueError as e:
            raise InvalidRequestError(f"This exception is not valid: {e}") from None
        if expires < datetime.now(UTC).date():
            raise InvalidRequestError(f"The expiry {expires} is in the past; pick a later date.")

        def work(s: Session) -> tuple[GrantedException, Entry]:
            repo = _repo(s, repo_id)
            row = ReviewExceptionRow(
                repo_pk=repo.id,
                rule=rule.strip().upper(),
                file=file or None,
                reason=reason,
                approver=approver,
                expires=expires,
            )
            s.add(row)
            s.flush()
            _bump(s)
            entry = self.trail.append_in(
                s,
                approver,
                "exception.grant",
                f"{repo.repo_id}@{sha}" if sha else repo.repo_id,
                reason,
                {"rule": row.rule, "file": row.file, "expires": expires.isoformat()},
            )
            return _exception(row, repo.repo_id), entry

        return self.trail.atomically(work)

    def exceptions(self, repo_id: str) -> list[GrantedException]:
        with self.catalog.transaction() as s:
            repo = s.scalar(select(RepoRow).where(RepoRow.repo_id == repo_id))
            if repo is None:
                return []
            rows = s.scalars(
                select(ReviewExceptionRow)
                .where(ReviewExceptionRow.repo_pk == repo.id)
                .order_by(ReviewExceptionRow.id)
            )
            return [_exception(r, repo.repo_id) for r in rows]

    # --- settings -------------------------------------------------------------------------------

    def settings(self, namespace: str | None) -> ReviewSettings:
        if not namespace:
            return ReviewSettings()
        with self.catalog.transaction() as s:
            row = s.scalar(
                select(ReviewSettingsRow).where(ReviewSettingsRow.namespace == namespace.lower())
            )
            return ReviewSettings(row.four_eyes, row.dry_run) if row else ReviewSettings()

    def set_settings(
        self,
        namespace: str,
        *,
        four_eyes: bool | None = None,
        dry_run: bool | None = None,
        actor: str | None = None,
    ) -> ReviewSettings:
        """Change how ``namespace`` is reviewed; with ``actor``, a change is recorded in the
        trail in the same transaction."""

        def work(s: Session) -> ReviewSettings:
            row = s.scalar(
                select(ReviewSettingsRow).where(ReviewSettingsRow.namespace == namespace.lower())
            )
            if row is None:
                row = ReviewSettingsRow(namespace=namespace.lower(), four_eyes=False, dry_run=False)
                s.add(row)
            before = ReviewSettings(bool(row.four_eyes), bool(row.dry_run))
            if four_eyes is not None:
                row.four_eyes = four_eyes
            if dry_run is not None:
                row.dry_run = dry_run
            after = ReviewSettings(row.four_eyes, row.dry_run)
            _bump(s)
            if actor is not None and after != before:
                self.trail.append_in(
                    s,
                    actor,
                    "policy.review-settings",
                    namespace,
                    "",
                    {"four_eyes": after.four_eyes, "dry_run": after.dry_run},
                )
            return after

        return self.trail.atomically(work)

    # --- web sessions ---------------------------------------------------------------------------

    def open_session(self, token_id: int, lifetime: timedelta) -> tuple[str, WebSession]:
        """A new session for ``token_id``: the cookie value (returned once, never stored) and
        the session."""
        value = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + lifetime
        with self.catalog.transaction() as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < datetime.now(UTC)))
            s.add(
                WebSessionRow(
                    digest=_digest(value), token_pk=token_id, csrf=csrf, expires_at=expires
                )
            )
        return value, WebSession(token_id, csrf, expires)

    def session(self, value: str) -> WebSession | None:
        """The live session of a cookie value (None: unknown or expired)."""
        with self.catalog.transaction() as s:
            row = s.scalar(select(WebSessionRow).where(WebSessionRow.digest == _digest(value)))
            if row is None or aware(row.expires_at) < datetime.now(UTC):
                return None
            return WebSession(row.token_pk, row.csrf, aware(row.expires_at))

    def close_session(self, value: str) -> None:
        with self.catalog.transaction() as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.digest == _digest(value)))

    def token_digest_of(self, token_id: int) -> str | None:
        with self.catalog.transaction() as s:
            return s.scalar(select(TokenRow.digest).where(TokenRow.id == token_id))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _bump(s: Session) -> None:
    s.execute(
        update(HubStateRow).where(HubStateRow.id == 1).values(generation=HubStateRow.generation + 1)
    )


def _repo(s: Session, repo_id: str) -> RepoRow:
    from sqlalchemy import func

    row = s.scalar(select(RepoRow).where(func.lower(RepoRow.repo_id) == repo_id.lower()))
    if row is None:
        raise InvalidRequestError(f"There is no repo '{repo_id}' on this hub.", status=404)
    return row


def _decision(row: DecisionRow, repo_id: str) -> Decision:
    kind: DecisionKind = "approve" if row.kind == "approve" else "deny"
    return Decision(row.id, repo_id, row.sha, kind, row.actor, row.reason, aware(row.created_at))


def _exception(row: ReviewExceptionRow, repo_id: str) -> GrantedException:
    return GrantedException(
        row.id,
        repo_id,
        row.rule,
        row.file,
        row.reason,
        row.approver,
        row.expires,
        aware(row.created_at),
    )
