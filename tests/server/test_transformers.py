"""transformers' from_pretrained through the governed hub, of a tiny model made in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.auditor.conftest import APACHE
from tests.hubserver import HubServer, card
from tests.server.conftest import StartHub


def _tiny_gpt2(folder: Path) -> dict[str, bytes | str]:
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=64, n_positions=16)
    GPT2Model(config).save_pretrained(folder, safe_serialization=True)
    files: dict[str, bytes | str] = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    files["README.md"] = card("# Tiny GPT-2\n\nA test model.\n", license="apache-2.0")
    files["LICENSE"] = APACHE
    return files


def test_from_pretrained_through_the_hub(
    start_hub: StartHub, upstream: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from transformers import AutoModel

    upstream.add_repo("acme/tiny-gpt2", _tiny_gpt2(tmp_path / "made"))
    start_hub()
    monkeypatch.setenv("DISABLE_SAFETENSORS_CONVERSION", "1")
    model = AutoModel.from_pretrained("acme/tiny-gpt2")
    assert model.config.n_embd == 8
    assert upstream.requests_to("/acme/tiny-gpt2/resolve/", "GET")
