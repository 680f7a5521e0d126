"""Review: people deciding about what the audits found.

A revision whose audit fails is quarantined: its bytes are served to nobody but its repo's
admins and its uploader. Reviewers (the repo's admins: its organisation's admins, or site
admins) decide:

- **approve**: serve it although the audit failed (with the reason shown to downloaders);
- **deny**: never serve it, whatever its audit says now or after a re-audit;
- **grant an exception**: waive a rule's findings (in one file, or all) in this repo until a
  date; the revision is audited again at once, as a policy exception scoped to the repo would.

A namespace may ask for **four eyes**: the uploader cannot approve their own revision, and a
revision with critical findings needs two approvals from two reviewers. A namespace may run
**dry**: what its audits would block is served, with a warning and a trail entry, so an
organisation can see what enforcement would do before turning it on.

Every decision goes to the audit trail (:mod:`modeltrust.storage.trail`) and to the webhooks.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from modeltrust.errors import InvalidRequestError
from modeltrust.server.access import Access, Caller
from modeltrust.server.responses import HubError
from modeltrust.storage.catalog import AuditView, RevisionView
from modeltrust.storage.hosted import RepoInfo, split_key
from modeltrust.storage.reviews import Decision, GrantedException, Reviews, ReviewSettings
from modeltrust.storage.trail import Entry, Trail

if TYPE_CHECKING:
    from modeltrust.server.service import GovernedHub
    from modeltrust.server.webhooks import Webhooks


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a revision stands with its reviewers."""

    approvals: tuple[Decision, ...]
    denial: Decision | None
    needed: int
    """Approvals it needs to be served although its audit failed (1, or 2 under four eyes
    with critical findings)."""

    @property
    def approved(self) -> bool:
        return self.denial is None and len({d.actor for d in self.approvals}) >= self.needed


