"""The catalogue: repos, refs, revisions, files and audits in the database.

Every method runs in its own short transaction and returns frozen snapshots, never ORM objects,
so callers in any thread can hold them without a session. The schema is brought up to date by
Alembic when the catalogue opens (``alembic.command.upgrade`` with a Config built here: users
never need an ``alembic.ini``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files as package_files
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from modeltrust.errors import StorageError
from modeltrust.storage.models import (
    AuditFactRow,
    AuditRow,
    FileRow,
    HubStateRow,
    RefRow,
    RepoAliasRow,
    RepoRow,
    RevisionRow,
)


@dataclass(frozen=True, slots=True)
class FileSpec:
    path: str
    size: int
    git_oid: str
    lfs: bool
    sha256: str | None
    stored: bool = False


@dataclass(frozen=True, slots=True)
class RevisionView:
    repo_id: str
    sha: str
    status: str
    info: dict[str, Any]
    files: tuple[FileSpec, ...]
    author: str | None = None
    """Who pushed a hosted commit (None for a mirror's revision)."""
    created_at: datetime | None = None
    """When the revision was stored: a hosted commit's date."""

    def file(self, path: str) -> FileSpec | None:
        for f in self.files:
            if f.path == path:
                return f
        return None


@dataclass(frozen=True, slots=True)
class AuditView:
    repo_id: str
    sha: str
    verdict: str
    policy: str
    reasons: tuple[str, ...]
    report_json: str
    report_html: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RefView:
    name: str
    sha: str
    checked_at: datetime


class Catalog:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = _engine(url)
            migrate(self.engine)
        except SQLAlchemyError as e:
            raise StorageError(
                f"Could not open or migrate the database '{_redact(url)}': {e}. Check "
                "--database-url (PostgreSQL needs the 'postgres' extra) and that the server runs."
            ) from e
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._session() as session:
            yield session

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as e:
            raise StorageError(f"The database '{_redact(self.url)}' failed: {e}.") from e

    # --- repos and refs ---------------------------------------------------------------------------

    def _repo(self, s: Session, repo_id: str) -> RepoRow | None:
        """The repo of that id, or the one it is an alias of."""
        row = s.scalar(select(RepoRow).where(func.lower(RepoRow.repo_id) == repo_id.lower()))
        if row is not None:
            return row
        return s.scalar(
            select(RepoRow)
            .join(RepoAliasRow, RepoAliasRow.repo_pk == RepoRow.id)
            .where(RepoAliasRow.name == repo_id.lower())
        )

    def save_alias(self, alias: str, repo_id: str) -> None:
        """Record that the upstream answers ``alias`` with ``repo_id`` (a renamed repo)."""
        with self._session() as s:
            repo = self._ensure_repo(s, repo_id)
            row = s.scalar(select(RepoAliasRow).where(RepoAliasRow.name == alias.lower()))
            if row is None:
                s.add(RepoAliasRow(name=alias.lower(), repo_pk=repo.id))
            else:
                row.repo_pk = repo.id

    def _ensure_repo(self, s: Session, repo_id: str) -> RepoRow:
        row = self._repo(s, repo_id)
        if row is None:
            row = RepoRow(repo_id=repo_id)
            s.add(row)
            s.flush()
        return row

    def has_repo(self, repo_id: str) -> bool:
        with self._session() as s:
            return self._repo(s, repo_id) is not None

    def find_ref(self, repo_id: str, name: str) -> RefView | None:
        with self._session() as s:
            repo = self._repo(s, repo_id)
            if repo is None:
                return None
            ref = s.scalar(select(RefRow).where(RefRow.repo_pk == repo.id, RefRow.name == name))
            return None if ref is None else RefView(ref.name, ref.sha, aware(ref.checked_at))

    def save_ref(self, repo_id: str, name: str, sha: str) -> None:
        with self._session() as s:
            repo = self._ensure_repo(s, repo_id)
            ref = s.scalar(select(RefRow).where(RefRow.repo_pk == repo.id, RefRow.name == name))
            if ref is None:
                s.add(RefRow(repo_pk=repo.id, name=name, sha=sha))
            else:
                ref.sha, ref.checked_at = sha, datetime.now(UTC)

    def refs(self, repo_id: str) -> tuple[RefView, ...]:
        with self._session() as s:
            repo = self._repo(s, repo_id)
            if repo is None:
                return ()
            rows = s.scalars(select(RefRow).where(RefRow.repo_pk == repo.id).order_by(RefRow.name))
            return tuple(RefView(r.name, r.sha, aware(r.checked_at)) for r in rows)

    # --- revisions and files ------------------------------------------------------------------------

    def _revision(self, s: Session, repo_id: str, sha: str) -> RevisionRow | None:
        repo = self._repo(s, repo_id)
        if repo is None:
            return None
        return s.scalar(
            select(RevisionRow).where(RevisionRow.repo_pk == repo.id, RevisionRow.sha == sha)
        )

    def revision(self, repo_id: str, sha: str) -> RevisionView | None:
        with self._session() as s:
            row = self._revision(s, repo_id, sha)
            return None if row is None else revision_view(row)

    def save_listing(
        self, repo_id: str, sha: str, info: dict[str, Any], specs: Sequence[FileSpec]
    ) -> RevisionView:
        """Record a revision's metadata and file list (once; a second call returns the first)."""
        with self._session() as s:
            existing = self._revision(s, repo_id, sha)
            if existing is not None:
                return revision_view(existing)
            repo = self._ensure_repo(s, repo_id)
            row = RevisionRow(repo_pk=repo.id, sha=sha, status="listed", info_json=json.dumps(info))
            row.files = [
                FileRow(
                    path=f.path,
                    size=f.size,
                    git_oid=f.git_oid,
                    lfs=f.lfs,
                    sha256=f.sha256,
                    stored=False,
                )
                for f in specs
            ]
            s.add(row)
            s.flush()
            return revision_view(row)

    def mark_stored(self, repo_id: str, sha: str, path: str, sha256: str) -> None:
        with self._session() as s:
            row = self._revision(s, repo_id, sha)
            if row is None:
                raise StorageError(f"No revision {sha} of '{repo_id}' is catalogued.")
            for f in row.files:
                if f.path == path:
                    f.sha256, f.stored = sha256, True

    def set_status(self, repo_id: str, sha: str, status: str) -> None:
        with self._session() as s:
            row = self._revision(s, repo_id, sha)
            if row is not None:
                row.status = status

    # --- audits ---------------------------------------------------------------------------------------

    def save_audit(
        self,
        repo_id: str,
        sha: str,
        *,
        verdict: str,
        policy: str,
        reasons: Sequence[str],
        report_json: str,
        report_html: str,
        license: str = "",
        base_models: Sequence[str] = (),
        licenses: Sequence[str] = (),
    ) -> None:
        """Record an audit. ``license`` and ``base_models`` are what the catalogue shows (the
        effective licence as one expression, the lineage's bases nearest first); ``licenses``
        and ``base_models`` what it filters on (indexed, one fact each)."""
        with self._session() as s:
            row = self._revision(s, repo_id, sha)
            if row is None:
                raise StorageError(f"No revision {sha} of '{repo_id}' is catalogued.")
            audit = AuditRow(
                revision_pk=row.id,
                verdict=verdict,
                policy=policy,
                reasons_json=json.dumps(list(reasons)),
                report_json=report_json,
                report_html=report_html,
                license=license,
                base_models="\n".join(base_models),
            )
            s.add(audit)
            s.flush()
            facts = {("license", v.lower()[:255]) for v in licenses if v}
            facts |= {("base", v.lower()[:255]) for v in base_models if v}
            s.add_all(AuditFactRow(audit_pk=audit.id, kind=k, value=v) for k, v in sorted(facts))
            row.repo.latest_audit_pk = audit.id
            row.status = "audited"
            # Row-locked increment: commits are ordered, so no audit slips past a reader.
            s.execute(
                update(HubStateRow)
                .where(HubStateRow.id == 1)
                .values(generation=HubStateRow.generation + 1)
            )

    def generation(self) -> int:
        """How many audits were recorded in this database (by any process)."""
        with self._session() as s:
            return int(s.scalar(select(HubStateRow.generation).where(HubStateRow.id == 1)) or 0)

    def latest_audit(self, repo_id: str, sha: str, policy: str | None = None) -> AuditView | None:
        """The newest audit of the revision (under ``policy`` when given)."""
        with self._session() as s:
            row = self._revision(s, repo_id, sha)
            if row is None:
                return None
            query = select(AuditRow).where(AuditRow.revision_pk == row.id)
            if policy is not None:
                query = query.where(AuditRow.policy == policy)
            audit = s.scalar(query.order_by(AuditRow.id.desc()).limit(1))
            if audit is None:
                return None
            return AuditView(
                row.repo.repo_id,
                row.sha,
                audit.verdict,
                audit.policy,
                tuple(json.loads(audit.reasons_json)),
                audit.report_json,
                audit.report_html,
                aware(audit.created_at),
            )


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration shipped with this package."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(package_files("modeltrust.storage") / "migrations")
    )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A pool as large as the server's worker threads (40): a request never waits for a
        # connection, and none is opened (and set up with the pragmas below) per request. A
        # file on this machine needs no liveness ping before each use.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_SIZE)


POOL_SIZE = 40
"""Connections kept open: as many as the server's worker threads (anyio's default pool)."""


def revision_view(row: RevisionRow) -> RevisionView:
    return RevisionView(
        row.repo.repo_id,
        row.sha,
        row.status,
        json.loads(row.info_json),
        tuple(FileSpec(f.path, f.size, f.git_oid, f.lfs, f.sha256, f.stored) for f in row.files),
        row.author,
        aware(row.created_at),
    )


def aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
