"""The review UI's pages, under ``/-/`` (no user, organisation or repo name starts with ``-``,
so the UI never shadows a repo). Server-rendered HTML: every page reads without JavaScript, and
every action is a plain form (POST, with the session's CSRF token)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from modeltrust import __version__
from modeltrust.errors import UsageError
from modeltrust.server.access import not_found
from modeltrust.server.app import to_hub_error
from modeltrust.server.responses import HubError
from modeltrust.server.service import GovernedHub
from modeltrust.storage.catalog import AuditView
from modeltrust.storage.hosted import RepoInfo, split_key
from modeltrust.web import auth, catalogue
from modeltrust.web import oidc as oidc_module
from modeltrust.web.auth import Visitor
from modeltrust.web.lineage import svg
from modeltrust.web.oidc import OidcLogin

log = logging.getLogger(__name__)
router = APIRouter()
BASE = "/-/"
_HEADERS = {
    # Nothing but this site's own stylesheet; no script runs on these pages at all.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("modeltrust.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["verdict_badge"] = _badge
    return env


def _badge(verdict: str | None) -> Markup:
    label = verdict or "pending"
    return Markup('<span class="badge {0}">{0}</span>').format(label)


def _page(who: Visitor, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = (
        _environment()
        .get_template(template)
        .render(base=BASE, root="/", who=who, version=__version__, **context)
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _hub(request: Request) -> GovernedHub:
    hub: GovernedHub = request.app.state.hub
    return hub


async def _ui(
    request: Request,
    handler: Callable[[GovernedHub, Visitor], Response],
    *,
    login: bool = False,
    public: bool = False,
) -> Response:
    """Run ``handler`` in a worker thread; failures become an HTML page (or the login page).
    ``login``: only for a signed-in visitor; ``public``: for anyone (the sign-in pages)."""
    hub = _hub(request)

    def admitted(who: Visitor) -> None:
        if login and who.session is None:
            raise HubError(401, "Sign in to see this page.")
        if who.caller.anonymous and not hub.settings.anonymous_read and not public:
            raise HubError(401, "This hub shows nothing to anonymous visitors: sign in.")

    def call() -> Response:
        who = auth.visitor(request)
        try:
            admitted(who)
            return handler(hub, who)
        except Exception as e:  # every failure is a page, never a traceback
            error = to_hub_error(e)
            if error.status >= 500:
                log.exception("the review UI failed on %s", request.url.path)
            if error.status == 401 and request.method == "GET" and not public:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(
                    f"{BASE}login?{urlencode({'next': target})}", status_code=303
                )
            return _page(
                who,
                "error.html",
                error.status,
                code=error.status,
                heading=_HEADINGS.get(error.status, "Something went wrong"),
                message=error.message,
                next=request.url.path,
            )

    return await run_in_threadpool(call)


_HEADINGS = {
    400: "This request cannot be done",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "This request cannot be done",
}


# --- the catalogue ---------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def root(request: Request) -> Response:
    """A browser at the hub's address gets the catalogue; API clients never ask for ``/``."""
    return RedirectResponse(BASE, status_code=307)


@router.get(BASE, include_in_schema=False)
async def catalogue_page(request: Request) -> Response:
    params = request.query_params

    def handler(hub: GovernedHub, who: Visitor) -> Response:
        age = params.get("age", "")
        age = age if re.fullmatch(r"[0-9]{1,5}", age) else ""
        filters = catalogue.Filters(
            q=params.get("q", "").strip(),
            verdict=params.get("verdict", ""),
            license=params.get("license", "").strip(),
            base=params.get("base", "").strip(),
            org=params.get("org", "").strip(),
            age_days=int(age) if age.isdigit() and int(age) > 0 else None,
            after=params.get("after", ""),
        )
        found = catalogue.search(hub.catalog, who.caller, filters)
        next_url = None
        if found.next_after:
            query = {k: v for k, v in params.items() if k != "after" and v}
            next_url = f"{BASE}?{urlencode(query | {'after': found.next_after})}"
        return _page(
            who,
            "catalogue.html",
            page="catalogue",
            filters=filters,
            verdicts=catalogue.VERDICTS,
            page_rows=found.rows,
            next_url=next_url,
        )

    return await _ui(request, handler)


