"""The gate covers every file it serves: the audit reads exactly the listing (no folder skipped,
no cap on the count), a listed file the audit did not scan fails the revision, and no cache
between the hub and its clients may answer for the gate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import pytest

from demo.build import trojan_pickle
from modeltrust.server.auditing import unscanned
from modeltrust.storage.catalog import FileSpec, RevisionView
from tests.auditor.conftest import clean_files
from tests.hubserver import HubServer
from tests.server.conftest import StartHub

HIDDEN = (".cache/model.pkl", "__pycache__/x.pkl", ".venv/lib/y.pkl", "node_modules/z.pkl")
"""Folders a local folder audit skips; in a served repo they are files like any other."""


def test_a_trojan_in_a_folder_a_local_audit_skips_is_still_refused(
    start_hub: StartHub, upstream: HubServer, canary: Path
) -> None:
    evil = trojan_pickle(canary)
    upstream.add_repo("acme/sneaky", {**clean_files(), **dict.fromkeys(HIDDEN, evil)})
    hub = start_hub()
    for path in HIDDEN:
        r = httpx2.get(f"{hub.url}/acme/sneaky/resolve/main/{path}")
        assert r.status_code == 403, (path, r.status_code)
        assert r.headers["x-error-code"] == "GatedRepo"
        assert evil not in r.content
    audit = httpx2.get(f"{hub.url}/api/modeltrust/audits/acme/sneaky/main").json()
    assert audit["verdict"] == "fail"
    audited = {f["path"] for f in audit["report"]["files"]}
    assert audited == set(clean_files()) | set(HIDDEN)
    flagged = {f["path"] for f in audit["report"]["findings"] if f["rule_id"].startswith("MT-PKL")}
    assert set(HIDDEN) <= flagged


def test_a_listed_file_the_audit_did_not_scan_fails_the_revision(
    start_hub: StartHub, upstream: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line of defence: if the audit ever leaves a listed file out (a bug, a future
    skip rule), the revision fails closed instead of serving that file unexamined."""
    import modeltrust.auditor.audit as auditor

    real = auditor.audit

    def forgetful(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        return replace(result, files=tuple(f for f in result.files if f.path != "config.json"))

    monkeypatch.setattr(auditor, "audit", forgetful)
    hub = start_hub()
    r = httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json")
    assert r.status_code == 403
    assert "was not analysed by the audit" in r.headers["x-error-message"]
    assert "config.json" in r.headers["x-error-message"]


def test_unscanned_names_each_listed_file_left_out() -> None:
    files = tuple(FileSpec(p, 1, "0" * 40, False, None) for p in ("a", "b/c", "d"))
    row = RevisionView("org/m", "f" * 40, "fetched", {}, files)
    found = unscanned(row, {"a"})
    assert [f.location.path for f in found] == ["b/c", "d"]
    assert all(f.rule_id == "MT-GEN-001" and f.severity.label == "critical" for f in found)
    assert unscanned(row, {"a", "b/c", "d"}) == ()


def test_file_responses_are_revalidated_not_cached_as_immutable(
    start_hub: StartHub, upstream: HubServer
) -> None:
    """A re-audit can revoke a verdict, even for a commit: no shared cache may serve the bytes
    without asking the hub again. The ETag lets a cache revalidate cheaply."""
    hub = start_hub()
    sha = upstream.head("acme/clean")
    for revision in ("main", sha):
        for path in ("config.json", "model.safetensors"):
            r = httpx2.get(f"{hub.url}/acme/clean/resolve/{revision}/{path}")
            assert r.status_code == 200
            assert r.headers["cache-control"] == "no-cache"
            assert r.headers["etag"]
