"""Many requests at once: a verdict cache that cannot keep a revoked verdict, first pulls that
wait without holding the worker threads cached downloads need, and a lock table that does not
grow with every name a client tries."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from modeltrust.storage.locks import KeyedLocks
from tests.auditor.conftest import clean_files
from tests.hubserver import HubServer
from tests.server.conftest import StartHub


def test_a_verdict_read_just_before_a_reaudit_is_not_kept_after_it(
    start_hub: StartHub, upstream: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thread A reads the old audit; before A caches it, another process records a new audit
    and thread B notices (emptying the cache). A's copy must not then pass for current."""
    hub = start_hub()
    assert httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json").status_code == 200
    hub = start_hub(verdict_recheck=0)  # a fresh process: nothing cached yet
    state = hub.app.state.hub
    row = state.revision("acme/clean", "main")
    real = state.catalog.latest_audit
    interleaved: list[bool] = []

    def read_then_reaudit(repo_id: str, sha: str, policy: str | None = None) -> Any:
        found = real(repo_id, sha, policy)  # A's read: the old verdict
        if not interleaved:
            interleaved.append(True)
            state.catalog.save_audit(  # another process's re-audit
                repo_id,
                sha,
                verdict="fail",
                policy=state.policy_key,
                reasons=["fail: re-audited under a stricter reading"],
                report_json="{}",
                report_html="",
            )
            assert not state._verdicts_current()  # thread B notices and empties the cache
        return found

    monkeypatch.setattr(state.catalog, "latest_audit", read_then_reaudit)
    assert state.verdict(row).verdict == "pass"  # A's request: answered before the re-audit
    assert interleaved
    assert state.verdict(row).verdict == "fail"  # every later one sees the re-audit
    r = httpx2.get(f"{hub.url}/acme/clean/resolve/main/config.json")
    assert r.status_code == 403 and "re-audited" in r.headers["x-error-message"]


def test_first_pulls_waiting_do_not_hold_the_threads_cached_downloads_need(
    start_hub: StartHub, upstream: HubServer
) -> None:
    """anyio runs blocking work in a pool of 40 threads; 45 requests waiting for a slow first
    pull must not leave a cached download queued behind them."""
    hub = start_hub(ingest_wait=3.0)
    cached = f"{hub.url}/acme/clean/resolve/main/config.json"
    assert httpx2.get(cached).status_code == 200
    upstream.add_repo("acme/slow", clean_files())
    upstream.slow["/acme/slow/resolve/"] = 2.0  # each file's body over 2 s: an 8 s ingest
    slow = f"{hub.url}/acme/slow/resolve/main/config.json"
    with ThreadPoolExecutor(45) as pool:
        waiting = [pool.submit(httpx2.get, slow, timeout=30) for _ in range(45)]
        time.sleep(1.0)  # all 45 are in, waiting for the ingest
        started = time.monotonic()
        r = httpx2.get(cached, timeout=30)
        elapsed = time.monotonic() - started
        statuses = {f.result().status_code for f in waiting}
    assert r.status_code == 200
    assert elapsed < 1.0, f"a cached download waited {elapsed:.1f} s for a worker thread"
    assert statuses == {503}  # told to come back, with Retry-After, as before


def test_the_lock_table_does_not_keep_names_once_asked(
    start_hub: StartHub, upstream: HubServer
) -> None:
    hub = start_hub()
    for i in range(30):
        r = httpx2.get(f"{hub.url}/api/models/acme/clean/revision/nope-{i}")
        assert r.status_code == 404
        missing = httpx2.get(f"{hub.url}/api/models/acme/missing{i}")
        assert missing.headers["x-error-code"] == "RepoNotFound"
    assert len(hub.app.state.hub._locks) == 0


def test_keyed_locks_exclude_and_are_dropped_after_use() -> None:
    locks = KeyedLocks()
    inside: list[int] = []
    overlap: list[bool] = []

    def work(n: int) -> None:
        with locks.hold("list", "same"):
            inside.append(n)
            overlap.append(len(inside) > 1)
            time.sleep(0.01)
            inside.remove(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == [False] * 8
    assert len(locks) == 0
    with locks.hold("a"), locks.hold("b"):
        assert len(locks) == 2
    assert len(locks) == 0
