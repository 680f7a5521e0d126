"""Reviewers deciding about quarantined revisions: approve, deny, exceptions, four eyes, dry
runs, the trail that records it all, and the webhooks that announce it. The clients are the
real huggingface_hub; the webhook receiver is an HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import GatedRepoError

from demo.build import trojan_pickle
from demo.hub import safetensors_bytes
from modeltrust.errors import InvalidRequestError
from modeltrust.server.access import Caller
from modeltrust.server.responses import HubError
from modeltrust.server.webhooks import verify_signature
from tests.server.test_registry import CLEAN_CARD, _download

SECRET = "webhook-secret-0123456789abcdef"  # noqa: S105 - a test fixture


def _push_trojan(
    registry: Any, canary: Path, user: str = "bob", name: str = "acme/tuned"
) -> tuple[str, str]:
    api = registry.api(user)
    repo = api.create_repo(name).repo_id
    info = api.create_commit(
        repo,
        [
            CommitOperationAdd("README.md", CLEAN_CARD.encode()),
            CommitOperationAdd("model.safetensors", safetensors_bytes({"w": (2, 2)})),
            CommitOperationAdd("extra.pkl", trojan_pickle(canary)),
        ],
        commit_message="add weights",
    )
    job = registry.state.ingest_of(repo, info.oid)
    if job is not None:
        job.future.result(timeout=60)
    return repo, info.oid


def _caller(registry: Any, user: str) -> Caller:
    from tests.server.registry_fixtures import TOKENS

    return registry.state.registry.access.caller(f"Bearer {TOKENS[user]}")


def _decide(registry: Any, user: str, repo: str, sha: str, kind: str, reason: str) -> None:
    hub = registry.state
    info = hub.registry.repo(repo, fresh=True)
    hub.review.decide(_caller(registry, user), info, hub.catalog.revision(repo, sha), kind, reason)


def test_an_approval_serves_a_failed_revision_and_a_denial_withdraws_it(
    registry: Any, tmp_path: Path, canary: Path
) -> None:
    repo, sha = _push_trojan(registry, canary)
    with pytest.raises(GatedRepoError):
        _download(registry, repo, "model.safetensors", "carol", tmp_path)
    # bob (write in acme) uploaded it but may not review; carol reads only.
    for user in ("bob", "carol"):
        with pytest.raises(HubError, match="Only the admins of acme/tuned"):
            _decide(registry, user, repo, sha, "approve", "fine by me")
    _decide(registry, "alice", repo, sha, "approve", "the pickle is a known tokenizer cache")
    got = registry.http("GET", f"/{repo}/resolve/{sha}/model.safetensors", user="carol")
    assert got.status_code == 200
    assert "approved by alice" in got.headers["x-hf-warning"]
    state = registry.api("carol").model_info(repo).modeltrust  # type: ignore[attr-defined]
    assert (state["verdict"], state["audit_verdict"], state["quarantined"]) == (
        "warn",
        "fail",
        False,
    )
    _decide(registry, "dave", repo, sha, "deny", "security says no")
    denied = registry.http("GET", f"/{repo}/resolve/{sha}/model.safetensors", user="carol")
    assert denied.status_code == 403 and "denied by dave: security says no" in denied.text
    trail = [(e.actor, e.action, e.reason) for e in registry.state.review.trail]
    assert ("bob", "repo.push", "") in trail
    assert ("alice", "revision.approve", "the pickle is a known tokenizer cache") in trail
    assert ("dave", "revision.deny", "security says no") in trail
    assert registry.state.review.trail.verify().ok


def test_four_eyes_keep_uploaders_from_approving_and_critical_findings_need_two(
    registry: Any, tmp_path: Path, canary: Path
) -> None:
    registry.state.review.reviews.set_settings("acme", four_eyes=True)
    repo, sha = _push_trojan(registry, canary, user="alice")  # alice administers acme
    with pytest.raises(HubError, match="Four eyes are required in 'acme': alice uploaded"):
        _decide(registry, "alice", repo, sha, "approve", "mine, trust me")
    _decide(registry, "dave", repo, sha, "approve", "reviewed")
    # The trojan is a critical finding: one approval is not enough under four eyes.
    one = registry.http("GET", f"/{repo}/resolve/{sha}/model.safetensors", user="carol")
    assert one.status_code == 403
    registry.accounts.add_user("erin")
    registry.accounts.set_member("acme", "erin", "admin")
    registry.accounts.create_token("erin", "t", "write", value="hf_erin_write_00000000000000000")
    erin = registry.state.registry.access.caller("Bearer hf_erin_write_00000000000000000")
    hub = registry.state
    hub.review.decide(
        erin, hub.registry.repo(repo), hub.catalog.revision(repo, sha), "approve", "ok"
    )
    two = registry.http("GET", f"/{repo}/resolve/{sha}/model.safetensors", user="carol")
    assert two.status_code == 200 and "approved by dave, erin" in two.headers["x-hf-warning"]


def test_a_dry_run_serves_what_would_be_blocked_and_records_it(
    registry: Any, tmp_path: Path, canary: Path
) -> None:
    registry.state.review.reviews.set_settings("acme", dry_run=True)
    registry.state.forget_verdicts()
    repo, sha = _push_trojan(registry, canary)
    got = registry.http("GET", f"/{repo}/resolve/{sha}/model.safetensors", user="carol")
    assert got.status_code == 200, got.text
    assert "dry run: enforcement would block" in got.headers["x-hf-warning"]
    registry.http("GET", f"/{repo}/resolve/{sha}/model.safetensors", user="carol")
    noted = [e for e in registry.state.review.trail if e.action == "revision.would-block"]
    assert len(noted) == 1 and noted[0].subject == f"{repo}@{sha}"


def test_an_exception_waives_the_rule_and_audits_again(
    registry: Any, tmp_path: Path, canary: Path
) -> None:
    repo, sha = _push_trojan(registry, canary)
    hub = registry.state
    alice = _caller(registry, "alice")
    info, row = hub.registry.repo(repo), hub.catalog.revision(repo, sha)
    with pytest.raises(HubError, match="Only the admins"):
        hub.review.grant_exception(
            _caller(registry, "bob"), info, row, rule="MT-PKL-*", file="extra.pkl",
            reason="x", expires=date.today() + timedelta(days=30),
        )  # fmt: skip
    hub.review.grant_exception(
        alice, info, row, rule="MT-PKL-*", file="extra.pkl",
        reason="quarantined file, never loaded", expires=date.today() + timedelta(days=30),
    )  # fmt: skip
    audit = registry.http("GET", f"/api/modeltrust/audits/{repo}/{sha}").json()
    assert audit["verdict"] != "fail", audit["reasons"]
    assert _download(registry, repo, "model.safetensors", "carol", tmp_path)
    granted = [e for e in hub.review.trail if e.action == "exception.grant"]
    assert granted[0].details["rule"] == "MT-PKL-*" and granted[0].actor == "alice"


class _Receiver(BaseHTTPRequestHandler):
    """Answers 500 to the first attempt of every delivery, 204 to the next."""

    got: list[tuple[dict[str, str], bytes]]
    seen: set[str]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        type(self).got.append((headers, body))
        delivery = headers.get("x-modeltrust-delivery", "")
        first = delivery not in type(self).seen
        type(self).seen.add(delivery)
        self.send_response(500 if first else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Handler", (_Receiver,), {"got": [], "seen": set()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_webhooks_are_signed_and_retried_until_delivered(
    start_registry: Any, canary: Path, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    registry = start_registry(webhook_retry_s=0.2)
    hub = registry.state
    hub.webhooks.add(url, SECRET, namespace="acme", events="revision.approve,audit.verdict")
    repo, sha = _push_trojan(registry, canary)
    _decide(registry, "alice", repo, sha, "approve", "reviewed")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = [json.loads(b)["event"] for h, b in handler.got]
        if events.count("revision.approve") >= 2 and "audit.verdict" in events:
            break
        time.sleep(0.1)
    headers, body = next(
        (h, b) for h, b in reversed(handler.got) if json.loads(b)["event"] == "revision.approve"
    )
    assert verify_signature(SECRET, headers["x-modeltrust-signature"], body)
    assert not verify_signature(
        "another-secret-0000000000", headers["x-modeltrust-signature"], body
    )
    payload = json.loads(body)
    assert payload["subject"] == f"{repo}@{sha}" and payload["actor"] == "alice"
    # The first attempt was answered 500: the same delivery came again and was taken.
    approvals = [
        h["x-modeltrust-delivery"]
        for h, b in handler.got
        if json.loads(b)["event"] == "revision.approve"
    ]
    assert len(approvals) >= 2 and len(set(approvals)) == 1
    delivered = {d.event: d for d in hub.webhooks.deliveries()}
    assert delivered["revision.approve"].status == "delivered"
    assert delivered["revision.approve"].attempts >= 2


def test_exceptions_obey_four_eyes_and_cannot_waive_everything(
    registry: Any, tmp_path: Path, canary: Path
) -> None:
    registry.state.review.reviews.set_settings("acme", four_eyes=True)
    repo, sha = _push_trojan(registry, canary, user="alice")
    hub = registry.state
    info, row = hub.registry.repo(repo), hub.catalog.revision(repo, sha)
    later = date.today() + timedelta(days=30)
    with pytest.raises(HubError, match=r"alice uploaded .* cannot waive its findings"):
        hub.review.grant_exception(
            _caller(registry, "alice"), info, row, rule="MT-PKL-*", file=None, reason="mine",
            expires=later,
        )  # fmt: skip
    for rule in ("*", "MT-*", "MT-GEN-001"):
        with pytest.raises(InvalidRequestError, match="would waive every rule"):
            hub.review.grant_exception(
                _caller(registry, "dave"), info, row, rule=rule, file=None, reason="x",
                expires=later,
            )  # fmt: skip
    # An approval the uploader gave before four eyes were asked for counts not.
    hub.review.reviews.set_settings("acme", four_eyes=False)
    _decide(registry, "alice", repo, sha, "approve", "mine")
    hub.review.reviews.set_settings("acme", four_eyes=True)
    hub.forget_verdicts()
    blocked = registry.http("GET", f"/{repo}/resolve/{sha}/model.safetensors", user="carol")
    assert blocked.status_code == 403


def test_a_grant_on_a_model_gives_nothing_on_the_dataset_of_the_same_name(registry: Any) -> None:
    alice = registry.api("alice")
    alice.create_repo("acme/twin", private=True)
    alice.create_repo("acme/twin", repo_type="dataset", private=True)
    registry.accounts.grant("acme/twin", "carol", "read")
    access = registry.state.registry.access
    carol = _caller(registry, "carol")
    model = registry.state.registry.repo("acme/twin", fresh=True)
    dataset = registry.state.registry.repo("datasets/acme/twin", fresh=True)
    assert access.role(carol, model) == "read"
    assert access.role(carol, dataset) is None


def test_a_private_repos_report_is_not_served_to_others(
    registry: Any, tmp_path: Path, canary: Path
) -> None:
    alice = registry.api("alice")
    repo = alice.create_repo("acme/hidden", private=True).repo_id
    info = alice.create_commit(
        repo,
        [CommitOperationAdd("model.safetensors", safetensors_bytes({"w": (2, 2)}))],
        commit_message="weights",
    )
    job = registry.state.ingest_of(repo, info.oid)
    if job is not None:
        job.future.result(timeout=60)
    for user in (None, "carol"):
        for suffix in ("", "/html"):
            got = registry.http(
                "GET", f"/api/modeltrust/audits/{repo}/{info.oid}{suffix}", user=user
            )
            assert got.status_code in (401, 404), (user, suffix, got.status_code)
    mine = registry.http("GET", f"/api/modeltrust/audits/{repo}/{info.oid}/html", user="alice")
    assert mine.status_code == 200 and "script-src" not in mine.headers["content-security-policy"]
