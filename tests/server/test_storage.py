"""The blob store and the catalogue, without HTTP."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from modeltrust.errors import IntegrityError, StorageError
from modeltrust.storage.blobs import LocalBlobStore
from modeltrust.storage.catalog import Catalog, FileSpec
from modeltrust.storage.scratch import ScratchSpace

SHA = "a" * 40


def test_a_blob_is_stored_under_its_sha256_and_verified(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = b"weights" * 1000
    digest = hashlib.sha256(data).hexdigest()
    written = store.write([data[:10], data[10:]], expected_sha256=digest, expected_size=len(data))
    assert written.sha256 == digest
    assert store.path(digest) == tmp_path / "sha256" / digest[:2] / digest[2:4] / digest
    assert store.path(digest).read_bytes() == data
    git = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324
    assert written.git_oid == git


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"expected_sha256": "0" * 64}, "does not match"),
        ({"expected_size": 3}, "received 4 bytes"),
        ({"expected_size": 4, "expected_git_oid": "0" * 40}, "git blob id"),
    ],
)
def test_bytes_that_do_not_match_are_not_stored(
    tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(IntegrityError, match=match):
        store.write([b"evil"], **kwargs)  # type: ignore[arg-type]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_broken_transfer_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    def chunks() -> object:
        yield b"partial"
        raise OSError(28, "No space left on device")

    with pytest.raises(StorageError, match="No space left"):
        store.write(chunks())  # type: ignore[arg-type]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_scratch_sweep_removes_only_what_no_live_process_holds(tmp_path: Path) -> None:
    """A live process's folder (here: another process holding its lock) survives a sweep; a dead
    one's (its lock file unheld) and entries of the old layout do not."""
    import subprocess
    import sys

    parent = tmp_path / "incoming"
    dead = ScratchSpace(parent)
    (dead.path / ".tmp-abc").write_bytes(b"half")
    dead._lock.close()  # as if its process was killed: the kernel drops the lock
    (parent / ".tmp-old-layout").write_bytes(b"half")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from pathlib import Path;"
                "from modeltrust.storage.scratch import ScratchSpace;"
                f"s = ScratchSpace(Path({str(parent)!r}));"
                "(s.path / '.tmp-live').write_bytes(b'x');"
                "print(s.path, flush=True); time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        live = Path(holder.stdout.readline().strip())
        mine = ScratchSpace(parent)
        assert mine.sweep() == 2
        assert (live / ".tmp-live").exists(), "another live process's write was removed"
        assert not dead.path.exists() and not (parent / ".tmp-old-layout").exists()
        assert mine.path.is_dir()
        mine.close()
        assert not mine.path.exists()
    finally:
        holder.kill()
        holder.communicate()
    last = ScratchSpace(parent)
    assert last.sweep() == 1, "once its process is gone, its folder goes too"
    assert not live.exists()
    last.close()


def test_the_catalogue_migrates_and_survives_a_reopen(
    tmp_path: Path, database_url: str | None
) -> None:
    url = database_url or f"sqlite:///{tmp_path / 'db.sqlite'}"
    catalog = Catalog(url)
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"repos", "refs", "revisions", "files", "audits", "alembic_version"} <= tables
    spec = FileSpec("model.safetensors", 10, "b" * 40, True, "c" * 64)
    catalog.save_listing("Org/Model", SHA, {"id": "Org/Model"}, [spec])
    catalog.save_ref("Org/Model", "main", SHA)
    catalog.mark_stored("org/model", SHA, "model.safetensors", "c" * 64)
    catalog.save_audit(
        "org/model",
        SHA,
        verdict="fail",
        policy="p@1",
        reasons=["fail: bad"],
        report_json="{}",
        report_html="<html></html>",
    )
    catalog.close()
    again = Catalog(url)
    row = again.revision("org/model", SHA)
    assert row is not None and row.status == "audited" and row.repo_id == "Org/Model"
    assert row.files[0].stored
    ref = again.find_ref("org/model", "main")
    assert ref is not None and ref.sha == SHA
    audit = again.latest_audit("org/model", SHA, "p@1")
    assert audit is not None and audit.reasons == ("fail: bad",)
    assert again.latest_audit("org/model", SHA, "other@2") is None
    again.close()


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="Could not open or migrate the database"):
        Catalog(f"sqlite:///{tmp_path / 'missing-dir' / 'x' / 'db.sqlite'}")


