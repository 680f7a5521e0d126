"""Coverage on rich, minimal, template-only, metadata-only and missing cards."""

from __future__ import annotations

import json

from modeltrust.cards.coverage import assess_coverage
from modeltrust.cards.facts import collect_facts
from modeltrust.findings import Severity
from modeltrust.sources import open_source
from tests.cards.conftest import (
    CONFIG,
    TEMPLATE_ONLY,
    Build,
    coverage_of,
    rich_files,
    rule_ids,
)
from tests.hubserver import card

MUST_HAVE_ITEMS = (
    "hf-direct-use",
    "hf-bias-risks-limitations",
    "hf-training-data",
    "hf-evaluation",
    "hf-license",
)


def test_rich_card_covers_every_standard(build: Build) -> None:
    report = coverage_of(build(rich_files()))
    scores = {s.standard: s.score for s in report.scores}
    assert scores["hf-template"] == 1.0
    assert scores["model-cards"] == 1.0
    assert scores["eu-annex-xii"] == 1.0
    assert scores["eu-annex-xi"] == 1.0
    assert report.overall == 1.0
    assert "MT-DOC-001" not in rule_ids(report)
    assert "MT-DOC-002" not in rule_ids(report)
    assert report.result("hf-direct-use").evidence.startswith("section 'Direct Use'")


def test_template_only_card_counts_as_missing(build: Build) -> None:
    report = coverage_of(build({"README.md": TEMPLATE_ONLY}))
    hf = next(s for s in report.scores if s.standard == "hf-template")
    assert hf.score == 0.0
    assert hf.present == 0 and hf.placeholder >= 15
    for item_id in MUST_HAVE_ITEMS:
        assert report.result(item_id).status == "placeholder", item_id
    must = [f for f in report.findings if f.rule_id == "MT-DOC-001"]
    assert len(must) == 5
    assert all("placeholder" in f.message for f in must if "licence" not in f.message)
    assert rule_ids(report).count("MT-DOC-002") >= 10
    assert "MT-DOC-005" in rule_ids(report)  # no prose beyond template text
    assert report.overall < 0.05


def test_trainer_placeholder_is_recognised(build: Build) -> None:
    text = "# m\n\n## Intended uses & limitations\n\nMore information needed\n"
    report = coverage_of(build({"README.md": text}))
    assert report.result("hf-direct-use").status == "placeholder"
    assert "MT-DOC-002" in rule_ids(report)


def test_minimal_card(build: Build) -> None:
    text = card(
        "# Tiny\n\nTiny is a small test model that classifies short English sentences by topic.\n",
        license="mit",
    )
    report = coverage_of(build({"README.md": text}))
    assert report.result("hf-model-description").status == "present"
    assert report.result("hf-model-description").evidence.startswith("the introduction")
    assert report.result("hf-license").status == "present"
    assert report.result("hf-direct-use").status == "missing"
    topics = [f.message for f in report.findings if f.rule_id == "MT-DOC-001"]
    assert len(topics) == 4 and not any("licence" in m for m in topics)
    assert 0 < report.overall < 0.35


def test_metadata_only_card(build: Build) -> None:
    text = card(
        "",
        license="apache-2.0",
        datasets=["imdb"],
        pipeline_tag="text-classification",
        language=["en"],
    )
    report = coverage_of(build({"README.md": text, "config.json": json.dumps(CONFIG)}))
    assert "MT-DOC-005" in rule_ids(report)
    assert report.result("hf-training-data").status == "present"
    assert report.result("hf-training-data").evidence == "metadata 'datasets': imdb"
    assert report.result("hf-language").status == "present"
    assert report.result("xii-2b-max-size").status == "present"  # config.json context length
    assert report.result("hf-direct-use").status == "missing"
    messages = " ".join(f.message for f in report.findings if f.rule_id == "MT-DOC-001")
    assert "intended use" in messages and "training data" not in messages


def test_no_card_is_high(build: Build) -> None:
    report = coverage_of(build({"config.json": json.dumps(CONFIG)}))
    assert report.findings[0].rule_id == "MT-DOC-004"
    assert report.findings[0].severity == Severity.HIGH
    assert rule_ids(report).count("MT-DOC-001") == 5
    assert report.result("hf-technical-specifications").status == "present"  # from config.json
    assert report.overall < 0.2


def test_unparsable_metadata(build: Build) -> None:
    report = coverage_of(
        build({"README.md": "---\nlicense: [unclosed\n---\n# m\n\nSome words here.\n"})
    )
    assert "MT-DOC-003" in rule_ids(report)


def test_empty_heading_is_a_placeholder_not_present(build: Build) -> None:
    report = coverage_of(
        build({"README.md": "# m\n\n## Training data\n\n## Evaluation\n\nGood.\n"})
    )
    result = report.result("hf-training-data")
    assert result.status == "placeholder" and "holds nothing" in result.evidence
    assert report.result("hf-evaluation").status == "present"


def test_heading_synonyms(build: Build) -> None:
    text = (
        "# m\n\n## 2. Intended Uses & Limitations\n\nFor demos only; fails on long inputs.\n\n"
        "## Limitations and Biases\n\nIt is English only.\n\n"
        "Training dataset\n----------------\n\nWikipedia dumps.\n\n"
        "<h2>Benchmark results</h2>\n\nSee the table.\n"
    )
    report = coverage_of(build({"README.md": text}))
    assert report.result("hf-direct-use").status == "present"
    assert report.result("hf-bias-risks-limitations").evidence.startswith("section 'Limitations")
    assert report.result("hf-training-data").evidence.startswith("section 'Training dataset'")
    assert report.result("hf-evaluation").evidence.startswith("section 'Benchmark results'")


def test_headings_in_code_blocks_are_ignored(build: Build) -> None:
    text = "# m\n\n```\n## Training Data\nnot a heading\n```\n"
    report = coverage_of(build({"README.md": text}))
    assert report.result("hf-training-data").status == "missing"


def test_hub_repo_is_read_like_a_folder(hub, build: Build) -> None:  # type: ignore[no-untyped-def]
    hub.add_repo("acme/base-encoder", {"README.md": card("# base\n", license="apache-2.0")})
    sha = hub.add_repo("acme/sentiment-1", rich_files())
    local = coverage_of(build(rich_files()))
    remote = coverage_of("acme/sentiment-1")
    assert remote.facts.revision == sha
    assert remote.overall == local.overall == 1.0
    assert remote.facts.parameters is not None and remote.facts.parameters.total == 48
    assert remote.facts.base_models[0].repo_id == "acme/base-encoder"
    assert remote.facts.base_models[0].licenses == ("apache-2.0",)


def test_gated_hub_repo_uses_card_metadata(hub) -> None:  # type: ignore[no-untyped-def]
    files = {
        "README.md": card(
            "# g\n\nA gated model for tests with a long enough intro.\n",
            license="mit",
            datasets=["d/one"],
        ),
        "model.safetensors": b"\0" * 16,
    }
    hub.add_repo("acme/gated", files, gated="manual")
    report = assess_coverage(collect_facts(open_source("acme/gated")))
    assert report.result("hf-license").status == "present"
    assert report.facts.datasets == ("d/one",)
    assert "MT-DOC-006" in rule_ids(report)  # the safetensors header is refused
