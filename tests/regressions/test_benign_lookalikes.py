"""Benign look-alikes of every malicious container and pickle shape: none may be rated HIGH.

The samples are built in code without torch, numpy or scikit-learn (tests/builders/samples.py),
so this runs anywhere. Real files written by those libraries are checked in
tests/scanners/test_benign_real.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modeltrust import Severity, scan_paths
from modeltrust.cli import main as cli_main
from tests.builders.samples import Sample, benign_samples

BENIGN = benign_samples()


def _param(sample: Sample) -> object:
    return pytest.param(sample, id=sample.name)


def _write(tmp_path: Path, sample: Sample) -> Path:
    path = tmp_path / sample.name / sample.filename
    path.parent.mkdir(parents=True)
    path.write_bytes(sample.data)
    return path


def test_benign_names_are_unique() -> None:
    names = [s.name for s in BENIGN]
    assert len(names) == len(set(names))
    assert not any(s.malicious for s in BENIGN)


@pytest.mark.parametrize("sample", [_param(s) for s in BENIGN])
def test_benign_lookalike_is_not_high(tmp_path: Path, sample: Sample) -> None:
    result = scan_paths([_write(tmp_path, sample)])
    serious = [
        f"{f.severity.label} {f.rule_id} {f.location}: {f.message}"
        for f in result.at_or_above(Severity.HIGH)
    ]
    assert not serious, "\n".join(serious)
    assert "unknown" not in result.files[0].formats


def test_benign_folder_passes_the_cli(tmp_path: Path) -> None:
    for sample in BENIGN:
        _write(tmp_path, sample)
    assert cli_main(["scan", str(tmp_path), "--no-progress"]) == 0
