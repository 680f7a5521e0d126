"""Shared fixtures: a clean environment and helpers to scan bytes written to a temp folder."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MODELTRUST_") and name != "MODELTRUST_FUZZ_EXAMPLES":
            monkeypatch.delenv(name)
