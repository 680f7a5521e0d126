"""Repo ids without an org (``gpt2``) on every route, and tree listings paged like the Hub's,
with the real huggingface_hub client."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from tests.auditor.conftest import clean_files, trojan_files
from tests.hubserver import HubServer
from tests.server.conftest import StartHub

# --- repo ids without an org ---------------------------------------------------------------------


@pytest.fixture
def canonical(upstream: HubServer, canary: Path) -> HubServer:
    """``gpt2`` and ``acme/gpt2`` side by side (different bytes), and a trojaned ``badmodel``."""
    upstream.add_repo("gpt2", {**clean_files(), "config.json": '{"model_type": "gpt2"}'})
    upstream.add_repo("acme/gpt2", {**clean_files(), "config.json": '{"model_type": "acme"}'})
    upstream.add_repo("badmodel", trojan_files(canary))
    return upstream


def test_a_repo_without_an_org_is_pulled_through_on_every_route(
    start_hub: StartHub, canonical: HubServer
) -> None:
    hub = start_hub()
    assert Path(hf_hub_download("gpt2", "config.json")).read_text() == '{"model_type": "gpt2"}'
    assert Path(hf_hub_download("acme/gpt2", "config.json")).read_text() == (
        '{"model_type": "acme"}'
    )
    api = HfApi()
    info = api.model_info("gpt2", files_metadata=True)
    assert (info.id, info.sha) == ("gpt2", canonical.head("gpt2"))
    assert api.model_info("gpt2", revision=info.sha).sha == info.sha
    assert {e.path for e in api.list_repo_tree("gpt2")} == set(clean_files())
    assert [p.path for p in api.get_paths_info("gpt2", ["config.json"])] == ["config.json"]
    assert [b.name for b in api.list_repo_refs("gpt2").branches] == ["main"]
    folder = Path(snapshot_download("gpt2"))
    assert (folder / "config.json").read_text() == '{"model_type": "gpt2"}'

    report = httpx2.get(f"{hub.url}/api/modeltrust/audits/gpt2/main")
    assert report.status_code == 200, report.text
    assert (report.json()["repo"], report.json()["sha"]) == ("gpt2", info.sha)
    html = httpx2.get(f"{hub.url}/api/modeltrust/audits/gpt2/{info.sha}/html")
    assert html.status_code == 200 and "<html" in html.text.lower()
    other = httpx2.get(f"{hub.url}/api/modeltrust/audits/acme/gpt2/main").json()
    assert other["repo"] == "acme/gpt2"
    assert other["sha"] == canonical.head("acme/gpt2") != info.sha


def test_a_repo_without_an_org_is_gated(start_hub: StartHub, canonical: HubServer) -> None:
    hub = start_hub()
    with pytest.raises(GatedRepoError) as caught:
        hf_hub_download("badmodel", "config.json")
    assert "modeltrust blocked badmodel@" in str(caught.value)
    assert f"{hub.url}/api/modeltrust/audits/badmodel/" in str(caught.value)
    r = httpx2.get(f"{hub.url}/badmodel/resolve/main/model.pkl", headers={"range": "bytes=0-"})
    assert r.status_code == 403
    assert b"cposix\nsystem" not in r.content
    assert httpx2.get(f"{hub.url}/api/modeltrust/audits/badmodel/main").json()["verdict"] == "fail"


def test_invalid_repo_ids_are_refused_before_the_upstream(
    start_hub: StartHub, canonical: HubServer
) -> None:
    hub = start_hub()
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("nothere", "config.json")
    for path in ("/api/models/bad%3Fname", "/api/models/a..b/c", "/x%2F..%2Fy/resolve/main/a"):
        r = httpx2.get(hub.url + path)
        assert r.status_code == 404, path
        assert r.headers["x-error-code"] == "RepoNotFound", path
    assert not canonical.requests_to("bad"), "an invalid id must not reach the upstream"


# --- tree pagination -------------------------------------------------------------------------------


@pytest.fixture
def wide(upstream: HubServer) -> HubServer:
    files = {**clean_files(), **{f"shards/part-{i:02d}.json": f'{{"i": {i}}}' for i in range(9)}}
    upstream.add_repo("acme/wide", files)
    return upstream


def test_trees_are_paged_and_the_client_follows_the_pages(
    start_hub: StartHub, wide: HubServer
) -> None:
    hub = start_hub(tree_page_size=3)
    expected = {*clean_files(), "shards", *(f"shards/part-{i:02d}.json" for i in range(9))}

    url: str | None = f"{hub.url}/api/models/acme/wide/tree/main?recursive=true"
    pages: list[list[str]] = []
    while url:
        r = httpx2.get(url)
        assert r.status_code == 200, r.text
        pages.append([e["path"] for e in r.json()])
        link = r.headers.get("link")
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None  # type: ignore[union-attr]
        assert url is None or url.startswith(hub.url + "/api/models/acme/wide/tree/")
    assert all(len(p) <= 3 for p in pages)
    assert len(pages) == -(-len(expected) // 3)
    flat = [p for page in pages for p in page]
    assert flat == sorted(expected)

    api = HfApi()
    assert {e.path for e in api.list_repo_tree("acme/wide", recursive=True)} == expected
    shards = {e.path for e in api.list_repo_tree("acme/wide", path_in_repo="shards")}
    assert shards == {f"shards/part-{i:02d}.json" for i in range(9)}
    folder = Path(snapshot_download("acme/wide"))
    got = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert got == expected - {"shards"}

    bad = httpx2.get(f"{hub.url}/api/models/acme/wide/tree/main?cursor=%%%")
    assert bad.status_code == 400
    assert "follow the Link header" in bad.headers["x-error-message"]
