"""Benign corpora for the benchmark, written by the real libraries (torch, numpy, sklearn, pandas).

Nothing here is ever loaded back: the files are only written, then handed to the scanners.

Two sets:

* the performance corpus (~1.5 GiB): three ``torch.save`` zip state dicts, one legacy
  ``torch.save``, one large numpy pickle, four safetensors shards with their index, 200 small
  training checkpoints, and 200 small files of mixed kinds (state dicts and optimizer states in
  both torch formats, ``.npy``/``.npz`` with and without pickled object arrays, sklearn via
  joblib, safetensors);
* a handful of small real files for the false-alarm count (state dicts, a whole module, sklearn via
  joblib, a pandas DataFrame, ``.npy``/``.npz``).

Both are cached: a marker file records the spec they were built from, and a rebuild happens only
when the spec changes or the marker is missing.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

MARKER = ".complete.json"
MB = 1_000_000


@dataclass(frozen=True)
class CorpusSpec:
    """Sizes in bytes (approximate: whole tensors are added until the target is reached)."""

    zip_targets: tuple[int, ...]
    legacy_target: int
    numpy_target: int
    safetensors_target: int
    small_count: int
    mixed_count: int = 0
    safetensors_shards: int = 2
    version: int = 5  # bump when the layout changes

    @classmethod
    def full(cls) -> CorpusSpec:
        return cls(
            zip_targets=(265 * MB, 265 * MB, 265 * MB),
            legacy_target=180 * MB,
            numpy_target=200 * MB,
            safetensors_target=270 * MB,
            small_count=200,
            mixed_count=200,
            safetensors_shards=4,
        )

    @classmethod
    def quick(cls) -> CorpusSpec:
        return cls(
            zip_targets=(28 * MB, 28 * MB, 28 * MB),
            legacy_target=20 * MB,
            numpy_target=20 * MB,
            safetensors_target=30 * MB,
            small_count=20,
            mixed_count=40,
            safetensors_shards=4,
        )


def _marker(root: Path) -> Path:
    # Beside the folder, not in it: the scanners must see only model files.
    return root.with_name(root.name + MARKER)


def _marker_ok(root: Path, payload: dict[str, object]) -> bool:
    marker = _marker(root)
    if not marker.is_file():
        return False
    try:
        # Through JSON on both sides: tuples in the spec come back as lists.
        return json.loads(marker.read_text()) == json.loads(json.dumps(payload))
    except (OSError, ValueError):
        return False


def _write_marker(root: Path, payload: dict[str, object]) -> None:
    _marker(root).write_text(json.dumps(payload, indent=2, sort_keys=True))


def corpus_files(root: Path) -> list[Path]:
    """Every file of a corpus, without the marker, in a stable order."""
    return sorted(p for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------
# performance corpus
# ---------------------------------------------------------------------------------------------


def _transformer_state_dict(target: int, d_model: int, dtype_name: str, seed: int) -> object:
    """A real ``nn.Module`` state dict (an ``OrderedDict`` with ``_metadata``) of about ``target``
    bytes: embedding, N encoder layers, a head, plus int64 and bool buffers."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    dtype = getattr(torch, dtype_name)
    elem = torch.tensor([], dtype=dtype).element_size()
    vocab = min(8192, max(256, int(0.2 * target / (2 * d_model * elem)) // 64 * 64))
    ff = 4 * d_model
    per_layer = (4 * d_model * d_model + 2 * d_model * ff + 10 * d_model + ff) * elem
    fixed = 2 * vocab * d_model * elem
    layers = max(1, round((target - fixed) / per_layer))

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, d_model)
            layer = nn.TransformerEncoderLayer(d_model, max(1, d_model // 64), ff, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab, bias=False)
            self.register_buffer("position_ids", torch.arange(2048).unsqueeze(0))
            self.register_buffer("causal_mask", torch.ones(256, 256, dtype=torch.bool).tril())

    with torch.no_grad():
        model = Model().to(dtype)
        # Do not keep torch's init: random normal weights look like trained ones to a scanner
        # that probes tensor bytes, and are cheaper to make than the init schemes.
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model.state_dict()


def _legacy_state_dict(target: int, seed: int) -> object:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    # A conv net: many differently shaped tensors, plus BatchNorm buffers (int64 counters).
    blocks: list[nn.Module] = []
    chans = 64
    size = 0
    while size < target:
        nxt = min(chans * 2, 1024)
        blocks += [nn.Conv2d(chans, nxt, 3, padding=1), nn.BatchNorm2d(nxt), nn.ReLU()]
        size += (nxt * chans * 9 + 5 * nxt) * 4
        chans = nxt
    model = nn.Sequential(nn.Conv2d(3, 64, 7), *blocks, nn.Flatten(), nn.Linear(chans, 1000))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model.state_dict()


def _numpy_pickle(path: Path, target: int, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    one = 1024 * 1280 * 4
    n = max(1, round(target / one))
    data = {
        f"layer{i:02d}.activations": rng.standard_normal((1024, 1280), dtype=np.float32)
        for i in range(n)
    }
    data["labels"] = rng.integers(0, 1000, size=4096, dtype=np.int64)
    data["meta"] = {"source": "benchmark", "dims": [1024, 1280], "n": n}
    with path.open("wb") as fh:
        pickle.dump(data, fh, protocol=4)


_ST_DTYPES = {"float32": ("F32", 4), "float16": ("F16", 2), "int64": ("I64", 8)}


def _write_safetensors(path: Path, tensors: list[tuple[str, str, tuple[int, ...]]], seed: int):
    """Write a safetensors file by hand: u64 LE header length, JSON header, raw bytes.

    The header is padded with spaces to a multiple of 8, as the reference implementation does.
    Returns the total payload size.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, dtype, shape in tensors:
        code, size = _ST_DTYPES[dtype]
        n = size * math.prod(shape)
        header[name] = {"dtype": code, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        for _name, dtype, shape in tensors:
            if dtype == "int64":
                arr = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
            else:
                arr = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
            fh.write(arr.tobytes())
    return offset


def _safetensors_shards(folder: Path, target: int, seed: int, count: int = 2) -> None:
    d = 1024 if target >= 200 * MB else 512
    vocab = min(8192, max(256, int(0.1 * target / (d * 4)) // 64 * 64))
    tensors: list[tuple[str, str, tuple[int, ...]]] = [
        ("model.embed_tokens.weight", "float32", (vocab, d)),
        ("model.position_ids", "int64", (1, 2048)),
    ]
    size = vocab * d * 4 + vocab * d * 2
    i = 0
    while size < target:
        p = f"model.layers.{i}."
        for name, shape in [
            ("self_attn.q_proj.weight", (d, d)),
            ("self_attn.k_proj.weight", (d, d)),
            ("self_attn.v_proj.weight", (d, d)),
            ("self_attn.o_proj.weight", (d, d)),
            ("mlp.up_proj.weight", (4 * d, d)),
            ("mlp.down_proj.weight", (d, 4 * d)),
            ("input_layernorm.weight", (d,)),
            ("post_attention_layernorm.weight", (d,)),
        ]:
            tensors.append((p + name, "float32", shape))
            size += 4 * math.prod(shape)
        i += 1
    tensors += [("model.norm.weight", "float32", (d,)), ("lm_head.weight", "float16", (vocab, d))]
    per = -(-len(tensors) // count)
    shards = [tensors[k : k + per] for k in range(0, len(tensors), per)]
    weight_map: dict[str, str] = {}
    total = 0
    for k, shard in enumerate(shards, start=1):
        name = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        total += _write_safetensors(folder / name, shard, seed + k)
        weight_map.update({t[0]: name for t in shard})
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    config = {"architectures": ["LlamaForCausalLM"], "hidden_size": d, "num_hidden_layers": i}
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def _small_checkpoints(folder: Path, count: int, seed: int) -> None:
    """Training-run checkpoints: model + Adam state + scalars, ~300 KB each."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    for i in range(count):
        width = 280 + (i % 5) * 16
        model = nn.Sequential(
            nn.Linear(64, width), nn.LayerNorm(width), nn.GELU(), nn.Linear(width, 32)
        )
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model(torch.randn(4, 64)).sum().backward()
        opt.step()
        ckpt = {
            "epoch": i,
            "global_step": 1000 * i,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": opt.state_dict(),
            "loss": float(1.0 / (i + 1)),
            "config": {"width": width, "lr": 1e-3, "tags": ["bench", f"run{i % 7}"]},
            "rng_state": torch.get_rng_state(),
        }
        torch.save(ckpt, folder / f"epoch_{i:03d}.pt")


MIXED_KINDS = (
    "torch-zip",
    "torch-legacy",
    "optimizer-zip",
    "optimizer-legacy",
    "npy",
    "npy-object",
    "npz",
    "npz-object",
    "joblib",
    "safetensors",
)
"""What ``_mixed_small`` writes, in turn: file ``i`` is of kind ``MIXED_KINDS[i % 10]``."""


def _small_module(i: int) -> object:
    """One of a few small real architectures, shaped by ``i``."""
    from torch import nn

    width = 32 + (i % 7) * 24
    match i % 4:
        case 0:
            return nn.Sequential(nn.Linear(48, width), nn.ReLU(), nn.Linear(width, 10))
        case 1:
            return nn.Sequential(
                nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, width, 3)
            )
        case 2:
            return nn.ModuleDict(
                {
                    "embed": nn.Embedding(500 + 10 * i, 64),
                    "rnn": nn.GRU(64, width, batch_first=True),
                }
            )
        case _:
            return nn.TransformerEncoderLayer(64, 4, width * 2, batch_first=True)


def _mixed_small(folder: Path, count: int, seed: int) -> None:
    """Many small files of the kinds a model folder or a training run holds, each written by the
    library that makes them: ``torch.save`` state dicts and optimizer states in both the zip and
    the legacy format, ``.npy``/``.npz`` (plain and with benign pickled object arrays, as numpy
    writes them), sklearn estimators through joblib (some compressed), and small safetensors."""
    import joblib
    import numpy as np
    import torch
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((200, 12))
    y = (x[:, 0] - x[:, 3] > 0).astype(int)
    for i in range(count):
        kind = MIXED_KINDS[i % len(MIXED_KINDS)]
        stem = folder / f"{i:03d}-{kind}"
        if kind in ("torch-zip", "torch-legacy"):
            module = _small_module(i)
            if i % 3 == 0:
                module = module.half()
            suffix = (".pt", ".pth", ".bin", ".ckpt")[i % 4]
            torch.save(
                module.state_dict(),
                stem.with_suffix(suffix),
                _use_new_zipfile_serialization=kind == "torch-zip",
            )
        elif kind in ("optimizer-zip", "optimizer-legacy"):
            module = _small_module(i)
            opt = (
                torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
                if i % 2
                else torch.optim.Adam(module.parameters(), lr=1e-3)
            )
            for p in module.parameters():
                p.grad = torch.randn_like(p)
            opt.step()
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
            state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": i}
            torch.save(
                state,
                stem.with_suffix(".pt"),
                _use_new_zipfile_serialization=kind == "optimizer-zip",
            )
        elif kind == "npy":
            shape = (64 + i, 32) if i % 2 else (16, 16, 8 + i % 5)
            dtype = (np.float32, np.float64, np.int32, np.float16)[i % 4]
            np.save(stem.with_suffix(".npy"), rng.standard_normal(shape).astype(dtype))
        elif kind == "npy-object":
            objs = np.empty(20 + i % 9, dtype=object)
            for k in range(len(objs)):
                objs[k] = {"id": k, "label": f"class-{k % 5}", "box": [k, k + 1, 2 * k, 3.5]}
            np.save(stem.with_suffix(".npy"), objs, allow_pickle=True)
        elif kind == "npz":
            arrays = {f"w{k}": rng.standard_normal((32, 16 + k)) for k in range(2 + i % 4)}
            save = np.savez_compressed if i % 2 else np.savez
            save(stem.with_suffix(".npz"), ids=np.arange(100, dtype=np.int64), **arrays)
        elif kind == "npz-object":
            tokens = np.array([f"tok{k}" for k in range(50)], dtype=object)
            ragged = np.empty(3, dtype=object)
            ragged[:] = [np.arange(3), np.arange(5.0), [1, "a"]]
            np.savez(stem.with_suffix(".npz"), tokens=tokens, ragged=ragged, w=rng.random((8, 8)))
        elif kind == "joblib":
            match i % 4:
                case 0:
                    est: object = LogisticRegression(max_iter=200).fit(x, y)
                case 1:
                    est = make_pipeline(StandardScaler(), PCA(4), LogisticRegression()).fit(x, y)
                case 2:
                    est = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=i).fit(
                        x, y
                    )
                case _:
                    est = StandardScaler().fit(x)
            joblib.dump(est, stem.with_suffix(".joblib"), compress=3 if i % 3 == 0 else 0)
        else:
            d = 64 + 16 * (i % 4)
            tensors = [
                ("embed.weight", "float32", (1000, d)),
                ("layer.weight", "float16", (d, d)),
                ("layer.bias", "float32", (d,)),
                ("positions", "int64", (1, 256)),
            ]
            _write_safetensors(stem.with_suffix(".safetensors"), tensors, seed + i)


def build_perf_corpus(root: Path, spec: CorpusSpec, log=print) -> Path:
    """Build (or reuse) the performance corpus under ``root``; returns ``root``."""
    payload = {"spec": asdict(spec)}
    if _marker_ok(root, payload):
        log(f"corpus: reusing {root}")
        return root
    import torch

    _marker(root).unlink(missing_ok=True)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    layouts = [
        ("llm-fp32", "pytorch_model.bin", 768, "float32"),
        ("vision-fp16", "model.pt", 1024, "float16"),
        ("encoder-bf16", "checkpoint.pth", 512, "bfloat16"),
    ]
    for k, target in enumerate(spec.zip_targets):
        folder, name, d, dtype = layouts[k % len(layouts)]
        (root / folder).mkdir()
        log(f"corpus: torch zip {folder}/{name} (~{target // MB} MB, {dtype})")
        sd = _transformer_state_dict(target, d, dtype, seed=k)
        torch.save(sd, root / folder / name)
        del sd
    log(f"corpus: legacy torch.save (~{spec.legacy_target // MB} MB)")
    (root / "legacy").mkdir()
    sd = _legacy_state_dict(spec.legacy_target, seed=11)
    torch.save(sd, root / "legacy" / "resnet_legacy.pth", _use_new_zipfile_serialization=False)
    del sd
    log(f"corpus: numpy pickle (~{spec.numpy_target // MB} MB, protocol 4)")
    (root / "numpy").mkdir()
    _numpy_pickle(root / "numpy" / "features.pkl", spec.numpy_target, seed=12)
    log(f"corpus: safetensors shards (~{spec.safetensors_target // MB} MB)")
    (root / "sharded").mkdir()
    _safetensors_shards(
        root / "sharded", spec.safetensors_target, seed=13, count=spec.safetensors_shards
    )
    log(f"corpus: {spec.small_count} small checkpoints")
    (root / "runs").mkdir()
    _small_checkpoints(root / "runs", spec.small_count, seed=14)
    if spec.mixed_count:
        log(f"corpus: {spec.mixed_count} small mixed files (torch, numpy, sklearn, safetensors)")
        (root / "mixed").mkdir()
        _mixed_small(root / "mixed", spec.mixed_count, seed=15)
    _write_marker(root, payload)
    return root


# ---------------------------------------------------------------------------------------------
# small real benign files (false-alarm set)
# ---------------------------------------------------------------------------------------------

REAL_BENIGN_VERSION = 2


def build_real_benign(root: Path, log=print) -> list[tuple[str, Path]]:
    """Small real files, each in its own folder. Returns ``(name, file)`` pairs."""
    import joblib
    import numpy as np
    import pandas as pd
    import sklearn
    import torch
    from sklearn.ensemble import RandomForestClassifier
    from torch import nn

    names = {
        "torch-state-dict-zip": "model.pt",
        "torch-state-dict-legacy": "model_legacy.pt",
        "torch-whole-module": "module.pt",
        "sklearn-rf-joblib": "forest.joblib",
        "sklearn-rf-joblib-compress3": "forest_z.joblib",
        "pandas-dataframe": "frame.pkl",
        "numpy-npy": "array.npy",
        "numpy-npz": "arrays.npz",
    }
    payload = {
        "version": REAL_BENIGN_VERSION,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }
    out = [(n, root / n / f) for n, f in names.items()]
    if _marker_ok(root, payload):
        log(f"benign-real: reusing {root}")
        return out
    _marker(root).unlink(missing_ok=True)
    if root.exists():
        shutil.rmtree(root)
    for n in names:
        (root / n).mkdir(parents=True)
    log("benign-real: writing small real files")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    files = dict(out)
    torch.save(net.state_dict(), files["torch-state-dict-zip"])
    torch.save(
        net.state_dict(), files["torch-state-dict-legacy"], _use_new_zipfile_serialization=False
    )
    torch.save(net, files["torch-whole-module"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    rf = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(x, y)
    joblib.dump(rf, files["sklearn-rf-joblib"])
    joblib.dump(rf, files["sklearn-rf-joblib-compress3"], compress=3)
    df = pd.DataFrame(
        {
            "a": np.arange(100),
            "b": rng.standard_normal(100),
            "c": pd.Categorical(["x", "y"] * 50),
            "d": pd.date_range("2024-01-01", periods=100, freq="h"),
            "e": [f"s{i}" for i in range(100)],
        }
    )
    df.to_pickle(files["pandas-dataframe"])
    np.save(files["numpy-npy"], rng.standard_normal((64, 64)).astype(np.float32))
    np.savez(
        files["numpy-npz"],
        weights=rng.standard_normal((32, 32)),
        ids=np.arange(10, dtype=np.int32),
    )
    _write_marker(root, payload)
    return out


def dir_size(root: Path) -> int:
    return sum(p.stat().st_size for p in corpus_files(root))


def warm_page_cache(paths: list[Path], chunk: int = 8 << 20) -> int:
    """Read every file once so each tool sees a warm page cache. Returns bytes read."""
    total = 0
    for p in paths:
        with p.open("rb", buffering=0) as fh:
            while True:
                b = fh.read(chunk)
                if not b:
                    break
                total += len(b)
    # No data is kept: the point is the kernel page cache.
    os.sync()
    return total


# ---------------------------------------------------------------------------------------------
# payload scaling: same pickle structure, 1000x the bytes
# ---------------------------------------------------------------------------------------------


def build_scaling(root: Path, *, quick: bool, log=print) -> Path:
    """Pairs of files with the same structure (40 named arrays) and payloads of ~0.2 MB and
    ~200 MB (~13 MB with ``quick``): numpy pickle, torch zip, legacy torch; plus a numpy pickle
    and a torch zip of 4000 small arrays (100x the structure, ~20 MB)."""
    import numpy as np
    import torch

    big = (256, 320) if quick else (1024, 1280)
    payload = {"version": 2, "big": list(big)}
    if _marker_ok(root, payload):
        log(f"scaling: reusing {root}")
        return root
    _marker(root).unlink(missing_ok=True)
    if root.exists():
        shutil.rmtree(root)
    log("scaling: writing same-structure pairs")
    for label, shape in (("small", (32, 40)), ("large", big)):
        rng = np.random.default_rng(0)
        arrays = {f"layer{i:02d}": rng.standard_normal(shape, dtype=np.float32) for i in range(40)}
        d = root / f"numpy-pickle-{label}"
        d.mkdir(parents=True)
        with (d / "arrays.pkl").open("wb") as fh:
            pickle.dump(arrays, fh, protocol=4)
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
        d = root / f"torch-zip-{label}"
        d.mkdir()
        torch.save(tensors, d / "model.pt")
        d = root / f"torch-legacy-{label}"
        d.mkdir()
        torch.save(tensors, d / "model.pt", _use_new_zipfile_serialization=False)
    # 100x the structure of the -small files (4000 arrays), a tenth of the -large payload.
    rng = np.random.default_rng(0)
    many = {f"layer{i:04d}": rng.standard_normal((32, 40), dtype=np.float32) for i in range(4000)}
    d = root / "numpy-pickle-4000-small"
    d.mkdir()
    with (d / "arrays.pkl").open("wb") as fh:
        pickle.dump(many, fh, protocol=4)
    d = root / "torch-zip-4000-small"
    d.mkdir()
    torch.save({k: torch.from_numpy(v) for k, v in many.items()}, d / "model.pt")
    _write_marker(root, payload)
    return root