# --- signing in and out ----------------------------------------------------------------------------


@router.get(BASE + "login", include_in_schema=False)
async def login_page(request: Request) -> Response:
    who = await run_in_threadpool(auth.visitor, request)
    target = _next(request.query_params.get("next"))
    oidc = getattr(request.app.state, "oidc", None) is not None
    response = _page(who, "login.html", next=target)
    token = auth.login_token(request, response)
    # Rendered again now that the form's token is known (the cookie is on this response).
    fresh = _page(who, "login.html", next=target, login_csrf=token, oidc=oidc)
    fresh.raw_headers.extend(h for h in response.raw_headers if h[0] == b"set-cookie")
    return fresh


@router.get(BASE + "oidc/start", include_in_schema=False)
async def oidc_start(request: Request) -> Response:
    def handler(hub: GovernedHub, who: Visitor) -> Response:
        oidc: OidcLogin | None = getattr(request.app.state, "oidc", None)
        if oidc is None:
            raise HubError(404, "This hub signs people in with its tokens only (no OIDC).")
        callback = f"{_origin(request)}{BASE}oidc/callback"
        url, state = oidc.start(callback, _next(request.query_params.get("next")))
        response = RedirectResponse(url, status_code=303)
        # Lax: the provider sends the browser back with a top-level GET from its own site.
        response.set_cookie(
            oidc_module.STATE_COOKIE,
            state,
            max_age=600,
            path=BASE + "oidc/",
            secure=auth.secure(request),
            httponly=True,
            samesite="lax",
        )
        return response

    return await _ui(request, handler, public=True)


@router.get(BASE + "oidc/callback", include_in_schema=False)
async def oidc_callback(request: Request) -> Response:
    params = request.query_params

    def handler(hub: GovernedHub, who: Visitor) -> Response:
        from modeltrust.storage.accounts import Accounts

        oidc: OidcLogin | None = getattr(request.app.state, "oidc", None)
        if oidc is None:
            raise HubError(404, "This hub signs people in with its tokens only (no OIDC).")
        name, target = oidc.finish(
            request.cookies.get(oidc_module.STATE_COOKIE, ""),
            params.get("state", ""),
            params.get("code", ""),
            params.get("error_description") or params.get("error", ""),
        )
        if hub.registry.accounts.user(name) is None:
            raise HubError(
                403,
                f"The identity provider signed you in as '{name}', who is not a user of this "
                f"hub. Ask an admin to add them ('modeltrust users add {name}').",
            )
        expires = oidc_module.session_expiry(hub.settings)
        info, _value = Accounts(hub.catalog, actor=f"oidc:{name}").create_token(
            name, auth.OIDC_TOKEN, "write", expires_at=expires
        )
        # A page, not a redirect: the navigation to the target then starts on this site, so the
        # browser sends the new SameSite=Strict cookie with it.
        page = _page(Visitor(who.caller, None, None), "signed_in.html", target=target, name=name)
        auth.open_session(request, page, info.id)
        page.delete_cookie(oidc_module.STATE_COOKIE, path=BASE + "oidc/")
        return page

    return await _ui(request, handler, public=True)


def _origin(request: Request) -> str:
    scheme = "https" if auth.secure(request) else request.url.scheme
    return f"{scheme}://{request.headers.get('host') or request.url.netloc}"


@router.post(BASE + "login", include_in_schema=False)
async def login(request: Request) -> Response:
    form = await _form(request)
    token, csrf = form.get("token", ""), form.get("csrf", "")
    target = _next(form.get("next", ""))

    def handler() -> Response:
        response = RedirectResponse(target, status_code=303)
        try:
            auth.log_in(request, response, token, csrf)
        except HubError as e:
            who = auth.visitor(request)
            page = _page(who, "login.html", e.status, next=target, error=e.message)
            fresh = auth.login_token(request, page)
            again = _page(
                who, "login.html", e.status, next=target, error=e.message, login_csrf=fresh
            )
            again.raw_headers.extend(h for h in page.raw_headers if h[0] == b"set-cookie")
            return again
        return response

    return await run_in_threadpool(handler)


