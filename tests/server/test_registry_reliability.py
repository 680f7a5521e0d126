"""The registry under stress: concurrent commits, servers sharing a database, quotas, and a
server killed with SIGKILL in the middle of an upload or a commit."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from tests.server.registry_fixtures import TOKENS, seed

ALICE = {"authorization": f"Bearer {TOKENS['alice']}"}


def test_concurrent_commits_to_one_branch_are_serialised(registry: Any) -> None:
    api = registry.api("alice")
    repo = api.create_repo("busy").repo_id

    def push(i: int) -> str:
        return api.upload_file(
            path_or_fileobj=f"file {i}".encode(), path_in_repo=f"f{i}.txt", repo_id=repo
        ).oid

    with ThreadPoolExecutor(8) as pool:
        oids = list(pool.map(push, range(16)))
    assert len(set(oids)) == 16
    files = api.list_repo_files(repo)
    assert sorted(files) == sorted([".gitattributes"] + [f"f{i}.txt" for i in range(16)])
    commits = api.list_repo_commits(repo)
    assert len(commits) == 17  # a line: every commit's parent is the one before
    assert {c.commit_id for c in commits[:-1]} == set(oids)


def test_a_stale_parent_is_412_and_changes_nothing(registry: Any) -> None:
    api = registry.api("alice")
    repo = api.create_repo("stale").repo_id
    seen = api.model_info(repo).sha
    api.upload_file(path_or_fileobj=b"1", path_in_repo="one.txt", repo_id=repo)
    with pytest.raises(HfHubHTTPError) as stale:
        api.upload_file(
            path_or_fileobj=b"2", path_in_repo="two.txt", repo_id=repo, parent_commit=seen
        )
    assert stale.value.response.status_code == 412
    assert api.list_repo_files(repo) == [".gitattributes", "one.txt"]


def test_two_servers_sharing_one_database_lose_no_commit(
    registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second server process on the same data directory and database: commits through
    both land one after the other on the same branch (compare-and-set on the ref)."""
    api = registry.api("alice")
    repo = api.create_repo("shared").repo_id
    other, url = _serve(
        tmp_path / "data", tmp_path / "second.log", registry.hub.settings.database_url
    )
    try:
        apis = [api, HfApi(endpoint=url, token=TOKENS["alice"])]

        def push(i: int) -> None:
            apis[i % 2].upload_file(
                path_or_fileobj=str(i).encode(), path_in_repo=f"{i}.txt", repo_id=repo
            )

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(push, range(12)))
    finally:
        other.send_signal(signal.SIGTERM)
        other.wait(timeout=30)
    assert len(api.list_repo_commits(repo)) == 13
    assert len(api.list_repo_files(repo)) == 13


def test_quotas_bound_what_a_namespace_holds(registry: Any) -> None:
    api = registry.api("bob")
    api.create_repo("acme/quota")
    registry.accounts.set_quota("acme", 10_000)
    api.upload_file(path_or_fileobj=b"a" * 4000, path_in_repo="a.txt", repo_id="acme/quota")
    with pytest.raises(HfHubHTTPError) as over:
        api.upload_file(path_or_fileobj=b"b" * 9000, path_in_repo="b.txt", repo_id="acme/quota")
    assert over.value.response.status_code == 413
    assert "over its quota" in str(over.value) and "modeltrust orgs quota" in str(over.value)
    with pytest.raises(ValueError, match="quota"):  # LFS: refused in the batch answer
        api.upload_file(path_or_fileobj=b"\0" * 9000, path_in_repo="b.bin", repo_id="acme/quota")
    # The same bytes again cost nothing: blobs are counted once per namespace.
    api.upload_file(path_or_fileobj=b"a" * 4000, path_in_repo="copy.txt", repo_id="acme/quota")
    assert registry.state.registry.hosted.usage("acme") < 10_000


# --- SIGKILL --------------------------------------------------------------------------------------


