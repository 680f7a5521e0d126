"""Fixtures for the documentation tests: model folders and Hub repos built from small text files
and safetensors headers written byte by byte (no tensor data is ever loaded)."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from modeltrust.cards.coverage import CoverageReport, assess_coverage
from modeltrust.cards.facts import collect_facts
from modeltrust.sources import open_source
from tests.hubserver import HubServer, card, running_hub

_BITS = {"F32": 32, "F16": 16, "BF16": 16, "I8": 8}


def safetensors_bytes(tensors: Mapping[str, tuple[str, list[int]]]) -> bytes:
    """A valid safetensors file holding zero-filled tensors of the given dtypes and shapes."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = 1
        for d in shape:
            n *= d
        size = n * _BITS[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"\0" * offset


RICH_BODY = """# Acme Sentiment 1

Acme Sentiment 1 is a compact encoder that classifies the sentiment of English product reviews
into positive and negative, built for review moderation dashboards.

## Model Details

### Model Description

- **Developed by:** Acme Research
- **Model type:** encoder-only transformer classifier
- **Language(s):** English
- **License:** apache-2.0
- **Finetuned from model:** acme/base-encoder

### Model Sources

- **Repository:** https://example.org/acme/sentiment
- **Paper:** https://example.org/paper

## Uses

### Direct Use

Classify English product reviews as positive or negative in moderation tools.

### Downstream Use

Fine-tune on other review domains such as hotels or restaurants.

### Out-of-Scope Use

Not for medical, legal or employment decisions, nor for languages other than English.

## Bias, Risks, and Limitations

Sarcasm and mixed reviews are often misclassified; reviews by non-native writers score lower.

### Recommendations

Keep a human in the loop for any decision that affects a person.

## How to Get Started with the Model

```python
from transformers import pipeline
classifier = pipeline("text-classification", model="acme/sentiment-1")
```

## Training Details

### Training Data

Two hundred thousand public product reviews from acme/reviews, deduplicated and filtered for
spam and personal data.

### Training Procedure

Three epochs with AdamW, learning rate 2e-5, batch size 32, mixed precision bf16.

## Evaluation

### Testing Data, Factors & Metrics

Held-out test split of acme/reviews; accuracy and F1, sliced by review length.

### Results

Accuracy 0.93 on the test split.

## Model Examination

Attention attribution shows reliance on sentiment words.

## Environmental Impact

- **Hardware Type:** 1x A100
- **Hours used:** 6
- **Carbon Emitted:** 0.8 kg CO2eq

## Technical Specifications

### Model Architecture and Objective

BERT-style encoder with a classification head, cross-entropy objective.

## Citation

**BibTeX:** @misc{acme2025, title={Acme Sentiment 1}}

## Glossary

Sentiment: the polarity of an opinion.

## More Information

See the project page.

## Model Card Authors

Acme Research documentation team.

## Model Card Contact

models@example.org

## Acceptable Use Policy

Do not use the model to profile individuals.

## Release Date

Released 2025-03-01 on the Hugging Face Hub.

## Software Requirements

Runs with transformers 4.40 or later and PyTorch 2.2 on CPU or GPU.

## Context Length

Inputs up to 512 tokens.

## Data Curation

Reviews were deduplicated, filtered for spam with a classifier, and scrubbed of e-mail addresses.

## Compute

Six GPU hours on one A100, about 2e18 FLOP.
"""

RICH_META: dict[str, object] = {
    "license": "apache-2.0",
    "language": ["en"],
    "datasets": ["acme/reviews"],
    "base_model": "acme/base-encoder",
    "pipeline_tag": "text-classification",
    "library_name": "transformers",
    "model-index": [
        {
            "name": "acme-sentiment-1",
            "results": [
                {
                    "task": {"type": "text-classification"},
                    "dataset": {"name": "Acme Reviews", "type": "acme/reviews", "split": "test"},
                    "metrics": [
                        {"type": "accuracy", "value": 0.93},
                        {"type": "f1", "value": 0.91},
                    ],
                }
            ],
        }
    ],
}

TEMPLATE_ONLY = """# Model Card for Model ID

<!-- Provide a quick summary of what the model is/does. -->

## Model Details

### Model Description

<!-- Provide a longer summary of what this model is. -->

- **Developed by:** [More Information Needed]
- **Funded by [optional]:** [More Information Needed]
- **Shared by [optional]:** [More Information Needed]
- **Model type:** [More Information Needed]
- **Language(s) (NLP):** [More Information Needed]
- **License:** [More Information Needed]
- **Finetuned from model [optional]:** [More Information Needed]

### Model Sources [optional]

- **Repository:** [More Information Needed]
- **Paper [optional]:** [More Information Needed]
- **Demo [optional]:** [More Information Needed]

## Uses

### Direct Use

[More Information Needed]

### Downstream Use [optional]

[More Information Needed]

### Out-of-Scope Use

[More Information Needed]

## Bias, Risks, and Limitations

[More Information Needed]

### Recommendations

Users (both direct and downstream) should be made aware of the risks. More information needed.

## How to Get Started with the Model

Use the code below to get started with the model.

[More Information Needed]

## Training Details

### Training Data

[More Information Needed]

### Training Procedure

#### Training Hyperparameters

- **Training regime:** [More Information Needed]

## Evaluation

### Testing Data, Factors & Metrics

#### Testing Data

[More Information Needed]

### Results

[More Information Needed]

## Environmental Impact

- **Hardware Type:** [More Information Needed]
- **Hours used:** [More Information Needed]
- **Carbon Emitted:** [More Information Needed]

## Citation [optional]

**BibTeX:**

[More Information Needed]

## Model Card Contact

[More Information Needed]
"""

CONFIG = {
    "architectures": ["BertForSequenceClassification"],
    "model_type": "bert",
    "hidden_size": 4,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "vocab_size": 10,
    "max_position_embeddings": 512,
    "torch_dtype": "float32",
    "transformers_version": "4.40.0",
}
WEIGHTS = {"embeddings.weight": ("F32", [10, 4]), "classifier.weight": ("BF16", [2, 4])}
"""48 parameters: 40 F32 and 8 BF16."""


def rich_files() -> dict[str, bytes | str]:
    return {
        "README.md": card(RICH_BODY, **RICH_META),
        "config.json": json.dumps(CONFIG),
        "model.safetensors": safetensors_bytes(WEIGHTS),
        "LICENSE": "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n",
    }


def write_repo(root: Path, files: Mapping[str, bytes | str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return root


Build = Callable[..., Path]


@pytest.fixture
def build(tmp_path: Path) -> Build:
    """``build(files, name="acme/model")``: a model folder laid out as ``<root>/org/name``."""

    def make(files: Mapping[str, bytes | str], name: str = "acme/model") -> Path:
        return write_repo(tmp_path / "models" / name, files)

    return make


def coverage_of(target: str | Path) -> CoverageReport:
    return assess_coverage(collect_facts(open_source(str(target))))


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    with running_hub(monkeypatch, tmp_path) as server:
        yield server


def rule_ids(report: CoverageReport) -> list[str]:
    return [f.rule_id for f in report.findings]