@router.post(BASE + "logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    form = await _form(request)
    csrf = form.get("csrf", "")

    def handler() -> Response:
        who = auth.visitor(request)
        if who.session is not None:
            auth.check_csrf(who, csrf)
        response = RedirectResponse(BASE, status_code=303)
        auth.log_out(request, response)
        return response

    return await run_in_threadpool(handler)


_FORM_LIMIT = 64 * 1024


async def _form(request: Request) -> dict[str, str]:
    """A posted form (``application/x-www-form-urlencoded``, what every form here sends); the
    last value of each field. Larger than any form of this UI: refused."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _FORM_LIMIT:
            raise HubError(413, "This form is larger than any form of this site.")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in fields.items()}


def _next(value: str | None) -> str:
    """Where to go after signing in: a page of this UI only (no open redirect)."""
    if value and value.startswith(BASE) and "//" not in value and "\\" not in value:
        return value
    return BASE


# --- one repo --------------------------------------------------------------------------------------


def _readable(hub: GovernedHub, who: Visitor, key: str) -> RepoInfo:
    repo = hub.registry.repo(key, fresh=True)
    if repo is None:  # the same answer as for a private repo: names cannot be probed
        raise not_found(split_key(key)[1])
    hub.registry.access.require_read(who.caller, repo)
    return repo


@router.get(BASE + "repos/{key:path}", include_in_schema=False)
async def repo_page(request: Request, key: str) -> Response:
    flash = request.query_params.get("done", "")

    def handler(hub: GovernedHub, who: Visitor) -> Response:
        repo = _readable(hub, who, key)
        return _page(who, "repo.html", **_repo_context(hub, who, repo), flash=_FLASH.get(flash))

    return await _ui(request, handler)


_FLASH = {
    "approve": "Approved. The decision is in the audit trail.",
    "deny": "Denied. The revision will not be served.",
    "exception": "Exception granted; the revision was audited again.",
    "access": "Access request decided.",
}


def _repo_context(hub: GovernedHub, who: Visitor, repo: RepoInfo) -> dict[str, Any]:
    audit = catalogue.newest_audit(hub.catalog, repo.key)
    review = hub.review
    may_review = review.may_review(who.caller, repo)
    context: dict[str, Any] = {
        "repo": repo,
        "repo_id": repo.repo_id,
        "audit": audit,
        "may_review": may_review,
        "revisions": catalogue.revisions(hub.catalog, repo.key),
        "settings": review.reviews.settings(repo.namespace),
        "today": date.today().isoformat(),
        "default_expiry": (date.today() + timedelta(days=90)).isoformat(),
    }
    report: dict[str, Any] = {}
    if audit is not None:
        slim = AuditView(
            audit.repo_id,
            audit.sha,
            audit.verdict,
            audit.policy,
            audit.reasons,
            "",
            "",
            audit.created_at,
        )
        context["effective"] = review.judge(slim)
        context["standing"] = review.standing(audit) if audit.verdict == "fail" else None
        try:
            report = json.loads(audit.report_json) if audit.report_json else {}
        except ValueError:
            report = {}
        row = hub.catalog.revision(repo.key, audit.sha)
        context["files"] = [
            {"path": f.path, "size_text": _size(f.size), "sha256": f.sha256}
            for f in (row.files if row else ())
        ]
    context["report"] = report
    findings: dict[str, list[dict[str, Any]]] = {}
    for f in report.get("findings") or []:
        findings.setdefault(str(f.get("area") or "other"), []).append(
            {
                "rule_id": f.get("rule_id"),
                "severity": f.get("severity"),
                "outcome": f.get("outcome"),
                "where": (f.get("location") or {}).get("display") or f.get("path") or "",
                "message": f.get("message") or f.get("title"),
            }
        )
    context["findings_by_area"] = sorted(findings.items())
    context["rule_ids"] = sorted({str(f["rule_id"]) for items in findings.values() for f in items})
    license_report = report.get("license") or {}
    context["licences"] = license_report.get("effective_licenses") or []
    context["commercial"] = license_report.get("commercial_use")
    context["obligations"] = license_report.get("obligations") or []
    documentation = report.get("documentation") or {}
    context["doc_score"] = float(
        documentation.get("score") or documentation.get("overall_score") or 0
    )
    context["standards"] = [
        {
            "title": s.get("title") or s.get("id"),
            "score": s.get("score"),
            "missing": ", ".join(s.get("missing") or []) or "—"
            if isinstance(s.get("missing"), list)
            else s.get("missing"),
        }
        for s in documentation.get("standards") or []
    ]
    lineage = list(license_report.get("lineage") or [])
    if lineage:  # audited from a scratch folder: the model itself is this repo
        lineage[0] = {**lineage[0], "repo_id": repo.repo_id, "name": repo.repo_id}
    derived = catalogue.derivatives(hub.catalog, who.caller, repo.repo_id)
    context["lineage"] = lineage
    context["derived"] = derived
    context["lineage_svg"] = Markup(  # noqa: S704 - built by lineage.svg, every text escaped
        svg(lineage, derived, f"Lineage of {repo.repo_id}: bases above, derivatives below")
    )
    if may_review or who.caller.site_admin:
        entries = review.trail.entries(subject=repo.repo_id, newest_first=True, limit=50)
        context["trail"] = [
            e
            for e in entries
            if e.subject == repo.repo_id or e.subject.startswith(repo.repo_id + "@")
        ][:20]
    return context


def _size(n: int) -> str:
    from modeltrust.report.interface import human_size

    return human_size(n)


# --- decisions -------------------------------------------------------------------------------------


async def _post(
    request: Request, key: str, act: Callable[[GovernedHub, Visitor, RepoInfo, dict[str, str]], str]
) -> Response:
    form = await _form(request)

    def handler(hub: GovernedHub, who: Visitor) -> Response:
        auth.check_csrf(who, form.get("csrf", ""))
        repo = _readable(hub, who, key)
        done = act(hub, who, repo, form)
        return RedirectResponse(f"{BASE}repos/{repo.key}?done={done}", status_code=303)

    return await _ui(request, handler, login=True)


def _revision(hub: GovernedHub, repo: RepoInfo, form: dict[str, str]) -> Any:
    sha = form.get("sha", "")
    row = hub.catalog.revision(repo.key, sha) if sha else None
    if row is None:
        raise HubError(404, f"{repo.repo_id} has no revision '{sha}' here.", "RevisionNotFound")
    return row


@router.post(BASE + "decide/{key:path}", include_in_schema=False)
async def decide(request: Request, key: str) -> Response:
    def act(hub: GovernedHub, who: Visitor, repo: RepoInfo, form: dict[str, str]) -> str:
        kind = form.get("kind", "")
        hub.review.decide(
            who.caller, repo, _revision(hub, repo, form), kind, form.get("reason", "")
        )
        return kind

    return await _post(request, key, act)


@router.post(BASE + "exception/{key:path}", include_in_schema=False)
async def exception(request: Request, key: str) -> Response:
    def act(hub: GovernedHub, who: Visitor, repo: RepoInfo, form: dict[str, str]) -> str:
        try:
            expires = date.fromisoformat(form.get("expires", ""))
        except ValueError:
            raise HubError(400, "Give the exception an expiry date (YYYY-MM-DD).") from None
        hub.review.grant_exception(
            who.caller,
            repo,
            _revision(hub, repo, form),
            rule=form.get("rule", ""),
            file=form.get("file", "").strip() or None,
            reason=form.get("reason", ""),
            expires=expires,
        )
        return "exception"

    return await _post(request, key, act)


@router.post(BASE + "access/{key:path}", include_in_schema=False)
async def access(request: Request, key: str) -> Response:
    def act(hub: GovernedHub, who: Visitor, repo: RepoInfo, form: dict[str, str]) -> str:
        hub.registry.access.require(who.caller, repo, "admin", "decide access requests to")
        try:
            hub.registry.accounts.decide_access(
                repo.key,
                form.get("user", ""),
                form.get("status", ""),
                by=who.caller.name or "admin",
            )
        except UsageError as e:
            raise HubError(400, str(e)) from None
        hub.registry.access.forget()
        return "access"

    return await _post(request, key, act)


# --- the queue and the trail -------------------------------------------------------------------------


@router.get(BASE + "queue", include_in_schema=False)
async def queue_page(request: Request) -> Response:
    def handler(hub: GovernedHub, who: Visitor) -> Response:
        waiting = []
        namespaces = _reviewed_namespaces(who)
        for item in catalogue.quarantined(hub.catalog, namespaces=namespaces):
            repo = hub.registry.repo(item.key, fresh=False)
            if repo is None or not hub.review.may_review(who.caller, repo):
                continue
            try:
                reasons = json.loads(item.reasons)
            except ValueError:
                reasons = []
            first = str(reasons[0]) if reasons else "its audit failed"
            waiting.append({**asdict(item), "first_reason": first})
        requests = [
            r
            for r in catalogue.pending_requests(hub.catalog, namespaces=namespaces)
            if (repo := hub.registry.repo(r.repo_id, fresh=False)) is not None
            and hub.review.may_review(who.caller, repo)
        ]
        return _page(who, "queue.html", page="queue", waiting=waiting, requests=requests)

    return await _ui(request, handler, login=True)


@router.get(BASE + "trail", include_in_schema=False)
async def trail_page(request: Request) -> Response:
    params = request.query_params

    def handler(hub: GovernedHub, who: Visitor) -> Response:
        subject = params.get("subject", "").strip()
        raw = params.get("before", "")
        before = int(raw) if re.fullmatch(r"[0-9]{1,12}", raw) else None
        entries = _visible_trail(hub, who, subject or None, before)
        older = None
        if len(entries) == 100:
            older = f"{BASE}trail?{urlencode({'subject': subject, 'before': entries[-1].id})}"
        return _page(
            who, "trail.html", page="trail", trail=entries, subject=subject, older_url=older
        )

    return await _ui(request, handler, login=True)


def _reviewed_namespaces(who: Visitor) -> list[str] | None:
    """The namespaces whose repos the visitor reviews as an admin (None: all, a site admin).
    Repo grants are checked per repo afterwards."""
    caller = who.caller
    if caller.site_admin:
        return None
    principal = caller.principal
    if principal is None:
        return []
    return [org for org, role in principal.orgs if role == "admin"] + [principal.name]


def _visible_trail(
    hub: GovernedHub, who: Visitor, subject: str | None, before: int | None
) -> list[Any]:
    """Site admins read the whole trail; an organisation's admins the entries about it (and a
    user the entries about their own namespace), filtered in the database."""
    caller = who.caller
    principal = caller.principal
    if caller.site_admin:
        return hub.review.trail.entries(
            subject=subject, newest_first=True, limit=100, before=before
        )
    if principal is None:
        raise HubError(403, "Only admins read the audit trail.")
    own = [org for org, role in principal.orgs if role == "admin"] + [principal.name]
    return hub.review.trail.entries(
        subject=subject, namespaces=own, newest_first=True, limit=100, before=before
    )


@router.get(BASE + "report/{key:path}", include_in_schema=False)
async def report_page(request: Request, key: str) -> Response:
    """A revision's full HTML report (``report/REPO/SHA``), for those who may read the repo."""

    def handler(hub: GovernedHub, who: Visitor) -> Response:
        repo_key, _, sha = key.rpartition("/")
        repo = _readable(hub, who, repo_key)
        found = (
            hub.catalog.latest_audit(repo.key, sha) if re.fullmatch(r"[0-9a-f]{40}", sha) else None
        )
        if found is None:
            raise HubError(404, f"No audit of {repo.repo_id}@{sha[:12]} is recorded here.")
        return HTMLResponse(
            found.report_html,
            headers=_HEADERS
            | {
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "img-src data:; frame-ancestors 'none'"
            },
        )

    return await _ui(request, handler)


@router.get(BASE + "trail.jsonl", include_in_schema=False)
async def trail_export(request: Request) -> Response:
    hub = _hub(request)
    who = await run_in_threadpool(auth.visitor, request)
    if not who.caller.site_admin:
        return PlainTextResponse("Only site admins export the audit trail.", status_code=403)

    def lines() -> Any:
        for entry in hub.review.trail:
            yield json.dumps(entry.record(), ensure_ascii=False) + "\n"

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="modeltrust-trail-{stamp}.jsonl"'},
    )


@router.get(BASE + "static/modeltrust.css", include_in_schema=False)
async def stylesheet() -> Response:
    from importlib.resources import files

    css = files("modeltrust.web").joinpath("static/modeltrust.css").read_text(encoding="utf-8")
    return Response(
        css,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
