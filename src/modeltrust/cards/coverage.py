"""How completely a model is documented, item by item, against each standard in the catalogue.

An item is **present** when a matching section or field says something (template placeholder
text, HTML comments and bare labels do not count), or when the card metadata or the repo itself
supplies it (``license:``, ``datasets:``, a ``model-index``, a safetensors header giving the
parameter count). It is a **placeholder** when a matching heading or field exists but holds only
template text or nothing, and **missing** otherwise. Placeholders score like missing items: a
template left unfilled documents nothing.

A standard's score is the weighted share of its items that are present (must-haves weigh 2,
items the standard calls optional 0.5, the rest 1); the overall score is the mean over the
standards. Findings: must-have topics that no standard's item covers, sections still holding
placeholder text, no card, unreadable metadata, a card with no prose, and files that could not
be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modeltrust import rules
from modeltrust.cards.facts import ModelFacts
from modeltrust.cards.markdown import INTRO, PLACEHOLDER, content_words, has_placeholder
from modeltrust.cards.standards import MUST_HAVE_TOPICS, Catalogue, Item, default_catalogue
from modeltrust.findings import Finding, Location, Severity

Status = Literal["present", "placeholder", "missing"]
MIN_INTRO_WORDS = 8
"""Prose before the first section counts as a description only when it is a sentence or more."""
MAX_PLACEHOLDER_FINDINGS = 20
MAX_PROBLEM_FINDINGS = 20
_TOPIC_TEXT = {
    "intended-use": "intended use (what the model is for and not for)",
    "limitations": "limitations, bias and risks",
    "training-data": "training data",
    "evaluation": "evaluation (data and results)",
    "license": "licence",
}


@dataclass(frozen=True, slots=True)
class ItemResult:
    item: Item
    status: Status
    evidence: str
    """Where it was found, or why it counts as a placeholder; empty when missing."""
    text: str = ""
    """The content found in the card for it (used to carry text over into drafts)."""


@dataclass(frozen=True, slots=True)
class StandardScore:
    standard: str
    title: str
    score: float
    present: int
    placeholder: int
    missing: int


@dataclass(frozen=True, slots=True)
class CoverageReport:
    facts: ModelFacts
    results: tuple[ItemResult, ...]
    scores: tuple[StandardScore, ...]
    overall: float
    findings: tuple[Finding, ...]

    def result(self, item_id: str) -> ItemResult:
        for r in self.results:
            if r.item.id == item_id:
                return r
        raise KeyError(item_id)

    def for_standard(self, standard: str) -> tuple[ItemResult, ...]:
        return tuple(r for r in self.results if r.item.standard == standard)

    def topic_present(self, topic: str) -> bool:
        return any(r.status == "present" for r in self.results if r.item.topic == topic)

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def at_or_above(self, threshold: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity >= threshold)


def assess_coverage(facts: ModelFacts, catalogue: Catalogue | None = None) -> CoverageReport:
    catalogue = catalogue or default_catalogue()
    known = known_facts(facts)
    results = tuple(_judge(item, facts, known) for item in catalogue.items)
    scores = []
    for standard in catalogue.standards:
        mine = [r for r in results if r.item.standard == standard.id]
        total = sum(r.item.weight for r in mine)
        got = sum(r.item.weight for r in mine if r.status == "present")
        scores.append(
            StandardScore(
                standard.id,
                standard.title,
                round(got / total, 4) if total else 0.0,
                sum(r.status == "present" for r in mine),
                sum(r.status == "placeholder" for r in mine),
                sum(r.status == "missing" for r in mine),
            )
        )
    overall = round(sum(s.score for s in scores) / len(scores), 4) if scores else 0.0
    report = CoverageReport(facts, results, tuple(scores), overall, ())
    return CoverageReport(facts, results, tuple(scores), overall, tuple(_findings(report)))


def known_facts(facts: ModelFacts) -> dict[str, str]:
    """The catalogue's fact names that this model supplies, each with what supplies it."""
    arch = facts.architecture
    found: dict[str, str] = {}
    if facts.license_ids:
        found["license"] = f"licence found in the repo: {', '.join(facts.license_ids)}"
    if facts.base_models:
        found["base_model"] = "base model: " + ", ".join(b.name for b in facts.base_models)
    if facts.datasets:
        found["datasets"] = "datasets: " + ", ".join(facts.datasets[:5])
    if arch.known:
        found["architecture"] = "architecture: " + (
            ", ".join(arch.architectures) or arch.model_type or f"{arch.peft_type} adapter"
        )
    if facts.parameters is not None:
        found["parameters"] = f"{facts.parameters.total:,} parameters (safetensors headers)"
    if facts.eval_results:
        found["eval_results"] = f"{len(facts.eval_results)} evaluation result(s) in the metadata"
    if facts.library:
        found["library"] = f"library: {facts.library}"
    if arch.context_length:
        found["context_length"] = f"context length {arch.context_length:,} (config.json)"
    if arch.transformers_version:
        found["software_versions"] = f"transformers {arch.transformers_version} (config.json)"
    if facts.aup_files:
        found["aup_file"] = "acceptable use policy file: " + ", ".join(facts.aup_files)
    return found