def test_many_chunks_are_written_in_order_whatever_each_writev_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload's batch goes down in one ``writev``; a short write, and more buffers than one
    call takes (Linux: 1024), still store every byte in order."""
    import os

    real = os.writev
    calls: list[int] = []

    def short_writev(fd: int, buffers: list[memoryview]) -> int:
        calls.append(len(buffers))
        return real(fd, buffers[:3]) if len(buffers) > 3 else real(fd, buffers)

    monkeypatch.setattr(os, "writev", short_writev)
    chunks = [bytes([i % 251]) * (i % 7) for i in range(3000)]  # some empty
    data = b"".join(chunks)
    digest = hashlib.sha256(data).hexdigest()
    store = LocalBlobStore(tmp_path)
    writer = store.writer(expected_sha256=digest, expected_size=len(data), git_oid=False)
    writer.write_many(chunks[:1500])
    writer.write_many(chunks[1500:])
    assert writer.finish().sha256 == digest
    assert store.path(digest).read_bytes() == data
    assert max(calls) <= 1024 and len(calls) > 2


def _gated_flush(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Hold every background flush until the returned event is set."""
    gate = threading.Event()
    flush = LocalBlobStore._flush_and_publish

    def held(self: LocalBlobStore, tmp: Path, sha256: str) -> None:
        assert gate.wait(30)
        flush(self, tmp, sha256)

    monkeypatch.setattr(LocalBlobStore, "_flush_and_publish", held)
    return gate


def test_a_blob_flushed_later_counts_at_once_and_is_published_once_on_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _gated_flush(monkeypatch)
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"upload" * 1000
    digest = hashlib.sha256(data).hexdigest()
    writer = store.writer(expected_sha256=digest, expected_size=len(data), git_oid=False)
    writer.write(data)
    writer.finish(flush_later=True)
    writer.abort()  # what the route always does: harmless once the flush owns the file
    assert store.size(digest) == len(data)  # a second upload of it is not asked for
    assert not store.path(digest).exists()  # not published before it is on the disk
    settled = threading.Event()
    waiter = threading.Thread(target=lambda: (store.settle([digest]), settled.set()))
    waiter.start()
    assert not settled.wait(0.3)  # a commit waits for the flush
    gate.set()
    waiter.join(10)
    assert settled.is_set()
    assert store.path(digest).read_bytes() == data
    assert not list(store.incoming.iterdir())


def test_a_failed_background_flush_stores_nothing_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    go = threading.Event()

    def broken(fd: int) -> None:
        assert go.wait(30)  # fails only once the commit below waits for it
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"lost" * 100
    digest = hashlib.sha256(data).hexdigest()
    writer = store.writer(expected_sha256=digest, expected_size=len(data), git_oid=False)
    writer.write(data)
    writer.finish(flush_later=True)
    threading.Timer(0.2, go.set).start()
    with pytest.raises(StorageError, match=r"Input/output error.*upload the file again"):
        store.settle([digest])
    # Also when the flush failed before anyone waited for it: the failure is kept until said.
    writer = store.writer(expected_sha256=digest, expected_size=len(data), git_oid=False)
    writer.write(data)
    writer.finish(flush_later=True)
    while store._flushing:  # the flush fails on its own first
        time.sleep(0.01)
    with pytest.raises(StorageError, match="Input/output error"):
        store.settle([digest])
    store.settle([digest])  # said once: a retry of the commit finds the blob simply absent
    assert store.size(digest) is None
    assert not store.path(digest).exists()
    assert not list(store.incoming.iterdir())
