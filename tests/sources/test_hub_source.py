"""HubSource against the test Hub: pinning, bounded reads, auth and clear errors."""

from __future__ import annotations

import hashlib
import socket
from typing import Any, Literal

import pytest

from modeltrust.errors import SourceError
from modeltrust.sources import MissingFileError, open_source
from modeltrust.sources.hub import HubSettings, HubSource
from tests import hubserver
from tests.hubserver import HubServer, card

BOB = "hf_bob_token"  # a token the test Hub knows (tests/sources/conftest.py)
BIG = bytes(range(256)) * 4096  # 1 MiB, an LFS file


@pytest.fixture
def repo(hub: HubServer) -> str:
    hub.add_repo(
        "Acme/Model",
        {
            "README.md": card(license="mit", base_model="acme/base"),
            "model.gguf": BIG,
            "nested/file.txt": "nested",
        },
    )
    return "Acme/Model"


def test_open_pins_the_commit_and_lists_files(hub: HubServer, repo: str) -> None:
    source = open_source(repo)
    assert isinstance(source, HubSource)
    assert source.kind == "hub"
    assert source.revision == hub.head(repo)
    assert source.repo_id == "Acme/Model" and source.name == "Model"
    assert source.display == f"Acme/Model@{hub.head(repo)[:12]}"
    files = {f.path: f for f in source.list_files()}
    assert set(files) == {"README.md", "model.gguf", "nested/file.txt"}
    assert files["model.gguf"].size == len(BIG)
    assert files["model.gguf"].sha256 is not None
    assert source.card_metadata() == {"license": "mit", "base_model": "acme/base"}


def test_ids_are_case_insensitive_and_one_identity(hub: HubServer, repo: str) -> None:
    a = open_source("acme/model")
    assert a.repo_id == "Acme/Model"  # the Hub's spelling
    assert a.identity == open_source("Acme/Model").identity


def test_revision_pinning_by_branch_tag_and_sha(hub: HubServer, repo: str) -> None:
    first = hub.head(repo)
    hub.tag(repo, "v1")
    second = hub.commit(repo, {"README.md": card(license="apache-2.0")})
    hub.commit(repo, {"x.txt": "x"}, branch="dev")
    assert open_source(repo).revision == second
    assert open_source(f"{repo}@v1").revision == first
    assert open_source(f"{repo}@{first}").revision == first
    dev = open_source(f"{repo}@dev")
    assert dev.revision == hub.head(repo, "dev") and dev.exists("x.txt")
    # Every read after opening is pinned to the resolved sha, even if main moves on.
    pinned = open_source(f"{repo}@v1")
    hub.commit(repo, {"README.md": card(license="gpl-3.0")})
    assert "license: mit" in pinned.read_text("README.md")
    assert f"/resolve/{first}/README.md" in hub.requests[-1].path


def test_reads_are_ranged_and_bounded(hub: HubServer, repo: str) -> None:
    source = open_source(repo)
    assert source.read_range("model.gguf", 1000, 16) == BIG[1000:1016]
    request = hub.requests[-1]
    assert request.headers["range"] == "bytes=1000-1015"
    assert source.read_bytes("model.gguf", 100) == BIG[:100]
    assert hub.requests[-1].headers["range"] == "bytes=0-99"
    assert source.read_range("model.gguf", len(BIG) - 4, 100) == BIG[-4:]
    assert source.read_range("model.gguf", len(BIG) + 10, 5) == b""
    assert source.read_text("nested/file.txt") == "nested"


def test_missing_file(repo: str) -> None:
    source = open_source(repo)
    assert not source.exists("LICENSE")
    with pytest.raises(MissingFileError, match="LICENSE"):
        source.read_text("LICENSE")


def test_unknown_repo_and_revision_are_clear_errors(hub: HubServer, repo: str) -> None:
    with pytest.raises(SourceError, match=r"'acme/nope' was not found at http://127\.0\.0\.1"):
        open_source("acme/nope")
    with pytest.raises(SourceError, match="Revision 'v9' of 'Acme/Model' was not found"):
        open_source(f"{repo}@v9")


