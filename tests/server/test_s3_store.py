"""Blobs in an S3-compatible bucket: moto's S3 server, started on 127.0.0.1 by the test, plays
the bucket (the same API as AWS S3 or MinIO). The store must behave as the local one does, and
the hub must push, pull through, audit and serve (ranges too) from it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download
from huggingface_hub.errors import GatedRepoError

from demo.build import trojan_pickle
from demo.hub import safetensors_bytes
from modeltrust.errors import IntegrityError
from modeltrust.storage.blobs import S3BlobStore
from tests.server.registry_fixtures import TOKENS
from tests.server.test_registry import CLEAN_CARD


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    name = "hub-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]  # noqa: S324
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


def test_the_s3_store_writes_verifies_and_reads_like_the_local_one(
    bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    store = S3BlobStore(f"s3://{bucket}/blobs", tmp_path / "incoming", endpoint_url=s3_endpoint)
    data = bytes(range(256)) * 4096
    digest = hashlib.sha256(data).hexdigest()
    assert store.size(digest) is None
    written = store.write(
        [data[:1000], data[1000:]], expected_sha256=digest, expected_size=len(data)
    )
    assert written.sha256 == digest and written.size == len(data)
    assert written.git_oid == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324
    assert store.size(digest) == len(data) and store.local_path(digest) is None
    assert b"".join(store.open(digest, 10, 19)) == data[10:20]
    assert store.read(digest) == data
    target = tmp_path / "copy" / "model.bin"
    store.materialise(digest, target)
    assert target.read_bytes() == data
    with pytest.raises(IntegrityError, match="does not match"):
        store.write([b"evil"], expected_sha256="0" * 64)
    assert not list((tmp_path / "incoming").iterdir())  # nothing half written is left
    import boto3

    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_endpoint)
        .list_objects_v2(Bucket=bucket)
        .get("Contents", [])
    ]
    assert keys == [f"blobs/sha256/{digest[:2]}/{digest[2:4]}/{digest}"]


def test_the_hub_pushes_audits_and_serves_from_s3(
    bucket: str, s3_endpoint: str, start_registry: Any, tmp_path: Path, canary: Path
) -> None:
    registry = start_registry(blob_store=f"s3://{bucket}/hub", s3_endpoint_url=s3_endpoint)
    alice = registry.api("alice")
    repo = alice.create_repo("on-s3").repo_id
    weights = safetensors_bytes({"w": (64, 64)})
    info = alice.create_commit(
        repo,
        [
            CommitOperationAdd("README.md", CLEAN_CARD.encode()),
            CommitOperationAdd("model.safetensors", weights),
        ],
        commit_message="weights",
    )
    job = registry.state.ingest_of(repo, info.oid)
    if job is not None:
        job.future.result(timeout=60)
    local = hf_hub_download(
        repo, "model.safetensors", endpoint=registry.url, token=False, cache_dir=tmp_path / "c"
    )
    assert Path(local).read_bytes() == weights
    ranged = httpx2.get(
        f"{registry.url}/{repo}/resolve/main/model.safetensors", headers={"range": "bytes=8-15"}
    )
    assert ranged.status_code == 206 and ranged.content == weights[8:16]
    assert ranged.headers["content-range"] == f"bytes 8-15/{len(weights)}"
    assert not (tmp_path / "data" / "blobs" / "sha256" / "ab").exists()
    # The audit reads the blobs from the bucket too: a trojan is found and refused.
    bad = alice.upload_file(
        path_or_fileobj=trojan_pickle(canary), path_in_repo="x.pkl", repo_id=repo
    )
    job = registry.state.ingest_of(repo, bad.oid)
    if job is not None:
        job.future.result(timeout=60)
    with pytest.raises(GatedRepoError, match=r"MT-PKL"):
        hf_hub_download(repo, "x.pkl", endpoint=registry.url, token=False, cache_dir=tmp_path / "d")
    mine = httpx2.get(
        f"{registry.url}/{repo}/resolve/main/x.pkl",
        headers={"authorization": f"Bearer {TOKENS['alice']}"},
    )
    assert mine.status_code == 200  # its uploader may read it, to look at what was refused


def test_a_pull_through_lands_in_s3(
    bucket: str, s3_endpoint: str, start_hub: Any, tmp_path: Path
) -> None:
    hub = start_hub(blob_store=f"s3://{bucket}", s3_endpoint_url=s3_endpoint)
    local = hf_hub_download(
        "acme/clean", "model.safetensors", endpoint=hub.url, cache_dir=tmp_path / "c"
    )
    assert Path(local).read_bytes() == safetensors_bytes({"w": (4, 16), "b": (4,)})
    import boto3

    listed = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=bucket)
    assert len(listed["Contents"]) >= 4  # every file of the revision
