"""Facts read for documentation: parameter counts, evaluation results, architecture, hostile input."""

from __future__ import annotations

import json
import struct

from modeltrust.cards.facts import collect_facts
from modeltrust.sources import open_source
from tests.cards.conftest import CONFIG, WEIGHTS, Build, coverage_of, rule_ids, safetensors_bytes
from tests.hubserver import card


def facts_of(path: object):  # type: ignore[no-untyped-def]
    return collect_facts(open_source(str(path)))


def test_parameter_count_and_dtypes(build: Build) -> None:
    facts = facts_of(build({"model.safetensors": safetensors_bytes(WEIGHTS)}))
    assert facts.parameters is not None
    assert facts.parameters.total == 48
    assert facts.parameters.by_dtype == {"BF16": 8, "F32": 40}
    assert facts.parameters.complete


def test_sharded_weights_follow_the_index(build: Build) -> None:
    shard1 = safetensors_bytes({"a": ("F16", [100])})
    shard2 = safetensors_bytes({"b": ("F16", [20])})
    index = {
        "metadata": {"total_size": 240},
        "weight_map": {"a": "model-1.safetensors", "b": "model-2.safetensors"},
    }
    files = {
        "model-1.safetensors": shard1,
        "model-2.safetensors": shard2,
        "model.safetensors.index.json": json.dumps(index),
        # Same weights in another layout (as Mistral repos ship): not counted twice.
        "consolidated.safetensors": safetensors_bytes({"a": ("F16", [100]), "b": ("F16", [20])}),
    }
    facts = facts_of(build(files))
    assert facts.parameters is not None
    assert facts.parameters.total == 120
    assert facts.parameters.files == ("model-1.safetensors", "model-2.safetensors")


def test_malformed_safetensors_header_is_a_finding(build: Build) -> None:
    bad = struct.pack("<Q", 10**12) + b"{}"
    report = coverage_of(build({"README.md": "# m\n", "model.safetensors": bad}))
    assert report.facts.parameters is None
    assert "MT-DOC-006" in rule_ids(report)
    not_json = struct.pack("<Q", 4) + b"{{{{"
    report = coverage_of(build({"README.md": "# m\n", "model.safetensors": not_json}, "acme/other"))
    assert any("not valid JSON" in f.message for f in report.findings)


def test_model_index_is_read_leniently(build: Build) -> None:
    index = [
        {
            "name": "m",
            "results": [
                {
                    "task": {"type": "text-classification"},
                    "dataset": {"name": "IMDB", "type": "imdb", "split": "test"},
                    "metrics": [{"type": "accuracy", "value": 0.9}, {"type": "f1"}, "junk"],
                },
                "not a result",
            ],
        },
        {"name": "no results"},
    ]
    report = coverage_of(build({"README.md": card("# m\n", **{"model-index": index})}))
    metrics = report.facts.eval_results
    assert [(m.metric, m.value, m.dataset, m.split) for m in metrics] == [
        ("accuracy", "0.9", "IMDB", "test")
    ]
    problem = next(f for f in report.findings if f.rule_id == "MT-DOC-006")
    assert "4 entries of 'model-index'" in problem.message


def test_eval_results_folder(build: Build) -> None:
    entries = "- dataset: {id: cais/hle, task_id: default}\n  value: 20.9\n  source: {url: https://example.org/logs}\n"
    files = {
        "README.md": "# m\n",
        ".eval_results/hle.yaml": entries,
        ".eval_results/bad.yaml": "key: [unclosed\n",
    }
    report = coverage_of(build(files))
    assert [(m.dataset, m.value, m.origin) for m in report.facts.eval_results] == [
        ("cais/hle", "20.9", ".eval_results/hle.yaml")
    ]
    assert report.result("hf-evaluation").status == "present"
    assert "MT-DOC-006" in rule_ids(report)


def test_architecture_from_config(build: Build) -> None:
    facts = facts_of(build({"config.json": json.dumps(CONFIG)}))
    arch = facts.architecture
    assert arch.architectures == ("BertForSequenceClassification",)
    assert (arch.model_type, arch.hidden_size, arch.layers, arch.context_length) == (
        "bert",
        4,
        1,
        512,
    )
    assert arch.transformers_version == "4.40.0"


def test_gguf_metadata_supplies_architecture_and_licence(build: Build, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.licenses.conftest import gguf_bytes

    data = gguf_bytes(tmp_path, license="apache-2.0", architecture="llama")
    facts = facts_of(build({"model-Q4.gguf": data}))
    assert facts.architecture.model_type == "llama"
    assert facts.architecture.quantization == "gguf"
    assert facts.license_ids == ("apache-2.0",)


def test_hostile_card_text_does_not_crash(build: Build) -> None:
    garbage = "\x00\xff" * 1000 + "\n#" * 5000 + "\n```\n## unterminated fence"
    deep = "---\n" + "a: " * 1 + "[" * 5000 + "\n---\n"
    report = coverage_of(build({"README.md": garbage.encode("utf-8", "surrogateescape")}))
    assert report.overall < 0.1
    report = coverage_of(build({"README.md": deep}, "acme/deep"))
    assert "MT-DOC-003" in rule_ids(report)