def test_private_repo_without_and_with_hf_token(
    hub: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_repo("acme/private", {"README.md": card(license="mit")}, private=True)
    with pytest.raises(SourceError, match=r"private and no token with access was sent.*HF_TOKEN"):
        open_source("acme/private")
    monkeypatch.setenv("HF_TOKEN", "hf_alice_token")
    source = open_source("acme/private")
    assert "license: mit" in source.read_text("README.md")
    assert {r.headers.get("authorization") for r in hub.requests_to("acme/private")} >= {
        "Bearer hf_alice_token"
    }


def test_explicit_token_wins(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.add_repo("acme/private", {"README.md": "x"}, private=True, users=["bob"])
    monkeypatch.setenv("HF_TOKEN", "hf_alice_token")
    with pytest.raises(SourceError):
        open_source("acme/private")
    assert open_source("acme/private", token=BOB).read_text("README.md") == "x"


def test_gated_files_without_access(hub: HubServer) -> None:
    hub.add_repo(
        "meta/gated", {"README.md": card(license="llama3.1"), "LICENSE": "terms"}, gated="auto"
    )
    source = open_source("meta/gated")  # metadata and the card are public
    assert source.card_metadata() == {"license": "llama3.1"}
    assert "llama3.1" in source.read_text("README.md")
    with pytest.raises(SourceError, match=r"gated.*Accept its conditions.*HF_TOKEN"):
        source.read_text("LICENSE")


def test_endpoint_is_read_at_call_time(
    hub: HubServer, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # huggingface_hub captured HF_ENDPOINT when it was imported; the source must not.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    assert HubSettings.from_env().endpoint == hub.url
    assert open_source(repo).revision == hub.head(repo)


def test_unreachable_hub_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(SourceError, match=r"Could not reach the Hub at http://127\.0\.0\.1"):
        open_source("acme/model")


def test_offline_mode_is_named(hub: HubServer, repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SourceError, match="HF_HUB_OFFLINE"):
        open_source(repo)


def test_open_related_uses_the_same_hub(hub: HubServer, repo: str) -> None:
    hub.add_repo("acme/base", {"README.md": card(license="apache-2.0")})
    base = open_source(repo).open_related("acme/base")
    assert base.repo_id == "acme/base" and base.revision == hub.head("acme/base")
    with pytest.raises(SourceError, match="acme/gone"):
        open_source(repo).open_related("acme/gone")


@pytest.mark.parametrize("siblings", ["names", "none"])
def test_files_come_from_the_tree_when_model_info_lacks_their_sizes(
    hub: HubServer, repo: str, siblings: Literal["names", "none"]
) -> None:
    """A Hub-compatible server that ignores blobs=true: sizes and SHA-256s from the tree,
    followed over its pages."""
    hub.siblings = siblings
    hub.page_size = 2
    source = open_source(repo)
    files = {f.path: f for f in source.list_files()}
    assert set(files) == {"README.md", "model.gguf", "nested/file.txt"}
    assert files["model.gguf"].size == len(BIG)
    assert files["model.gguf"].sha256 == hashlib.sha256(BIG).hexdigest()
    assert files["nested/file.txt"].size == len("nested")
    assert files["nested/file.txt"].sha256 is None
    assert source.read_range("model.gguf", 256, 4) == BIG[256:260]
    pages = hub.requests_to(f"/tree/{hub.head(repo)}", "GET")
    assert len(pages) >= 2  # 4 entries (the folder too), 2 a page


def test_a_tree_entry_the_client_cannot_read_is_a_clear_error(
    hub: HubServer, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.siblings = "names"
    real = hubserver._file_entry

    def without_pointer_size(*args: Any) -> dict[str, Any]:
        entry = real(*args)
        if "lfs" in entry:
            del entry["lfs"]["pointerSize"]
        return entry

    monkeypatch.setattr(hubserver, "_file_entry", without_pointer_size)
    with pytest.raises(SourceError, match="file tree has a malformed entry"):
        open_source(repo)
