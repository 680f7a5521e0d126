"""The registry's routes: accounts (``whoami-v2``), repo management, the push path (validate-yaml,
preupload, LFS batch and verify, commit), refs, history and pull requests, and the read routes of
hosted repos. Paths are routed on the raw URL, one segment at a time, as in :mod:`.hub_api`.

Every URL the answers name (``url``, ``commitUrl``, LFS hrefs) is built from the URL the client
used, so what it compares with its own endpoint matches.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from fastapi import Response
from fastapi.responses import JSONResponse, RedirectResponse

from modeltrust.errors import InvalidRequestError, NotFoundError
from modeltrust.server.access import not_found
from modeltrust.server.registry import Registry, iso
from modeltrust.server.request import Incoming
from modeltrust.server.responses import HubError, header_text
from modeltrust.storage.accounts import rank
from modeltrust.storage.catalog import RevisionView
from modeltrust.storage.hosted import (
    MAIN,
    RepoInfo,
    check_ref_name,
    repo_key,
    split_key,
)

_TYPES = {"models": "model", "datasets": "dataset"}
_PREFIX = {"model": "", "dataset": "datasets/"}
_ALWAYS_READABLE = frozenset({"README.md", ".gitattributes"})
"""Files of a gated repo anyone who may see it may read (the Hub shows the card first)."""


HostedRoute = Callable[[Registry, Incoming, RepoInfo, list[str]], Response]


def dispatch(registry: Registry, req: Incoming) -> Response | None:
    """The answer of a registry route, or None when the request is not one (the mirror's)."""
    parts, method = req.parts, req.method
    if "/".join(parts) == NO_XET_PATH:
        raise HubError(400, NO_XET_MESSAGE)
    if parts[:2] == ["api", "whoami-v2"] and method == "GET":
        return whoami(registry, req)
    if parts[:2] == ["api", "repos"] and len(parts) == 3:
        action = {("POST", "create"): create_repo, ("DELETE", "delete"): delete_repo}
        action[("POST", "move")] = move_repo
        handler = action.get((method, parts[2]))
        return handler(registry, req) if handler else None
    if parts[:2] == ["api", "validate-yaml"] and method == "POST":
        return validate_yaml(registry, req)
    if parts[:1] == ["api"] and len(parts) >= 3 and parts[1] in _TYPES:
        return _api_route(registry, req, _TYPES[parts[1]], parts[2:])
    if parts[:1] != ["api"]:
        return _file_route(registry, req)
    return None


# --- accounts ----------------------------------------------------------------------------------


def whoami(registry: Registry, req: Incoming) -> Response:
    caller = req.caller
    if caller.anonymous:
        raise HubError(401, "Invalid credentials in Authorization header: no token was sent.")
    if caller.principal is None:  # the server's admin token
        return JSONResponse(
            {
                "type": "user",
                "name": "admin",
                "fullname": "modeltrust server admin token",
                "isAdmin": True,
                "orgs": [],
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "MODELTRUST_ADMIN_TOKEN", "role": "write"},
                },
            }
        )
    principal = caller.principal
    user = principal.user
    orgs = []
    for name, role in principal.orgs:
        org = registry.accounts.org(name)
        orgs.append(
            {
                "type": "org",
                "name": name,
                "fullname": org.fullname if org else name,
                "roleInOrg": role,
            }
        )
    return JSONResponse(
        {
            "type": "user",
            "id": user.name,
            "name": user.name,
            "fullname": user.fullname or user.name,
            "email": user.email,
            "emailVerified": user.email is not None,
            "isPro": False,
            "isAdmin": user.site_admin,
            "orgs": orgs,
            "auth": {
                "type": "access_token",
                "accessToken": {
                    "displayName": principal.token_name,
                    "role": principal.scope,
                    "createdAt": None,
                },
            },
        }
    )


# --- repo management ---------------------------------------------------------------------------


def _repo_url(req: Incoming, info: RepoInfo) -> str:
    return f"{req.base_url}{_PREFIX[info.repo_type]}{info.repo_id}"


