"""The database tables (SQLAlchemy 2 declarative). Schema changes go through a migration in
``migrations/versions``; :mod:`modeltrust.storage.db` applies them at start-up."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class RepoRow(Base):
    __tablename__ = "repos"
    # Repo ids are matched case-insensitively (as the Hub does): every lookup is by lower(id).
    __table_args__ = (Index("ix_repos_repo_id_lower", func.lower(Column("repo_id"))),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[str] = mapped_column(String(200), unique=True)
    """As the upstream spells it (``org/name``), or as it was created here."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    kind: Mapped[str] = mapped_column(String(8), default="mirror")
    """``mirror``: pulled through from the upstream; ``hosted``: created and pushed here, its
    refs are the truth and the upstream is never asked about it."""
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    gated: Mapped[str] = mapped_column(String(8), default="")
    """``""`` (open), ``auto`` (access requests granted at once) or ``manual`` (a repo admin
    decides)."""
    latest_audit_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    """The newest audit of any of its revisions: what the catalogue shows and filters on."""


class RepoAliasRow(Base):
    """Another name the upstream answers for a repo (it was renamed: ``gpt2`` is now
    ``openai-community/gpt2``). ``name`` is kept lower-case; a repo of that exact id wins."""

    __tablename__ = "repo_aliases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))


