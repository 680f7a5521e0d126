"""Draft cards and the EU AI Act drafts carry the known facts and mark the gaps."""

from __future__ import annotations

import json

from modeltrust.cards.draft import render_draft
from modeltrust.cards.euaiact import (
    open_source_exemption,
    render_annex_xii,
    render_training_summary,
)
from modeltrust.cards.markdown import PLACEHOLDER
from modeltrust.licenses.card import parse_card
from tests.cards.conftest import (
    CONFIG,
    TEMPLATE_ONLY,
    WEIGHTS,
    Build,
    coverage_of,
    rich_files,
    safetensors_bytes,
)
from tests.hubserver import card

FACTS_ONLY = {
    "README.md": card(
        "",
        license="apache-2.0",
        datasets=["acme/reviews"],
        base_model="acme/base",
        pipeline_tag="text-classification",
        **{
            "model-index": [
                {
                    "name": "m",
                    "results": [
                        {
                            "task": {"type": "t"},
                            "dataset": {"name": "Acme Reviews", "type": "acme/reviews"},
                            "metrics": [{"type": "accuracy", "value": 0.93}],
                        }
                    ],
                }
            ]
        },
    ),
    "config.json": json.dumps(CONFIG),
    "model.safetensors": safetensors_bytes(WEIGHTS),
}


def test_draft_holds_every_known_fact_and_marks_gaps(build: Build) -> None:
    build({"README.md": card("# base\n", license="apache-2.0")}, "acme/base")
    report = coverage_of(build(FACTS_ONLY))
    text = render_draft(report, tool_version="9.9")
    meta = parse_card(text)
    assert meta.problem is None
    assert meta.data["license"] == "apache-2.0"
    assert meta.data["base_model"] == "acme/base"
    assert meta.data["datasets"] == ["acme/reviews"]
    assert "# MISSING: language" in text
    assert "**License:** apache-2.0" in text
    assert "acme/base" in text and "(finetune" in text
    assert "48 (48; BF16 8, F32 40)" in text
    assert "BertForSequenceClassification (model_type bert)" in text
    assert "| t | Acme Reviews |  | accuracy | 0.93 | model-index |" in text
    assert "- `acme/reviews`" in text
    assert "[MISSING: what the model is for, and who should use it" in text
    assert "[MISSING: known limitations, biases and risks" in text
    assert text.count("[MISSING:") >= 10


def test_draft_keeps_the_cards_own_words(build: Build) -> None:
    text = render_draft(coverage_of(build(rich_files())), tool_version="9.9")
    assert "Classify English product reviews as positive or negative" in text
    assert "Sarcasm and mixed reviews are often misclassified" in text
    assert "**Developed by:** Acme Research" in text
    assert "[MISSING:" not in text.split("## Uses", 1)[1].split("## Environmental", 1)[0]


def test_draft_of_a_template_card_drops_placeholders(build: Build) -> None:
    text = render_draft(coverage_of(build({"README.md": TEMPLATE_ONLY})), tool_version="9.9")
    assert PLACEHOLDER.search(text) is None
    assert "[MISSING: the licence" in text


def test_annex_xii_sheet(build: Build) -> None:
    report = coverage_of(build(FACTS_ONLY))
    sheet = render_annex_xii(report, tool_version="9.9")
    assert "### (h) Licence\n\napache-2.0" in sheet
    assert "Parameters: 48 (48; BF16 8, F32 40)" in sheet
    assert "Maximum input size: 512 tokens" in sheet
    assert "Datasets named in the card metadata: `acme/reviews`" in sheet
    assert "Release date: [MISSING: the release date" in sheet
    assert "[MISSING: the tasks the model is for" in sheet
    assert "Open-source exemption (Art. 53(2)):** likely" in sheet
    assert "not legal advice" in sheet


def test_training_summary_skeleton(build: Build) -> None:
    build({"README.md": card("# base\n", license="apache-2.0")}, "acme/base")
    summary = render_training_summary(coverage_of(build(FACTS_ONLY)), tool_version="9.9")
    assert "## 1. General information" in summary
    assert "## 2. List of data sources" in summary
    assert "## 3. Relevant data-processing aspects" in summary
    assert "- `acme/reviews` (named in the card metadata" in summary
    assert "acme/base" in summary
    assert "*(unverified)*" in summary
    assert "[MISSING: measures taken before and during collection to honour TDM" in summary


def test_exemption_is_uncertain_for_restrictive_licences(build: Build) -> None:
    files = {"README.md": card("# m\n", license="llama3.1")}
    exemption = open_source_exemption(coverage_of(build(files)).facts)
    assert exemption.outcome == "uncertain" and "llama3.1" in exemption.reason
    none = open_source_exemption(coverage_of(build({"README.md": "# m\n"}, "acme/none")).facts)
    assert none.outcome == "not applicable"