class Review:
    def __init__(self, hub: GovernedHub, access: Access, webhooks: Webhooks | None) -> None:
        self.hub = hub
        self.access = access
        self.reviews = Reviews(hub.catalog)
        self.trail = Trail(hub.catalog)
        self.webhooks = webhooks
        self._noting = threading.Lock()

    # --- the gate -------------------------------------------------------------------------------

    def judge(self, audit: AuditView) -> AuditView:
        """The verdict a download sees: the audit's, with the reviewers' decisions applied."""
        settings = self.reviews.settings(_namespace(audit.repo_id))
        decisions = self.reviews.decisions(audit.repo_id, audit.sha)
        denial = next((d for d in reversed(decisions) if d.kind == "deny"), None)
        if denial is not None:
            return replace(
                audit,
                verdict="fail",
                reasons=(f"denied by {denial.actor}: {denial.reason}", *audit.reasons),
            )
        if audit.verdict != "fail":
            return audit
        standing = self._standing(audit, decisions, settings)
        if standing.approved:
            names = ", ".join(sorted({d.actor for d in standing.approvals}))
            why = standing.approvals[-1].reason
            return replace(
                audit,
                verdict="warn",
                reasons=(f"approved by {names} despite a failed audit: {why}", *audit.reasons),
            )
        if settings.dry_run:
            self._would_block(audit)
            return replace(
                audit,
                verdict="warn",
                reasons=(
                    "dry run: enforcement would block this revision: "
                    + (audit.reasons[0] if audit.reasons else "its audit failed"),
                    *audit.reasons[1:],
                ),
            )
        return audit

    def _would_block(self, audit: AuditView) -> None:
        """Record, once per revision, that enforcement would have blocked it. (Two servers
        judging the same revision at the same moment may each record it.)"""
        subject = f"{audit.repo_id}@{audit.sha}"
        with self._noting:
            if self.trail.entries(subject=subject, action="revision.would-block", limit=1):
                return
            self.record(
                "server",
                "revision.would-block",
                subject,
                audit.reasons[0] if audit.reasons else "its audit failed",
                {"dry_run": True, "policy": audit.policy},
            )

    def standing(self, audit: AuditView) -> Standing:
        settings = self.reviews.settings(_namespace(audit.repo_id))
        return self._standing(audit, self.reviews.decisions(audit.repo_id, audit.sha), settings)

    def _standing(
        self, audit: AuditView, decisions: list[Decision], settings: ReviewSettings
    ) -> Standing:
        needed = 2 if settings.four_eyes and _critical(self.hub, audit) else 1
        approvals = tuple(d for d in decisions if d.kind == "approve")
        if settings.four_eyes and approvals:
            # An uploader's own approval (given before four eyes were asked for) counts not.
            row = self.hub.catalog.revision(audit.repo_id, audit.sha)
            author = row.author if row else None
            approvals = tuple(d for d in approvals if d.actor != author)
        denial = next((d for d in reversed(decisions) if d.kind == "deny"), None)
        return Standing(approvals, denial, needed)

    # --- decisions ------------------------------------------------------------------------------

    def may_review(self, caller: Caller, repo: RepoInfo) -> bool:
        return self.access.role(caller, repo) == "admin"

    def decide(
        self,
        caller: Caller,
        repo: RepoInfo,
        row: RevisionView,
        kind: str,
        reason: str,
    ) -> Decision:
        if kind not in ("approve", "deny"):
            raise InvalidRequestError(f"'{kind}' is not a decision: approve or deny.")
        actor = self._reviewer(caller, repo, "decide about")
        if kind == "approve":
            self._four_eyes(repo, row, actor, "approve it")
        decision, entry = self.reviews.decide(
            repo.key, row.sha, "approve" if kind == "approve" else "deny", actor, reason.strip()
        )
        self.hub.forget_verdicts()
        self._announce(entry, repo.namespace)
        return decision

    def grant_exception(
        self,
        caller: Caller,
        repo: RepoInfo,
        row: RevisionView,
        *,
        rule: str,
        file: str | None,
        reason: str,
        expires: date,
    ) -> GrantedException:
        actor = self._reviewer(caller, repo, "grant exceptions in")
        self._four_eyes(repo, row, actor, "waive its findings")
        wanted = rule.strip().upper()
        if wanted in ("*", "MT-*", "MT-*-*") or wanted.startswith("MT-GEN"):
            raise InvalidRequestError(
                f"'{rule}' would waive every rule, or the hub's own (a file nobody scanned): name "
                "a rule, or a family such as MT-PKL-*.",
                status=422,
            )
        granted, entry = self.reviews.grant_exception(
            repo.key,
            rule=rule,
            file=file,
            reason=reason.strip(),
            approver=actor,
            expires=expires,
            sha=row.sha,
        )
        self._announce(entry, repo.namespace)
        self.hub.reaudit(repo.key, row.sha)
        self.hub.forget_verdicts()
        return granted

    def set_settings(
        self, caller: Caller, namespace: str, *, four_eyes: bool, dry_run: bool
    ) -> ReviewSettings:
        principal = caller.principal
        allowed = caller.server_admin or (
            principal is not None
            and (principal.user.site_admin or principal.org_role(namespace) == "admin")
        )
        if not allowed:
            raise HubError(403, f"Only an admin of '{namespace}' may change how it is reviewed.")
        before = self.reviews.settings(namespace)
        after = self.reviews.set_settings(
            namespace, four_eyes=four_eyes, dry_run=dry_run, actor=caller.name or "admin"
        )
        if after != before:
            self.hub.forget_verdicts()
            entries = self.trail.entries(
                subject=namespace, action="policy.review-settings", newest_first=True, limit=1
            )
            if entries:
                self._announce(entries[0], namespace)
        return after

    def _four_eyes(self, repo: RepoInfo, row: RevisionView, actor: str, what: str) -> None:
        settings = self.reviews.settings(repo.namespace)
        if settings.four_eyes and row.author and row.author == actor:
            raise HubError(
                403,
                f"Four eyes are required in '{repo.namespace}': {actor} uploaded "
                f"{repo.repo_id}@{row.sha[:12]} and cannot {what}; another reviewer must.",
            )

    def _reviewer(self, caller: Caller, repo: RepoInfo, what: str) -> str:
        if caller.anonymous:
            raise HubError(401, "Log in to review.")
        if not self.may_review(caller, repo):
            raise HubError(
                403,
                f"Only the admins of {repo.repo_id} (its organisation's admins, site admins) may "
                f"{what} it.",
            )
        return caller.name or "admin"

    # --- the trail and the webhooks -------------------------------------------------------------

    def record(
        self,
        actor: str,
        action: str,
        subject: str,
        reason: str,
        details: dict[str, Any],
        *,
        namespace: str | None = None,
    ) -> None:
        """A trail entry, announced to the webhooks of ``namespace`` (default: the subject's
        repo's)."""
        entry = self.trail.append(actor, action, subject, reason, details)
        self._announce(entry, namespace or _namespace(subject.split("@", 1)[0]))

    def _announce(self, entry: Entry, namespace: str | None) -> None:
        """Tell the webhooks of ``namespace`` (and the hub-wide ones) about a trail entry."""
        if self.webhooks is None:
            return
        self.webhooks.announce(
            entry.action,
            namespace,
            {
                "event": entry.action,
                "actor": entry.actor,
                "subject": entry.subject,
                "reason": entry.reason,
                "details": dict(entry.details),
                "at": entry.at.isoformat(),
                "trail": {"id": entry.id, "hash": entry.hash},
            },
        )


def _namespace(key: str) -> str | None:
    """The namespace of a repo key (``org/name`` or ``datasets/org/name``)."""
    repo_id = split_key(key)[1]
    return repo_id.split("/", 1)[0] if "/" in repo_id else None


def _critical(hub: GovernedHub, audit: AuditView) -> bool:
    """The audit found something critical (its full report says)."""
    full = audit if audit.report_json else hub.catalog.latest_audit(audit.repo_id, audit.sha)
    if full is None or not full.report_json:
        return False
    try:
        counts = json.loads(full.report_json).get("summary", {}).get("by_severity", {})
    except ValueError:
        return True  # unreadable: the cautious answer
    return bool(counts.get("critical"))