def _serve(
    data_dir: Path, log: Path, database: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    command = [
        sys.executable, "-m", "modeltrust", "serve", "--port", "0", "--upstream", "none",
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    if database:
        command += ["--database-url", database]
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"set HF_ENDPOINT=(http://\S+)", log.read_text(errors="replace"))
        if found:
            return server, found.group(1)
        if server.poll() is not None:
            break
        time.sleep(0.05)
    server.kill()
    raise AssertionError(f"the server did not start: {log.read_text(errors='replace')}")


@pytest.fixture
def killable(tmp_path: Path) -> Iterator[Any]:
    from modeltrust.storage.accounts import Accounts
    from modeltrust.storage.catalog import Catalog

    data = tmp_path / "data"
    data.mkdir()
    catalog = Catalog(f"sqlite:///{data / 'modeltrust.db'}")
    seed(Accounts(catalog))
    catalog.close()
    servers: list[subprocess.Popen[bytes]] = []

    def start() -> str:
        server, url = _serve(data, tmp_path / f"serve-{len(servers)}.log")
        servers.append(server)
        return url

    yield start, servers, data
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait()


def _slow_body(first: bytes, started: threading.Event) -> Iterator[bytes]:
    yield first
    started.set()
    while True:  # never finishes: the server is killed while it waits for the rest
        time.sleep(0.05)
        yield b"\0" * 1024


def test_sigkill_mid_upload_keeps_what_was_acknowledged_and_nothing_half(
    killable: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    start, servers, data = killable
    url = start()
    api = HfApi(endpoint=url, token=TOKENS["alice"])
    repo = api.create_repo("durable").repo_id
    kept = api.upload_file(path_or_fileobj=b"\1" * 5000, path_in_repo="kept.bin", repo_id=repo)
    size = 50 << 20
    oid = hashlib.sha256(b"x").hexdigest()  # never reached: the upload is cut first
    batch = httpx2.post(
        f"{url}/{repo}.git/info/lfs/objects/batch",
        headers=ALICE,
        json={"operation": "upload", "objects": [{"oid": oid, "size": size}]},
    ).json()
    href = batch["objects"][0]["actions"]["upload"]["href"]
    started = threading.Event()

    def upload() -> None:
        with contextlib.suppress(httpx2.HTTPError):  # the server dies under it
            httpx2.put(href, content=_slow_body(b"\0" * (1 << 20), started), timeout=60)

    sender = threading.Thread(target=upload, daemon=True)
    sender.start()
    assert started.wait(30)
    time.sleep(0.3)
    incoming = list((data / "blobs" / "sha256" / "incoming").rglob(".tmp-*"))
    assert incoming, "the upload was in progress"
    servers[-1].send_signal(signal.SIGKILL)
    servers[-1].wait()
    # A commit cut the same way: its payload half sent.
    url = start()
    api = HfApi(endpoint=url, token=TOKENS["alice"])
    body = json.dumps({"key": "header", "value": {"summary": "half"}}).encode() + b"\n"
    started2 = threading.Event()

    def commit() -> None:
        with contextlib.suppress(httpx2.HTTPError):  # the server dies under it
            httpx2.post(
                f"{url}/api/models/{repo}/commit/main",
                headers=ALICE,
                content=_slow_body(body, started2),
                timeout=60,
            )

    threading.Thread(target=commit, daemon=True).start()
    assert started2.wait(30)
    time.sleep(0.3)
    servers[-1].send_signal(signal.SIGKILL)
    servers[-1].wait()
    url = start()  # the restart sweeps what the dead servers left
    api = HfApi(endpoint=url, token=TOKENS["alice"])
    assert not list((data / "blobs" / "sha256" / "incoming").rglob(".tmp-*"))
    assert not (data / "blobs" / "sha256" / oid[:2] / oid[2:4] / oid).exists()
    assert api.list_repo_files(repo) == [".gitattributes", "kept.bin"]
    assert api.model_info(repo).sha == kept.oid
    newest = api.list_repo_commits(repo)[0]
    assert newest.title == "Upload kept.bin with huggingface_hub"
    got = httpx2.get(f"{url}/{repo}/resolve/main/kept.bin", headers=ALICE)
    assert got.content == b"\1" * 5000


def _lfs_put(url: str, repo: str, data: bytes) -> tuple[str, dict[str, Any]]:
    """The LFS batch and PUT huggingface_hub makes; returns the oid and the batch's object."""
    oid = hashlib.sha256(data).hexdigest()
    batch = httpx2.post(
        f"{url}/{repo}.git/info/lfs/objects/batch",
        headers=ALICE,
        json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]},
    ).json()["objects"][0]
    put = httpx2.put(batch["actions"]["upload"]["href"], content=data, timeout=30)
    assert put.status_code == 200, put.text
    return oid, batch


