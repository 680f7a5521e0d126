"""A Hub-compatible server on 127.0.0.1 for the source tests; the client is pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hubserver import HubServer, running_hub

TOKENS = {"hf_alice_token": "alice", "hf_bob_token": "bob"}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    with running_hub(monkeypatch, tmp_path, tokens=TOKENS) as server:
        yield server