def _judge(item: Item, facts: ModelFacts, known: dict[str, str]) -> ItemResult:
    body = facts.body
    hollow: list[str] = []
    # The most specific heading first: an earlier synonym, then a shorter heading, then order.
    ranked = sorted(
        (rank, len(section.key.split()), n, section)
        for n, section in enumerate(body.sections)
        if (rank := item.heading_rank(section.key)) is not None
    )
    for *_, section in ranked:
        words = content_words(section.text, item.placeholder)
        needed = MIN_INTRO_WORDS if section.key == INTRO else 1
        if len(words) >= needed:
            where = "the introduction" if section.key == INTRO else f"section '{section.title}'"
            return ItemResult(item, "present", f"{where} (line {section.line})", section.text)
        if section.key != INTRO:
            what = (
                "template placeholder text"
                if has_placeholder(section.text, item.placeholder)
                else "nothing"
            )
            hollow.append(f"section '{section.title}' (line {section.line}) holds {what}")
    for f in body.fields:
        if not item.matches_field(f.key):
            continue
        if content_words(f.value, item.placeholder):
            return ItemResult(item, "present", f"field '{f.label}' (line {f.line})", f.value)
        what = (
            "template placeholder text" if has_placeholder(f.value, item.placeholder) else "nothing"
        )
        hollow.append(f"field '{f.label}' (line {f.line}) holds {what}")
    for key in item.metadata:
        value = facts.metadata.data.get(key)
        if value not in (None, "", [], {}):
            shown = ", ".join(facts.metadata.texts(key)) or "set"
            return ItemResult(item, "present", f"metadata '{key}': {shown[:120]}")
    for group in item.facts:
        if all(name in known for name in group):
            return ItemResult(item, "present", "; ".join(known[name] for name in group))
    if hollow:
        return ItemResult(item, "placeholder", "; ".join(hollow[:3]))
    return ItemResult(item, "missing", "")


def _loc(facts: ModelFacts, path: str | None) -> Location:
    return Location(f"{facts.display.rstrip('/')}/{path or 'README.md'}")


def _findings(report: CoverageReport) -> list[Finding]:
    facts = report.facts
    out: list[Finding] = []
    card = facts.card_path
    if not facts.has_card:
        out.append(
            rules.DOC_NO_CARD.finding(
                _loc(facts, None),
                "The repo has no model card (README.md), so nothing says what the model is for, "
                "how it was trained or evaluated, or what its limits are.",
            )
        )
    if facts.metadata.problem:
        out.append(
            rules.DOC_METADATA_UNREADABLE.finding(
                _loc(facts, card),
                f"The card's metadata block cannot be used: {facts.metadata.problem}.",
            )
        )
    if facts.card_text is not None:
        prose = [w for s in facts.body.sections for w in content_words(s.own_text)]
        if not prose:
            out.append(
                rules.DOC_METADATA_ONLY.finding(
                    _loc(facts, card),
                    "The model card has metadata but no prose: no section says anything beyond "
                    "template text.",
                )
            )
    for topic in MUST_HAVE_TOPICS:
        items = [r for r in report.results if r.item.topic == topic and r.item.must_have]
        if not items or any(r.status == "present" for r in items):
            continue
        hollow = [r for r in items if r.status == "placeholder"]
        asked = "; ".join(dict.fromkeys(f"{r.item.standard} {r.item.ref}" for r in items))
        state = "holds only placeholder text" if hollow else "is missing"
        out.append(
            rules.DOC_MUST_HAVE.finding(
                _loc(facts, card),
                f"The documentation of {_TOPIC_TEXT[topic]} {state} (asked by {asked}).",
                evidence=hollow[0].evidence if hollow else None,
            )
        )
    placeholders = [
        s
        for s in facts.body.sections
        if s.key != INTRO and has_placeholder(s.own_text, PLACEHOLDER)
    ]
    for s in placeholders[:MAX_PLACEHOLDER_FINDINGS]:
        filled = bool(content_words(s.own_text))
        out.append(
            rules.DOC_PLACEHOLDER.finding(
                _loc(facts, card),
                f"Section '{s.title}' (line {s.line}) still holds template placeholder text"
                + (" beside some content." if filled else " and nothing else."),
            )
        )
    if len(placeholders) > MAX_PLACEHOLDER_FINDINGS:
        out.append(
            rules.DOC_PLACEHOLDER.finding(
                _loc(facts, card),
                f"{len(placeholders) - MAX_PLACEHOLDER_FINDINGS} more sections hold template "
                "placeholder text.",
            )
        )
    out += [
        rules.DOC_UNREADABLE.finding(_loc(facts, p.path), f"{p.message}.")
        for p in facts.problems[:MAX_PROBLEM_FINDINGS]
    ]
    return sorted(out, key=lambda f: (-f.severity, f.rule_id))
