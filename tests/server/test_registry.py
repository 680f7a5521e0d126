"""The registry with the real huggingface_hub client: identity and tokens, private and gated
repos, pushes judged by the policy and quarantined until their audit allows them."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
)

from demo.build import trojan_pickle
from demo.hub import safetensors_bytes
from tests.auditor.conftest import GOOD_CARD
from tests.hubserver import card
from tests.server.registry_fixtures import TOKENS

CLEAN_CARD = card(GOOD_CARD, license="apache-2.0")


def _download(reg: Any, repo_id: str, path: str, user: str | None, tmp_path: Path) -> bytes:
    cache = tmp_path / f"cache-{user}-{time.monotonic_ns()}"
    local = hf_hub_download(
        repo_id,
        path,
        endpoint=reg.url,
        token=TOKENS[user] if user else False,
        cache_dir=cache,
    )
    return Path(local).read_bytes()


# --- identity --------------------------------------------------------------------------------------


def test_whoami_names_the_user_their_organisations_and_the_token(registry: Any) -> None:
    me = registry.api("alice").whoami()
    assert me["name"] == "alice" and me["fullname"] == "Alice Admin"
    assert me["orgs"] == [
        {"type": "org", "name": "acme", "fullname": "Acme Corp", "roleInOrg": "admin"}
    ]
    assert me["auth"]["accessToken"] == {"displayName": "tests", "role": "write", "createdAt": None}
    assert registry.api("carol").whoami()["auth"]["accessToken"]["role"] == "read"
    bad = registry.http(
        "GET", "/api/whoami-v2", headers={"authorization": "Bearer hf_nope_00000000000000000"}
    )
    assert bad.status_code == 401 and "unknown to this hub" in bad.headers["x-error-message"]


def test_tokens_are_stored_as_hashes_and_stop_working_when_revoked_or_expired(
    registry: Any, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    with registry.state.catalog.engine.connect() as connection:
        rows = [tuple(map(str, row)) for row in connection.execute(text("SELECT * FROM tokens"))]
    assert rows and not any(token in row for row in rows for token in TOKENS.values())
    database = tmp_path / "data" / "modeltrust.db"
    if database.exists():  # SQLite: not in the file or its write-ahead log either
        wal = tmp_path / "data" / "modeltrust.db-wal"
        stored = database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert not any(token.encode() in stored for token in TOKENS.values())
    info, value = registry.accounts.create_token("bob", "short", "write")
    assert value.startswith("hf_") and len(value) == 40
    headers = {"authorization": f"Bearer {value}"}
    assert registry.http("GET", "/api/whoami-v2", headers=headers).json()["name"] == "bob"
    registry.accounts.revoke_token(info.id)
    assert registry.http("GET", "/api/whoami-v2", headers=headers).status_code == 401
    past = datetime.now(UTC) - timedelta(seconds=1)
    _, expired = registry.accounts.create_token("bob", "old", "read", expires_at=past)
    gone = registry.http("GET", "/api/whoami-v2", headers={"authorization": f"Bearer {expired}"})
    assert gone.status_code == 401
    listed = {t.name: t.state() for t in registry.accounts.tokens("bob")}
    assert listed == {"tests": "active", "short": "revoked", "old": "expired"}


def test_create_repo_uses_the_token_user_namespace_and_checks_the_organisation(
    registry: Any,
) -> None:
    url = registry.api("bob").create_repo("model-one")
    assert url.repo_id == "bob/model-one" and url == f"{registry.url}/bob/model-one"
    assert registry.api("bob").create_repo("acme/shared").repo_id == "acme/shared"
    with pytest.raises(HfHubHTTPError) as refused:
        registry.api("carol").create_repo("acme/nope")
    assert refused.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError):
        registry.api("carol").create_repo("bob/nope")  # someone else's namespace
    again = registry.api("bob").create_repo("model-one", exist_ok=True)
    assert again.repo_id == "bob/model-one"
    commits = registry.api("bob").list_repo_commits("bob/model-one")
    assert [c.title for c in commits] == ["initial commit"] and commits[0].authors == ["bob"]
    assert registry.api("bob").list_repo_files("bob/model-one") == [".gitattributes"]


# --- private and gated -----------------------------------------------------------------------------


def test_a_private_repo_does_not_exist_for_others(registry: Any, tmp_path: Path) -> None:
    alice = registry.api("alice")
    repo = alice.create_repo("secret", private=True).repo_id
    alice.upload_file(path_or_fileobj=b"hello", path_in_repo="notes.txt", repo_id=repo)
    for user in (None, "carol", "bob"):
        with pytest.raises(RepositoryNotFoundError):
            registry.api(user).model_info(repo)
        with pytest.raises(RepositoryNotFoundError):
            _download(registry, repo, "notes.txt", user, tmp_path)
    assert registry.api("dave").model_info(repo).private is True  # site admin
    assert _download(registry, repo, "notes.txt", "alice", tmp_path) == b"hello"
    registry.accounts.grant("alice/secret", "carol", "read")
    assert registry.api("carol").model_info(repo).private is True


def test_anonymous_reads_can_be_turned_off(start_registry: Any) -> None:
    reg = start_registry(anonymous_read=False)
    reg.api("alice").create_repo("open")
    anonymous = reg.http("GET", "/api/models/alice/open")
    assert anonymous.status_code == 401 and "anonymous" in anonymous.headers["x-error-message"]
    assert reg.http("GET", "/api/models/alice/open", user="carol").status_code == 200


def test_a_gated_repo_needs_an_accepted_access_request(registry: Any, tmp_path: Path) -> None:
    alice = registry.api("alice")
    repo = alice.create_repo("gated").repo_id
    alice.upload_file(path_or_fileobj=b"weights", path_in_repo="w.txt", repo_id=repo)
    alice.upload_file(path_or_fileobj=CLEAN_CARD.encode(), path_in_repo="README.md", repo_id=repo)
    alice.update_repo_settings(repo, gated="manual")
    assert registry.api("carol").model_info(repo).gated == "manual"
    with pytest.raises(GatedRepoError, match="ask for access"):
        _download(registry, repo, "w.txt", "carol", tmp_path)
    assert _download(registry, repo, "README.md", "carol", tmp_path).startswith(b"---")
    asked = registry.http(
        "POST", f"/api/models/{repo}/ask-access", user="carol", json={"why": "eval"}
    )
    assert asked.json() == {"status": "pending"}
    pending = list(alice.list_pending_access_requests(repo))
    assert [r.username for r in pending] == ["carol"] and pending[0].fields == {"why": "eval"}
    alice.accept_access_request(repo, "carol")
    assert _download(registry, repo, "w.txt", "carol", tmp_path) == b"weights"
    alice.reject_access_request(repo, "carol", rejection_reason="no longer needed")
    with pytest.raises(GatedRepoError):
        _download(registry, repo, "w.txt", "carol", tmp_path)
    alice.update_repo_settings(repo, gated="auto")
    granted = registry.http("POST", f"/api/models/{repo}/ask-access", user="bob", json={})
    assert granted.json() == {"status": "accepted"}
    assert _download(registry, repo, "w.txt", "bob", tmp_path) == b"weights"


# --- pushes and the gate ---------------------------------------------------------------------------


def test_a_trojaned_push_is_never_served_to_others_and_never_run(
    registry: Any, tmp_path: Path, canary: Path
) -> None:
    bob = registry.api("bob")
    repo = bob.create_repo("acme/fine-tune").repo_id
    info = bob.create_commit(
        repo,
        [
            CommitOperationAdd("README.md", CLEAN_CARD.encode()),
            CommitOperationAdd("model.safetensors", safetensors_bytes({"w": (2, 2)})),
            CommitOperationAdd("extra.pkl", trojan_pickle(canary)),
        ],
        commit_message="add weights",
    )
    state = registry.api("bob").model_info(repo).modeltrust  # type: ignore[attr-defined]
    assert state["quarantined"] is True
    job = registry.state.ingest_of(repo, info.oid)
    if job is not None:
        job.future.result(timeout=60)
    for user in (None, "carol"):
        with pytest.raises(GatedRepoError, match=r"MT-PKL"):
            _download(registry, repo, "model.safetensors", user, tmp_path)
    # Its uploader and the repo's admins (alice administers acme) may still read it: to review.
    for user in ("bob", "alice", "dave"):
        assert _download(registry, repo, "model.safetensors", user, tmp_path)
    # Opening a pull request on top of it gives a reader no way around the gate.
    pr = registry.api("carol").create_commit(
        repo, [CommitOperationAdd("note.txt", b"x")], commit_message="pr", create_pr=True
    )
    job = registry.state.ingest_of(repo, pr.oid)
    if job is not None:
        job.future.result(timeout=60)
    via_pr = registry.http("GET", f"/{repo}/resolve/{pr.oid}/extra.pkl", user="carol")
    assert via_pr.status_code == 403 and via_pr.headers["x-error-code"] == "GatedRepo"
    audit = registry.http("GET", f"/api/modeltrust/audits/{repo}/{info.oid}").json()
    assert audit["verdict"] == "fail"
    assert registry.api("alice").model_info(repo).modeltrust["verdict"] == "fail"  # type: ignore[attr-defined]


def test_no_byte_of_a_push_is_served_before_its_verdict(
    start_registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    registry = start_registry(ingest_wait=0.2)
    hub = registry.state
    release = threading.Event()
    real = hub._audit

    def slow_audit(row: Any) -> None:
        release.wait(30)
        real(row)

    monkeypatch.setattr(hub, "_audit", slow_audit)
    alice = registry.api("alice")
    repo = alice.create_repo("clean").repo_id
    info = alice.create_commit(
        repo,
        [
            CommitOperationAdd("README.md", CLEAN_CARD.encode()),
            CommitOperationAdd("model.safetensors", safetensors_bytes({"w": (2, 2)})),
        ],
        commit_message="weights",
    )
    waiting = registry.http("GET", f"/{repo}/resolve/{info.oid}/model.safetensors")
    assert waiting.status_code == 503 and waiting.content != safetensors_bytes({"w": (2, 2)})
    assert "auditing" in waiting.headers["x-error-message"]
    assert int(waiting.headers["retry-after"]) >= 1
    assert registry.http(
        "GET", f"/{repo}/resolve/{info.oid}/model.safetensors", user="alice"
    ).content == safetensors_bytes({"w": (2, 2)})
    release.set()
    registry.state.ingest_of(repo, info.oid).future.result(timeout=60)
    assert _download(registry, repo, "model.safetensors", None, tmp_path) == safetensors_bytes(
        {"w": (2, 2)}
    )


def test_validate_yaml_answers_with_the_policy_reasons(registry: Any) -> None:
    # The hub runs the default policy: licences judged for commercial use.
    alice = registry.api("alice")
    repo = alice.create_repo("cards").repo_id
    nc = card(GOOD_CARD, license="cc-by-nc-4.0")
    with pytest.raises(ValueError, match=r"Invalid metadata in README\.md") as refused:
        alice.upload_file(path_or_fileobj=nc.encode(), path_in_repo="README.md", repo_id=repo)
    assert "refuses this card" in str(refused.value) and "cc-by-nc-4.0" in str(refused.value)
    assert alice.list_repo_files(repo) == [".gitattributes"]  # nothing was pushed
    answer = registry.http(
        "POST",
        "/api/validate-yaml",
        json={"content": "---\nmodel-index: foo\n---\n", "repoType": "model"},
    )
    assert answer.status_code == 400 and "model-index" in answer.json()["errors"][0]["message"]
    bare = registry.http("POST", "/api/validate-yaml", json={"content": "# no metadata\n"})
    assert bare.status_code == 400  # no licence: the default policy refuses an unknown one
    assert "missing yaml metadata" in bare.json()["warnings"][0]["message"]
    fine = registry.http(
        "POST", "/api/validate-yaml", json={"content": CLEAN_CARD, "repoType": "model"}
    )
    assert fine.status_code == 200 and fine.json()["errors"] == []
    broken = registry.http("POST", "/api/validate-yaml", content=b"{not json")
    assert broken.status_code == 400 and broken.json()["errors"]


def test_preupload_names_a_pickle_early(
    registry: Any, caplog: pytest.LogCaptureFixture, canary: Path
) -> None:
    import base64

    alice = registry.api("alice")
    repo = alice.create_repo("pickles").repo_id
    sample = base64.b64encode(trojan_pickle(canary)[:512]).decode()
    answer = registry.http(
        "POST",
        f"/api/models/{repo}/preupload/main",
        user="alice",
        json={"files": [{"path": "model.bin", "sample": sample, "size": 600}]},
    )
    assert answer.json()["files"] == [
        {"path": "model.bin", "uploadMode": "lfs", "shouldIgnore": False, "oid": None}
    ]
    assert "is a pickle" in answer.headers["x-hf-warning"]
    assert "audited before anyone can download it" in answer.headers["x-hf-warning"]


@pytest.mark.parametrize(
    "path", ["../escape.txt", "a/../../b", "/abs.txt", "a\\b.txt", ".git/config", "a//b", "x\x00y"]
)
def test_hostile_paths_are_refused(registry: Any, path: str) -> None:
    registry.api("alice").create_repo("paths", exist_ok=True)
    import base64

    body = "\n".join(
        json.dumps(line)
        for line in (
            {"key": "header", "value": {"summary": "x"}},
            {
                "key": "file",
                "value": {
                    "path": path,
                    "content": base64.b64encode(b"x").decode(),
                    "encoding": "base64",
                },
            },
        )
    )
    answer = registry.http(
        "POST",
        "/api/models/alice/paths/commit/main",
        user="alice",
        content=body.encode(),
        headers={"content-type": "application/x-ndjson"},
    )
    assert answer.status_code == 422, answer.text
    assert registry.api("alice").list_repo_files("alice/paths") == [".gitattributes"]
    pre = registry.http(
        "POST",
        "/api/models/alice/paths/preupload/main",
        user="alice",
        json={"files": [{"path": path, "sample": "", "size": 1}]},
    )
    assert pre.status_code == 422


def test_write_needs_write_access(registry: Any) -> None:
    registry.api("alice").create_repo("mine")
    with pytest.raises(HfHubHTTPError) as read_only:
        registry.api("carol").upload_file(
            path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/mine"
        )
    assert read_only.value.response.status_code == 403
    # A pull request is how outsiders propose changes: read access is enough.
    pr = registry.api("carol").upload_file(
        path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/mine", create_pr=True
    )
    assert pr.pr_num == 1
    carol_read_only = registry.accounts.create_token("alice", "ro", "read")[1]
    answer = registry.http(
        "PUT",
        "/api/models/alice/mine/settings",
        headers={"authorization": f"Bearer {carol_read_only}"},
        json={"private": True},
    )
    assert answer.status_code == 403 and "read-only" in answer.headers["x-error-message"]


def test_lfs_objects_are_shared_in_storage_but_not_between_repos(registry: Any) -> None:
    alice = registry.api("alice")
    data = b"\x00" * 4096 + b"weights"
    alice.create_repo("first")
    alice.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id="alice/first")
    import hashlib

    oid = hashlib.sha256(data).hexdigest()
    # bob's repo never received these bytes: he must upload them, even though they are stored.
    registry.api("bob").create_repo("second")
    batch = registry.http(
        "POST",
        "/bob/second.git/info/lfs/objects/batch",
        user="bob",
        json={
            "operation": "upload",
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": len(data)}],
        },
    )
    assert "actions" in batch.json()["objects"][0]
    body = "\n".join(
        json.dumps(line)
        for line in (
            {"key": "header", "value": {"summary": "borrow"}},
            {
                "key": "lfsFile",
                "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)},
            },
        )
    )
    stolen = registry.http(
        "POST", "/api/models/bob/second/commit/main", user="bob", content=body.encode()
    )
    assert stolen.status_code == 422 and "was not uploaded" in stolen.headers["x-error-message"]
    # alice's own repo holds them: no upload asked for a second repo of hers after she adds it.
    again = registry.http(
        "POST",
        "/alice/first.git/info/lfs/objects/batch",
        user="alice",
        json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]},
    )
    assert "actions" not in again.json()["objects"][0]
    blobs = list((registry.state.blobs.root / "sha256").rglob(oid))
    assert len(blobs) == 1


def test_signed_upload_urls_cannot_be_forged_or_reused(registry: Any) -> None:
    registry.api("alice").create_repo("lfs")
    data = b"lfs bytes " * 100
    import hashlib

    oid = hashlib.sha256(data).hexdigest()
    batch = registry.http(
        "POST",
        "/alice/lfs.git/info/lfs/objects/batch",
        user="alice",
        json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]},
    ).json()
    href = batch["objects"][0]["actions"]["upload"]["href"]
    forged = href.replace("sig=", "sig=0")
    assert registry.http("PUT", forged.removeprefix(registry.url), content=data).status_code == 403
    other = href.replace(oid, "0" * 64)
    assert registry.http("PUT", other.removeprefix(registry.url), content=b"x").status_code == 403
    wrong = registry.http("PUT", href.removeprefix(registry.url), content=data[:-1] + b"!")
    assert wrong.status_code == 400 and "does not match" in wrong.headers["x-error-message"]
    assert not registry.state.blobs.has(oid)
    assert registry.http("PUT", href.removeprefix(registry.url), content=data).status_code == 200
    assert registry.state.blobs.has(oid)


def test_datasets_are_hosted_too(registry: Any, tmp_path: Path) -> None:
    alice = registry.api("alice")
    repo = alice.create_repo("rows", repo_type="dataset").repo_id
    alice.upload_file(
        path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=repo, repo_type="dataset"
    )
    assert alice.list_repo_files(repo, repo_type="dataset") == [".gitattributes", "data.csv"]
    local = hf_hub_download(
        repo,
        "data.csv",
        repo_type="dataset",
        endpoint=registry.url,
        token=TOKENS["alice"],
        cache_dir=tmp_path / "c",
    )
    assert Path(local).read_bytes() == b"a,b\n1,2\n"
    with pytest.raises(RepositoryNotFoundError):
        alice.model_info(repo)  # a dataset is not a model of the same name


def test_xet_clients_are_told_what_to_do(registry: Any) -> None:
    registry.api("alice").create_repo("xet")
    answer = registry.http(
        "GET", "/api/models/alice/xet/xet-write-token/main", user="alice", follow_redirects=True
    )
    assert answer.status_code == 400
    assert (
        "HF_HUB_DISABLE_XET=1" in str(answer.url)
        and "HF_HUB_DISABLE_XET=1" in answer.headers["x-error-message"]
    )


def test_move_and_delete(registry: Any) -> None:
    alice = registry.api("alice")
    alice.create_repo("old-name")
    alice.upload_file(
        path_or_fileobj=io.BytesIO(b"x"), path_in_repo="x.txt", repo_id="alice/old-name"
    )
    alice.move_repo("alice/old-name", "acme/new-name")
    assert alice.list_repo_files("acme/new-name") == [".gitattributes", "x.txt"]
    with pytest.raises(RepositoryNotFoundError):
        alice.model_info("alice/old-name")
    with pytest.raises(HfHubHTTPError):
        registry.api("bob").delete_repo("acme/new-name")  # write, not admin
    alice.delete_repo("acme/new-name")
    with pytest.raises(RepositoryNotFoundError):
        alice.model_info("acme/new-name")
