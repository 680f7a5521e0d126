"""Several server processes on one database: a re-audit recorded by one is followed by the others
within ``verdict_recheck`` seconds, although each keeps its verdicts in memory.

The servers here are app instances in one test process, each with its own catalogue (engine and
connection pool), verdict cache and HTTP port, like separate processes; ``test_postgres.py`` runs
this again on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError

from modeltrust.policy import engine
from modeltrust.policy.model import Policy
from modeltrust.server.settings import Settings
from tests.hubserver import HubServer
from tests.server.conftest import Governed, client_cache, point_client_at

TOKEN = "admin-s3cret"  # noqa: S105 - a test token
RECHECK = 0.5


class _Later(date):
    """``date.today()`` after the exception below has expired."""

    @classmethod
    def today(cls) -> _Later:
        return cls(2100, 1, 1)


@pytest.fixture
def servers(
    tmp_path: Path, upstream: HubServer, waiver: Policy, database_url: str | None
) -> Iterator[dict[str, Governed]]:
    """a: may re-audit; b: checks for others' audits every 0.5 s; c: practically never."""
    common = {
        "data_dir": tmp_path / "data",
        "upstream": upstream.url,
        "policy": waiver,
        "database_url": database_url,
    }
    running = {
        "a": Governed(Settings(**common, admin_token=TOKEN)),  # type: ignore[arg-type]
        "b": Governed(Settings(**common, verdict_recheck=RECHECK)),  # type: ignore[arg-type]
        "c": Governed(Settings(**common, verdict_recheck=3600)),  # type: ignore[arg-type]
    }
    for server in running.values():
        server.start()
    yield running
    for server in running.values():
        server.stop()


def test_a_reaudit_on_one_server_is_followed_by_the_others(
    servers: dict[str, Governed],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    a, b, c = servers["a"], servers["b"], servers["c"]
    point_client_at(b.url, monkeypatch, tmp_path)
    assert Path(hf_hub_download("acme/trojan", "config.json")).is_file()  # waived: served
    for server in (a, c):
        r = httpx2.get(f"{server.url}/acme/trojan/resolve/main/config.json")
        assert r.status_code == 200, r.headers.get("x-error-message")

    # The exception expires; an operator has server a audit the revision again.
    monkeypatch.setattr(engine, "date", _Later)
    url = f"{a.url}/api/modeltrust/audits/acme/trojan/main"
    assert httpx2.post(url).status_code == 401
    assert httpx2.post(url, headers={"authorization": "Bearer wrong"}).status_code == 401
    refused = httpx2.post(f"{b.url}/api/modeltrust/audits/acme/trojan/main")
    assert refused.status_code == 403
    assert "MODELTRUST_ADMIN_TOKEN" in refused.headers["x-error-message"]
    r = httpx2.post(url, headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "fail"
    assert any("expired" in reason for reason in r.json()["reasons"])
    reaudited = time.monotonic()

    assert httpx2.get(f"{a.url}/acme/trojan/resolve/main/config.json").status_code == 403
    while (r := httpx2.get(f"{b.url}/acme/trojan/resolve/main/config.json")).status_code == 200:
        assert time.monotonic() - reaudited < RECHECK + 2, "server b kept the old verdict"
        time.sleep(0.05)
    assert r.status_code == 403
    assert "MT-PKL" in r.headers["x-error-message"]
    with client_cache(tmp_path, "fresh", monkeypatch), pytest.raises(GatedRepoError):
        hf_hub_download("acme/trojan", "config.json")
    # The bound is the setting: c, told to look only hourly, still answers from its cache.
    assert httpx2.get(f"{c.url}/acme/trojan/resolve/main/config.json").status_code == 200


def test_a_reaudit_needs_a_stored_revision(servers: dict[str, Governed]) -> None:
    a = servers["a"]
    httpx2.get(f"{a.url}/api/models/acme/clean")  # listed, not fetched
    r = httpx2.post(
        f"{a.url}/api/modeltrust/audits/acme/clean/main",
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 409
    assert "not completely stored" in r.headers["x-error-message"]
