"""The review UI over HTTP (the browser tests are in test_web_browser.py): signing in, the
catalogue and its filters, a repo's page, decisions through forms, CSRF, and who may do what."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd

from demo.build import trojan_pickle
from demo.hub import safetensors_bytes
from tests.server.registry_fixtures import TOKENS
from tests.server.test_registry import CLEAN_CARD


def _browser(registry: Any) -> httpx2.Client:
    return httpx2.Client(base_url=registry.url, timeout=30, follow_redirects=False)


def _sign_in(client: httpx2.Client, user: str, next_page: str = "/-/") -> httpx2.Response:
    form = client.get("/-/login", params={"next": next_page})
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    return client.post(
        "/-/login", data={"token": TOKENS[user], "csrf": csrf.group(1), "next": next_page}
    )


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


@pytest.fixture
def hub(registry: Any, canary: Path) -> Any:
    """acme/tuned (a trojan: fails), alice/clean (passes), acme/secret (private)."""
    bob, alice = registry.api("bob"), registry.api("alice")
    tuned = bob.create_repo("acme/tuned").repo_id
    trojan = bob.create_commit(
        tuned,
        [
            CommitOperationAdd("README.md", CLEAN_CARD.encode()),
            CommitOperationAdd("model.safetensors", safetensors_bytes({"w": (2, 2)})),
            CommitOperationAdd("extra.pkl", trojan_pickle(canary)),
        ],
        commit_message="add weights",
    )
    clean = alice.create_repo("clean").repo_id
    good = alice.create_commit(
        clean,
        [
            CommitOperationAdd("README.md", CLEAN_CARD.encode()),
            CommitOperationAdd("model.safetensors", safetensors_bytes({"w": (2, 2)})),
        ],
        commit_message="weights",
    )
    secret = alice.create_repo("acme/secret", private=True).repo_id
    for repo, sha in ((tuned, trojan.oid), (clean, good.oid)):
        job = registry.state.ingest_of(repo, sha)
        if job is not None:
            job.future.result(timeout=60)
    registry.repos = {"tuned": (tuned, trojan.oid), "clean": (clean, good.oid), "secret": secret}
    return registry


def test_signing_in_opens_a_strict_session_and_never_shows_the_token(
    hub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("modeltrust", "uvicorn", "fastapi", "starlette"):
        caplog.set_level("DEBUG", logger=name)
    with _browser(hub) as client:
        answer = _sign_in(client, "alice", "/-/queue")
        assert answer.status_code == 303 and answer.headers["location"] == "/-/queue"
        cookie = answer.headers["set-cookie"]
        assert "mt_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        queue = client.get("/-/queue")
        assert "Signed in as <strong>alice</strong>" in queue.text
        assert TOKENS["alice"] not in queue.text
        assert "default-src 'none'" in queue.headers["content-security-policy"]
    with _browser(hub) as client:  # a wrong token, and no open redirect
        form = client.get("/-/login")
        bad = client.post(
            "/-/login", data={"token": "hf_wrong_000000000000000", "csrf": _csrf(form.text)}
        )
        assert bad.status_code == 401 and "unknown to this hub" in bad.text
        answer = _sign_in(client, "alice", "https://evil.example/")
        assert answer.headers["location"] == "/-/"
    server_logs = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("modeltrust", "uvicorn"))
    )
    cookie_value = cookie.split("mt_session=", 1)[1].split(";", 1)[0]
    assert TOKENS["alice"] not in server_logs and cookie_value not in server_logs


def test_the_catalogue_filters_and_hides_private_repos(hub: Any) -> None:
    with _browser(hub) as anonymous:
        page = anonymous.get("/-/").text
        assert "acme/tuned" in page and "alice/clean" in page and "acme/secret" not in page
        failed = anonymous.get("/-/", params={"verdict": "fail"}).text
        assert "acme/tuned" in failed and "alice/clean" not in failed
        by_org = anonymous.get("/-/", params={"org": "alice"}).text
        assert "alice/clean" in by_org and "acme/tuned" not in by_org
        licensed = anonymous.get("/-/", params={"license": "apache-2.0"}).text
        assert "alice/clean" in licensed
        assert "No repo matches" in anonymous.get("/-/", params={"license": "gpl-3.0"}).text
    with _browser(hub) as client:
        _sign_in(client, "alice")
        assert "acme/secret" in client.get("/-/").text  # alice administers acme


def test_a_repo_page_shows_the_report_and_its_reviewers_decide_there(hub: Any) -> None:
    repo, sha = hub.repos["tuned"]
    with _browser(hub) as client:
        _sign_in(client, "alice")
        page = client.get(f"/-/repos/{repo}").text
        for expected in (
            'class="badge fail"',
            "MT-PKL-002",
            "Findings by area",
            "Licence and obligations",
            "Documentation coverage",
            '<svg class="lineage"',
            sha[:12],
            "Approve",
        ):
            assert expected in page, expected
        stored = hub.state.catalog.revision(repo, sha)
        assert all(f.sha256 in page for f in stored.files)
        csrf = _csrf(page)
        forged = client.post(
            f"/-/decide/{repo}",
            data={"csrf": "forged", "sha": sha, "kind": "approve", "reason": "x"},
        )
        assert forged.status_code == 403 and "stale or was not sent by this site" in forged.text
        done = client.post(
            f"/-/decide/{repo}",
            data={"csrf": csrf, "sha": sha, "kind": "approve", "reason": "reviewed the pickle"},
        )
        assert done.status_code == 303
        after = client.get(done.headers["location"]).text
        assert "Approved." in after and "approved by alice" in after
        trail = client.get("/-/trail").text
        assert "revision.approve" in trail and "reviewed the pickle" in trail
    served = hub.http("GET", f"/{repo}/resolve/{sha}/model.safetensors", user="carol")
    assert served.status_code == 200


def test_readers_cannot_review_and_a_revoked_token_ends_the_session(hub: Any) -> None:
    repo, sha = hub.repos["tuned"]
    with _browser(hub) as client:
        _sign_in(client, "carol")
        page = client.get(f"/-/repos/{repo}").text
        assert "Approve" not in page and "Grant an exception" not in page
        refused = client.post(
            f"/-/decide/{repo}",
            data={"csrf": _csrf(page), "sha": sha, "kind": "approve", "reason": "me"},
        )
        assert refused.status_code == 403 and "Only the admins of acme/tuned" in refused.text
        trail = client.get("/-/trail")  # her own namespace's entries only
        assert trail.status_code == 200 and "acme/tuned" not in trail.text
        token = next(t for t in hub.accounts.tokens("carol"))
        hub.accounts.revoke_token(token.id)
        gone = client.get("/-/queue")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/-/login")


def test_the_queue_lists_what_waits_for_its_reader(hub: Any) -> None:
    repo, _sha = hub.repos["tuned"]
    with _browser(hub) as client:
        _sign_in(client, "alice")
        assert repo in client.get("/-/queue").text
    with _browser(hub) as client:
        _sign_in(client, "bob")  # writes in acme, reviews nothing
        assert "Nothing waits for your review" in client.get("/-/queue").text


def test_names_cannot_be_probed_and_hostile_parameters_are_harmless(hub: Any) -> None:
    with _browser(hub) as anonymous:
        missing = anonymous.get("/-/repos/acme/nothing-here")
        private = anonymous.get("/-/repos/acme/secret")
        assert missing.status_code == private.status_code == 404
        # The same page, but for the name asked for: nothing tells the two apart.
        assert missing.text.replace("nothing-here", "X") == private.text.replace("secret", "X")
        for query in ({"age": "\u00b2"}, {"age": "9" * 5000}, {"age": "99999999999"}):
            assert anonymous.get("/-/", params=query).status_code == 200
    with _browser(hub) as client:
        _sign_in(client, "dave")
        assert client.get("/-/trail", params={"before": "9" * 40}).status_code == 200
        page = client.get(f"/-/repos/{hub.repos['tuned'][0]}").text
        bad = client.post(
            f"/-/access/{hub.repos['tuned'][0]}",
            data={"csrf": _csrf(page), "user": "nobody", "status": "bogus"},
        )
        assert bad.status_code == 400
