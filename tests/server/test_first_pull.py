"""First pulls that take longer than the client's timeouts: the real huggingface_hub client, its
timeouts scaled down from 10 s to 1 s (``HF_HUB_ETAG_TIMEOUT``, ``HF_HUB_DOWNLOAD_TIMEOUT`` and the
60 s of its retried HEAD), against an upstream that needs about 4 s to send a file.

The server waits ``ingest_wait`` (scaled from 5 s to 0.3 s) for the background fetch and audit,
then answers 503 with Retry-After; the client's own retry loop brings it back until the verdict
is in. Nothing of the revision is served before that, and a failed ingest is one clear error.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError

from demo.hub import safetensors_bytes
from tests.auditor.conftest import clean_files, trojan_files
from tests.hubserver import HubServer
from tests.server.conftest import StartHub

CLIENT_TIMEOUT = 1
SLOW = 4.0
BIG = safetensors_bytes({"w": (512, 1024)})  # 2 MiB


@pytest.fixture
def short_client_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's timeouts, all of them, at 1 s instead of 10 s (and 60 s for retries)."""
    from huggingface_hub import constants, file_download

    monkeypatch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", CLIENT_TIMEOUT)
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", CLIENT_TIMEOUT)
    monkeypatch.setattr(file_download, "_ETAG_RETRY_TIMEOUT", CLIENT_TIMEOUT)


@pytest.fixture
def slow_upstream(upstream: HubServer) -> HubServer:
    upstream.add_repo("acme/big", {**clean_files(), "model.safetensors": BIG})
    upstream.slow["/model.safetensors"] = SLOW
    return upstream


def start(start_hub: StartHub) -> str:
    return start_hub(ingest_wait=0.3, failed_ingest_hold=1.0).url


@pytest.mark.usefixtures("short_client_timeouts")
def test_a_first_pull_longer_than_the_client_timeout_completes(
    start_hub: StartHub, slow_upstream: HubServer, caplog: pytest.LogCaptureFixture
) -> None:
    start(start_hub)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="huggingface_hub"):
        path = hf_hub_download("acme/big", "model.safetensors")
    took = time.monotonic() - began
    assert Path(path).read_bytes() == BIG
    assert took > SLOW > CLIENT_TIMEOUT
    assert "HTTP Error 503" in caplog.text  # answered "come back", and the client did
    assert len(slow_upstream.requests_to("/model.safetensors", "GET")) == 1


@pytest.mark.usefixtures("short_client_timeouts")
def test_snapshot_download_of_a_slow_repo_completes(
    start_hub: StartHub, slow_upstream: HubServer
) -> None:
    start(start_hub)
    folder = Path(snapshot_download("acme/big"))
    assert (folder / "model.safetensors").read_bytes() == BIG
    assert sorted(p.name for p in folder.iterdir()) == sorted(clean_files())
    fetched = [r.path for r in slow_upstream.requests_to("/acme/big/resolve/", "GET")]
    assert len(fetched) == len(set(fetched)) == len(clean_files())


def test_nothing_is_served_while_the_ingest_runs(
    start_hub: StartHub, slow_upstream: HubServer
) -> None:
    url = start(start_hub)
    for path in ("config.json", "model.safetensors"):
        r = httpx2.get(f"{url}/acme/big/resolve/main/{path}", headers={"range": "bytes=0-"})
        assert r.status_code == 503
        assert 1 <= int(r.headers["retry-after"]) <= 300
        message = r.headers["x-error-message"]
        assert "fetching and auditing acme/big@" in message
        assert "no file of it is served before the verdict" in message
        assert BIG[:64] not in r.content
        assert r.json()["ok"] is False
    audit = httpx2.get(f"{url}/api/modeltrust/audits/acme/big/main")
    assert audit.status_code == 503
    assert "fetching and auditing" in audit.headers["x-error-message"]
    deadline = time.monotonic() + 30
    while (r := httpx2.get(f"{url}/acme/big/resolve/main/model.safetensors")).status_code == 503:
        assert time.monotonic() < deadline, "the ingest never finished"
        time.sleep(0.2)
    assert r.status_code == 200
    assert r.content == BIG


@pytest.mark.usefixtures("short_client_timeouts")
def test_a_slow_trojan_is_refused_after_the_wait(
    start_hub: StartHub, upstream: HubServer, canary: Path
) -> None:
    upstream.add_repo("acme/slowtrojan", {**trojan_files(canary), "model.safetensors": BIG})
    upstream.slow["/model.safetensors"] = SLOW
    start(start_hub)
    with pytest.raises(GatedRepoError, match="modeltrust blocked acme/slowtrojan"):
        hf_hub_download("acme/slowtrojan", "config.json")
    assert not canary.exists()


@pytest.mark.usefixtures("short_client_timeouts")
def test_a_failed_background_ingest_is_one_clear_error(
    start_hub: StartHub, upstream: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests import hubserver

    upstream.add_repo("acme/liar", {"model.safetensors": BIG, "README.md": "# x\n"})
    upstream.slow["/model.safetensors"] = SLOW
    monkeypatch.setattr(  # the upstream announces one hash and (slowly) sends other bytes
        hubserver.Blob, "sha256", property(lambda b: hashlib.sha256(b"other").hexdigest())
    )
    url = start(start_hub)
    began = time.monotonic()
    with pytest.raises(GatedRepoError) as caught:
        hf_hub_download("acme/liar", "README.md")
    assert time.monotonic() - began < SLOW + 20
    message = str(caught.value)
    assert "could not fetch and audit acme/liar@" in message
    assert "does not match" in message
    # The client's retries were answered with the failure, not with new upstream fetches.
    assert len(upstream.requests_to("/model.safetensors", "GET")) == 1
    r = httpx2.get(f"{url}/acme/liar/resolve/main/README.md")
    assert r.status_code == 403
    assert r.headers["x-error-code"] == "GatedRepo"

    # Once the failure's hold is over, a request tries the upstream again (and, the listing
    # still announcing the other hash, fails again: nothing unverified is ever stored).
    upstream.slow.clear()
    hold = int(re.search(r"a request in (\d+) s", r.headers["x-error-message"]).group(1))  # type: ignore[union-attr]
    time.sleep(hold + 0.2)
    with pytest.raises(GatedRepoError, match="does not match"):
        hf_hub_download("acme/liar", "README.md")
    assert len(upstream.requests_to("/model.safetensors", "GET")) == 2
