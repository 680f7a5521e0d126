"""``/api/modeltrust/audits/{repo}/{revision}`` (JSON) and ``…/html``: the audit of a repo
revision as recorded, under the server's current policy when there is one, else the newest."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from modeltrust.server.hub_api import repo_id_of
from modeltrust.server.responses import HubError
from modeltrust.server.service import GovernedHub
from modeltrust.storage.catalog import AuditView

_SHA = re.compile(r"[0-9a-f]{40}")

router = APIRouter(prefix="/api/modeltrust")


def _find(hub: GovernedHub, repo_id: str, revision: str) -> AuditView:
    sha = revision
    if not _SHA.fullmatch(revision):
        ref = hub.catalog.find_ref(repo_id, revision)
        sha = ref.sha if ref is not None else revision
    found = hub.catalog.latest_audit(repo_id, sha, hub.policy_key) or hub.catalog.latest_audit(
        repo_id, sha
    )
    if found is None and (job := hub.ingest_of(repo_id, sha)) is not None:
        raise HubError(
            503,
            f"modeltrust is fetching and auditing {job.label} ({job.progress()}); its report "
            "is recorded when that ends.",
            None,
            {"Retry-After": str(job.retry_after(hub.settings.retry_after_max))},
        )
    if found is None:
        raise HubError(
            404,
            f"No audit of {repo_id}@{revision} is recorded. Request one of its files through "
            "this hub to have it fetched and audited.",
            "RevisionNotFound",
        )
    return found


@router.get("/audits/{_rest:path}")
def audit(request: Request, _rest: str) -> Response:
    """``audits/{repo}/{revision}`` as JSON, ``…/html`` as HTML; ``{repo}`` is ``name`` or
    ``org/name``. Routed on the raw path, like the Hub routes, so that ``refs%2Fpr%2F1`` stays
    one revision. A repo without an org whose revision is literally ``html`` cannot be asked for
    as JSON; its commit sha can."""
    hub: GovernedHub = request.app.state.hub
    repo_id, revision, html = _target(request, allow_html=True)
    # A report says what a repo holds: only for those who may read the repo (a private one
    # does not exist for the others).
    registry = hub.registry
    caller = registry.access.caller(request.headers.get("authorization"))
    repo = registry.repo(repo_id)
    if repo is None:
        registry.access.check_anonymous(caller)
    else:
        registry.access.require_read(caller, repo)
    found = _find(hub, repo_id, revision)
    if not html:
        return _document(found)
    return HTMLResponse(
        found.report_html,
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/audits/{_rest:path}")
def reaudit(request: Request, _rest: str) -> Response:
    """Audit a stored revision again (``Authorization: Bearer <admin token>``): after an
    exception expired or modeltrust was upgraded. Every server sharing the database follows
    the new verdict within ``verdict_recheck`` seconds."""
    hub: GovernedHub = request.app.state.hub
    expected = hub.settings.admin_token
    if not expected:
        raise HubError(
            403,
            "Re-audits are disabled on this hub: start it with MODELTRUST_ADMIN_TOKEN set and "
            "send that token as 'Authorization: Bearer ...'.",
        )
    caller = hub.registry.access.caller(request.headers.get("authorization"))
    if not caller.server_admin:
        raise HubError(401, "A re-audit needs this hub's admin token as 'Authorization: Bearer'.")
    repo_id, revision, _ = _target(request, allow_html=False)
    return _document(hub.reaudit(repo_id, revision))


def _target(request: Request, *, allow_html: bool) -> tuple[str, str, bool]:
    """(repo id, revision, whether the HTML report is asked for) from the raw path."""
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    segments = raw.split("?", 1)[0].split("/")[4:]  # after /api/modeltrust/audits/
    html = allow_html and len(segments) >= 3 and segments[-1] == "html"
    if html:
        segments = segments[:-1]
    if len(segments) not in (2, 3) or not all(segments):
        raise HubError(
            404,
            f"No audit route for '{raw}': use /api/modeltrust/audits/REPO/REVISION[/html].",
        )
    return repo_id_of(segments[:-1]), unquote(segments[-1]), html


def _document(found: AuditView) -> JSONResponse:
    return JSONResponse(
        {
            "repo": found.repo_id,
            "sha": found.sha,
            "verdict": found.verdict,
            "policy": found.policy,
            "reasons": list(found.reasons),
            "audited_at": found.created_at.isoformat(timespec="seconds"),
            "report": json.loads(found.report_json),
        }
    )


@router.get("/health")
def health(request: Request) -> JSONResponse:
    hub: GovernedHub = request.app.state.hub
    return JSONResponse({"ok": True, "policy": hub.policy_key, "upstream": hub.settings.upstream})
