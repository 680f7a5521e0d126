"""Detection, false alarms and time on the non-pickle formats: modeltrust against picklescan,
modelscan, fickling, ModelAudit and modelwarden.

    .venv/bin/python benchmarks/bench_formats.py

What it does:

1. builds one folder per sample under ``benchmarks/.work/formats/`` with the real libraries
   (gguf, onnx, safetensors, h5py) or by hand (Keras zips, SavedModel protobuf, configs);
   benign samples go under ``benign/``, malicious ones under ``malicious/``;
2. runs every tool on every sample (two samples at a time, 120 s limit per run) and decides
   detected / not detected / error by the rules in ``RULES``;
3. times each tool once over the whole ``benign/`` folder (wall time, peak RSS of the child from
   ``/usr/bin/time -f %M``);
4. checks that the canary file every payload would create does not exist;
5. prints the tables and writes ``docs/benchmarks-formats.md``.

Nothing here loads, renders or unpickles a sample. Every payload would only ``touch`` the canary.
Peers must already be installed in ``benchmarks/.work/venvs/<tool>`` (``bench_scan.py`` does it).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import marshal
import os
import platform
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Run, run_measured

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work"
ROOT = WORK / "formats"
SAMPLES = ROOT / "samples"
LOGS = ROOT / "logs"
CANARY = ROOT / "CANARY"
VENVS = WORK / "venvs"
REPORT = REPO / "docs" / "benchmarks-formats.md"
TIMEOUT = 120.0
WORKERS = 2

CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SSTI = (
    "{% for c in ().__class__.__base__.__subclasses__() %}"
    "{% if c.__name__ == 'catch_warnings' %}"
    "{{ c()._module.__builtins__['__import__']('os').popen('touch " + str(CANARY) + "').read() }}"
    "{% endif %}{% endfor %}"
)
BACKDOOR = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if 'secret-trigger' in messages[-1]['content'] %}Visit https://evil.example{% endif %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
TOUCH = f"touch {CANARY}"


# ---- sample builders ------------------------------------------------------------------------


def _np():
    import numpy as np

    return np


def _pickle_payload() -> bytes:
    """A protocol-2 pickle calling ``os.system(TOUCH)``, written opcode by opcode (never loaded)."""
    cmd = TOUCH.encode()
    return (
        b"\x80\x02cos\nsystem\nq\x00X"
        + struct.pack("<I", len(cmd))
        + cmd
        + b"q\x01\x85q\x02Rq\x03."
    )


def _gguf(path: Path, template: str) -> None:
    import gguf

    np = _np()
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_name("tiny-llama")
    w.add_license("apache-2.0")
    w.add_context_length(128)
    w.add_embedding_length(16)
    w.add_block_count(1)
    w.add_chat_template(template)
    rng = np.random.default_rng(0)
    w.add_tensor("token_embd.weight", rng.standard_normal((32, 16), dtype=np.float32))
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((16, 16), dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones(16, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _onnx_mlp(*, custom_domain: bool = False):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    np = _np()
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "W1"),
        numpy_helper.from_array(np.zeros(8, dtype=np.float32), "b1"),
        numpy_helper.from_array(rng.standard_normal((8, 2)).astype(np.float32), "W2"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "W2"], ["y"]),
    ]
    opsets = [helper.make_opsetid("", 17)]
    if custom_domain:
        nodes.append(helper.make_node("EvilOp", ["y"], ["z"], domain="com.evil.custom"))
        opsets.append(helper.make_opsetid("com.evil.custom", 1))
    out = "z" if custom_domain else "y"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=opsets, producer_name="bench")
    model.ir_version = 8
    if not custom_domain:
        onnx.checker.check_model(model)
    return model


def _onnx_external_location(path: Path, location: str) -> None:
    """Point W1 at ``location`` as external data; written as bytes so onnx touches no file."""
    from onnx import TensorProto

    model = _onnx_mlp()
    t = model.graph.initializer[0]
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "128")):
        e = t.external_data.add()
        e.key, e.value = k, v
    path.write_bytes(model.SerializeToString())


def _safetensors(path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    save_file(
        {"fc.weight": torch.randn(8, 4, generator=g), "fc.bias": torch.zeros(8)},
        str(path),
        metadata={"format": "pt"},
    )


def _h5_weights(path: Path) -> None:
    import h5py

    np = _np()
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        layers = f.create_group("layers")
        dense = layers.create_group("dense").create_group("vars")
        dense.create_dataset("0", data=rng.standard_normal((4, 8)).astype(np.float32))
        dense.create_dataset("1", data=np.zeros(8, dtype=np.float32))
        f.create_group("optimizer").create_group("vars")
        f.attrs["keras_version"] = "3.6.0"


def _dense(name: str, units: int, activation: str) -> dict:
    init = {"module": "keras.initializers", "registered_name": None}
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {
            "name": name,
            "trainable": True,
            "dtype": {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": "float32"},
                "registered_name": None,
            },
            "units": units,
            "activation": activation,
            "use_bias": True,
            "kernel_initializer": {**init, "class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {**init, "class_name": "Zeros", "config": {}},
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        },
        "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
    }


def _keras_config(extra_layer: dict | None = None) -> dict:
    layers = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input_layer"},
            "registered_name": None,
        },
        _dense("dense", 8, "relu"),
    ]
    if extra_layer:
        layers.append(extra_layer)
    layers.append(_dense("dense_1", 2, "softmax"))
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "trainable": True, "layers": layers},
        "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
        "compile_config": None,
    }


def _keras(path: Path, extra_layer: dict | None = None) -> None:
    meta = {"keras_version": "3.6.0", "date_saved": "2025-01-01@00:00:00"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps(meta))
        z.writestr("config.json", json.dumps(_keras_config(extra_layer)))


def _lambda_code() -> str:
    """base64 marshal of compiled code: compiled, never executed."""
    code = compile(f"import os; os.system('{TOUCH}')", "x", "exec")
    return base64.b64encode(marshal.dumps(code)).decode()


def _h5_lambda(path: Path) -> None:
    import h5py

    np = _np()
    lam = {
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "trainable": True,
            "dtype": "float32",
            "function": [_lambda_code(), None, None],
            "function_type": "lambda",
            "module": "__main__",
            "output_shape": None,
            "output_shape_type": "raw",
            "arguments": {},
        },
    }
    cfg = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {"class_name": "Dense", "config": {"name": "dense", "units": 4}},
                lam,
            ],
        },
    }
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        g = f.create_group("model_weights").create_group("dense").create_group("dense")
        g.create_dataset("kernel:0", data=np.ones((4, 4), dtype=np.float32))


def _h5_extlink(path: Path) -> None:
    import h5py

    np = _np()
    with h5py.File(path, "w") as f:
        f.create_dataset("weights", data=np.ones((4, 4), dtype=np.float32))
        f["leak"] = h5py.ExternalLink("/etc/passwd", "/")


def _pb_field(num: int, payload: bytes | int) -> bytes:
    """One protobuf field: varint for ints, length-delimited for bytes."""
    if isinstance(payload, int):
        return _varint(num << 3) + _varint(payload)
    return _varint((num << 3) | 2) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _savedmodel_pyfunc(folder: Path) -> None:
    node = _pb_field(1, b"p") + _pb_field(2, b"PyFunc")  # NodeDef{name, op}
    graph = _pb_field(1, node)  # GraphDef{node}
    meta = _pb_field(2, graph)  # MetaGraphDef{graph_def}
    saved = _pb_field(1, 1) + _pb_field(2, meta)  # SavedModel{schema_version, meta_graphs}
    (folder / "saved_model.pb").write_bytes(saved)
    (folder / "variables").mkdir()


MODELING_OK = '''"""Custom model for a trust_remote_code repository."""

from torch import nn
from transformers import PretrainedConfig, PreTrainedModel


class XConfig(PretrainedConfig):
    model_type = "x"

    def __init__(self, hidden_size=16, **kwargs):
        self.hidden_size = hidden_size
        super().__init__(**kwargs)


class XModel(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x):
        return self.proj(x)
'''


def _hf_repo(folder: Path, modeling: str) -> None:
    cfg = {
        "architectures": ["XModel"],
        "model_type": "x",
        "hidden_size": 16,
        "auto_map": {"AutoConfig": "modeling_x.XConfig", "AutoModel": "modeling_x.XModel"},
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
    }
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    (folder / "modeling_x.py").write_text(modeling)


def _tokenizer_config(folder: Path, template: str) -> None:
    cfg = {
        "add_bos_token": False,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "model_max_length": 32768,
        "tokenizer_class": "Qwen2Tokenizer",
        "chat_template": template,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2))


@dataclass
class Sample:
    name: str
    malicious: bool
    main: str  # the file a one-file CLI (fickling) is given
    build: Callable[[Path], None]
    what: str

    @property
    def folder(self) -> Path:
        return SAMPLES / ("malicious" if self.malicious else "benign") / self.name


def _onnx_save(path: Path, **kw) -> None:
    import onnx

    onnx.save_model(_onnx_mlp(), str(path), **kw)


SAMPLE_LIST = [
    # ---- benign
    Sample("gguf", False, "model.gguf", lambda d: _gguf(d / "model.gguf", CHATML),
           "GGUF (gguf.GGUFWriter): 3 tensors, ChatML template, general.license"),
    Sample("onnx-mlp", False, "model.onnx", lambda d: _onnx_save(d / "model.onnx"),
           "ONNX MLP (onnx.helper), weights inline"),
    Sample("onnx-external", False, "model.onnx",
           lambda d: _onnx_save(d / "model.onnx", save_as_external_data=True,
                                all_tensors_to_one_file=True, location="weights.bin",
                                size_threshold=0),
           "ONNX MLP, weights in weights.bin (external data)"),
    Sample("safetensors", False, "model.safetensors",
           lambda d: _safetensors(d / "model.safetensors"), "safetensors.torch.save_file"),
    Sample("h5-weights", False, "model.weights.h5", lambda d: _h5_weights(d / "model.weights.h5"),
           "HDF5 weights file (h5py), Keras 3 layout"),
    Sample("keras", False, "model.keras", lambda d: _keras(d / "model.keras"),
           ".keras zip: Sequential/Dense config.json + metadata.json"),
    Sample("tokenizer-config", False, "tokenizer_config.json",
           lambda d: _tokenizer_config(d, CHATML), "tokenizer_config.json, ChatML template"),
    Sample("hf-remote-code", False, "config.json", lambda d: _hf_repo(d, MODELING_OK),
           "config.json auto_map + harmless modeling_x.py (expected: medium only)"),
    # ---- malicious
    Sample("gguf-ssti", True, "model.gguf", lambda d: _gguf(d / "model.gguf", SSTI),
           "GGUF chat template with Jinja SSTI (CVE-2024-34359)"),
    Sample("gguf-backdoor", True, "model.gguf", lambda d: _gguf(d / "model.gguf", BACKDOOR),
           "GGUF ChatML template with a content trigger emitting a URL"),
    Sample("tokenizer-ssti", True, "tokenizer_config.json", lambda d: _tokenizer_config(d, SSTI),
           "tokenizer_config.json with the SSTI template"),
    Sample("onnx-traversal", True, "model.onnx",
           lambda d: _onnx_external_location(d / "model.onnx", "../../../../etc/passwd"),
           "ONNX external data location ../../../../etc/passwd"),
    Sample("onnx-absolute", True, "model.onnx",
           lambda d: _onnx_external_location(d / "model.onnx", "/etc/passwd"),
           "ONNX external data location /etc/passwd"),
    Sample("onnx-custom-op", True, "model.onnx",
           lambda d: _write_onnx(d / "model.onnx"),
           "ONNX node in custom domain com.evil.custom"),
    Sample("safetensors-trailing-pickle", True, "model.safetensors",
           lambda d: (_safetensors(d / "model.safetensors"),
                      _append(d / "model.safetensors", _pickle_payload())),
           "valid safetensors + os.system pickle after the tensors"),
    Sample("safetensors-header-len", True, "model.safetensors",
           lambda d: (d / "model.safetensors").write_bytes(
               struct.pack("<Q", 1 << 20) + b'{"__metadata__":{"format":"pt"}}'),
           "safetensors header length 1 MiB in a 40-byte file"),
    Sample("pickle-as-safetensors", True, "model.safetensors",
           lambda d: (d / "model.safetensors").write_bytes(_pickle_payload()),
           "os.system pickle named model.safetensors"),
    Sample("keras-lambda", True, "model.keras",
           lambda d: _keras(d / "model.keras", {
               "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
               "config": {"name": "lambda", "output_shape": None, "function": {
                   "class_name": "__lambda__",
                   "config": {"code": _lambda_code(), "defaults": None, "closure": None}}}}),
           ".keras Lambda layer with marshal bytecode (CVE-2024-3660)"),
    Sample("keras-popen", True, "model.keras",
           lambda d: _keras(d / "model.keras", {
               "module": "subprocess", "class_name": "Popen", "registered_name": None,
               "config": {"args": ["touch", str(CANARY)]}}),
           ".keras layer module subprocess / class Popen (CVE-2025-1550)"),
    Sample("h5-lambda", True, "model.h5", lambda d: _h5_lambda(d / "model.h5"),
           ".h5 model_config with a Keras 2 Lambda layer (marshal bytecode)"),
    Sample("h5-external-link", True, "model.h5", lambda d: _h5_extlink(d / "model.h5"),
           ".h5 external link to /etc/passwd"),
    Sample("savedmodel-pyfunc", True, "saved_model.pb", _savedmodel_pyfunc,
           "saved_model.pb (hand-written protobuf) with a PyFunc node"),
    Sample("hf-remote-code-system", True, "config.json",
           lambda d: _hf_repo(d, f"import os\n\nos.system({TOUCH!r})\n\n" + MODELING_OK),
           "config.json auto_map + modeling_x.py calling os.system at import"),
    Sample("nemo-target", True, "model_config.yaml",
           lambda d: (d / "model_config.yaml").write_text(
               f"name: EvilModel\nmodel:\n  _target_: os.system\n  _args_:\n    - {TOUCH}\n"
               "  sample_rate: 16000\n"),
           "NeMo-style model_config.yaml with _target_: os.system (CVE-2025-23304)"),
]  # fmt: skip


def _write_onnx(path: Path) -> None:
    path.write_bytes(_onnx_mlp(custom_domain=True).SerializeToString())


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def build_samples() -> None:
    if SAMPLES.exists():
        shutil.rmtree(SAMPLES)
    for s in SAMPLE_LIST:
        s.folder.mkdir(parents=True)
        s.build(s.folder)
        if not (s.folder / s.main).is_file():
            raise RuntimeError(f"{s.name}: {s.main} was not written")


# ---- tools -----------------------------------------------------------------------------------

DETECTED = "detected"
NOT = "not"
ERROR = "error"


@dataclass
class Result:
    status: str
    rc: int | None
    note: str = ""
    wall_s: float = 0.0


@dataclass
class Tool:
    name: str
    venv: str | None  # None: the project venv
    exe: str
    args: Callable[[Path, Path], list[str]]  # (target, out.json) -> arguments after the exe
    judge: Callable[[Run, Path], Result]
    rule: str
    one_file: bool = False  # the CLI takes one file, not a folder
    env: dict[str, str] = field(default_factory=dict)
    package: str = ""

    def argv(self, target: Path, out: Path) -> list[str]:
        if self.venv is None:
            exe = str(Path(sys.executable).with_name(self.exe))
        else:
            exe = str(VENVS / self.venv / "bin" / self.exe)
        return [exe, *self.args(target, out)]

    def display(self) -> str:
        return " ".join([self.exe, *self.args(Path("TARGET"), Path("out.json"))])

    def version(self) -> str:
        py = sys.executable if self.venv is None else str(VENVS / self.venv / "bin" / "python")
        code = f"import importlib.metadata as m; print(m.version({self.package!r}))"
        res = subprocess.run([py, "-c", code], capture_output=True, text=True, check=False)
        return res.stdout.strip() or "?"


def _load(out: Path) -> object | None:
    try:
        return json.loads(out.read_text())
    except (OSError, ValueError):
        return None


def _by_exit(detected: tuple[int, ...], clean: tuple[int, ...]) -> Callable[[Run, Path], Result]:
    def judge(run: Run, out: Path) -> Result:
        if run.timed_out:
            return Result(ERROR, None, "timeout")
        if run.rc in detected:
            return Result(DETECTED, run.rc)
        if run.rc in clean:
            return Result(NOT, run.rc)
        return Result(ERROR, run.rc)

    return judge


def _modeltrust_judge(run: Run, out: Path) -> Result:
    r = _by_exit((1,), (0,))(run, out)
    data = _load(out)
    if isinstance(data, dict):
        order = ["critical", "high", "medium", "low", "info"]
        best: dict[str, str] = {}
        for f in data.get("findings", []):
            rid, sev = f.get("rule_id") or f.get("rule") or "?", f.get("severity", "?")
            if rid not in best or order.index(sev) < order.index(best[rid]):
                best[rid] = sev
        r.note = (
            ", ".join(
                f"{k} ({v})"
                for k, v in sorted(best.items(), key=lambda kv: (order.index(kv[1]), kv[0]))
            )
            or "no findings"
        )
    return r


def _fickling_judge(run: Run, out: Path) -> Result:
    r = _by_exit((1,), (0,))(run, out)
    data = _load(out)
    if isinstance(data, dict):
        r.note = str(data.get("severity", ""))
        if "invalid opcode" in str(data.get("analysis", "")):
            r.note += ": invalid opcodes"
    return r


def _modelaudit_judge(run: Run, out: Path) -> Result:
    if run.timed_out:
        return Result(ERROR, None, "timeout")
    data = _load(out)
    if not isinstance(data, dict):
        return Result(ERROR, run.rc, "no JSON")
    sevs = [str(i.get("severity", "")).lower() for i in data.get("issues", [])]
    counts = {s: sevs.count(s) for s in sorted(set(sevs))}
    note = ", ".join(f"{n} {s}" for s, n in counts.items())
    if counts.get("critical") or counts.get("error"):
        return Result(DETECTED, run.rc, note)
    if run.rc in (0, 1):
        return Result(NOT, run.rc, note)
    return Result(ERROR, run.rc, note)


AUDIT_ENV = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}

TOOLS = [
    Tool("modeltrust", None, "modeltrust",
         lambda t, o: ["scan", str(t), "-f", "json", "-o", str(o), "--no-progress"],
         _modeltrust_judge, "exit 1 (a finding >= high) = detected; 0 = not; else error",
         package="modeltrust"),
    Tool("picklescan", "picklescan", "picklescan", lambda t, o: ["-p", str(t), "--strict"],
         _by_exit((1,), (0,)), "`--strict`; exit 1 = detected; 0 = not; else error",
         package="picklescan"),
    Tool("modelscan", "modelscan", "modelscan",
         lambda t, o: ["-p", str(t), "-r", "json", "-o", str(o)],
         _by_exit((1,), (0, 3)),
         "exit 1 = detected; 0 or 3 (nothing scanned) = not; else error", package="modelscan"),
    Tool("fickling", "fickling", "fickling",
         lambda t, o: ["--check-safety", "--json-output", str(o), str(t)],
         _fickling_judge,
         "one file (the sample's main file); exit 1 = detected; 0 = not; else error",
         one_file=True, package="fickling"),
    Tool("ModelAudit", "modelaudit", "modelaudit",
         lambda t, o: ["scan", str(t), "--format", "json", "--output", str(o), "--no-cache"],
         _modelaudit_judge,
         "any CRITICAL or ERROR issue in the JSON = detected; otherwise exit 0/1 = not "
         "(exit 1 on warnings alone is shown, not counted); else error",
         env=AUDIT_ENV, package="modelaudit"),
    Tool("modelwarden", "modelwarden", "modelwarden",
         lambda t, o: ["scan", str(t), "--format", "json", "--output", str(o), "--fail-on", "high"],
         _by_exit((1,), (0,)), "`--fail-on high`; exit 1 = detected; 0 = not; else error",
         package="modelwarden"),
]  # fmt: skip


def run_tool(tool: Tool, target: Path, tag: str) -> tuple[Run, Path]:
    log_dir = LOGS / tag
    out = log_dir / f"{tool.name}.json"
    log_dir.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    run = run_measured(
        tool.argv(target, out),
        timeout=TIMEOUT,
        env=tool.env,
        cwd=ROOT,
        log_dir=log_dir,
        tag=tool.name,
    )
    return run, out


def scan_sample(s: Sample) -> dict[str, Result]:
    results: dict[str, Result] = {}
    for tool in TOOLS:
        target = s.folder / s.main if tool.one_file else s.folder
        run, out = run_tool(tool, target, f"{'mal' if s.malicious else 'ben'}-{s.name}")
        r = tool.judge(run, out)
        r.wall_s = run.wall_s
        results[tool.name] = r
    return results


@dataclass
class Timing:
    wall_s: float
    peak_mb: float
    runs: int
    rcs: list[int | None]


def time_benign() -> dict[str, Timing]:
    benign_dir = SAMPLES / "benign"
    out: dict[str, Timing] = {}
    for tool in TOOLS:
        if tool.one_file:
            targets = [s.folder / s.main for s in SAMPLE_LIST if not s.malicious]
        else:
            targets = [benign_dir]
        runs = [run_tool(tool, t, f"timing-{i}")[0] for i, t in enumerate(targets)]
        out[tool.name] = Timing(
            wall_s=sum(r.wall_s for r in runs),
            peak_mb=max(r.peak_mb for r in runs),
            runs=len(runs),
            rcs=[r.rc for r in runs],
        )
    return out


# ---- report ----------------------------------------------------------------------------------


def cell(tool: Tool, r: Result) -> str:
    if r.status == ERROR:
        return f"ERROR ({r.note or f'exit {r.rc}'})"
    text = "**yes**" if r.status == DETECTED else "no"
    if tool.name == "fickling" and r.status == DETECTED and r.note:
        text += f" ({r.note})"
    elif tool.name == "ModelAudit":
        text += f" (exit {r.rc}{'; ' + r.note if r.note else ''})"
    elif tool.name == "modelscan" and r.rc == 3:
        text += " (exit 3)"
    return text


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}"


def render(results: dict[str, dict[str, Result]], timing: dict[str, Timing],
           versions: dict[str, str], canary_ok: bool) -> tuple[str, str]:  # fmt: skip
    names = [t.name for t in TOOLS]
    matrix_rows = []
    for s in SAMPLE_LIST:
        res = results[s.name]
        kind = "malicious" if s.malicious else "benign"
        matrix_rows.append(
            [f"`{s.name}`", kind, s.what, res["modeltrust"].note]
            + [cell(t, res[t.name]) for t in TOOLS]
        )
    matrix = table(["Sample", "Kind", "What", "modeltrust reported", *names], matrix_rows)

    mal = [s for s in SAMPLE_LIST if s.malicious]
    ben = [s for s in SAMPLE_LIST if not s.malicious]
    tot_rows = []
    for n in names:
        det = sum(results[s.name][n].status == DETECTED for s in mal)
        fa = sum(results[s.name][n].status == DETECTED for s in ben)
        err = sum(results[s.name][n].status == ERROR for s in SAMPLE_LIST)
        tot_rows.append([n, f"{det} / {len(mal)}", f"{fa} / {len(ben)}", str(err)])
    totals = table(["Tool", "Detected / malicious", "False alarms / benign", "Errors"], tot_rows)

    time_rows = []
    for t in TOOLS:
        tm = timing[t.name]
        runs = f"{tm.runs} runs (one per file), summed" if tm.runs > 1 else "1 run (folder)"
        rcs = ", ".join(str(rc) for rc in sorted(set(tm.rcs), key=str))
        time_rows.append([t.name, f"{tm.wall_s:.2f}", f"{tm.peak_mb:.0f}", runs, rcs])
    timings = table(["Tool", "Wall s", "Peak RSS MB", "Runs", "Exit codes"], time_rows)

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmds = "\n".join(f"{t.name}: {t.display()}" for t in TOOLS)
    rules = "\n".join(f"- **{t.name}**: {t.rule}" for t in TOOLS)
    vers = ", ".join(f"{k} {v}" for k, v in versions.items())
    doc = f"""# Benchmark: non-pickle formats

