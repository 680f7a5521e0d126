"""The audit demo: three models on a local Hub, each audited by repo id.

- ``demo/clean-classifier``: safetensors weights, a documented card and an Apache-2.0 licence;
- ``demo/trojaned-classifier``: a PyTorch checkpoint whose pickle would run ``touch <canary>``
  inside ``torch.load`` (built by :mod:`demo.build`);
- ``demo/super-chat-8b``: a fine-tune of ``meta-llama/Llama-3.1-8B`` (also on the demo Hub, under
  the Llama 3.1 licence) whose card says apache-2.0.

The Hub is the Hub-compatible test server from ``tests/hubserver.py`` (reused here rather than
written twice), listening on 127.0.0.1 only and stopped at the end. Each model is audited by a
real ``modeltrust audit org/name`` process with ``HF_ENDPOINT`` pointing at it; the HTML and JSON
reports go to OUT_DIR. The demo exits 0 when every verdict is the one the default policy should
give and the canary file was never created.

Usage: python -m demo.hub OUT_DIR
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from demo.build import benign_checkpoint, trojan_checkpoint
from tests.hubserver import HubServer, card

LLAMA = "meta-llama/Llama-3.1-8B"
EXPECTED = {
    "demo/clean-classifier": ("pass", "warn"),
    "demo/trojaned-classifier": ("fail",),
    "demo/super-chat-8b": ("fail",),
}
"""What the built-in default policy gives: a critical pickle finding and a mislabelled licence
(MT-LIC-003, high) both reach its licence and security fail threshold."""

_CARD_BODY = """
# Clean classifier

A small feed-forward classifier that sorts 16-feature sensor readings into four machine states.
It is a demonstration model for modeltrust and is not meant for production use.

## Intended uses & limitations

Intended use: classifying the operating state of the demo sensor rig from one reading. It must not
be used for decisions about people or for safety-critical control.

## Bias, Risks, and Limitations

The model was trained on readings from one rig; its accuracy on other hardware is unknown and
probably lower. Readings outside the training range give confident but meaningless outputs.

## Training Details

### Training Data

Twenty thousand labelled readings recorded on the demo rig in 2025, split 80/10/10 into
training, validation and test sets by recording day.

### Training Procedure

Two linear layers with a ReLU, trained with SGD (learning rate 0.1) for three epochs.

## Evaluation

### Testing Data, Factors & Metrics

The held-out test split (2,000 readings); accuracy and macro F1.

### Results

Accuracy 0.94 and macro F1 0.93 on the test split.
"""


def safetensors_bytes(tensors: dict[str, tuple[int, ...]]) -> bytes:
    """A valid safetensors file of zero-filled float32 tensors (the format is a JSON header)."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in tensors.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def build(hub: HubServer, work: Path, canary: Path) -> None:
    weights = safetensors_bytes({"0.weight": (32, 16), "0.bias": (32,), "2.weight": (4, 32)})
    hub.add_repo(
        "demo/clean-classifier",
        {
            "README.md": card(
                _CARD_BODY,
                license="apache-2.0",
                library_name="pytorch",
                pipeline_tag="tabular-classification",
                datasets=["demo/sensor-readings"],
            ),
            "LICENSE": "Apache License\nVersion 2.0, January 2004\n",
            "model.safetensors": weights,
            "config.json": json.dumps({"architectures": ["SensorClassifier"], "hidden_size": 32}),
        },
    )
    benign = work / "benign.pt"
    benign_checkpoint(benign)
    trojaned = work / "trojaned.pt"
    trojan_checkpoint(benign, trojaned, canary)
    hub.add_repo(
        "demo/trojaned-classifier",
        {
            "README.md": card(_CARD_BODY.replace("Clean", "Trojaned"), license="apache-2.0"),
            "LICENSE": "Apache License\nVersion 2.0, January 2004\n",
            "pytorch_model.bin": trojaned.read_bytes(),
        },
    )
    hub.add_repo(
        LLAMA,
        {
            "README.md": card("# Llama 3.1 8B (demo stand-in)\n", license="llama3.1"),
            "LICENSE": "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT\n(demo stand-in)\n",
            "config.json": json.dumps({"architectures": ["LlamaForCausalLM"]}),
        },
    )
    hub.add_repo(
        "demo/super-chat-8b",
        {
            "README.md": card(
                "# Super chat 8B\n\nA chat model.\n", license="apache-2.0", base_model=LLAMA
            ),
            "LICENSE": "Apache License\nVersion 2.0, January 2004\n",
            "model.safetensors": safetensors_bytes({"lm_head.weight": (8, 8)}),
            "config.json": json.dumps({"architectures": ["LlamaForCausalLM"]}),
        },
    )


def audit(repo: str, url: str, out: Path) -> str:
    name = repo.split("/", 1)[1]
    html, report = out / f"{name}.html", out / f"{name}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "MODELTRUST_"))}
    env |= {
        "HF_ENDPOINT": url,
        "HF_HOME": str(out / "hf-home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
    }
    command = [sys.executable, "-m", "modeltrust", "audit", repo, "--no-progress", "--no-cache"]
    command += ["--policy", "default", "--html", str(html), "-f", "json", "-o", str(report)]
    done = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        command, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stderr)
        raise SystemExit(f"modeltrust audit {repo} could not run (exit {done.returncode})")
    status = str(json.loads(report.read_text())["verdict"]["status"])
    print(f"  {repo:28} verdict {status.upper():5} (exit {done.returncode})  report: {html}")
    return status


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "demo-out").resolve()
    out.mkdir(parents=True, exist_ok=True)
    canary = out / "PWNED"
    canary.unlink(missing_ok=True)
    ok = True
    with HubServer() as hub, tempfile.TemporaryDirectory() as tmp:
        build(hub, Path(tmp), canary)
        print(f"Demo Hub serving {len(hub.repos)} repos at {hub.url}; auditing each by repo id:")
        for repo, expected in EXPECTED.items():
            status = audit(repo, hub.url, out)
            if status not in expected:
                print(f"  unexpected: {repo} should be {' or '.join(expected)}", file=sys.stderr)
                ok = False
    if canary.exists():
        print(f"{canary} exists: something executed the trojaned pickle!", file=sys.stderr)
        return 1
    print(f"{canary} does not exist: nothing was executed. HTML reports are in {out}/.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