def _commit_lfs(url: str, repo: str, path: str, oid: str, size: int) -> httpx2.Response:
    lines = [
        {"key": "header", "value": {"summary": f"add {path}"}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}},
    ]
    return httpx2.post(
        f"{url}/api/models/{repo}/commit/main",
        headers=ALICE | {"content-type": "application/x-ndjson"},
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        timeout=60,
    )


def test_an_upload_is_answered_before_the_disk_flush_and_its_commit_after(
    registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PUT does not wait for the disk; the commit that references the object does, so a
    commit never acknowledges a file a power cut could take back."""
    from modeltrust.storage.blobs import LocalBlobStore

    events: list[str] = []
    gate = threading.Event()
    flush = LocalBlobStore._flush_and_publish

    def held(self: LocalBlobStore, tmp: Path, sha256: str) -> None:
        assert gate.wait(30)
        flush(self, tmp, sha256)
        events.append("flushed")

    monkeypatch.setattr(LocalBlobStore, "_flush_and_publish", held)
    repo = registry.api("alice").create_repo("flushed").repo_id
    data = b"\7" * (3 << 20)
    oid, batch = _lfs_put(registry.url, repo, data)  # answered while the flush is held
    verify = httpx2.post(
        batch["actions"]["verify"]["href"], headers=ALICE, json={"oid": oid, "size": len(data)}
    )
    assert verify.status_code == 200, verify.text
    threading.Timer(0.3, lambda: (events.append("released"), gate.set())).start()
    committed = _commit_lfs(registry.url, repo, "w.bin", oid, len(data))
    events.append("committed")
    assert committed.status_code == 200, committed.text
    assert events == ["released", "flushed", "committed"]
    blobs = registry.state.blobs
    assert blobs.path(oid).read_bytes() == data


def test_another_server_waits_for_an_upload_still_being_flushed(
    registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers on one data directory: the object one of them answered is visible to the
    other once flushed; its verify and commit wait for it rather than refuse."""
    from modeltrust.storage.blobs import LocalBlobStore

    gate = threading.Event()
    flush = LocalBlobStore._flush_and_publish

    def held(self: LocalBlobStore, tmp: Path, sha256: str) -> None:
        assert gate.wait(30)
        flush(self, tmp, sha256)

    monkeypatch.setattr(LocalBlobStore, "_flush_and_publish", held)
    repo = registry.api("alice").create_repo("two-servers").repo_id
    other, url = _serve(
        tmp_path / "data", tmp_path / "second.log", registry.hub.settings.database_url
    )
    try:
        data = b"\3" * (2 << 20)
        oid, _batch = _lfs_put(registry.url, repo, data)
        threading.Timer(0.5, gate.set).start()
        started = time.monotonic()
        verify = httpx2.post(
            f"{url}/api/modeltrust/lfs/verify/{repo}",
            headers=ALICE,
            json={"oid": oid, "size": len(data)},
            timeout=60,
        )
        assert verify.status_code == 200, verify.text
        assert time.monotonic() - started >= 0.4  # it waited for the flush
        committed = _commit_lfs(url, repo, "w.bin", oid, len(data))
        assert committed.status_code == 200, committed.text
    finally:
        other.send_signal(signal.SIGTERM)
        other.wait(timeout=30)
    got = httpx2.get(f"{registry.url}/{repo}/resolve/main/w.bin", headers=ALICE, timeout=30)
    assert got.status_code in (200, 503)  # 503: its audit may still run