class RefRow(Base):
    """What a mirror's branch or tag resolved to when last asked upstream: lets the server
    answer ``main`` when the upstream is gone. (A hosted repo's refs are :class:`HostedRefRow`.)"""

    __tablename__ = "refs"
    __table_args__ = (UniqueConstraint("repo_pk", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    sha: Mapped[str] = mapped_column(String(40))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RevisionRow(Base):
    """One commit of a repo. ``status``: ``listed`` (metadata and file list stored),
    ``fetched`` (every blob stored and verified), ``audited`` (a verdict exists)."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("repo_pk", "sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    sha: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="listed")
    info_json: Mapped[str] = mapped_column(Text, default="{}")
    """The upstream's model info without siblings and without Xet fields."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    parents_json: Mapped[str] = mapped_column(Text, default="[]")
    """A hosted commit's parent shas (a mirror's revisions do not record theirs)."""
    title: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(96), nullable=True)
    """Who pushed a hosted commit: its uploader, who may read it while it is quarantined."""

    repo: Mapped[RepoRow] = relationship()
    files: Mapped[list[FileRow]] = relationship(
        back_populates="revision", cascade="all, delete-orphan", order_by="FileRow.path"
    )


class FileRow(Base):
    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("revision_pk", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_pk: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    git_oid: Mapped[str] = mapped_column(String(40))
    """The git blob SHA-1, the Hub's ``oid`` and the ETag of a regular file."""
    lfs: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """Announced upstream for LFS files; for every file once its blob is stored."""
    stored: Mapped[bool] = mapped_column(Boolean, default=False)

    revision: Mapped[RevisionRow] = relationship(back_populates="files")


class AuditRow(Base):
    __tablename__ = "audits"
    __table_args__ = (Index("ix_audits_revision", "revision_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_pk: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(8))
    """``pass``, ``warn`` or ``fail``."""
    policy: Mapped[str] = mapped_column(String(255))
    reasons_json: Mapped[str] = mapped_column(Text)
    report_json: Mapped[str] = mapped_column(Text)
    report_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    license: Mapped[str] = mapped_column(String(255), default="", index=True)
    """The effective licence found (an SPDX id or the Hub's name; empty: none)."""
    base_models: Mapped[str] = mapped_column(Text, default="")
    """The base models of its lineage, one per line, nearest first."""


class AuditFactRow(Base):
    """What the catalogue filters on, one row per fact, indexed: an audit's effective licences
    (``license``) and the base models of its lineage (``base``), lower-case."""

    __tablename__ = "audit_facts"
    __table_args__ = (Index("ix_audit_facts_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    audit_pk: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(255))


class HubStateRow(Base):
    """One row (``id`` 1). ``generation`` grows by one with every audit recorded, in the same
    transaction, so a process that sees it unchanged knows no audit was added since."""

    __tablename__ = "hub_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(96), unique=True)
    fullname: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    site_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    """Administers every organisation and repo, and reviews every quarantined revision."""
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Bytes the user's own namespace may hold (None: no limit)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class OrgRow(Base):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(96), unique=True)
    fullname: Mapped[str] = mapped_column(String(255), default="")
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Bytes the organisation's repos may hold together, counted once per distinct blob
    (None: no limit)."""
    private_by_default: Mapped[bool] = mapped_column(Boolean, default=False)
    """New repos are private unless their creator says public."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class MembershipRow(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_pk", "user_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_pk: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(8))
    """``read``, ``write`` or ``admin`` on every repo of the organisation."""


class RepoGrantRow(Base):
    """A role on one repo, beyond what the namespace gives: a collaborator, or a user whose
    access request to a gated repo was accepted (``read``)."""

    __tablename__ = "repo_grants"
    __table_args__ = (UniqueConstraint("repo_pk", "user_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(8))


class AccessRequestRow(Base):
    """A user's request to read a gated repo."""

    __tablename__ = "access_requests"
    __table_args__ = (UniqueConstraint("repo_pk", "user_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(8))
    """``pending``, ``accepted`` or ``rejected``."""
    fields_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    decided_by: Mapped[str | None] = mapped_column(String(96), nullable=True)


class TokenRow(Base):
    """An API token. Only its SHA-256 is kept: tokens are 32 random bytes or more, so a plain
    hash cannot be reversed or searched, and a stolen database holds no usable token."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(96))
    role: Mapped[str] = mapped_column(String(8))
    """``read`` or ``write``: the most this token may do, whatever its user may."""
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    """The token's first and last characters, to recognise it in a listing."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DiscussionRow(Base):
    """A pull request (``refs/pr/N``) of a hosted repo; ``num`` counts per repo."""

    __tablename__ = "discussions"
    __table_args__ = (UniqueConstraint("repo_pk", "num"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    num: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(96))
    status: Mapped[str] = mapped_column(String(8), default="open")
    """``open``, ``merged`` or ``closed``."""
    is_pull_request: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class UploadRow(Base):
    """An LFS object uploaded to a repo and not (yet) committed: the repo may reference it.
    (A repo may reference only blobs it was given, though the store keeps each blob once.)"""

    __tablename__ = "lfs_uploads"
    __table_args__ = (UniqueConstraint("repo_pk", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    user: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class HostedRefRow(Base):
    """A hosted repo's branch, tag or pull request (``refs/pr/N``): the truth, not a cache. A
    branch and a tag may share a name, as in git. A ref moves only by compare-and-set on
    ``sha`` (see :mod:`modeltrust.storage.hosted`)."""

    __tablename__ = "hosted_refs"
    __table_args__ = (UniqueConstraint("repo_pk", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    """``branch``, ``tag`` or ``pr``."""
    name: Mapped[str] = mapped_column(String(255))
    sha: Mapped[str] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    """A tag's message."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# --- review: the trail, decisions, exceptions, settings, web sessions, webhooks -------------------


class TrailRow(Base):
    """One entry of the audit trail: append-only and hash-chained. ``hash`` is the SHA-256 of
    the entry's canonical JSON, which includes ``prev`` (the previous entry's hash): changing,
    inserting or removing an entry breaks every hash after it. ``prev`` is unique, so two
    writers racing for the same predecessor cannot fork the chain (one retries)."""

    __tablename__ = "trail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(48), index=True)
    subject: Mapped[str] = mapped_column(String(400), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    details_json: Mapped[str] = mapped_column(Text, default="{}")
    prev: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class DecisionRow(Base):
    """A reviewer's decision on one revision: ``approve`` (serve it although its audit
    failed) or ``deny`` (never serve it, whatever its audit says)."""

    __tablename__ = "review_decisions"
    __table_args__ = (Index("ix_review_decisions_revision", "repo_pk", "sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    sha: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(96))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewExceptionRow(Base):
    """An exception granted by a reviewer for one repo: findings of ``rule`` (in ``file``,
    when given) are waived until ``expires``, as a policy exception scoped to the repo."""

    __tablename__ = "review_exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    file: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    approver: Mapped[str] = mapped_column(String(96))
    expires: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewSettingsRow(Base):
    """How a namespace (an organisation or a user) is reviewed."""

    __tablename__ = "review_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(96), unique=True)
    """Lower-case."""
    four_eyes: Mapped[bool] = mapped_column(Boolean, default=False)
    """The uploader may not approve their own revision; critical findings need two approvers."""
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    """Serve what the audit would block, and record in the trail that it would have been."""


class WebSessionRow(Base):
    """A browser session of the review UI, opened by logging in with an API token. Only the
    SHA-256 of the cookie's value is kept; the session lasts no longer than its token (revoked
    or expired, the session ends)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    token_pk: Mapped[int] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookRow(Base):
    """Where verdicts and decisions are announced: ``url`` receives a signed JSON POST for
    each event of ``events`` (a comma-separated list; ``*``: all) in ``namespace`` (None: all)."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str | None] = mapped_column(String(96), nullable=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[str] = mapped_column(String(255), default="*")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DeliveryRow(Base):
    """One event on its way to a webhook; retried with back-off until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_pk: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(48))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    """``pending``, ``delivered`` or ``failed`` (gave up)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_error: Mapped[str] = mapped_column(Text, default="")