def create_repo(registry: Registry, req: Incoming) -> Response:
    data = req.json()
    name, organization = data.get("name"), data.get("organization")
    repo_type = data.get("type") or "model"
    if not isinstance(name, str) or (
        organization is not None and not isinstance(organization, str)
    ):
        raise InvalidRequestError("Give the repo's 'name' (and 'organization', or null).")
    if "/" in name and organization is None:
        organization, name = name.split("/", 1)
    visibility = data.get("visibility")
    private = data.get("private")
    if visibility in ("private", "public"):
        private = visibility == "private"
    elif not isinstance(private, bool):
        private = None
    info, created = registry.create_repo(req.caller, str(repo_type), organization, name, private)
    body = {"url": _repo_url(req, info), "name": info.repo_id, "id": info.repo_id}
    if not created:
        body["error"] = f"You already created this {info.repo_type} repo: {info.repo_id}"
        return JSONResponse(body, status_code=409, headers={"X-Error-Message": body["error"]})
    return JSONResponse(body)


def _named_key(data: Mapping[str, Any], name_key: str = "name") -> str:
    name, organization = data.get(name_key), data.get("organization")
    if not isinstance(name, str):
        raise InvalidRequestError(f"Give the repo's '{name_key}'.")
    repo_id = name if "/" in name or not organization else f"{organization}/{name}"
    return repo_key(str(data.get("type") or "model"), repo_id)


def delete_repo(registry: Registry, req: Incoming) -> Response:
    registry.delete_repo(req.caller, _named_key(req.json()))
    return JSONResponse({"ok": True})


def move_repo(registry: Registry, req: Incoming) -> Response:
    data = req.json()
    source, target = data.get("fromRepo"), data.get("toRepo")
    if not isinstance(source, str) or not isinstance(target, str):
        raise InvalidRequestError("Give 'fromRepo' and 'toRepo' as 'namespace/name'.")
    from modeltrust.server.hub_api import repo_id_of

    repo_type = str(data.get("type") or "model")
    target_id = repo_id_of([quote(p, safe="") for p in target.split("/")])
    if target_id.count("/") != 1:
        raise InvalidRequestError("'toRepo' must be 'namespace/name'.")
    moved = registry.move_repo(
        req.caller, repo_key(repo_type, source), repo_key(repo_type, target_id)
    )
    return JSONResponse({"url": _repo_url(req, moved)})


def validate_yaml(registry: Registry, req: Incoming) -> Response:
    from modeltrust.server.card_check import check_card

    try:
        data = req.json()
    except InvalidRequestError as e:
        return JSONResponse({"errors": [{"message": str(e)}], "warnings": []}, status_code=400)
    content = data.get("content")
    if not isinstance(content, str):
        return JSONResponse(
            {"errors": [{"message": "'content' must be the README's text."}], "warnings": []},
            status_code=400,
        )
    errors, warnings = check_card(registry.hub, content)
    body = {
        "errors": [{"message": e} for e in errors],
        "warnings": [{"message": w} for w in warnings],
    }
    return JSONResponse(body, status_code=400 if errors else 200)


# --- routes under /api/{models,datasets}/{repo}/... ------------------------------------------------


def _api_route(
    registry: Registry, req: Incoming, repo_type: str, segments: list[str]
) -> Response | None:
    from modeltrust.server.hub_api import candidates

    for repo_id, rest in candidates(segments):
        key = repo_key(repo_type, repo_id)
        route = _match(req.method, rest)
        if route is None:
            continue
        repo = registry.repo(key)
        if repo is None or repo.kind != "hosted":
            if repo_type == "model" and route in _MIRROR_ROUTES:
                return None  # the mirror answers (pulled through from the upstream)
            registry.access.check_anonymous(req.caller)
            raise not_found(repo_id)
        registry.access.require_read(req.caller, repo)
        return route(registry, req, repo, rest)
    if repo_type == "model":
        return None
    raise HubError(404, f"No route for {req.method} /api/datasets/{'/'.join(segments)}.")


