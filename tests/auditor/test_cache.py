"""The result cache: an unchanged model is not scanned (or downloaded) again; a change rescans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modeltrust.auditor import cache as cache_module
from modeltrust.auditor.audit import audit
from modeltrust.auditor.cache import ResultCache, default_cache_dir
from modeltrust.scanners.engine import Engine
from tests.auditor.conftest import trojan_files, write
from tests.hubserver import HubServer


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The files of every Engine.scan call."""
    calls: list[list[str]] = []
    real = Engine.scan

    def counting(self: Engine, targets: Any, **kwargs: Any) -> Any:
        calls.append([Path(t).name for t in targets])
        return real(self, targets, **kwargs)

    monkeypatch.setattr(Engine, "scan", counting)
    return calls


def test_cache_dir_comes_from_the_environment(cache_dir: Path) -> None:
    assert default_cache_dir() == cache_dir


def test_second_local_audit_scans_nothing(
    tmp_path: Path, canary: Path, scans: list[list[str]]
) -> None:
    folder = write(tmp_path / "model", trojan_files(canary))
    first = audit(str(folder), cache=ResultCache.default(), jobs=1)
    assert len(scans) == 1 and sorted(scans[0]) == sorted(trojan_files(canary))
    assert first.cache.hits == 0 and first.cache.misses == len(first.files)
    second = audit(str(folder), cache=ResultCache.default(), jobs=1)
    assert len(scans) == 1, "an unchanged model was scanned again"
    assert second.cache.hits == len(second.files)
    assert all(f.cached for f in second.files)
    assert second.scan_findings == first.scan_findings
    assert second.verdict == first.verdict
    # one file changes: only that file is scanned again
    (folder / "config.json").write_text('{"architectures": ["Other"]}')
    third = audit(str(folder), cache=ResultCache.default(), jobs=1)
    assert scans[1] == ["config.json"]
    assert third.cache.hits == len(third.files) - 1


def test_new_release_or_rules_rescan(
    tmp_path: Path, canary: Path, scans: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write(tmp_path / "model", trojan_files(canary))
    audit(str(folder), cache=ResultCache.default(), jobs=1)
    monkeypatch.setattr(cache_module, "__version__", "999.0")
    audit(str(folder), cache=ResultCache.default(), jobs=1)
    assert len(scans) == 2


def test_no_cache_always_scans(tmp_path: Path, canary: Path, scans: list[list[str]]) -> None:
    folder = write(tmp_path / "model", trojan_files(canary))
    audit(str(folder), jobs=1)
    result = audit(str(folder), jobs=1)
    assert len(scans) == 2 and not result.cache.enabled


def test_hub_cache_skips_download_and_scan(hub: HubServer, scans: list[list[str]]) -> None:
    first = audit("acme/trojan", cache=ResultCache.default(), jobs=1)
    assert first.downloaded_bytes > 0 and len(scans) == 1
    second = audit("acme/trojan", cache=ResultCache.default(), jobs=1)
    assert len(scans) == 1
    # LFS files have a known sha256 and are not fetched; small git files are, to hash them
    blobs = hub.repos["acme/trojan"].commits[hub.head("acme/trojan")].files
    small = sum(
        len(b.data) for p, b in blobs.items() if not b.lfs and p.endswith((".json", ".pkl"))
    )
    assert second.downloaded_bytes == small < first.downloaded_bytes
    assert second.verdict.status == "fail"
    assert second.scan_findings == first.scan_findings
    # the key includes the commit: a new commit is scanned again, every file of it
    hub.commit("acme/trojan", {"config.json": '{"architectures": ["Changed"]}'})
    third = audit("acme/trojan", cache=ResultCache.default(), jobs=1)
    assert third.revision != first.revision
    assert len(scans) == 2 and sorted(scans[1]) == sorted(scans[0])


def test_broken_cache_is_skipped(tmp_path: Path, canary: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    folder = write(tmp_path / "model", trojan_files(canary))
    result = audit(str(folder), cache=ResultCache(blocker), jobs=1)
    assert result.verdict.status == "fail"
