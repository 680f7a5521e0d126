"""Files every Hub repo and training run has, written by the real libraries, raise no alarm.

The corpus (tests/builders/benign_corpus.py) is built in a process of its own; here it is only
scanned, by the API and by the CLI a user runs. test_benign_real.py covers sklearn, pandas,
numpy and plain torch.save files one by one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modeltrust import Severity, scan_paths
from tests.builders.benign_corpus import EXPECTED

for _module in ("torch", "transformers", "accelerate", "trl", "sentence_transformers"):
    pytest.importorskip(_module)
for _module in ("pytorch_lightning", "gguf", "onnx"):
    pytest.importorskip(_module)

ROOT = Path(__file__).resolve().parents[2]
# The only finding allowed at MEDIUM: a TorchScript archive carries code that torch.jit.load runs.
CODE_IN_ARCHIVE = "MT-TS-001"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("benign") / "corpus"
    done = subprocess.run(
        [sys.executable, "-m", "tests.builders.benign_corpus", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_the_corpus_holds_every_kind_of_file(corpus: Path) -> None:
    missing = [name for name in EXPECTED if not (corpus / name).is_file()]
    assert missing == []


def test_nothing_in_the_corpus_is_high(corpus: Path) -> None:
    result = scan_paths([corpus])
    assert len(result.files) >= len(EXPECTED)
    high = [f"{f.rule_id} {f.location}: {f.message}" for f in result.at_or_above(Severity.HIGH)]
    assert high == []
    medium = [
        f"{f.rule_id} {f.location}: {f.message}"
        for f in result.at_or_above(Severity.MEDIUM)
        if f.rule_id != CODE_IN_ARCHIVE
    ]
    assert medium == []


def test_training_files_are_analysed_not_skipped(corpus: Path) -> None:
    result = scan_paths([corpus])
    formats = {Path(f.path).relative_to(corpus).as_posix(): f.formats for f in result.files}
    for name in (
        "trainer/checkpoint-2/training_args.bin",
        "trl/training_args.bin",
        "lightning/last.ckpt",
        "hf-bin/pytorch_model.bin",
    ):
        assert "pickle" in formats[name], (name, formats[name])
    assert "gguf" in formats["gguf/chatml.gguf"]
    assert "onnx" in formats["onnx/model.onnx"]


def test_the_cli_passes_the_corpus(corpus: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "modeltrust", "scan", str(corpus), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
