"""The governed hub when things go wrong: an upstream that fails, hangs or cuts a transfer short,
and a server killed with SIGKILL in the middle of an ingest.

Whatever happens, nothing unverified is stored or served, the client gets an error that says
what failed, and the next request (or the next start on the same data dir) completes the work.
The faults are injected by a small proxy in front of the test Hub (``tests.hubserver``).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx2
import pytest

from demo.hub import safetensors_bytes
from modeltrust.server.settings import Settings
from tests.auditor.conftest import clean_files
from tests.hubserver import HubServer
from tests.server.conftest import Governed

BIG = safetensors_bytes({"w": (1024, 1536)})  # 6 MiB: several of the server's 1 MiB chunks


class Faults:
    """What the proxy does to requests whose path contains ``target``."""

    def __init__(self) -> None:
        self.mode: str | None = None
        """error: answer 500 | hang: say nothing until released | cut: send half the body with
        the full Content-Length and close | short: send half the body with a matching
        Content-Length | stall: send half the body, then wait until released | pause: send
        half the body, wait until released, then send the rest."""
        self.target = ""
        self.reached = threading.Event()
        self.release = threading.Event()

    def set(self, mode: str | None, target: str = "") -> None:
        self.mode, self.target = mode, target
        self.reached.clear()
        self.release.clear()


class _ProxyHandler(BaseHTTPRequestHandler):
    upstream: ClassVar[str]
    faults: ClassVar[Faults]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        faults = self.faults
        mode = faults.mode if faults.target and faults.target in self.path else None
        if mode == "error":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "hang":
            faults.reached.set()
            faults.release.wait(20)
            self.close_connection = True
            return
        netloc = urlsplit(self.upstream).netloc
        connection = http.client.HTTPConnection(netloc, timeout=20)
        skip = {"host", "connection", "content-length"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        connection.request(method, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "content-length", "transfer-encoding", "date"):
                self.send_header(name, value)
        half = data[: len(data) // 2]
        self.send_header("Content-Length", str(len(half) if mode == "short" else len(data)))
        self.end_headers()
        if mode is None:
            self.wfile.write(data)
            return
        self.wfile.write(half)
        self.wfile.flush()
        if mode in ("stall", "pause"):
            faults.reached.set()
            faults.release.wait(20)
        if mode == "pause":
            self.wfile.write(data[len(half) :])
            return
        self.close_connection = True


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.faults = Faults()
        handler = type("Handler", (_ProxyHandler,), {"upstream": upstream, "faults": self.faults})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def close(self) -> None:
        self.faults.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def proxy(upstream: HubServer) -> Iterator[Proxy]:
    upstream.add_repo("acme/big", {**clean_files(), "model.safetensors": BIG})
    running = Proxy(upstream.url)
    yield running
    running.close()


@pytest.fixture
def hub(tmp_path: Path, proxy: Proxy) -> Iterator[Governed]:
    settings = Settings(data_dir=tmp_path / "data", upstream=proxy.url, upstream_timeout=1.0)
    server = Governed(settings).start()
    yield server
    server.stop()


def stored_files(data: Path) -> list[Path]:
    """The blobs (not the writers' scratch folders and their lock files)."""
    incoming = data / "blobs" / "sha256" / "incoming"
    return [p for p in (data / "blobs").rglob("*") if p.is_file() and incoming not in p.parents]


def assert_nothing_corrupt(data: Path) -> None:
    """No partial write is left, and every blob's content matches the name it is stored under."""
    assert not list((data / "blobs").rglob(".tmp-*"))
    for blob in stored_files(data):
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


@pytest.mark.parametrize(
    ("mode", "target", "message"),
    [
        ("error", "/api/models/acme/clean", "answered 500"),
        ("error", "/acme/clean/resolve/", "answered 500"),
        ("hang", "/api/models/acme/clean", "Could not reach the upstream"),
        ("hang", "/acme/clean/resolve/", "Could not download"),
    ],
    ids=["listing-500", "file-500", "listing-timeout", "file-timeout"],
)
def test_a_failing_upstream_is_a_clear_error_and_the_next_request_recovers(
    hub: Governed, proxy: Proxy, tmp_path: Path, mode: str, target: str, message: str
) -> None:
    proxy.faults.set(mode, target)
    r = httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json", timeout=30)
    assert r.status_code in (502, 504)
    assert message in r.headers["x-error-message"]
    assert r.json()["ok"] is False
    assert not stored_files(tmp_path / "data")

    proxy.faults.set(None)
    r = httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json", timeout=30)
    assert r.status_code == 200
    assert r.content == clean_files()["config.json"].encode()  # type: ignore[union-attr]
    assert_nothing_corrupt(tmp_path / "data")


@pytest.mark.parametrize(
    ("mode", "status", "message"),
    [
        ("cut", 502, "broke off"),
        ("short", 403, f"received {len(BIG) // 2} bytes, expected {len(BIG)}"),
    ],
)
def test_a_truncated_transfer_is_neither_stored_nor_served(
    hub: Governed, proxy: Proxy, tmp_path: Path, mode: str, status: int, message: str
) -> None:
    proxy.faults.set(mode, "/model.safetensors")
    big = hashlib.sha256(BIG).hexdigest()
    for path in ("model.safetensors", "config.json"):  # no byte of the revision is served
        r = httpx2.get(f"{hub.url}/acme/big/resolve/main/{path}", timeout=30)
        assert r.status_code == status, r.text
        assert message in r.headers["x-error-message"]
    assert not (tmp_path / "data" / "blobs" / "sha256" / big[:2] / big[2:4] / big).exists()
    assert_nothing_corrupt(tmp_path / "data")

    proxy.faults.set(None)
    r = httpx2.get(f"{hub.url}/acme/big/resolve/main/model.safetensors", timeout=30)
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == big
    assert_nothing_corrupt(tmp_path / "data")


# --- kill -9 during an ingest ------------------------------------------------------------------


def start_serve(data: Path, upstream: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``modeltrust serve`` as a real process, as users run it; returns it and its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELTRUST_")}
    env["MODELTRUST_CACHE_DIR"] = str(tmp_path / "cache")
    cmd = [sys.executable, "-m", "modeltrust", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data), "--upstream", upstream, "--policy", "default"]
    process = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx2.get(f"{url}/api/modeltrust/health")
        except httpx2.HTTPError:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode()) from None  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "modeltrust serve did not start"
            time.sleep(0.1)
        else:
            return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)
    process.stderr.close()  # type: ignore[union-attr]


