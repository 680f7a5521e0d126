"""Fixtures for the governed hub: a Hub-compatible upstream (``tests.hubserver``) and our server
started with uvicorn in a thread on 127.0.0.1, with huggingface_hub pointed at our server.

The upstream's fixture repos: a clean documented model, a trojaned one (its pickle would create
``canary`` if anything ever loaded it), and whatever a test adds.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from modeltrust.policy.model import Policy, parse_policy
from modeltrust.server.settings import Settings
from modeltrust.web import create_app
from tests.auditor.conftest import clean_files, trojan_files
from tests.hubserver import HubServer


class Governed:
    """Our server running in a thread; ``url`` is what HF_ENDPOINT points at."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        self.settings = settings
        self.app = create_app(settings)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="error", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Governed:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the governed hub did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        from huggingface_hub.utils import close_session

        close_session()
        self.server.should_exit = True
        self.thread.join(timeout=10)


def point_client_at(url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """HF_ENDPOINT and huggingface_hub's import-time constants, with a private cache."""
    home = tmp_path / "client-home"
    for name, value in {
        "HF_ENDPOINT": url,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_XET": "1",
    }.items():
        monkeypatch.setenv(name, value)
    # The client's own timeouts stay at their defaults (10 s): a first pull must not need more.
    for name in (
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "HUGGINGFACE_CO_STAGING",
        "HF_HUB_ETAG_TIMEOUT",
        "HF_HUB_DOWNLOAD_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", constants.DEFAULT_ETAG_TIMEOUT)
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", constants.DEFAULT_DOWNLOAD_TIMEOUT)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))


@pytest.fixture
def upstream(canary: Path) -> Iterator[HubServer]:
    with HubServer() as server:
        server.add_repo("acme/clean", clean_files())
        server.add_repo("acme/trojan", trojan_files(canary))
        yield server


StartHub = Callable[..., Governed]


@pytest.fixture
def database_url() -> str | None:
    """The catalogue's database: None is the embedded SQLite under the data dir.
    ``test_postgres.py`` overrides this with a fresh PostgreSQL database per test."""
    return None


@pytest.fixture
def start_hub(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    upstream: HubServer,
    database_url: str | None,
) -> Iterator[StartHub]:
    """Start (or restart) our server on ``tmp_path/data``; stopped at the end of the test."""
    running: list[Governed] = []

    def start(
        *, upstream_url: str | None = "", policy: Policy | None = None, **overrides: Any
    ) -> Governed:
        """``overrides``: other :class:`Settings` fields (page size, ingest wait, ...)."""
        for old in running:
            old.stop()
        settings = Settings(
            data_dir=tmp_path / "data",
            upstream=upstream.url if upstream_url == "" else upstream_url,
            policy=policy,
            database_url=database_url,
            **overrides,
        )
        hub = Governed(settings).start()
        running.append(hub)
        point_client_at(hub.url, monkeypatch, tmp_path)
        return hub

    yield start
    for hub in running:
        hub.stop()


@contextmanager
def client_cache(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty client cache (so a download really goes to the server)."""
    from huggingface_hub import constants

    path = tmp_path / name
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(path))
    yield path


@pytest.fixture
def waiver() -> Policy:
    """A policy that waives the pickle findings of ``acme/trojan`` (the test Hub's trojan)."""
    return parse_policy(
        """
version: 1
name: waived
exceptions:
  - rule: MT-PKL-*
    repo: acme/trojan
    reason: reviewed fixture
    approver: security-team
    expires: 2099-01-01
""",
        "test",
    )


@pytest.fixture
def start_registry(start_hub: StartHub, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Start a hub without upstream whose accounts are seeded (tests/server/registry_fixtures.py);
    huggingface_hub uploads over plain HTTP (Xet off, as the hub documents). ``overrides``:
    other :class:`Settings` fields."""
    from huggingface_hub import constants

    from tests.server.registry_fixtures import Registry, seed

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)

    def start(**overrides: Any) -> Registry:
        settings: dict[str, Any] = {"token_cache_s": 0.0, "repo_info_cache_s": 0.0}
        hub = start_hub(upstream_url=None, **(settings | overrides))
        accounts = hub.app.state.hub.registry.accounts
        if not accounts.users():
            seed(accounts)
        return Registry(hub, accounts)

    return start


@pytest.fixture
def registry(start_registry: Callable[..., Any]) -> Any:
    return start_registry()
