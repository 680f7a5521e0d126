"""The test Hub server speaks the contract the real huggingface_hub client relies on.

Later issues (documentation checks, the audit, the governed hub) reuse the server, so its
behaviour is pinned here with the official client, not with hand-made requests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, get_session

from tests.hubserver import HubServer, card

ALICE, BOB, FORGED = "hf_alice_token", "hf_bob_token", "hf_forged"  # see conftest.TOKENS
WEIGHTS = bytes(range(256)) * 64  # 16 KiB, served as an LFS file (.safetensors)


@pytest.fixture
def repo(hub: HubServer) -> str:
    hub.add_repo(
        "acme/model",
        {
            "README.md": card(license="apache-2.0", base_model="acme/base", tags=["demo"]),
            "config.json": '{"model_type": "llama"}',
            "model.safetensors": WEIGHTS,
            "sub/dir/notes.txt": "hello",
        },
    )
    return "acme/model"


def test_model_info_has_sha_siblings_and_card_data(hub: HubServer, repo: str) -> None:
    info = HfApi().model_info(repo, files_metadata=True)
    assert info.sha == hub.head(repo)
    assert info.card_data is not None and info.card_data.license == "apache-2.0"
    assert "license:apache-2.0" in (info.tags or [])
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert set(siblings) == {"README.md", "config.json", "model.safetensors", "sub/dir/notes.txt"}
    lfs = siblings["model.safetensors"].lfs
    assert lfs is not None and lfs.size == len(WEIGHTS)
    assert siblings["config.json"].size == len('{"model_type": "llama"}')


def test_expand_returns_only_what_was_asked(hub: HubServer, repo: str) -> None:
    info = HfApi().model_info(repo, expand=["sha", "gated"])
    assert info.sha == hub.head(repo) and info.gated is False
    assert info.siblings is None and info.card_data is None


def test_revisions_resolve_by_branch_tag_and_sha(hub: HubServer, repo: str) -> None:
    first = hub.head(repo)
    hub.tag(repo, "v1")
    second = hub.commit(repo, {"LICENSE": "text"}, message="add licence")
    hub.commit(repo, {"dev.txt": "x"}, branch="dev")
    api = HfApi()
    assert api.model_info(repo).sha == second
    assert api.model_info(repo, revision="v1").sha == first
    assert api.model_info(repo, revision=first).sha == first
    assert "dev.txt" in api.list_repo_files(repo, revision="dev")
    assert "dev.txt" not in api.list_repo_files(repo)
    refs = api.list_repo_refs(repo)
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert [t.name for t in refs.tags] == ["v1"]
    commits = api.list_repo_commits(repo)
    assert [c.commit_id for c in commits] == [second, first]
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo, revision="nope")


def test_tree_listing_paginates_and_reports_unknown_folders(hub: HubServer, repo: str) -> None:
    hub.page_size = 2
    api = HfApi()
    files = api.list_repo_files(repo)
    assert sorted(files) == ["README.md", "config.json", "model.safetensors", "sub/dir/notes.txt"]
    top = {e.path for e in api.list_repo_tree(repo)}
    assert top == {"README.md", "config.json", "model.safetensors", "sub"}
    assert [e.path for e in api.list_repo_tree(repo, path_in_repo="sub/dir")] == [
        "sub/dir/notes.txt"
    ]
    assert len(hub.requests_to("cursor=")) >= 1  # the Link header was followed
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(repo, path_in_repo="missing"))


def test_paths_info(repo: str) -> None:
    infos = HfApi().get_paths_info(repo, ["config.json", "sub", "missing.txt"])
    assert sorted(i.path for i in infos) == ["config.json", "sub"]


def test_download_with_head_etag_and_negative_cache(
    hub: HubServer, repo: str, tmp_path: Path
) -> None:
    path = hf_hub_download(repo, "model.safetensors")
    assert Path(path).read_bytes() == WEIGHTS
    assert hub.requests_to("/resolve/", "HEAD")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "missing.bin")
    cache = tmp_path / "hf-home" / "hub" / "models--acme--model"
    assert (cache / ".no_exist" / hub.head(repo) / "missing.bin").exists()


def test_range_requests(hub: HubServer, repo: str) -> None:
    url = f"{hub.url}/{repo}/resolve/main/model.safetensors"
    session = get_session()
    r = session.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == WEIGHTS[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(WEIGHTS)}"
    r = session.get(url, headers={"Range": "bytes=-4"})
    assert r.status_code == 206 and r.content == WEIGHTS[-4:]
    r = session.get(url, headers={"Range": f"bytes={len(WEIGHTS)}-"})
    assert r.status_code == 416
    head = session.head(url)
    assert head.headers["X-Repo-Commit"] == hub.head(repo)
    assert head.headers["X-Linked-Size"] == str(len(WEIGHTS))


def test_private_repo_needs_a_token_of_a_member(
    hub: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_repo("acme/secret", {"README.md": "x"}, private=True, users=["alice"])
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("acme/secret")
    with pytest.raises(RepositoryNotFoundError):
        HfApi(token=BOB).model_info("acme/secret")
    assert HfApi(token=ALICE).model_info("acme/secret").private is True
    monkeypatch.setenv("HF_TOKEN", "hf_alice_token")  # read by the client at call time
    assert HfApi().model_info("acme/secret").sha == hub.head("acme/secret")
    sent = hub.requests[-1].headers.get("authorization")
    assert sent == "Bearer hf_alice_token"


def test_gated_repo_shows_its_card_but_not_its_files(hub: HubServer) -> None:
    hub.add_repo(
        "acme/gated",
        {"README.md": card(license="llama3.1"), "LICENSE": "terms"},
        gated="manual",
        users=["alice"],
    )
    info = HfApi().model_info("acme/gated")
    assert info.gated == "manual" and info.card_data is not None
    assert Path(hf_hub_download("acme/gated", "README.md")).exists()
    with pytest.raises(GatedRepoError, match="restricted"):
        hf_hub_download("acme/gated", "LICENSE")
    assert Path(hf_hub_download("acme/gated", "LICENSE", token=ALICE)).exists()


def test_bad_token_and_whoami(hub: HubServer) -> None:
    assert HfApi(token=ALICE).whoami()["name"] == "alice"
    with pytest.raises(HfHubHTTPError):
        HfApi(token=FORGED).whoami()
    r = get_session().get(f"{hub.url}/api/models/acme/x", headers=build_hf_headers(token=False))
    assert r.status_code == 401 and r.headers["X-Error-Code"] == "RepoNotFound"
