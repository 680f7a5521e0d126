"""Fixtures for the licence tests: the test Hub, GGUF files built with the gguf package, and a
one-call ``check`` that opens a target and checks it for a use profile.

Licence files in fixtures hold only a title line and short identifying phrases (as the knowledge
base's own ``title_patterns`` and ``key_phrases`` do), never licence text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from modeltrust.licenses.check import LicenseReport, check_license
from modeltrust.licenses.obligations import UseProfile
from modeltrust.sources import open_source
from tests.hubserver import HubServer, running_hub

TOKENS = {"hf_alice_token": "alice"}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    with running_hub(monkeypatch, tmp_path, tokens=TOKENS) as server:
        yield server


def gguf_bytes(
    tmp_path: Path,
    *,
    license: str | None = None,
    license_name: str | None = None,
    license_link: str | None = None,
    bases: list[dict[str, str]] | None = None,
    source_url: str | None = None,
    architecture: str = "llama",
    vocab: int = 8,
) -> bytes:
    """A small, valid GGUF file with the given licence and lineage keys."""
    path = tmp_path / f"build-{len(list(tmp_path.glob('build-*')))}.gguf"
    w = gguf.GGUFWriter(str(path), architecture)
    w.add_name("Test Model")
    if license is not None:
        w.add_license(license)
    if license_name is not None:
        w.add_license_name(license_name)
    if license_link is not None:
        w.add_license_link(license_link)
    if bases:
        w.add_base_model_count(len(bases))
        for i, base in enumerate(bases):
            if "name" in base:
                w.add_base_model_name(i, base["name"])
            if "organization" in base:
                w.add_base_model_organization(i, base["organization"])
            if "repo_url" in base:
                w.add_base_model_repo_url(i, base["repo_url"])
    if source_url is not None:
        w.add_source_repo_url(source_url)
    w.add_token_list([f"tok{i}" for i in range(vocab)])
    w.add_tensor("token_embd.weight", np.zeros((vocab, 32), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


Check = Callable[..., LicenseReport]


@pytest.fixture
def check() -> Check:
    """``check(target, max_depth=10, **use_profile_fields)``."""

    def run(target: str, *, max_depth: int = 10, **use: object) -> LicenseReport:
        return check_license(open_source(target), UseProfile(**use), max_depth=max_depth)  # type: ignore[arg-type]

    return run


def rule_ids(report: LicenseReport) -> set[str]:
    return {f.rule_id for f in report.findings}
