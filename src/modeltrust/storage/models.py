"""The database tables (SQLAlchemy 2 declarative). Schema changes go through a migration in
``migrations/versions``; :mod:`modeltrust.storage.db` applies them at start-up."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class RepoRow(Base):
    __tablename__ = "repos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[str] = mapped_column(String(200), unique=True)
    """As the upstream spells it (``org/name``)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RepoAliasRow(Base):
    """Another name the upstream answers for a repo (it was renamed: ``gpt2`` is now
    ``openai-community/gpt2``). ``name`` is kept lower-case; a repo of that exact id wins."""

    __tablename__ = "repo_aliases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))


class RefRow(Base):
    """What a branch or tag resolved to when last asked upstream: lets the server answer
    ``main`` when the upstream is gone."""

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
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Announced upstream for LFS files; for every file once its blob is stored."""
    stored: Mapped[bool] = mapped_column(Boolean, default=False)

    revision: Mapped[RevisionRow] = relationship(back_populates="files")


class AuditRow(Base):
    __tablename__ = "audits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_pk: Mapped[int] = mapped_column(ForeignKey("revisions.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(8))
    """``pass``, ``warn`` or ``fail``."""
    policy: Mapped[str] = mapped_column(String(255))
    reasons_json: Mapped[str] = mapped_column(Text)
    report_json: Mapped[str] = mapped_column(Text)
    report_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class HubStateRow(Base):
    """One row (``id`` 1). ``generation`` grows by one with every audit recorded, in the same
    transaction, so a process that sees it unchanged knows no audit was added since."""

    __tablename__ = "hub_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
