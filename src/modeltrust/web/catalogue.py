"""The review UI's queries: the catalogue (search and filters over every repo), one repo's
revisions and derivatives, and the review queue.

A page of the catalogue is one SQL query, whatever the filters: a repo carries its newest
audit (``latest_audit_pk``); an audit's licences and base models are indexed facts
(``audit_facts``), matched exactly; pages are keyed by repo id (``after``), never by offset, so
page 2,000 costs what page 1 does (see benchmarks/bench_catalogue.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import aliased

from modeltrust.server.access import Caller
from modeltrust.storage.catalog import AuditView, Catalog, aware
from modeltrust.storage.hosted import split_key
from modeltrust.storage.models import (
    AccessRequestRow,
    AuditFactRow,
    AuditRow,
    DecisionRow,
    RepoGrantRow,
    RepoRow,
    RevisionRow,
    UserRow,
)

PAGE = 50
VERDICTS = ("pass", "warn", "fail", "pending")


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    """A part of the repo id."""
    verdict: str = ""
    """``pass``, ``warn``, ``fail`` or ``pending`` (not audited yet)."""
    license: str = ""
    base: str = ""
    """A base model anywhere in the lineage."""
    org: str = ""
    age_days: int | None = None
    """Created within this many days."""
    after: str = ""
    """The last repo id of the previous page."""


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    repo_type: str
    repo_id: str
    kind: str
    private: bool
    created_at: datetime
    sha: str | None
    verdict: str | None
    license: str
    base_models: tuple[str, ...]
    review: str = ""
    """``approved`` or ``denied`` when a reviewer decided on the audited revision."""


@dataclass(frozen=True, slots=True)
class Page:
    rows: tuple[Row, ...]
    next_after: str | None


def search(catalog: Catalog, caller: Caller, filters: Filters, *, page: int = PAGE) -> Page:
    query = (
        select(RepoRow, AuditRow, RevisionRow.sha)
        .outerjoin(AuditRow, AuditRow.id == RepoRow.latest_audit_pk)
        .outerjoin(RevisionRow, RevisionRow.id == AuditRow.revision_pk)
    )
    conditions: list[ColumnElement[bool]] = [_visible(caller)]
    if filters.q:
        conditions.append(func.lower(RepoRow.repo_id).contains(filters.q.lower(), autoescape=True))
    if filters.verdict == "pending":
        conditions.append(RepoRow.latest_audit_pk.is_(None))
    elif filters.verdict in VERDICTS:
        conditions.append(AuditRow.verdict == filters.verdict)
    if filters.license:
        conditions.append(RepoRow.latest_audit_pk.in_(_having("license", filters.license)))
    if filters.base:
        conditions.append(RepoRow.latest_audit_pk.in_(_having("base", filters.base)))
    if filters.org:
        prefix = filters.org.lower().strip("/") + "/"
        conditions.append(
            or_(
                func.lower(RepoRow.repo_id).startswith(prefix, autoescape=True),
                func.lower(RepoRow.repo_id).startswith("datasets/" + prefix, autoescape=True),
            )
        )
    if filters.age_days is not None:
        since = datetime.now(UTC) - timedelta(days=filters.age_days)
        conditions.append(RepoRow.created_at >= since)
    if filters.after:
        conditions.append(RepoRow.repo_id > filters.after)
    query = query.where(and_(*conditions)).order_by(RepoRow.repo_id).limit(page + 1)
    with catalog.transaction() as s:
        found = s.execute(query).all()[: page + 1]
        audited = [(repo.id, sha) for repo, _audit, sha in found[:page] if sha]
        decided: dict[tuple[int, str], str] = {}
        if audited:
            decisions = s.execute(
                select(DecisionRow.repo_pk, DecisionRow.sha, DecisionRow.kind)
                .where(DecisionRow.repo_pk.in_([pk for pk, _ in audited]))
                .order_by(DecisionRow.id)
            )
            for pk, sha, kind in decisions:  # the newest decision wins
                decided[(pk, sha)] = "approved" if kind == "approve" else "denied"
        rows = tuple(
            _row(repo, audit, sha, decided.get((repo.id, sha or ""), ""))
            for repo, audit, sha in found[:page]
        )
    return Page(rows, rows[-1].key if len(found) > page else None)


def _having(kind: str, value: str) -> Select[int]:
    """The audits with this fact (an effective licence, a base model anywhere in the lineage),
    through the facts' index: exact, case-insensitive."""
    return select(AuditFactRow.audit_pk).where(
        AuditFactRow.kind == kind, AuditFactRow.value == value.strip().lower()
    )


def _visible(caller: Caller) -> ColumnElement[bool]:
    """Public repos, and the private ones the caller may read (their own namespace, their
    organisations', a grant); site admins see everything."""
    if caller.site_admin:
        return RepoRow.id.is_not(None)
    principal = caller.principal
    if principal is None:
        return RepoRow.private.is_(False)
    names = [principal.name.lower(), *(org.lower() for org, _role in principal.orgs)]
    own = [func.lower(RepoRow.repo_id).startswith(f"{n}/", autoescape=True) for n in names] + [
        func.lower(RepoRow.repo_id).startswith(f"datasets/{n}/", autoescape=True) for n in names
    ]
    granted = RepoRow.id.in_(
        select(RepoGrantRow.repo_pk)
        .join(UserRow, UserRow.id == RepoGrantRow.user_pk)
        .where(func.lower(UserRow.name) == principal.name.lower())
    )
    return or_(RepoRow.private.is_(False), granted, *own)


def _row(repo: RepoRow, audit: AuditRow | None, sha: str | None, review: str) -> Row:
    repo_type, repo_id = split_key(repo.repo_id)
    return Row(
        repo.repo_id,
        repo_type,
        repo_id,
        repo.kind,
        repo.private,
        aware(repo.created_at),
        sha,
        audit.verdict if audit else None,
        audit.license if audit else "",
        tuple(b for b in (audit.base_models if audit else "").splitlines() if b),
        review,
    )


