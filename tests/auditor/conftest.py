"""Fixtures for audit tests: model repos as file dicts (a clean documented model, a trojaned one,
a mislabelled Llama derivative), written to a folder or served by the test Hub.

The trojaned pickle is built from opcodes at test time (``demo.build.trojan_pickle``); it would
create ``canary`` if anything ever unpickled it, which the tests check never happens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from demo.build import trojan_pickle
from demo.hub import LLAMA, safetensors_bytes
from tests.hubserver import HubServer, card, running_hub

GOOD_CARD = """
# Sensor classifier

A small classifier that sorts sensor readings into four machine states, for testing.

## Intended uses & limitations

For classifying readings of the test rig; not for decisions about people.

## Bias, Risks, and Limitations

Trained on one rig only; accuracy elsewhere is unknown and probably lower.

## Training Details

### Training Data

Twenty thousand labelled readings recorded on the rig, split by recording day.

## Evaluation

### Results

Accuracy 0.94 on the held-out test split of two thousand readings.
"""
APACHE = "Apache License\nVersion 2.0, January 2004\n"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every audit here caches into the test's own folder, never the user's cache."""
    path = tmp_path / "cache"
    monkeypatch.setenv("MODELTRUST_CACHE_DIR", str(path))
    return path


def clean_files() -> dict[str, bytes | str]:
    return {
        "README.md": card(GOOD_CARD, license="apache-2.0", datasets=["acme/readings"]),
        "LICENSE": APACHE,
        "model.safetensors": safetensors_bytes({"w": (4, 16), "b": (4,)}),
        "config.json": json.dumps({"architectures": ["SensorClassifier"]}),
    }


def trojan_files(canary: Path) -> dict[str, bytes | str]:
    files = clean_files()
    files["model.pkl"] = trojan_pickle(canary)
    return files


def mislabelled_files() -> dict[str, bytes | str]:
    return {
        "README.md": card(
            "# Super chat\n\nA chat model.\n", license="apache-2.0", base_model=LLAMA
        ),
        "LICENSE": APACHE,
        "model.safetensors": safetensors_bytes({"w": (8, 8)}),
    }


def llama_files() -> dict[str, bytes | str]:
    return {
        "README.md": card("# Llama\n", license="llama3.1"),
        "LICENSE": "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n(fixture)\n",
        "config.json": json.dumps({"architectures": ["LlamaForCausalLM"]}),
    }


def write(folder: Path, files: Mapping[str, bytes | str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return folder


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, canary: Path) -> Iterator[HubServer]:
    with running_hub(monkeypatch, tmp_path) as server:
        server.add_repo("acme/clean", clean_files())
        server.add_repo("acme/trojan", trojan_files(canary))
        server.add_repo(LLAMA, llama_files())
        server.add_repo("acme/super-chat-8b", mislabelled_files())
        yield server
