"""A draft model card: the Hub template's outline, filled with every fact modeltrust knows.

The draft is for the person who must publish or complete the card. Facts read from the repo
(licence, base models, datasets, parameter count, architecture, evaluation results) are written
with where they came from; text the card already has is carried over under the matching
heading, minus template placeholders; everything else is an explicit ``[MISSING: ...]`` gap
saying what to write and which standards ask for it, so a reviewer can grep for what is left.
"""

from __future__ import annotations

from collections.abc import Iterable

from modeltrust.cards.coverage import CoverageReport
from modeltrust.cards.facts import ModelFacts
from modeltrust.cards.markdown import clean_text

GAP = "[MISSING: {what}]"
_FRONT_KEYS = (
    "license",
    "license_name",
    "license_link",
    "base_model",
    "base_model_relation",
    "datasets",
    "language",
    "pipeline_tag",
    "library_name",
    "tags",
)


def gap(what: str, asked: Iterable[str] = ()) -> str:
    """A marked gap; ``asked`` names the standards' items that ask for it."""
    refs = "; ".join(dict.fromkeys(asked))
    return GAP.format(what=f"{what} (asked by {refs})" if refs else what)


def asked_by(report: CoverageReport, *item_ids: str) -> list[str]:
    out = []
    for item_id in item_ids:
        item = report.result(item_id).item
        out.append(f"{_STANDARD_SHORT.get(item.standard, item.standard)} {item.ref}")
    return out


_STANDARD_SHORT = {
    "model-cards": "Model Cards",
    "hf-template": "HF template",
    "eu-annex-xii": "EU AI Act",
    "eu-annex-xi": "EU AI Act",
}


def carried(report: CoverageReport, item_id: str) -> str:
    """The card's own text for an item, cleaned of placeholders ("" when it has none)."""
    result = report.result(item_id)
    if result.status != "present" or not result.text:
        return ""
    return clean_text(result.text, result.item.placeholder)


def format_params(facts: ModelFacts) -> str | None:
    p = facts.parameters
    if p is None:
        if facts.architecture.size_label:
            return f"{facts.architecture.size_label} (GGUF general.size_label)"
        return None
    dtypes = ", ".join(f"{d} {n:,}" for d, n in p.by_dtype.items())
    partial = (
        "" if p.complete else "; some weight files could not be read, so this is a lower bound"
    )
    return f"{p.total:,} ({_human(p.total)}; {dtypes}) from the headers of {len(p.files)} safetensors file(s){partial}"


def _human(n: int) -> str:
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def format_architecture(facts: ModelFacts) -> str | None:
    a = facts.architecture
    if not a.known:
        return None
    parts = [", ".join(a.architectures) or a.model_type or ""]
    if a.architectures and a.model_type:
        parts[0] += f" (model_type {a.model_type})"
    if a.peft_type:
        parts.append(f"{a.peft_type} adapter")
    details = [
        f"{label} {value:,}"
        for label, value in (
            ("hidden size", a.hidden_size),
            ("layers", a.layers),
            ("attention heads", a.attention_heads),
            ("vocabulary", a.vocab_size),
            ("context length", a.context_length),
        )
        if value
    ]
    if a.dtype:
        details.append(f"dtype {a.dtype}")
    if a.quantization:
        details.append(f"quantization {a.quantization}")
    text = "; ".join(p for p in parts if p)
    return f"{text} — {', '.join(details)}" if details else text


def format_license(facts: ModelFacts) -> str | None:
    declared = ", ".join(facts.declared_licenses) or ", ".join(facts.license_ids)
    if not declared and not facts.effective_licenses:
        return None
    text = declared or "none declared by the card"
    if facts.license_name:
        text += f" ({facts.license_name})"
    if facts.license_link:
        text += f", {facts.license_link}"
    inherited = [e for e in facts.effective_licenses if e not in facts.license_ids]
    if inherited:
        text += f"; also bound by {', '.join(inherited)} through its base models (modeltrust licence check)"
    return text


def format_bases(facts: ModelFacts) -> str | None:
    if not facts.base_models:
        return None
    return "; ".join(
        f"{b.repo_id or b.name}"
        + (f"@{b.revision[:12]}" if b.revision else "")
        + (f" ({b.relation})" if b.relation else "")
        + (f", licence {', '.join(b.licenses)}" if b.licenses else "")
        + ("" if b.status == "ok" else f" — {b.status.replace('_', ' ')}")
        for b in facts.base_models
    )


def eval_table(facts: ModelFacts) -> str:
    rows = ["| Task | Dataset | Split | Metric | Value | Source |", "|---|---|---|---|---|---|"]
    for m in facts.eval_results:
        cells = (
            m.task,
            m.dataset,
            m.split,
            m.metric_name or m.metric,
            m.value,
            m.source or m.origin,
        )
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def _cell(value: str | None) -> str:
    return (value or "").replace("|", "\\|").replace("\n", " ")


def front_matter(facts: ModelFacts) -> str:
    """The card metadata: what the card declares, completed from what the repo shows."""
    import yaml

    data: dict[str, object] = {k: v for k, v in facts.metadata.data.items() if isinstance(k, str)}
    if "license" not in data and facts.license_ids:
        data["license"] = facts.license_ids[0]
    bases = [b.repo_id for b in facts.base_models if b.repo_id]
    if "base_model" not in data and bases:
        data["base_model"] = bases[0] if len(bases) == 1 else bases
        relation = facts.base_models[0].relation
        if relation and "base_model_relation" not in data:
            data["base_model_relation"] = relation
    if "datasets" not in data and facts.datasets:
        data["datasets"] = list(facts.datasets)
    ordered = {k: data[k] for k in _FRONT_KEYS if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    try:
        text = (
            yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)
            if ordered
            else ""
        )
    except yaml.YAMLError:
        text = ""
    missing = [k for k in ("license", "datasets", "language", "pipeline_tag") if k not in ordered]
    notes = "".join(f"# MISSING: {k}\n" for k in missing)
    return f"---\n{text}{notes}---\n"


