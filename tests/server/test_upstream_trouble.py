"""The upstream as it really behaves: silent or gone while a branch is due for a new look, a
branch that moves, a renamed repo answered under its old name, fields we must not pass on, the
revisions and negative answers the client relies on, and model info without file details (the
tree has them)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError, GatedRepoError

from modeltrust.server.upstream import Upstream, UpstreamError
from tests.auditor.conftest import clean_files
from tests.hubserver import HubServer
from tests.server.conftest import StartHub

CONFIG = clean_files()["config.json"]


@pytest.fixture
def silent_upstream() -> Iterator[str]:
    """A URL whose server accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(128)
        yield f"http://127.0.0.1:{hole.getsockname()[1]}"


def timed_get(url: str) -> tuple[int, float]:
    started = time.monotonic()
    r = httpx2.get(url, timeout=60)
    return r.status_code, time.monotonic() - started


def test_a_silent_upstream_costs_one_timeout_not_one_per_request(
    start_hub: StartHub, silent_upstream: str
) -> None:
    hub = start_hub(ref_ttl=0.3)
    url = f"{hub.url}/acme/clean/resolve/main/config.json"
    assert httpx2.get(url).status_code == 200
    hub = start_hub(upstream_url=silent_upstream, ref_ttl=0.3, upstream_timeout=1.0)
    time.sleep(0.5)  # 'main' is due for a new look upstream
    url = f"{hub.url}/acme/clean/resolve/main/config.json"
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(timed_get, [url] * 6))
    assert [status for status, _ in answers] == [200] * 6
    # One request waits out the timeout; those queued behind it fall back at once.
    assert max(seconds for _, seconds in answers) < 2.0, answers
    for _ in range(3):  # and the upstream is left alone for a while
        status, seconds = timed_get(url)
        assert status == 200 and seconds < 0.5, seconds


def test_a_stale_branch_is_served_from_the_store_when_the_upstream_is_gone(
    start_hub: StartHub, upstream: HubServer
) -> None:
    hub = start_hub(ref_ttl=0.2)
    assert httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json").status_code == 200
    hub = start_hub(upstream_url="http://127.0.0.1:9", ref_ttl=0.2)
    time.sleep(0.3)
    r = httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json")
    assert r.status_code == 200 and r.text == CONFIG
    assert r.headers["x-repo-commit"] == upstream.head("acme/clean")
    info = httpx2.get(f"{hub.url}/api/models/acme/clean").json()
    assert info["sha"] == upstream.head("acme/clean")


def test_a_branch_that_moves_upstream_is_followed_after_ref_ttl(
    start_hub: StartHub, upstream: HubServer
) -> None:
    hub = start_hub(ref_ttl=0.5)
    url = f"{hub.url}/acme/clean/resolve/main/config.json"
    assert httpx2.get(url).text == CONFIG
    old = upstream.head("acme/clean")
    new = upstream.commit("acme/clean", {"config.json": '{"moved": true}'})
    r = httpx2.get(url)  # within ref_ttl: the resolution is trusted
    assert (r.text, r.headers["x-repo-commit"]) == (CONFIG, old)
    time.sleep(0.6)
    r = httpx2.get(url)
    assert (r.text, r.headers["x-repo-commit"]) == ('{"moved": true}', new)
    assert httpx2.get(f"{hub.url}/acme/clean/resolve/{old}/config.json").text == CONFIG


def test_a_renamed_repo_is_listed_once_and_served_without_upstream(
    start_hub: StartHub, upstream: HubServer
) -> None:
    """The Hub answers ``gpt2`` with ``id: openai-community/gpt2``."""
    upstream.add_repo("openai-community/gpt2", clean_files())
    upstream.rename("gpt2", "openai-community/gpt2")
    hub = start_hub()
    for _ in range(3):
        r = httpx2.get(f"{hub.url}/gpt2/resolve/main/config.json")
        assert r.status_code == 200 and r.text == CONFIG
    assert len(upstream.requests_to("/api/models/gpt2/revision/main")) == 1
    info = httpx2.get(f"{hub.url}/api/models/gpt2").json()
    assert info["id"] == "openai-community/gpt2"

    hub = start_hub(upstream_url=None)
    for name in ("gpt2", "openai-community/gpt2"):
        r = httpx2.get(f"{hub.url}/{name}/resolve/main/config.json")
        assert r.status_code == 200 and r.text == CONFIG, name
    report = httpx2.get(f"{hub.url}/api/modeltrust/audits/gpt2/main")
    assert report.json()["repo"] == "openai-community/gpt2"