def test_kill_9_mid_ingest_then_a_restart_serves_correct_bytes(
    proxy: Proxy, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    incoming = data / "blobs" / "sha256" / "incoming"
    proxy.faults.set("stall", "/model.safetensors")  # half of the 6 MiB file, then silence
    process, url = start_serve(data, proxy.url, tmp_path)
    outcome: list[object] = []

    def pull() -> None:
        try:
            outcome.append(httpx2.get(f"{url}/acme/big/resolve/main/model.safetensors", timeout=30))
        except httpx2.HTTPError as e:
            outcome.append(e)

    client = threading.Thread(target=pull)
    try:
        client.start()
        assert proxy.faults.reached.wait(20), "the ingest never reached the big file"
        deadline = time.monotonic() + 10
        while not any(p.stat().st_size > 0 for p in incoming.rglob(".tmp-*")):
            assert time.monotonic() < deadline, "no partial blob was being written"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        client.join(timeout=20)
    finally:
        stop(process)
        proxy.faults.release.set()
    # Killed mid-transfer (or, had the kill come late, told 503 "being fetched"): never a file.
    first = outcome[0]
    assert isinstance(first, httpx2.HTTPError) or first.status_code == 503, first  # type: ignore[attr-defined]
    assert list(incoming.rglob(".tmp-*")), "the kill should have left a partial write behind"

    # Restarted without an upstream: the revision is only half stored, so nothing is served.
    process, url = start_serve(data, "none", tmp_path)
    try:
        assert not list(incoming.rglob(".tmp-*")), "start-up sweeps partial writes"
        folders = [p for p in (data / "work").iterdir() if p.is_dir()]
        assert len(folders) == 1, "only the running server's own scratch folder is left"
        assert not list(folders[0].iterdir())
        r = httpx2.get(f"{url}/acme/big/resolve/main/model.safetensors", timeout=30)
        assert r.status_code != 200
    finally:
        stop(process)
    assert_nothing_corrupt(data)

    # Restarted with the upstream back: the ingest completes and the bytes are right.
    proxy.faults.set(None)
    process, url = start_serve(data, proxy.url, tmp_path)
    try:
        r = httpx2.get(f"{url}/acme/big/resolve/main/model.safetensors", timeout=60)
        assert r.status_code == 200, r.text
        assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(BIG).hexdigest()
    finally:
        stop(process)
    assert_nothing_corrupt(data)
    assert not list(incoming.rglob(".tmp-*"))


# --- several servers on one data directory -------------------------------------------------------


def test_a_second_server_starting_mid_ingest_leaves_the_first_ones_work_alone(
    proxy: Proxy, tmp_path: Path
) -> None:
    """docs/serve.md lets servers share a data directory: one starting up must sweep only what
    stopped servers left, never another live server's partial download or audit folder."""
    data = tmp_path / "data"
    incoming = data / "blobs" / "sha256" / "incoming"
    proxy.faults.set("pause", "/model.safetensors")
    first = Governed(Settings(data_dir=data, upstream=proxy.url, ingest_wait=0.2)).start()
    second = None
    try:
        url = f"{first.url}/acme/big/resolve/main/model.safetensors"
        assert httpx2.get(url, timeout=30).status_code == 503  # the ingest runs on
        assert proxy.faults.reached.wait(20), "the ingest never reached the big file"
        deadline = time.monotonic() + 10
        while not any(p.stat().st_size > 0 for p in incoming.rglob(".tmp-*")):
            assert time.monotonic() < deadline, "no partial blob was being written"
            time.sleep(0.05)
        second = Governed(Settings(data_dir=data, upstream=proxy.url)).start()
        assert list(incoming.rglob(".tmp-*")), "the second server removed a live partial write"
        proxy.faults.release.set()
        deadline = time.monotonic() + 30
        while (r := httpx2.get(url, timeout=30)).status_code == 503:
            assert time.monotonic() < deadline, "the first server's ingest did not finish"
            time.sleep(0.2)
        assert r.status_code == 200, r.headers.get("x-error-message")
        assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(BIG).hexdigest()
        r = httpx2.get(f"{second.url}/acme/big/resolve/main/model.safetensors", timeout=30)
        assert r.status_code == 200 and r.content == BIG
    finally:
        proxy.faults.release.set()
        if second is not None:
            second.stop()
        first.stop()
    assert_nothing_corrupt(data)


# --- a real full disk ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/data`` on a 3 MiB tmpfs: a real filesystem that fills up. Needs root (or
    CAP_SYS_ADMIN) and the mount command; skipped with the reason otherwise."""
    data = tmp_path / "data"
    data.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("a real full disk needs a tmpfs mount: root and the mount command")
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield data
    subprocess.run([umount, "-l", str(data)], check=False)


def test_a_full_disk_stores_and_serves_nothing_then_recovers(
    small_disk: Path, start_hub: Any, upstream: HubServer
) -> None:
    upstream.add_repo("acme/big", {**clean_files(), "model.safetensors": BIG})  # 6 MiB > 3 MiB
    hub = start_hub()
    for path in ("model.safetensors", "config.json"):
        r = httpx2.get(f"{hub.url}/acme/big/resolve/main/{path}", timeout=30)
        assert r.status_code == 503, r.text
        assert "No space left on device" in r.headers["x-error-message"]
        assert "Free disk space" in r.headers["x-error-message"]
    big = hashlib.sha256(BIG).hexdigest()
    assert not (small_disk / "blobs" / "sha256" / big[:2] / big[2:4] / big).exists()
    assert_nothing_corrupt(small_disk)

    # Space is freed (the filesystem grows): the next request completes the ingest.
    mount = shutil.which("mount")
    assert mount is not None
    subprocess.run([mount, "-o", "remount,size=32m", str(small_disk)], check=True)
    r = httpx2.get(f"{hub.url}/acme/big/resolve/main/model.safetensors", timeout=30)
    assert r.status_code == 200, r.headers.get("x-error-message")
    assert r.content == BIG
    assert_nothing_corrupt(small_disk)
