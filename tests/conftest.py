"""Shared fixtures: a clean environment and helpers to scan bytes written to a temp folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MODELTRUST_") and name != "MODELTRUST_FUZZ_EXAMPLES":
            monkeypatch.delenv(name)


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """Where a trojaned sample's payload would write; the test fails if it ever appears."""
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "the trojaned pickle was executed"