def _match(method: str, rest: list[str]) -> HostedRoute | None:
    found = _ROUTES.get((method, rest[0] if rest else ""))
    if found is None:
        return None
    route, fewest, most = found
    return route if fewest <= len(rest) <= most else None


def _rev(rest: list[str], at: int = 1) -> str:
    return unquote(rest[at]) if len(rest) > at else MAIN


def info(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    view = registry.revision(repo, _rev(rest))
    from modeltrust.server.hub_api import siblings

    body: dict[str, Any] = {
        "_id": repo.repo_id,
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": view.sha,
        "lastModified": iso(view.created_at or repo.created_at),
        "createdAt": iso(repo.created_at),
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "siblings": siblings(view),
    }
    if repo.repo_type == "model":
        body["modelId"] = repo.repo_id
    body.update(view.info)
    body["modeltrust"] = _state(registry, req, repo, view)
    expand = req.params.get("expand")
    if expand:
        body = {k: v for k, v in body.items() if k in expand or k in ("_id", "id")}
    return JSONResponse(body)


def _state(registry: Registry, req: Incoming, repo: RepoInfo, view: RevisionView) -> dict[str, Any]:
    """What the gate says of a revision: its verdict, or that it is quarantined."""
    done = registry.hub.catalog.latest_audit(view.repo_id, view.sha, registry.hub.policy_key)
    report = f"{req.base_url}api/modeltrust/audits/{_PREFIX[repo.repo_type]}{repo.repo_id}/{view.sha}/html"
    if done is None:
        return {
            "verdict": "pending",
            "quarantined": True,
            "message": "This revision is quarantined until its audit allows it: no byte of it is "
            "served to anyone but its uploader and the repo's admins.",
            "report": report,
        }
    judged = registry.hub.review.judge(done)  # with the reviewers' decisions
    return {
        "verdict": judged.verdict,
        "audit_verdict": done.verdict,
        "quarantined": judged.verdict == "fail",
        "reasons": list(judged.reasons[:5]),
        "report": report,
    }


def tree(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    from modeltrust.server.hub_api import render_tree

    view = registry.revision(repo, _rev(rest))
    path = "/".join(unquote(p) for p in rest[2:]).strip("/")
    url = f"{req.base_url}api/{repo.repo_type}s/{quote(repo.repo_id)}/tree/{view.sha}"
    return render_tree(
        view,
        path,
        req.params,
        url,
        registry.settings.tree_page_size,
        _last_commit(registry, repo, view, req),
    )


def paths_info(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    from modeltrust.server.hub_api import render_paths_info

    view = registry.revision(repo, _rev(rest))
    form = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
    expand = form.get("expand", ["false"])[-1].lower() in ("1", "true")
    lookup = _last_commit(registry, repo, view, req, force=expand)
    return render_paths_info(view, form.get("paths", []), lookup)


def _last_commit(
    registry: Registry, repo: RepoInfo, view: RevisionView, req: Incoming, *, force: bool = False
) -> Callable[[list[str]], dict[str, dict[str, str]]] | None:
    if not (force or req.flag("expand")):
        return None

    def lookup(paths: list[str]) -> dict[str, dict[str, str]]:
        found = registry.hosted.last_commits(repo.key, view.sha, paths)
        return {p: {"id": c.sha, "title": c.title, "date": iso(c.date)} for p, c in found.items()}

    return lookup


def refs(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    branches: list[dict[str, str]] = []
    tags: list[dict[str, str]] = []
    prs: list[dict[str, str]] = []
    for ref in registry.hosted.refs(repo.key):
        entry = {"name": ref.name, "ref": ref.ref, "targetCommit": ref.sha}
        {"branch": branches, "tag": tags, "pr": prs}[ref.kind].append(entry)
    body: dict[str, Any] = {"branches": branches, "converts": [], "tags": tags}
    if req.flag("include_prs"):
        body["pullRequests"] = prs
    return JSONResponse(body)


def commits(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    sha = registry.head(repo, _rev(rest))
    size = registry.settings.commits_page_size
    try:
        page = max(0, int(req.params.get("p", ["0"])[-1]))
    except ValueError:
        raise InvalidRequestError("'p' must be a page number.") from None
    found = registry.hosted.commits(repo.key, sha, limit=size + 1, offset=page * size)
    formatted = "formatted" in req.params.get("expand[]", []) + req.params.get("expand", [])
    items = []
    for c in found[:size]:
        item: dict[str, Any] = {
            "id": c.sha,
            "title": c.title,
            "message": c.message,
            "authors": [{"user": c.author or "unknown", "avatar": None}],
            "date": iso(c.date),
        }
        if formatted:
            item["formatted"] = {
                "title": html.escape(c.title),
                "message": html.escape(c.message).replace("\n", "<br>"),
            }
        items.append(item)
    headers = {}
    if len(found) > size:
        query = {k: v[-1] for k, v in req.params.items() if k != "p"} | {"p": str(page + 1)}
        url = f"{req.base_url}api/{repo.repo_type}s/{quote(repo.repo_id)}/commits/{sha}"
        headers["Link"] = f'<{url}?{urlencode(query)}>; rel="next"'
    return JSONResponse(items, headers=headers)


def preupload(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    data = req.json()
    files = data.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise InvalidRequestError("'files' must be a list of {path, sample, size}.")
    ignore = data.get("gitIgnore")
    answer, notes = registry.preupload(
        req.caller,
        repo,
        _rev(rest),
        files,
        ignore if isinstance(ignore, str) else None,
        create_pr=req.flag("create_pr"),
    )
    headers = {}
    if notes:
        headers["X-HF-Warning"] = header_text(
            "modeltrust; "
            + "; ".join(notes)
            + ". It will be audited before anyone can download it; a pickle that could run code "
            "is refused. Prefer safetensors."
        )
    return JSONResponse({"files": answer, "commitOid": None}, headers=headers)


def commit(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    if req.upload is None:  # pragma: no cover - the route spools every commit body
        raise InvalidRequestError("The commit has no body.")
    label = f"{repo.repo_id}@{_rev(rest)}"
    request = registry.parse_commit(req.upload, label)
    create_pr = req.flag("create_pr")
    result = registry.commit(req.caller, repo, _rev(rest), request, create_pr=create_pr)
    url = _repo_url(req, repo)
    body: dict[str, Any] = {
        "success": True,
        "commitOid": result.sha,
        "commitUrl": f"{url}/commit/{result.sha}",
        "modeltrust": {
            "verdict": "pending",
            "quarantined": True,
            "audit": f"{req.base_url}api/modeltrust/audits/{_PREFIX[repo.repo_type]}"
            f"{repo.repo_id}/{result.sha}",
        },
    }
    if result.pr_num is not None:
        body["pullRequestUrl"] = f"{url}/discussions/{result.pr_num}"
    warning = header_text(
        f"modeltrust; {repo.repo_id}@{result.sha[:12]} is quarantined until its audit allows it: "
        "only you and the repo's admins can download it meanwhile. The verdict: "
        f"{body['modeltrust']['audit']}"
    )
    return JSONResponse(body, headers={"X-HF-Warning": warning})


def settings(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    data = req.json()
    private = data.get("private")
    if data.get("visibility") in ("private", "public"):
        private = data["visibility"] == "private"
    gated = data.get("gated")
    if gated is False:
        gated = ""
    if private is not None and not isinstance(private, bool):
        raise InvalidRequestError("'private' must be true or false.")
    if gated is not None and not isinstance(gated, str):
        raise InvalidRequestError("'gated' must be false, 'auto' or 'manual'.")
    updated = registry.update_settings(req.caller, repo.key, private=private, gated=gated)
    return JSONResponse({"private": updated.private, "gated": updated.gated or False})


def create_branch(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    registry.access.require(req.caller, repo, "write", "create a branch in")
    name = check_ref_name(unquote(rest[1]), "branch")
    start = req.json().get("startingPoint") or MAIN
    sha = registry.head(repo, str(start))
    registry.hosted.create_ref(repo.key, "branch", name, sha)
    return JSONResponse({"ok": True})


def delete_branch(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    registry.access.require(req.caller, repo, "write", "delete a branch of")
    registry.hosted.delete_ref(repo.key, "branch", unquote(rest[1]))
    return JSONResponse({"ok": True})


def create_tag(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    registry.access.require(req.caller, repo, "write", "tag")
    sha = registry.head(repo, _rev(rest))  # a missing revision first, as the Hub checks it
    data = req.json()
    tag = data.get("tag")
    if not isinstance(tag, str):
        raise InvalidRequestError("Give the 'tag' name.")
    message = data.get("message")
    registry.hosted.create_ref(
        repo.key,
        "tag",
        check_ref_name(tag, "tag"),
        sha,
        message if isinstance(message, str) else "",
    )
    return JSONResponse({"ok": True})


def delete_tag(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    registry.access.require(req.caller, repo, "write", "delete a tag of")
    registry.hosted.delete_ref(repo.key, "tag", unquote(rest[1]))
    return JSONResponse({"ok": True})


def squash(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    revision = _rev(rest)
    message = req.json().get("message") or f"Super-squash branch '{revision}'"
    sha = registry.squash(req.caller, repo, revision, str(message))
    return JSONResponse({"commitId": sha})


def discussions(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    if req.caller.anonymous:
        raise HubError(401, "Opening a discussion needs a token: set HF_TOKEN.")
    data = req.json()
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidRequestError("A discussion needs a 'title'.")
    opened = registry.hosted.open_pull_request(
        repo.key,
        title=title,
        author=req.caller.name or "admin",
        is_pr=bool(data.get("pullRequest")),
    )
    return JSONResponse(
        {"num": opened.num, "url": f"{_repo_url(req, repo)}/discussions/{opened.num}"}
    )


def discussion(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    if len(rest) != 2 or not rest[1].isdigit():
        raise HubError(404, "Listing discussions is not offered; ask for one by number.")
    found = registry.hosted.discussion(repo.key, int(rest[1]))
    if found is None:
        raise NotFoundError(f"Discussion {rest[1]} of {repo.repo_id} does not exist.")
    base = registry.hosted.resolve(repo.key, MAIN)
    return JSONResponse(
        {
            "num": found.num,
            "title": found.title,
            "status": found.status,
            "isPullRequest": found.is_pull_request,
            "author": {"name": found.author, "type": "user"},
            "createdAt": iso(found.created_at),
            "repo": {"name": repo.repo_id, "type": repo.repo_type},
            "events": [
                {
                    "id": f"{found.num}-opened",
                    "type": "status-change",
                    "createdAt": iso(found.created_at),
                    "author": {"name": found.author, "type": "user"},
                    "data": {"status": "open"},
                }
            ],
            "changes": {"base": "refs/heads/main", "mergeCommitId": None} if base else {},
            "filesWithConflicts": [],
            "diff": None,
        }
    )


# --- gated repos ---------------------------------------------------------------------------------


def ask_access(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    """Ask to read a gated repo (the Hub's form posts here); ``auto`` gating accepts at once."""
    caller = req.caller
    if caller.principal is None:
        raise HubError(401, "Asking for access needs a token of your own: set HF_TOKEN.")
    if not repo.gated:
        raise InvalidRequestError(f"{repo.repo_id} is not gated: there is nothing to ask for.")
    fields = json.dumps({k: v for k, v in req.json().items() if isinstance(v, (str, int, bool))})
    status = registry.accounts.request_access(
        repo.key, caller.principal.name, fields, auto=repo.gated == "auto"
    )
    registry.access.forget()
    return JSONResponse({"status": status})


def access_requests(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    """``GET …/user-access-request/{pending,accepted,rejected}`` (repo admins)."""
    registry.access.require(req.caller, repo, "admin", "review the access requests of")
    status = unquote(rest[1])
    if status not in ("pending", "accepted", "rejected"):
        raise HubError(404, "Ask for pending, accepted or rejected requests.")
    return JSONResponse(
        [
            {
                "requestId": str(r.id),
                "user": {"user": r.user, "fullname": r.fullname, "email": r.email},
                "status": r.status,
                "timestamp": iso(r.created_at),
                "fields": json.loads(r.fields or "{}"),
            }
            for r in registry.accounts.access_requests(repo.key, status)
        ]
    )


def handle_access_request(
    registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]
) -> Response:
    """``POST …/user-access-request/handle`` ``{"user", "status"}`` and ``…/grant``
    ``{"user"}`` (repo admins)."""
    registry.access.require(req.caller, repo, "admin", "decide the access requests of")
    data = req.json()
    user = data.get("user")
    if user is None and isinstance(data.get("requestId"), str):
        found = [
            r for r in registry.accounts.access_requests(repo.key) if str(r.id) == data["requestId"]
        ]
        user = found[0].user if found else None
    if not isinstance(user, str):
        raise InvalidRequestError("Name the 'user' (or the 'requestId').")
    action = unquote(rest[1])
    if action == "grant":
        status = "accepted"
    elif action == "handle":
        status = str(data.get("status"))
    else:
        raise HubError(404, "Use …/user-access-request/handle or …/grant.")
    registry.accounts.decide_access(repo.key, user, status, by=req.caller.name or "admin")
    registry.access.forget()
    return JSONResponse({"ok": True})


def no_xet(registry: Registry, req: Incoming, repo: RepoInfo, rest: list[str]) -> Response:
    """huggingface_hub 1.20 and later upload every LFS file through Xet when ``hf_xet`` is
    installed (and ``HF_HUB_DISABLE_XET`` unset), and ``hf_xet`` asks for a token here first.
    Its error shows the status and the URL, never our message: so the answer redirects to a URL
    that says what to do, which answers 400 with the same words."""
    return RedirectResponse(f"{req.base_url}{NO_XET_PATH}", status_code=307)


NO_XET_PATH = "api/modeltrust/xet-is-not-supported-set-HF_HUB_DISABLE_XET=1-to-upload-over-http"
NO_XET_MESSAGE = (
    "modeltrust serve does not implement Xet storage: files are uploaded over plain HTTP (LFS). "
    "Set HF_HUB_DISABLE_XET=1 in the environment of the program that uploads, and try again."
)


_ROUTES: dict[tuple[str, str], tuple[HostedRoute, int, int]] = {
    # (method, the word after the repo id): (route, fewest and most path segments from it on)
    ("GET", ""): (info, 0, 0),
    ("GET", "revision"): (info, 2, 2),
    ("GET", "tree"): (tree, 2, 10_000),
    ("POST", "paths-info"): (paths_info, 2, 2),
    ("GET", "refs"): (refs, 1, 1),
    ("GET", "commits"): (commits, 2, 2),
    ("POST", "preupload"): (preupload, 2, 2),
    ("POST", "commit"): (commit, 2, 2),
    ("PUT", "settings"): (settings, 1, 1),
    ("POST", "branch"): (create_branch, 2, 2),
    ("DELETE", "branch"): (delete_branch, 2, 2),
    ("POST", "tag"): (create_tag, 2, 2),
    ("DELETE", "tag"): (delete_tag, 2, 2),
    ("POST", "super-squash"): (squash, 2, 2),
    ("POST", "discussions"): (discussions, 1, 1),
    ("GET", "discussions"): (discussion, 1, 2),
    ("GET", "user-access-request"): (access_requests, 2, 2),
    ("POST", "user-access-request"): (handle_access_request, 2, 2),
    ("POST", "ask-access"): (ask_access, 1, 1),
    ("GET", "xet-write-token"): (no_xet, 1, 2),
    ("GET", "xet-read-token"): (no_xet, 1, 2),
}

_MIRROR_ROUTES: frozenset[HostedRoute] = frozenset({info, tree, paths_info, refs})
"""Routes the mirror answers for a model repo that is not hosted here."""


# --- file routes: LFS batch and resolve -----------------------------------------------------------


def _file_route(registry: Registry, req: Incoming) -> Response | None:
    parts = req.parts
    repo_type = "model"
    if parts[:1] == ["datasets"]:
        repo_type, parts = "dataset", parts[1:]
    lfs = ["info", "lfs", "objects", "batch"]
    if (
        req.method == "POST"
        and len(parts) >= 5
        and parts[-4:] == lfs
        and parts[-5].endswith(".git")
    ):
        from modeltrust.server.hub_api import repo_id_of

        segments = [*parts[:-5], parts[-5].removesuffix(".git")]
        if len(segments) not in (1, 2):
            raise HubError(404, "No such LFS endpoint.")
        return lfs_batch(registry, req, repo_key(repo_type, repo_id_of(segments)))
    if req.method not in ("GET", "HEAD"):
        return None
    from modeltrust.server.hub_api import candidates

    for repo_id, rest in candidates(parts):
        if len(rest) < 3 or rest[0] != "resolve":
            continue
        key = repo_key(repo_type, repo_id)
        repo = registry.repo(key)
        if repo is None or repo.kind != "hosted":
            if repo_type == "model":
                return None
            registry.access.check_anonymous(req.caller)
            raise not_found(repo_id)
        return resolve(
            registry, req, repo, unquote(rest[1]), "/".join(unquote(p) for p in rest[2:])
        )
    return None


def lfs_batch(registry: Registry, req: Incoming, key: str) -> Response:
    repo = registry.repo(key)
    if repo is None or repo.kind != "hosted":
        registry.access.check_anonymous(req.caller)
        raise not_found(split_key(key)[1])
    registry.access.require_read(req.caller, repo)
    data = req.json()
    if data.get("operation") != "upload":
        raise InvalidRequestError("Only LFS uploads are offered here; downloads use /resolve/.")
    objects = data.get("objects")
    if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
        raise InvalidRequestError("'objects' must be a list of {oid, size}.")
    ref = data.get("ref")
    ref_name = ref.get("name") if isinstance(ref, dict) else None
    answers = registry.lfs_batch(req.caller, repo, objects, ref_name, req.base_url)
    return JSONResponse(
        {"transfer": "basic", "objects": answers, "hash_algo": "sha256"},
        media_type="application/vnd.git-lfs+json",
    )


def resolve(
    registry: Registry, req: Incoming, repo: RepoInfo, revision: str, path: str
) -> Response:
    from modeltrust.server.hub_api import serve_file

    caller = req.caller
    registry.access.require_read(caller, repo)
    view = registry.revision(repo, revision)
    spec = view.file(path)
    if spec is None:
        raise HubError(
            404,
            f"Entry not found: '{path}' is not in {repo.repo_id}@{view.sha}.",
            "EntryNotFound",
            {"X-Repo-Commit": view.sha},
        )
    role = registry.access.role(caller, repo)
    if repo.gated and role is None and path not in _ALWAYS_READABLE:
        raise HubError(
            403,
            f"Access to {repo.repo_id} is gated: ask for access "
            f"(POST {req.base_url}api/{repo.repo_type}s/{repo.repo_id}/ask-access with your "
            "token); its admins decide.",
            "GatedRepo",
            {"X-Repo-Commit": view.sha},
        )
    # Who may read a revision whatever its audit says: the repo's admins (its reviewers), and
    # the one who pushed it if they may write to the repo. (Someone with read access only, who
    # opened a pull request on top of a quarantined commit, waits for the verdict like everyone.)
    uploader = caller.name is not None and caller.name == view.author
    trusted = registry.access.reviewer(caller, repo) or (uploader and rank(role) >= rank("write"))
    return serve_file(
        registry.hub,
        repo.repo_id,
        view,
        spec,
        req,
        bypass_gate=trusted,
        prefix=_PREFIX[repo.repo_type],
    )
