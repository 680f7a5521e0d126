"""The real huggingface_hub client against the governed hub, which pulls from a test upstream."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import (
    HfApi,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from modeltrust.policy.model import Policy
from modeltrust.server.hub_api import SMALL_FILE
from tests.auditor.conftest import clean_files
from tests.hubserver import HubServer
from tests.server.conftest import StartHub


def test_hf_hub_download_of_a_clean_model(start_hub: StartHub, upstream: HubServer) -> None:
    hub = start_hub()
    path = hf_hub_download("acme/clean", "model.safetensors")
    expected = upstream.repos["acme/clean"].resolve("main")
    assert expected is not None
    assert Path(path).read_bytes() == expected.files["model.safetensors"].data
    response = httpx2.head(f"{hub.url}/acme/clean/resolve/main/model.safetensors")
    assert response.headers["x-repo-commit"] == upstream.head("acme/clean")
    sha256 = expected.files["model.safetensors"].sha256
    assert response.headers["x-linked-etag"] == f'"{sha256}"'
    assert "xet" not in " ".join(response.headers.keys()).lower()


def test_snapshot_download_model_info_and_tree(start_hub: StartHub, upstream: HubServer) -> None:
    upstream.commit("acme/clean", {"sub/dir/extra.json": "{}"})
    start_hub()
    folder = Path(snapshot_download("acme/clean"))
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == sorted(
        ["README.md", "LICENSE", "model.safetensors", "config.json", "extra.json"]
    )
    api = HfApi()
    info = api.model_info("acme/clean", files_metadata=True)
    assert info.sha == upstream.head("acme/clean")
    assert info.card_data is not None and info.card_data["license"] == "apache-2.0"
    by_name = {s.rfilename: s for s in info.siblings or []}
    assert by_name["model.safetensors"].lfs is not None
    top = {e.path for e in api.list_repo_tree("acme/clean")}
    assert top == {"README.md", "LICENSE", "model.safetensors", "config.json", "sub"}
    sub = {e.path for e in api.list_repo_tree("acme/clean", path_in_repo="sub/dir")}
    assert sub == {"sub/dir/extra.json"}
    every = {e.path for e in api.list_repo_tree("acme/clean", recursive=True)}
    assert {"sub", "sub/dir", "sub/dir/extra.json"} <= every
    infos = api.get_paths_info("acme/clean", ["config.json", "sub"])
    assert sorted(i.path for i in infos) == ["config.json", "sub"]
    refs = api.list_repo_refs("acme/clean")
    assert [b.name for b in refs.branches] == ["main"]


def test_safetensors_metadata_uses_ranges(start_hub: StartHub) -> None:
    start_hub()
    meta = HfApi().get_safetensors_metadata("acme/clean")
    tensors = meta.files_metadata["model.safetensors"].tensors
    assert set(tensors) == {"w", "b"}
    assert tensors["w"].shape == [4, 16]


def test_range_requests_answer_206(start_hub: StartHub) -> None:
    hub = start_hub()
    url = f"{hub.url}/acme/clean/resolve/main/config.json"
    whole = httpx2.get(url).content
    part = httpx2.get(url, headers={"range": "bytes=2-5"})
    assert part.status_code == 206
    assert part.content == whole[2:6]
    assert part.headers["content-range"] == f"bytes 2-5/{len(whole)}"


@pytest.mark.parametrize("size", [0, 100, SMALL_FILE, SMALL_FILE + 1, 3 * SMALL_FILE])
def test_small_and_large_files_answer_alike(
    start_hub: StartHub, upstream: HubServer, size: int
) -> None:
    """Small files are sent from memory, larger ones streamed: HEAD, GET and ranges must not
    tell the two apart."""
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    # (.raw: an empty file named like weights, blob.bin, is refused as MT-GEN-008)
    upstream.commit("acme/clean", {"blob.raw": data})
    hub = start_hub()
    url = f"{hub.url}/acme/clean/resolve/main/blob.raw"
    got = httpx2.get(url)
    head = httpx2.head(url)
    assert got.status_code == head.status_code == 200
    assert got.content == data
    assert head.content == b""
    for name in ("etag", "x-repo-commit", "content-length", "accept-ranges", "content-type"):
        assert got.headers[name] == head.headers[name], name
    assert int(head.headers["content-length"]) == size
    if size:
        part = httpx2.get(url, headers={"range": f"bytes={size // 2}-"})
        assert part.status_code == 206
        assert part.content == data[size // 2 :]
    assert Path(hf_hub_download("acme/clean", "blob.raw")).read_bytes() == data


def test_errors_become_the_clients_typed_errors(start_hub: StartHub) -> None:
    start_hub()
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("acme/missing", "config.json")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("acme/clean", "config.json", revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("acme/clean", "nope.bin")
    with pytest.raises(EntryNotFoundError):
        HfApi().list_repo_tree("acme/clean", path_in_repo="no/such/dir").__next__()


def test_a_trojaned_repo_is_refused_with_our_message(start_hub: StartHub, canary: Path) -> None:
    hub = start_hub()
    with pytest.raises(GatedRepoError) as caught:
        hf_hub_download("acme/trojan", "config.json")
    message = str(caught.value)
    assert "modeltrust blocked acme/trojan" in message
    assert "MT-PKL" in message
    assert f"{hub.url}/api/modeltrust/audits/acme/trojan/" in message
    # No byte of any file, not even the harmless ones, and no Range trick either.
    for path in ("model.pkl", "README.md"):
        r = httpx2.get(f"{hub.url}/acme/trojan/resolve/main/{path}", headers={"range": "bytes=0-"})
        assert r.status_code == 403
        assert r.headers["x-error-code"] == "GatedRepo"
        assert b"cposix\nsystem" not in r.content
    report = httpx2.get(f"{hub.url}/api/modeltrust/audits/acme/trojan/main").json()
    assert report["verdict"] == "fail"
    html = httpx2.get(f"{hub.url}/api/modeltrust/audits/acme/trojan/main/html")
    assert html.status_code == 200 and "<html" in html.text.lower()
    assert not canary.exists()


def test_a_policy_exception_unblocks(start_hub: StartHub, waiver: Policy) -> None:
    start_hub(policy=waiver)
    path = hf_hub_download("acme/trojan", "config.json")
    assert Path(path).is_file()


def test_warn_verdicts_are_served_with_a_warning(
    start_hub: StartHub, upstream: HubServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.hubserver import card

    thin = {"README.md": card("# Thin\n", license="apache-2.0"), "config.json": "{}"}
    upstream.add_repo("acme/thin", thin)
    hub = start_hub()
    response = httpx2.get(f"{hub.url}/acme/thin/resolve/main/config.json")
    assert response.status_code == 200, response.headers.get("x-error-message")
    assert response.headers["x-hf-warning"].startswith("modeltrust; acme/thin@")


def test_concurrent_downloads_fetch_once(start_hub: StartHub, upstream: HubServer) -> None:
    from demo.hub import safetensors_bytes

    big = safetensors_bytes({"w": (1000, 1000)})
    upstream.add_repo("acme/big", {**clean_files(), "model.safetensors": big})
    start_hub()

    def pull(i: int) -> bytes:
        from huggingface_hub import constants

        return Path(
            hf_hub_download(
                "acme/big", "model.safetensors", cache_dir=str(Path(constants.HF_HOME) / f"c{i}")
            )
        ).read_bytes()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(pull, range(8)))
    assert all(r == big for r in results)
    fetched = [r.path for r in upstream.requests_to("/acme/big/resolve/", "GET")]
    assert len(fetched) == len(set(fetched)) == len(clean_files())
    assert len(upstream.requests_to("/api/models/acme/big/revision/main", "GET")) == 1


def test_restart_with_the_upstream_gone(
    start_hub: StartHub, upstream: HubServer, tmp_path: Path
) -> None:
    start_hub()
    first = Path(hf_hub_download("acme/clean", "model.safetensors")).read_bytes()
    start_hub(upstream_url="http://127.0.0.1:9")  # nothing listens on the discard port
    from huggingface_hub import constants

    again = hf_hub_download(
        "acme/clean", "model.safetensors", cache_dir=str(tmp_path / "fresh-cache")
    )
    assert Path(again).read_bytes() == first
    assert constants.ENDPOINT.startswith("http://127.0.0.1:")
    assert HfApi().model_info("acme/clean").sha == upstream.head("acme/clean")


def test_a_sha256_mismatch_is_never_served(
    start_hub: StartHub, upstream: HubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests import hubserver

    upstream.add_repo("acme/liar", {"model.safetensors": b"\0" * 64, "README.md": "# x\n"})
    real = hubserver.Blob.sha256
    monkeypatch.setattr(  # the upstream announces one hash and sends other bytes
        hubserver.Blob, "sha256", property(lambda b: hashlib.sha256(b"other").hexdigest())
    )
    hub = start_hub()
    with pytest.raises(GatedRepoError, match="does not match"):
        hf_hub_download("acme/liar", "model.safetensors")
    monkeypatch.setattr(hubserver.Blob, "sha256", real)
    store = tmp_path / "data" / "blobs" / "sha256"
    liar = hashlib.sha256(b"\0" * 64).hexdigest()
    assert not (store / liar[:2] / liar[2:4] / liar).exists()
    assert not list(store.rglob(".tmp-*"))
    r = httpx2.get(f"{hub.url}/acme/liar/resolve/main/README.md")
    assert r.status_code == 403


def test_an_upstream_lost_mid_ingest_serves_nothing_and_recovers(
    start_hub: StartHub, upstream: HubServer, tmp_path: Path
) -> None:
    start_hub()
    assert HfApi().model_info("acme/clean").sha == upstream.head("acme/clean")  # listed only
    hub = start_hub(upstream_url="http://127.0.0.1:9")  # restarted; the upstream is gone
    r = httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json")
    assert r.status_code == 502
    assert "Could not download" in r.headers["x-error-message"]
    store = tmp_path / "data" / "blobs" / "sha256"
    assert not [p for p in store.rglob("*") if p.is_file() and p.suffix != ".lock"]
    hub = start_hub()  # the upstream is back: the next request completes the ingest
    assert httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json").status_code == 200
