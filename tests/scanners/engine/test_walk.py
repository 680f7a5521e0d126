"""Folders as users really have them: Hub cache snapshots made of links, links to folders
elsewhere, loops, FIFOs, empty weights. The scan judges what a loader would load and fails
closed on whatever it cannot read."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from demo.build import trojan_pickle
from modeltrust.cli import main
from modeltrust.findings import ScanResult, Severity
from modeltrust.scanners.engine import scan_paths
from modeltrust.sources.walk import MAX_DEPTH, Kind, walk

BENIGN = pickle.dumps({"weights": [1.0, 2.0]}, protocol=2)
SHA = "0123456789abcdef0123456789abcdef01234567"


def _ids(result: ScanResult, at_least: Severity = Severity.INFO) -> set[str]:
    return {f.rule_id for f in result.findings if f.severity >= at_least}


def _hub_cache(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """``models--org--name`` as huggingface_hub lays it out: blobs, and a snapshot of links."""
    repo = tmp_path / "hub" / "models--acme--tiny"
    blobs = repo / "blobs"
    snapshot = repo / "snapshots" / SHA
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(SHA)
    for i, (name, data) in enumerate(sorted(files.items())):
        blob = blobs / f"{i:040x}"
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


def test_hub_cache_snapshot_is_judged(tmp_path: Path, canary: Path) -> None:
    snapshot = _hub_cache(
        tmp_path,
        {"config.json": b"{}", "pytorch_model.bin": trojan_pickle(canary), "sub/x.pkl": BENIGN},
    )
    result = scan_paths([snapshot])
    assert _ids(result, Severity.CRITICAL)
    assert {f.path for f in result.files} == {
        str(snapshot / "config.json"),
        str(snapshot / "pytorch_model.bin"),
        str(snapshot / "sub" / "x.pkl"),
    }
    links = [f for f in result.findings if f.rule_id == "MT-GEN-006"]
    assert len(links) == 3
    bad = next(f for f in links if f.location.path.endswith("pytorch_model.bin"))
    assert "blobs" in bad.message and str(snapshot.parents[1] / "blobs") in bad.message


def test_cli_fails_on_a_trojaned_hub_cache_snapshot(tmp_path: Path, canary: Path) -> None:
    snapshot = _hub_cache(tmp_path, {"pytorch_model.bin": trojan_pickle(canary)})
    assert main(["scan", str(snapshot), "--no-progress"]) == 1


def test_folder_link_leading_outside_is_followed(tmp_path: Path, canary: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.pkl").write_bytes(trojan_pickle(canary))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "weights").symlink_to(elsewhere, target_is_directory=True)
    result = scan_paths([repo])
    assert [f.path for f in result.files] == [str(repo / "weights" / "model.pkl")]
    assert _ids(result, Severity.CRITICAL)
    (link,) = [f for f in result.findings if f.rule_id == "MT-GEN-006"]
    assert str(elsewhere / "model.pkl") in link.message


@pytest.mark.parametrize("target", [".", ".."])
def test_link_loop_to_an_ancestor_ends(tmp_path: Path, target: str) -> None:
    repo = tmp_path / "repo"
    (repo / "a").mkdir(parents=True)
    (repo / "a" / "m.pkl").write_bytes(BENIGN)
    (repo / "a" / "loop").symlink_to(target, target_is_directory=True)
    result = scan_paths([repo])
    assert [f.path for f in result.files] == [str(repo / "a" / "m.pkl")]
    assert "MT-GEN-007" in _ids(result)
    assert not _ids(result, Severity.HIGH)


def test_link_cycle_and_dangling_link_fail_closed(tmp_path: Path) -> None:
    (tmp_path / "a.bin").symlink_to("b.bin")
    (tmp_path / "b.bin").symlink_to("a.bin")
    (tmp_path / "gone.safetensors").symlink_to("nowhere.safetensors")
    result = scan_paths([tmp_path])
    unreadable = {f.location.path for f in result.findings if f.rule_id == "MT-GEN-001"}
    assert unreadable == {str(tmp_path / n) for n in ("a.bin", "b.bin", "gone.safetensors")}
    assert all(f.severity >= Severity.HIGH for f in result.findings if f.rule_id == "MT-GEN-001")
    assert main(["scan", str(tmp_path), "--no-progress"]) == 1


def test_fifo_is_never_opened_and_fails_closed(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "model.bin")  # opening it for reading would block forever
    (tmp_path / "ok.pkl").write_bytes(BENIGN)
    result = scan_paths([tmp_path], jobs=1)
    (special,) = [f for f in result.findings if f.rule_id == "MT-GEN-003"]
    assert special.severity >= Severity.HIGH
    assert "FIFO" in special.message
    assert main(["scan", str(tmp_path / "model.bin"), "--no-progress"]) == 1


def test_device_fails_closed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "weights.bin").symlink_to("/dev/null")
    result = scan_paths([repo])
    (special,) = [f for f in result.findings if f.rule_id == "MT-GEN-003"]
    assert special.severity >= Severity.HIGH and "character device" in special.message


@pytest.mark.parametrize(
    "name", ["model.safetensors", "pytorch_model.bin", "m.pt", "m.ckpt", "m.gguf", "m.onnx", "m.h5"]
)
def test_empty_weight_file_fails_closed(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")  # an empty file of another kind is fine
    result = scan_paths([tmp_path])
    assert {(f.rule_id, f.location.path) for f in result.findings if f.severity >= 3} == {
        ("MT-GEN-008", str(tmp_path / name))
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
def test_unreadable_file_and_folder_fail_closed(tmp_path: Path) -> None:
    (tmp_path / "m.pkl").write_bytes(BENIGN)
    (tmp_path / "m.pkl").chmod(0)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0)
    try:
        result = scan_paths([tmp_path])
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert {f.location.path for f in result.findings if f.rule_id == "MT-GEN-001"} >= {
        str(tmp_path / "m.pkl"),
        str(tmp_path / "locked"),
    }


def test_one_file_reached_by_two_names_is_scanned_once(tmp_path: Path, canary: Path) -> None:
    (tmp_path / "real.pkl").write_bytes(trojan_pickle(canary))
    (tmp_path / "alias.pkl").symlink_to("real.pkl")
    os.link(tmp_path / "real.pkl", tmp_path / "hard.pkl")
    result = scan_paths([tmp_path])
    assert [f.path for f in result.files] == [str(tmp_path / "alias.pkl")]
    same = {f.location.path for f in result.findings if f.rule_id == "MT-GEN-007"}
    assert same == {str(tmp_path / "hard.pkl"), str(tmp_path / "real.pkl")}
    assert _ids(result, Severity.CRITICAL)


def test_walk_stops_at_the_depth_limit(tmp_path: Path) -> None:
    deep = tmp_path
    for _ in range(MAX_DEPTH + 2):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "m.pkl").write_bytes(BENIGN)
    entries = list(walk(tmp_path))
    (too_deep,) = entries
    assert too_deep.kind is Kind.UNREADABLE and "nested" in too_deep.detail


def test_skipped_folders_are_not_entered_even_through_links(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "obj").write_bytes(BENIGN)
    assert list(walk(tmp_path, skip={".git"})) == []