# --- one repo ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevisionVerdict:
    sha: str
    created_at: datetime
    title: str
    author: str | None
    verdict: str | None
    audited_at: datetime | None


def revisions(catalog: Catalog, key: str, *, limit: int = 50) -> list[RevisionVerdict]:
    """A repo's revisions, newest first, each with its newest verdict."""
    newest = (
        select(func.max(AuditRow.id))
        .where(AuditRow.revision_pk == RevisionRow.id)
        .correlate(RevisionRow)
        .scalar_subquery()
    )
    query = (
        select(RevisionRow, AuditRow)
        .join(RepoRow, RepoRow.id == RevisionRow.repo_pk)
        .outerjoin(AuditRow, AuditRow.id == newest)
        .where(func.lower(RepoRow.repo_id) == key.lower())
        .order_by(RevisionRow.id.desc())
        .limit(limit)
    )
    with catalog.transaction() as s:
        return [
            RevisionVerdict(
                rev.sha,
                aware(rev.created_at),
                rev.title,
                rev.author,
                audit.verdict if audit else None,
                aware(audit.created_at) if audit else None,
            )
            for rev, audit in s.execute(query)
        ]


def derivatives(catalog: Catalog, caller: Caller, repo_id: str, *, limit: int = 20) -> list[str]:
    """Repos whose newest audit names ``repo_id`` as a base model (anywhere in the lineage)."""
    query = (
        select(RepoRow.repo_id)
        .where(
            RepoRow.latest_audit_pk.in_(_having("base", repo_id)),
            _visible(caller),
            func.lower(RepoRow.repo_id) != repo_id.lower(),
        )
        .order_by(RepoRow.repo_id)
        .limit(limit)
    )
    with catalog.transaction() as s:
        return [split_key(key)[1] for key in s.scalars(query)]


# --- the queue -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waiting:
    key: str
    repo_id: str
    sha: str
    verdict: str
    reasons: str
    audited_at: datetime
    author: str | None


def quarantined(
    catalog: Catalog, *, namespaces: Sequence[str] | None = None, limit: int = 200
) -> list[Waiting]:
    """Revisions whose newest audit failed and on which no reviewer decided yet, newest
    first. (The page shows those its caller reviews.)"""
    latest = aliased(AuditRow)
    decided = select(DecisionRow.id).where(
        DecisionRow.repo_pk == RevisionRow.repo_pk, DecisionRow.sha == RevisionRow.sha
    )
    newer = select(AuditRow.id).where(
        AuditRow.revision_pk == RevisionRow.id, AuditRow.id > latest.id
    )
    query = (
        select(RepoRow, RevisionRow, latest)
        .join(RevisionRow, RevisionRow.id == latest.revision_pk)
        .join(RepoRow, RepoRow.id == RevisionRow.repo_pk)
        .where(latest.verdict == "fail", ~newer.exists(), ~decided.exists())
        .where(_in_namespaces(namespaces))
        .order_by(latest.id.desc())
        .limit(limit)
    )
    with catalog.transaction() as s:
        return [
            Waiting(
                repo.repo_id,
                split_key(repo.repo_id)[1],
                rev.sha,
                audit.verdict,
                audit.reasons_json,
                aware(audit.created_at),
                rev.author,
            )
            for repo, rev, audit in s.execute(query)
        ]


def newest_audit(catalog: Catalog, key: str) -> AuditView | None:
    """The repo's newest audit, whole (reports included)."""
    import json

    query = (
        select(AuditRow, RevisionRow.sha, RepoRow.repo_id)
        .join(RepoRow, RepoRow.latest_audit_pk == AuditRow.id)
        .join(RevisionRow, RevisionRow.id == AuditRow.revision_pk)
        .where(func.lower(RepoRow.repo_id) == key.lower())
    )
    with catalog.transaction() as s:
        found = s.execute(query).first()
        if found is None:
            return None
        audit, sha, repo_id = found
        return AuditView(
            repo_id,
            sha,
            audit.verdict,
            audit.policy,
            tuple(json.loads(audit.reasons_json)),
            audit.report_json,
            audit.report_html,
            aware(audit.created_at),
        )


@dataclass(frozen=True, slots=True)
class PendingRequest:
    repo_id: str
    user: str
    fullname: str
    created_at: datetime


def pending_requests(
    catalog: Catalog, *, namespaces: Sequence[str] | None = None, limit: int = 200
) -> list[PendingRequest]:
    """Access requests to gated repos that wait for a decision, oldest first."""
    query = (
        select(RepoRow.repo_id, UserRow.name, UserRow.fullname, AccessRequestRow.created_at)
        .join(RepoRow, RepoRow.id == AccessRequestRow.repo_pk)
        .join(UserRow, UserRow.id == AccessRequestRow.user_pk)
        .where(AccessRequestRow.status == "pending", _in_namespaces(namespaces))
        .order_by(AccessRequestRow.id)
        .limit(limit)
    )
    with catalog.transaction() as s:
        return [PendingRequest(r, u, f, aware(c)) for r, u, f, c in s.execute(query)]


def _in_namespaces(namespaces: Sequence[str] | None) -> ColumnElement[bool]:
    """Repos of these namespaces (None: every repo)."""
    if namespaces is None:
        return RepoRow.id.is_not(None)
    lowered = func.lower(RepoRow.repo_id)
    return or_(
        RepoRow.id.is_(None),
        *(
            lowered.startswith(prefix + ns.lower() + "/", autoescape=True)
            for ns in namespaces
            for prefix in ("", "datasets/")
        ),
    )
