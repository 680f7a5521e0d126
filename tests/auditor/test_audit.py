"""The audit end to end: local folders and Hub repos, verdicts under each built-in policy."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modeltrust.auditor.audit import audit
from modeltrust.errors import SourceError
from modeltrust.policy.model import builtin_policy
from tests.auditor.conftest import clean_files, mislabelled_files, trojan_files, write
from tests.hubserver import HubServer

EXPECTED = {
    # policy: (clean, trojaned, mislabelled)
    "default": ("pass", "fail", "fail"),
    "strict": ("pass", "fail", "fail"),
    "commercial": ("pass", "fail", "fail"),
    "research": ("pass", "fail", "warn"),
}


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_hub_verdicts_under_each_builtin(hub: HubServer, policy: str) -> None:
    verdicts = tuple(
        audit(repo, builtin_policy(policy), jobs=1).verdict.status
        for repo in ("acme/clean", "acme/trojan", "acme/super-chat-8b")
    )
    assert verdicts == EXPECTED[policy]


def test_hub_audit_is_pinned_and_downloads_only_what_is_scanned(hub: HubServer) -> None:
    result = audit("acme/trojan@main", jobs=1)
    assert result.revision == hub.head("acme/trojan")
    assert result.source_kind == "hub" and result.repo_id == "acme/trojan"
    files = {f.path: f for f in result.files}
    assert set(files) == set(trojan_files(Path("x")))
    for name, content in trojan_files(Path("x")).items():
        if name == "model.pkl":
            continue  # its bytes name the canary path
        data = content.encode() if isinstance(content, str) else content
        assert files[name].sha256 == hashlib.sha256(data).hexdigest()
        assert files[name].size == len(data)
    assert not files["README.md"].scanned and not files["LICENSE"].scanned
    assert files["model.pkl"].scanned and "pickle" in files["model.pkl"].formats
    scanned = sum(f.size or 0 for f in result.files if f.scanned)
    assert result.downloaded_bytes == scanned
    downloads = [r.headers.get("Range", "") for r in hub.requests_to("/resolve/", "GET")]
    assert downloads  # the scanner's files came through resolve/ at the pinned commit
    assert all(hub.head("acme/trojan") in r.path for r in hub.requests_to("acme/trojan/resolve/"))
    pkl = [f for f in result.scan_findings if f.location.path == "model.pkl"]
    assert any(f.rule_id == "MT-PKL-002" for f in pkl)
    assert result.verdict.status == "fail"


def test_hub_mislabelled_llama_fails_on_the_licence(hub: HubServer) -> None:
    result = audit("acme/super-chat-8b", jobs=1)
    failing = {d.finding.rule_id for d in result.evaluation.decisions if d.outcome == "fail"}
    assert "MT-LIC-003" in failing
    assert result.license.effective_ids == ("apache-2.0", "llama3.1")


def test_hub_offline_is_honoured(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    before = len(hub.requests)
    with pytest.raises(SourceError, match="HF_HUB_OFFLINE"):
        audit("acme/clean", jobs=1)
    assert len(hub.requests) == before


def test_local_folder_and_single_file(tmp_path: Path, canary: Path) -> None:
    folder = write(tmp_path / "trojan", trojan_files(canary))
    result = audit(str(folder), jobs=1)
    assert result.source_kind == "local" and result.verdict.status == "fail"
    assert {f.path for f in result.files} == set(trojan_files(canary))
    assert all(f.sha256 and len(f.sha256) == 64 for f in result.files)
    one = audit(str(folder / "model.safetensors"), jobs=1)
    assert [f.path for f in one.files] == ["model.safetensors"]
    clean = audit(str(write(tmp_path / "clean", clean_files())), jobs=1)
    assert clean.verdict.status == "pass", clean.verdict.reasons


def test_local_mislabelled_without_its_base(tmp_path: Path) -> None:
    folder = write(tmp_path / "chat", mislabelled_files())
    result = audit(str(folder), jobs=1)
    assert result.verdict.status in ("warn", "fail")
    assert any(f.rule_id.startswith("MT-LIN-") for f in result.license.findings)


def test_a_source_opened_by_the_caller_is_audited_as_it_lists_files(
    tmp_path: Path, canary: Path
) -> None:
    """The governed hub passes a source listing every file: a trojan in a folder a plain folder
    audit skips (.cache) is then scanned and fails the audit."""
    from modeltrust.sources.local import LocalSource

    files = trojan_files(canary)
    folder = write(tmp_path / "m", {**clean_files(), ".cache/model.pkl": files["model.pkl"]})
    assert audit(str(folder)).verdict.status == "pass"
    result = audit(LocalSource(folder, every_file=True))
    assert result.verdict.status == "fail"
    assert ".cache/model.pkl" in {f.path for f in result.files}
    assert result.target == str(folder)


def test_missing_target_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        audit(str(tmp_path / "nope" / "x" / "y"))


def _hub_cache(cache: Path, repo_id: str, files: dict[str, bytes | str]) -> str:
    """A huggingface_hub cache entry laid out as the client writes one: blobs named by hash,
    snapshot files that link to them, and refs/main naming the snapshot."""
    sha = hashlib.sha256(repo_id.encode()).hexdigest()[:40]  # any 40-hex commit id
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = repo / "snapshots" / sha / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return sha


def test_hub_offline_audits_the_cached_snapshot(
    hub: HubServer, tmp_path: Path, canary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "hf-cache"
    sha = _hub_cache(cache, "acme/cached-trojan", trojan_files(canary))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub.requests)
    result = audit("acme/cached-trojan", jobs=1)
    assert len(hub.requests) == before  # nothing sent, not even to the local test Hub
    assert result.revision == sha
    assert result.verdict.status == "fail"
    assert "model.pkl" in {f.path for f in result.files}
    assert not canary.exists()
    pinned = audit(f"acme/cached-trojan@{sha}", jobs=1)
    assert pinned.revision == sha


def test_local_hub_cache_snapshot_folder_is_judged(tmp_path: Path, canary: Path) -> None:
    cache = tmp_path / "hf-cache"
    sha = _hub_cache(cache, "acme/linked", trojan_files(canary))
    snapshot = cache / "models--acme--linked" / "snapshots" / sha
    result = audit(str(snapshot), jobs=1)
    assert result.verdict.status == "fail"
    assert {f.path for f in result.files} == set(trojan_files(canary))
    assert any(f.severity >= 4 for f in result.scan_findings if f.location.path == "model.pkl")
    clean_sha = _hub_cache(cache, "acme/linked-clean", clean_files())
    clean = audit(str(cache / "models--acme--linked-clean" / "snapshots" / clean_sha), jobs=1)
    assert clean.verdict.status == "pass", clean.verdict.reasons


def test_local_unreadable_entries_fail_the_audit(tmp_path: Path) -> None:
    folder = write(tmp_path / "model", clean_files())
    (folder / "extra.safetensors").symlink_to("missing.safetensors")
    os.mkfifo(folder / "weights.bin")
    result = audit(str(folder), jobs=1)
    found = {(f.rule_id, f.location.path) for f in result.scan_findings if f.severity >= 3}
    assert found == {("MT-GEN-001", "extra.safetensors"), ("MT-GEN-003", "weights.bin")}
    assert result.verdict.status == "fail"


def test_documented_apache_model_without_a_license_file_passes(tmp_path: Path) -> None:
    # Most Hub repos declare their licence in the card only; shipping the text is the duty of
    # whoever redistributes, so it is a checklist item, not a finding against the model.
    files = clean_files()
    del files["LICENSE"]
    result = audit(str(write(tmp_path / "model", files)), jobs=1)
    assert result.verdict.status == "pass", result.verdict.reasons
    assert not [f for f in result.license.findings if f.severity >= 2]
    (copy,) = [i for i in result.license.checklist if i.topic == "license-copy"]
    assert "no LICENSE file" in copy.action and "apache-2.0" in copy.licenses