def render_draft(report: CoverageReport, *, tool_version: str) -> str:
    facts = report.facts
    body = report.facts.body
    title = body.title or facts.name
    if not title.lower().startswith("model card"):
        title = f"Model Card for {title}"
    lines: list[str] = [front_matter(facts), f"# {title}", ""]
    lines += [
        (
            f"> Draft written by modeltrust {tool_version} from `{facts.display}`. Facts read from the "
            "repo name their source; text from the existing card is kept; every `[MISSING: ...]` is "
            "a gap to fill. Review all of it before publishing."
        ),
        "",
    ]
    used: dict[str, str] = {}

    def own(item_id: str, heading: str) -> str:
        text = carried(report, item_id)
        if not text:
            return ""
        if text in used:
            return f"See *{used[text]}* above."
        used[text] = heading
        return text

    def section(
        title: str, level: int, item_id: str, what: str, extra: list[str] | None = None
    ) -> None:
        lines.append(f"{'#' * level} {title}")
        lines.append("")
        text = own(item_id, title)
        content = [*(extra or []), *(["", text] if text and extra else [text] if text else [])]
        lines.extend(content or [gap(what, asked_by(report, item_id))])
        lines.append("")

    intro = own("hf-model-description", "Model Description")
    lines += [
        intro
        or gap(
            "a one-paragraph summary of what the model is and does",
            asked_by(report, "hf-model-description", "mc-model-details"),
        ),
        "",
    ]
    lines += ["## Model Details", "", "### Model Description", ""]
    field = _fields(report, facts)
    lines += [f"- **{label}:** {value}" for label, value in field]
    lines.append("")
    lines += ["### Model Sources", ""]
    lines.append(f"- **Repository:** {facts.hub_url or gap('the repository URL')}")
    if facts.revision:
        lines.append(f"- **Revision:** `{facts.revision}`")
    lines.append("")
    lines += ["## Uses", ""]
    section("Direct Use", 3, "hf-direct-use", "what the model is for, and who should use it")
    section(
        "Downstream Use",
        3,
        "hf-downstream-use",
        "how it can be fine-tuned or built into a larger system",
    )
    section("Out-of-Scope Use", 3, "hf-out-of-scope", "uses it is not suited or not permitted for")
    section(
        "Bias, Risks, and Limitations",
        2,
        "hf-bias-risks-limitations",
        "known limitations, biases and risks",
    )
    section("Recommendations", 3, "hf-recommendations", "what users should do about those risks")
    section(
        "How to Get Started with the Model",
        2,
        "hf-get-started",
        "code or instructions to run the model",
    )
    lines += ["## Training Details", ""]
    data = [f"- `{d}`" for d in facts.datasets]
    if data:
        data.insert(0, "Datasets declared in the card metadata:\n")
    section(
        "Training Data",
        3,
        "hf-training-data",
        "the training data: what, where from, how curated",
        data,
    )
    section(
        "Training Procedure",
        3,
        "hf-training-procedure",
        "preprocessing, hyperparameters and training regime",
    )
    lines += ["## Evaluation", ""]
    results = [eval_table(facts)] if facts.eval_results else []
    section("Results", 3, "hf-evaluation", "evaluation data, metrics and results", results)
    section(
        "Environmental Impact",
        2,
        "hf-environmental-impact",
        "hardware, hours used, cloud provider, region and carbon emitted",
    )
    arch = format_architecture(facts)
    tech = [f"- **Architecture:** {arch}"] if arch else []
    params = format_params(facts)
    if params:
        tech.append(f"- **Parameters:** {params}")
    section(
        "Technical Specifications",
        2,
        "hf-technical-specifications",
        "architecture, objective and compute infrastructure",
        tech,
    )
    section("Citation", 2, "hf-citation", "how to cite the model (BibTeX)")
    section("Model Card Contact", 2, "hf-card-contact", "who to contact about the model")
    return "\n".join(lines).rstrip("\n") + "\n"


def _fields(report: CoverageReport, facts: ModelFacts) -> list[tuple[str, str]]:
    def field_value(item_id: str) -> str | None:
        text = carried(report, item_id)
        return " ".join(text.split())[:300] if text else None

    arch = format_architecture(facts)
    model_type = " ".join(p for p in (facts.pipeline_tag, f"({arch})" if arch else "") if p) or None
    languages = ", ".join(facts.languages) or None
    return [
        (
            "Developed by",
            field_value("hf-developed-by")
            or gap("the developer", asked_by(report, "hf-developed-by")),
        ),
        (
            "Model type",
            model_type
            or field_value("hf-model-type")
            or gap("the model type", asked_by(report, "hf-model-type")),
        ),
        (
            "Language(s)",
            languages
            or field_value("hf-language")
            or gap("the languages", asked_by(report, "hf-language")),
        ),
        (
            "License",
            format_license(facts)
            or gap("the licence", asked_by(report, "hf-license", "xii-1h-license")),
        ),
        ("Finetuned from model", format_bases(facts) or "none declared"),
        (
            "Parameters",
            format_params(facts)
            or gap("the number of parameters", asked_by(report, "xii-1f-architecture")),
        ),
    ]
