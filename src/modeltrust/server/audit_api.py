"""``/api/modeltrust/audits/{org}/{name}/{revision}`` (JSON) and ``…/html``: the audit of a repo
revision as recorded, under the server's current policy when there is one, else the newest."""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

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
    if found is None:
        raise HubError(
            404,
            f"No audit of {repo_id}@{revision} is recorded. Request one of its files through "
            "this hub to have it fetched and audited.",
            "RevisionNotFound",
        )
    return found


@router.get("/audits/{org}/{name}/{revision}")
def audit_json(request: Request, org: str, name: str, revision: str) -> JSONResponse:
    found = _find(request.app.state.hub, f"{org}/{name}", revision)
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


@router.get("/audits/{org}/{name}/{revision}/html")
def audit_html(request: Request, org: str, name: str, revision: str) -> HTMLResponse:
    found = _find(request.app.state.hub, f"{org}/{name}", revision)
    return HTMLResponse(found.report_html)


@router.get("/health")
def health(request: Request) -> JSONResponse:
    hub: GovernedHub = request.app.state.hub
    return JSONResponse({"ok": True, "policy": hub.policy_key, "upstream": hub.settings.upstream})
