"""EU AI Act drafts for general-purpose AI models: the Annex XII information sheet for downstream
providers (Art. 53(1)(b)) and a skeleton of the public training-content summary (Art. 53(1)(d)).

Both are pre-filled from what the repo shows and marked where it is silent. What the Hub rarely
holds (training compute, energy, data provenance, crawler details) is written as "not disclosed"
gaps rather than failures. Two flags are computed, both engineering readings that need counsel:
whether the open-source exemption of Art. 53(2) is *likely* (OSI-style licences) or *uncertain*
(licences that restrict use or keep licensor conditions), and that the systemic-risk presumption
(Art. 51(2), more than 10^25 FLOP) cannot be assessed without disclosed compute.

The annex items follow published copies of the Regulation; the summary's sub-headings follow a
summary of the AI Office template and are marked unverified (see docs/cards.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from modeltrust.cards.coverage import CoverageReport
from modeltrust.cards.draft import (
    asked_by,
    carried,
    format_architecture,
    format_bases,
    format_license,
    format_params,
    gap,
)
from modeltrust.cards.facts import ModelFacts

ANNEX_XII_FILE = "annex-xii-information.md"
SUMMARY_FILE = "training-content-summary.md"
_OPEN_CATEGORIES = frozenset(
    {"permissive", "public-domain", "copyleft", "weak-copyleft", "network-copyleft"}
)
_NOT_LEGAL_ADVICE = (
    "> Draft pre-filled by modeltrust {version} from `{display}`. It is an engineering aid, not "
    "legal advice. `[MISSING: ...]` marks what the repo does not disclose; the provider must "
    "complete and check every item."
)


@dataclass(frozen=True, slots=True)
class OpenSourceExemption:
    outcome: str
    """``likely``, ``uncertain`` or ``not applicable``."""
    reason: str


def open_source_exemption(facts: ModelFacts) -> OpenSourceExemption:
    """Art. 53(2): free and open-source licence with public weights, architecture and usage
    information. Never covers systemic-risk models; Art. 53(1)(c) and (d) always apply."""
    effective = facts.license_report.effective
    if not effective:
        return OpenSourceExemption("not applicable", "no licence was found anywhere in the lineage")
    restrictive = [
        e.id for e in effective if e.entry is None or e.entry.category not in _OPEN_CATEGORIES
    ]
    if restrictive:
        return OpenSourceExemption(
            "uncertain",
            f"{', '.join(restrictive)} restrict use, keep licensor conditions or are not in "
            "modeltrust's knowledge base; whether they qualify as free and open-source is unsettled",
        )
    where = (
        "published on the Hub"
        if facts.kind == "hub"
        else "in a local folder (check they are public)"
    )
    return OpenSourceExemption(
        "likely",
        f"every licence in the lineage ({', '.join(e.id for e in effective)}) is OSI-style and the "
        f"weights are {where}",
    )


def _item(report: CoverageReport, item_id: str, what: str, facts: list[str] | None = None) -> str:
    parts = [*(facts or [])]
    text = carried(report, item_id)
    if text:
        parts.append(text)
    return "\n\n".join(parts) if parts else gap(what, asked_by(report, item_id))


def render_annex_xii(report: CoverageReport, *, tool_version: str) -> str:
    facts = report.facts
    exemption = open_source_exemption(facts)
    name = facts.repo_id or facts.name
    out = [
        f"# Information for downstream providers: {name}",
        "",
        "EU AI Act (Regulation (EU) 2024/1689), Article 53(1)(b) and Annex XII.",
        "",
        _NOT_LEGAL_ADVICE.format(version=tool_version, display=facts.display),
        "",
        "## Status",
        "",
        (
            f"- **Open-source exemption (Art. 53(2)):** {exemption.outcome}: {exemption.reason}. The "
            "exemption never covers models with systemic risk, and the copyright policy and the "
            "training-content summary (Art. 53(1)(c), (d)) are required regardless."
        ),
        (
            "- **Systemic-risk presumption (Art. 51(2), more than 10^25 FLOP):** cannot be assessed: "
            "training compute is not disclosed in the repo."
        ),
        f"- **Documentation coverage (Annex XII items present):** {_score(report, 'eu-annex-xii')}",
        "",
        "## 1. General description of the model",
        "",
    ]
    distribution = (
        f"Hugging Face Hub repository `{facts.repo_id}` at commit `{facts.revision}` ({facts.hub_url})"
        if facts.kind == "hub"
        else f"files in the folder `{facts.display}`"
        + (f" (git commit `{facts.revision}`)" if facts.revision else "")
    )
    software = []
    if facts.library:
        software.append(f"Library: `{facts.library}` (card metadata).")
    versions = []
    if facts.architecture.transformers_version:
        versions.append(
            f"Saved with transformers {facts.architecture.transformers_version} (config.json)."
        )
    arch = [f"Architecture: {a}." for a in [format_architecture(facts)] if a]
    params = format_params(facts)
    arch.append(
        f"Parameters: {params}."
        if params
        else gap("the number of parameters", asked_by(report, "xii-1f-architecture"))
    )
    modality = [f"Hub pipeline tag: `{facts.pipeline_tag}`."] if facts.pipeline_tag else []
    license_text = format_license(facts)
    aup = (
        [
            f"Acceptable use policy file(s) in the repo: {', '.join(f'`{p}`' for p in facts.aup_files)}."
        ]
        if facts.aup_files
        else []
    )
    sections = [
        (
            "(a) Intended tasks and the type and nature of AI systems it can be integrated into",
            _item(
                report,
                "xii-1a-intended-tasks",
                "the tasks the model is for and the AI systems it can be built into",
            ),
        ),
        (
            "(b) Acceptable use policies",
            _item(
                report,
                "xii-1b-aup",
                "the acceptable use policy, or a statement that none exists",
                aup,
            ),
        ),
        (
            "(c) Release date and methods of distribution",
            f"Distribution: {distribution}.\n\nRelease date: "
            + (
                carried(report, "xii-1c-release")
                or gap("the release date", asked_by(report, "xii-1c-release"))
            ),
        ),
        (
            "(d) Interaction with hardware or software that is not part of the model",
            _item(
                report,
                "xii-1d-interaction",
                "the hardware and software the model runs with",
                software,
            ),
        ),
        (
            "(e) Versions of relevant software",
            _item(
                report, "xii-1e-software-versions", "the versions of the software needed", versions
            ),
        ),
        (
            "(f) Architecture and number of parameters",
            "\n\n".join([*arch, carried(report, "xii-1f-architecture")]).strip(),
        ),
        (
            "(g) Modality (input and output) and format",
            _item(report, "xii-1g-modality", "input and output modalities and formats", modality),
        ),
        (
            "(h) Licence",
            license_text + "."
            if license_text
            else gap("the licence", asked_by(report, "xii-1h-license")),
        ),
    ]
    out += _subsections(sections)
    out += ["## 2. Elements of the model and its development", ""]
    context = []
    if facts.architecture.context_length:
        context.append(
            f"Maximum input size: {facts.architecture.context_length:,} tokens (context length from config.json)."
        )
    data = (
        [f"Datasets named in the card metadata: {', '.join(f'`{d}`' for d in facts.datasets)}."]
        if facts.datasets
        else []
    )
    out += _subsections(
        [
            (
                "(a) Technical means for integration (instructions for use, infrastructure, tools)",
                _item(
                    report,
                    "xii-2a-integration",
                    "instructions for use, infrastructure and tools needed to integrate the model",
                ),
            ),
            (
                "(b) Modality, format and maximum size of inputs and outputs",
                _item(
                    report,
                    "xii-2b-max-size",
                    "the maximum input and output size (context window)",
                    context,
                ),
            ),
            (
                "(c) Training, testing and validation data: type, provenance and curation",
                _item(
                    report,
                    "xii-2c-training-data",
                    "the type, provenance and curation of the training, testing and validation data",
                    data,
                ),
            ),
        ]
    )
    return "\n".join(out).rstrip("\n") + "\n"


def render_training_summary(report: CoverageReport, *, tool_version: str) -> str:
    facts = report.facts
    name = facts.repo_id or facts.name
    org = facts.repo_id.split("/", 1)[0] if facts.repo_id else None
    nd = "not disclosed in the repo"
    bases = format_bases(facts)
    datasets = "\n".join(
        f"- `{d}` (named in the card metadata; check that it is publicly available)"
        for d in facts.datasets
    )
    out = [
        f"# Public summary of training content: {name}",
        "",
        (
            "Skeleton for the summary required by Article 53(1)(d) of the EU AI Act, following the "
            "headings of the AI Office template (C(2025) 8311). Sub-headings marked *(unverified)* "
            "follow a summary of the template and must be checked against the official text."
        ),
        "",
        _NOT_LEGAL_ADVICE.format(version=tool_version, display=facts.display),
        "",
        "## 1. General information",
        "",
        f"- **Provider name and contact:** {gap('the provider and a contact' + (f' (the Hub namespace is `{org}`)' if org else ''))}",
        f"- **Model name and version:** `{name}`"
        + (f" at `{facts.revision}`" if facts.revision else ""),
        f"- **Model dependencies (models modified or fine-tuned):** {bases or 'none declared in the repo'}",
        f"- **Date placed on the Union market:** {gap('the date')}",
        f"- **Training data modalities:** {gap('text / image / audio / video / other')}",
        f"- **Size of the training data per modality:** {gap('size ranges per modality, ' + nd)}",
        f"- **Types of content per modality:** {gap(nd)}",
        f"- **Latest date of data collection:** {gap(nd)}",
        "- **Linguistic and other characteristics** *(unverified)*: "
        + (
            ", ".join(facts.languages) + " (card metadata `language`)"
            if facts.languages
            else gap(nd)
        ),
        "",
        "## 2. List of data sources",
        "",
        "### 2.1 Publicly available datasets *(unverified)*",
        "",
        datasets or gap("publicly available datasets used, " + nd),
        "",
    ]
    for title in (
        "2.2 Private third-party datasets (licensed from rightsholders or otherwise) *(unverified)*",
        (
            "2.3 Crawled and scraped data: crawlers, purpose and behaviour (robots.txt), period, "
            "types of sites, top domain names *(unverified)*"
        ),
        "2.4 User data *(unverified)*",
        "2.5 Synthetic data *(unverified)*",
        "2.6 Other sources *(unverified)*",
    ):
        out += [f"### {title}", "", gap(nd), ""]
    out += [
        "## 3. Relevant data-processing aspects",
        "",
        "### 3.1 Respecting reservations of rights from text and data mining *(unverified)*",
        "",
        gap("measures taken before and during collection to honour TDM opt-outs, " + nd),
        "",
        "### 3.2 Removal of illegal content *(unverified)*",
        "",
        gap(nd),
        "",
        "### 3.3 Other information (optional) *(unverified)*",
        "",
        carried(report, "xi-1-2c-curation") or gap(nd),
    ]
    return "\n".join(out).rstrip("\n") + "\n"


def _subsections(sections: list[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for title, text in sections:
        out += [f"### {title}", "", text, ""]
    return out


def _score(report: CoverageReport, standard: str) -> str:
    for s in report.scores:
        if s.standard == standard:
            total = s.present + s.placeholder + s.missing
            return f"{s.present} of {total} items, score {s.score:.2f}"
    return "not scored"