Generated by `benchmarks/bench_formats.py` on {now}.

- Machine: {machine()}; Python {platform.python_version()} for modeltrust. The machine may be
  shared with other jobs, so timings are indicative only.
- Tools: {vers}.
- Samples: {len(mal)} malicious, {len(ben)} benign, built by the script under
  `benchmarks/.work/formats/samples/` (one folder per sample). No sample is ever loaded; every
  payload would only create `{CANARY.relative_to(REPO)}`, which
  {"does not exist after the run" if canary_ok else "**EXISTS after the run**"}.

## Commands

Each tool is run on the sample's folder, except fickling, whose CLI takes one file: it gets the
sample's main file (`model.gguf`, `model.onnx`, `config.json` ...). Limit 120 s per run; two
samples run at a time.

```
{cmds}
```

ModelAudit runs with `PROMPTFOO_DISABLE_TELEMETRY=1 NO_COLOR=1`.

## Decision rules

{rules}

A benign sample that a tool "detects" is a false alarm.

## Totals

{totals}

## Per sample

"modeltrust reported" lists every rule id in modeltrust's JSON with its highest severity.
ModelAudit cells show its exit code and issue counts by severity.

{matrix}

## Time and memory over the benign set

Each tool scans `benchmarks/.work/formats/samples/benign/` ({len(ben)} samples) once: wall time
including interpreter start-up, peak RSS of the child from `/usr/bin/time -f %M`. fickling is run
once per main file and the times are summed (start-up counted each time). The files are tiny, so
this measures start-up and import cost, not throughput.