def test_xet_fields_from_the_upstream_are_never_passed_on(
    start_hub: StartHub, upstream: HubServer
) -> None:
    upstream.info_extra["acme/clean"] = {
        "xetEnabled": True,
        "gguf": {"total": 7, "xetHash": "ab" * 32},
    }
    hub = start_hub()
    assert httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json").status_code == 200
    info = httpx2.get(f"{hub.url}/api/models/acme/clean").json()
    assert "xetEnabled" not in info
    assert info["gguf"] == {"total": 7}


def test_a_missing_file_is_cached_by_the_client_as_missing(
    start_hub: StartHub, upstream: HubServer
) -> None:
    """The 404 carries X-Repo-Commit, so huggingface_hub records the file as absent in that
    commit (``.no_exist``) and does not ask again offline."""
    hub = start_hub()
    r = httpx2.head(f"{hub.url}/acme/clean/resolve/main/nope.bin")
    assert r.status_code == 404
    assert r.headers["x-repo-commit"] == upstream.head("acme/clean")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("acme/clean", "nope.bin")
    sha = upstream.head("acme/clean")
    cached = try_to_load_from_cache("acme/clean", "nope.bin", revision=sha)
    assert cached is not None and not isinstance(cached, str)  # the "known missing" marker


def test_a_pull_request_revision_with_encoded_slashes(
    start_hub: StartHub, upstream: HubServer
) -> None:
    pr = upstream.commit("acme/clean", {"config.json": '{"pr": 1}'}, branch="refs/pr/1")
    hub = start_hub()
    path = hf_hub_download("acme/clean", "config.json", revision="refs/pr/1")
    assert Path(path).read_text() == '{"pr": 1}'
    assert HfApi().model_info("acme/clean", revision="refs/pr/1").sha == pr
    r = httpx2.get(f"{hub.url}/acme/clean/resolve/refs%2Fpr%2F1/config.json")
    assert r.headers["x-repo-commit"] == pr
    assert hf_hub_download("acme/clean", "config.json") != path  # main is untouched


@pytest.mark.parametrize("siblings", ["names", "none"])
def test_an_upstream_without_blobs_siblings_is_listed_from_its_tree(
    start_hub: StartHub,
    upstream: HubServer,
    canary: Path,
    siblings: Literal["names", "none"],
) -> None:
    """Model info without sizes and blob ids (a mirror that ignores blobs=true, or lists no
    siblings): the files are listed from the commit's tree, page by page, audited and served."""
    upstream.commit("acme/clean", {"sub/dir/extra.json": "{}"})
    upstream.siblings = siblings
    upstream.page_size = 2
    start_hub()
    path = hf_hub_download("acme/clean", "model.safetensors")
    expected = upstream.repos["acme/clean"].commits[upstream.head("acme/clean")].files
    assert Path(path).read_bytes() == expected["model.safetensors"].data
    folder = Path(snapshot_download("acme/clean"))
    assert (folder / "sub" / "dir" / "extra.json").read_text() == "{}"
    assert (folder / "config.json").read_text() == CONFIG
    assert len(upstream.requests_to(f"/tree/{upstream.head('acme/clean')}", "GET")) >= 3
    # The audit ran on that listing: the trojan is still refused, and never loaded.
    with pytest.raises(GatedRepoError, match="MT-PKL"):
        hf_hub_download("acme/trojan", "model.pkl")
    assert not canary.exists()


class _OddUpstream(BaseHTTPRequestHandler):
    """Model info with names only, and a tree whose next link is ``next_link``."""

    next_link = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if "/revision/" in self.path:
            body: object = {"id": "acme/odd", "sha": "a" * 40, "siblings": [{"rfilename": "x"}]}
            link = ""
        else:
            body = [{"type": "file", "path": "x", "size": 1, "oid": "b" * 40}]
            link = self.next_link.replace("{self}", f"http://127.0.0.1:{self.server.server_port}")
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if link:
            self.send_header("Link", f'<{link}>; rel="next"')
        self.end_headers()
        self.wfile.write(data)


@pytest.mark.parametrize(
    ("link", "why"),
    [
        ("http://127.0.0.2:9/api/models/acme/odd/tree/next", "which is not on the upstream"),
        ("{self}/api/models/acme/odd/tree/" + "a" * 40 + "?recursive=true&expand=false", "loop"),
        ("?cursor=again", "loop"),
    ],
    ids=["elsewhere", "itself", "relative-to-itself-then-loop"],
)
def test_tree_links_off_the_upstream_or_in_a_loop_are_refused(link: str, why: str) -> None:
    handler = type("Odd", (_OddUpstream,), {"next_link": link})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    client = Upstream(f"http://127.0.0.1:{server.server_port}", token="secret")  # noqa: S106
    try:
        with pytest.raises(UpstreamError, match=why):
            client.listing("acme/odd", "main")
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join()