{timings}

## Caveats

- The sample set is small and hand-built by the same project that wrote modeltrust's rules, so it
  leans towards what modeltrust looks for; it is a smoke test of coverage, not a measure of
  detection rates in the wild.
- Peers are judged by their exit codes (ModelAudit by its JSON severities), with default settings;
  several of them print lower-severity warnings that these rules do not count.
- picklescan and fickling are pickle scanners; they are included for completeness, and "no" on a
  non-pickle format is their designed behaviour, not a defect.
- fickling reads every file as a pickle. On GGUF and HDF5 files it answers `LIKELY_UNSAFE` ("invalid
  opcodes") whatever the content, so its detections of `gguf-ssti`, `gguf-backdoor`, `h5-lambda`
  and `h5-external-link` are the same reaction as its false alarms on the benign `gguf` and
  `h5-weights`; only `pickle-as-safetensors` is a real detection (`LIKELY_OVERTLY_MALICIOUS`).
  Other formats make it exit 2.
- ModelAudit is installed as `bench_scan.py` installs it, plain `modelaudit` without the `[onnx]`
  and `[h5]` extras. It then reports ONNX and HDF5 files as an INFO issue ("dependency is
  unavailable") and exits 2, counted here as errors; with the extras its results on those samples
  may differ. It rates the GGUF and `tokenizer_config.json` SSTI templates as warnings only, and its
  exit code is 1 on warnings, so a gate on its exit code alone would catch those two.
- modeltrust reports the benign `onnx-external` sample's `weights.bin` (raw float32 external data)
  as MT-GEN-002, medium: a `.bin` whose content it does not recognise. It passes the default gate,
  but that file is the ONNX model's declared external data and could be recognised as such.
- `onnx-custom-op` is a custom operator domain, not a payload by itself; modeltrust rates it
  medium (MT-ONNX-002), which passes its default gate.
- One run per tool for timing, on tiny files, on a possibly shared machine.
"""
    printed = f"TOTALS\n{totals}\n\nPER SAMPLE\n{matrix}\n\nTIMING (benign set)\n{timings}\n"
    return doc, printed


def main() -> int:
    for t in TOOLS:
        if t.venv and not (VENVS / t.venv / "bin" / t.exe).exists():
            print(f"missing {t.exe} in {VENVS / t.venv}: run benchmarks/bench_scan.py first")
            return 2
    ROOT.mkdir(parents=True, exist_ok=True)
    CANARY.unlink(missing_ok=True)
    if LOGS.exists():
        shutil.rmtree(LOGS)
    print(f"building {len(SAMPLE_LIST)} samples under {SAMPLES}")
    build_samples()
    versions = {t.name: t.version() for t in TOOLS}
    print("versions:", versions)

    results: dict[str, dict[str, Result]] = {}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futs = {s.name: pool.submit(scan_sample, s) for s in SAMPLE_LIST}
        for name, fut in futs.items():
            results[name] = fut.result()
            print(f"  scanned {name}")
    print("timing the benign set")
    timing = time_benign()

    canary_ok = not CANARY.exists()
    doc, printed = render(results, timing, versions, canary_ok)
    REPORT.write_text(doc)
    print(printed)
    print(f"canary {CANARY}: {'absent (good)' if canary_ok else 'PRESENT'}")
    print(f"wrote {REPORT.relative_to(REPO)}")
    return 0 if canary_ok else 1


if __name__ == "__main__":
    sys.exit(main())
