"""An AI bill of materials in CycloneDX 1.6 JSON: the model, its files, datasets and lineage.

The document is built as plain dicts (``cyclonedx-python-lib`` has no model-card classes, and a
runtime dependency for one output format is not worth it); tests validate it against the official
1.6 schema. The mapping, field by field, is in docs/cards.md:

- the model is one ``machine-learning-model`` component (purl ``pkg:huggingface/org/name@sha`` for
  Hub models) whose files are nested ``file`` components with their SHA-256;
- licences: the card's as ``declared``, the licence engine's effective set as ``concluded``
  (SPDX ids where the licence has one, else the licence's name);
- ``modelCard``: task, architecture, datasets (references to ``data`` components), inputs and
  outputs, evaluation results as performance metrics, intended use and limitations from the card;
- base models, recursively, as ``pedigree.ancestors`` with the Hub relation as a property.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from modeltrust.cards.coverage import CoverageReport
from modeltrust.cards.draft import carried
from modeltrust.cards.facts import ModelFacts
from modeltrust.licenses.check import LicenseReport
from modeltrust.licenses.lineage import LineageNode

SPEC_VERSION = "1.6"
DEFAULT_HUB = "https://huggingface.co"
MAX_TEXT = 4000
_URL = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_IO: dict[str, tuple[str, str]] = {
    "text-generation": ("text", "text"),
    "text2text-generation": ("text", "text"),
    "summarization": ("text", "text"),
    "translation": ("text", "text"),
    "question-answering": ("text", "text"),
    "fill-mask": ("text", "text"),
    "conversational": ("text", "text"),
    "text-classification": ("text", "label"),
    "token-classification": ("text", "labels per token"),
    "zero-shot-classification": ("text", "label"),
    "feature-extraction": ("text", "embedding vector"),
    "sentence-similarity": ("text", "similarity score"),
    "image-classification": ("image", "label"),
    "object-detection": ("image", "bounding boxes and labels"),
    "image-segmentation": ("image", "segmentation masks"),
    "image-to-text": ("image", "text"),
    "image-text-to-text": ("image and text", "text"),
    "text-to-image": ("text", "image"),
    "image-to-image": ("image", "image"),
    "automatic-speech-recognition": ("audio", "text"),
    "text-to-speech": ("text", "audio"),
    "audio-classification": ("audio", "label"),
}
"""Hub pipeline tags and the modalities they imply."""


def purl(repo_id: str, revision: str | None, hub_url: str | None = None) -> str:
    """``pkg:huggingface/org/name@sha``; a Hub other than huggingface.co is named by
    ``repository_url`` (purl type ``huggingface``; the exact form is marked unverified)."""
    namespace, _, name = repo_id.partition("/")
    text = f"pkg:huggingface/{quote(namespace, safe='')}/{quote(name, safe='')}"
    if revision:
        text += f"@{quote(revision.lower(), safe='')}"
    endpoint = hub_endpoint(hub_url, repo_id)
    if endpoint and endpoint != DEFAULT_HUB:
        text += f"?repository_url={quote(endpoint, safe=':/')}"
    return text


def hub_endpoint(hub_url: str | None, repo_id: str) -> str | None:
    if hub_url and hub_url.endswith("/" + repo_id):
        return hub_url[: -len(repo_id) - 1]
    return None


def render_cyclonedx(
    coverage: CoverageReport,
    hashes: Mapping[str, str],
    *,
    tool_version: str,
    serial: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> str:
    return (
        json.dumps(
            build_cyclonedx(
                coverage, hashes, tool_version=tool_version, serial=serial, timestamp=timestamp
            ),
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


def build_cyclonedx(
    coverage: CoverageReport,
    hashes: Mapping[str, str],
    *,
    tool_version: str,
    serial: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> dict[str, object]:
    facts = coverage.facts
    refs = _Refs()
    model_ref = refs.new(f"model:{facts.repo_id or facts.name}")
    hub = hub_endpoint(facts.hub_url, facts.repo_id or "") or DEFAULT_HUB
    datasets = [_dataset(name, hub, refs) for name in facts.datasets]
    model: dict[str, object] = {
        "type": "machine-learning-model",
        "bom-ref": model_ref,
        "name": facts.repo_id or facts.name,
    }
    if facts.revision:
        model["version"] = facts.revision
    if facts.repo_id:
        org = facts.repo_id.split("/", 1)[0]
        model["supplier"] = {"name": org}
        if facts.kind == "hub":
            model["purl"] = purl(facts.repo_id, facts.revision, facts.hub_url)
    licenses = _licenses(facts)
    if licenses:
        model["licenses"] = licenses
    model["modelCard"] = _model_card(coverage, model_ref, [str(d["bom-ref"]) for d in datasets])
    files = [
        {
            "type": "file",
            "bom-ref": refs.new(f"file:{f.path}"),
            "name": f.path,
            "hashes": [{"alg": "SHA-256", "content": hashes[f.path]}],
        }
        for f in facts.files
        if _SHA.match(hashes.get(f.path, ""))
    ]
    if files:
        model["components"] = files
    lineage = facts.license_report.lineage
    from_hub = hub if facts.kind == "hub" else None
    ancestors = _ancestors(facts.license_report, lineage.root, refs, {lineage.root.key}, from_hub)
    if ancestors:
        model["pedigree"] = {"ancestors": ancestors}
    external = _external(facts)
    if external:
        model["externalReferences"] = external
    model["properties"] = _properties(facts)
    moment = (timestamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    bom: dict[str, object] = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": (serial or uuid.uuid4()).urn,
        "version": 1,
        "metadata": {
            "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "tools": {
                "components": [
                    {"type": "application", "name": "modeltrust", "version": tool_version}
                ]
            },
        },
        "components": [model, *datasets],
        "dependencies": [
            {"ref": model_ref, "dependsOn": [str(d["bom-ref"]) for d in datasets]},
            *({"ref": str(d["bom-ref"])} for d in datasets),
        ],
    }
    return bom


class _Refs:
    """bom-refs unique within the document (a shared base appears once per path to it)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, base: str) -> str:
        ref, n = base, 1
        while ref in self.used:
            n += 1
            ref = f"{base}#{n}"
        self.used.add(ref)
        return ref


def _dataset(name: str, hub: str, refs: _Refs) -> dict[str, object]:
    entry: dict[str, object] = {"type": "dataset", "name": name}
    url = dataset_url(name, hub)
    if url:
        entry["contents"] = {"url": url}
    return {"type": "data", "bom-ref": refs.new(f"dataset:{name}"), "name": name, "data": [entry]}


def dataset_url(name: str, hub: str) -> str | None:
    if _URL.match(name):
        return name
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?", name):
        return f"{hub}/datasets/{name}"
    return None


def _license_object(
    license_id: str, report: LicenseReport, acknowledgement: str, link: str | None
) -> dict[str, object]:
    entry = report.kb.get(license_id)
    body: dict[str, object]
    if entry is not None and entry.spdx:
        body = {"id": entry.spdx}
    else:
        body = {"name": entry.name if entry is not None else license_id}
    body["acknowledgement"] = acknowledgement
    if link and _URL.match(link):
        body["url"] = link
    return {"license": body}


def _licenses(facts: ModelFacts) -> list[dict[str, object]]:
    report = facts.license_report
    out = [
        _license_object(i, report, "declared", facts.license_link) for i in facts.declared_licenses
    ]
    out += [_license_object(i, report, "concluded", None) for i in facts.effective_licenses]
    return out


def _node_licenses(report: LicenseReport, node: LineageNode) -> list[dict[str, object]]:
    found = report.licenses.get(node.key)
    if found is None:
        return []
    link = node.facts.card.text("license_link") if node.facts is not None else None
    return [_license_object(i, report, "declared", link) for i in (found.declared or found.ids)]


def _ancestors(
    report: LicenseReport, node: LineageNode, refs: _Refs, path: set[str], hub: str | None
) -> list[dict[str, object]]:
    """Each base of ``node`` as a component, its own bases nested in its pedigree. ``hub`` is
    the Hub endpoint when the lineage was read from one (ancestors then get a purl)."""
    out: list[dict[str, object]] = []
    for key in node.bases:
        base = report.lineage.node(key)
        name = base.repo_id or base.ref
        component: dict[str, object] = {
            "type": "machine-learning-model",
            "bom-ref": refs.new(f"ancestor:{name}"),
            "name": name,
        }
        if base.revision:
            component["version"] = base.revision
        if hub is not None and base.repo_id and base.status == "ok":
            component["purl"] = purl(base.repo_id, base.revision, f"{hub}/{base.repo_id}")
        licenses = _node_licenses(report, base)
        if licenses:
            component["licenses"] = licenses
        props = [{"name": "hf:base_model_relation", "value": base.relation or "unknown"}]
        if base.declared_by:
            props.append({"name": "modeltrust:declared_by", "value": base.declared_by})
        if base.status != "ok":
            props.append({"name": "modeltrust:lineage_status", "value": base.status})
        component["properties"] = props
        if key not in path:
            deeper = _ancestors(report, base, refs, path | {key}, hub)
            if deeper:
                component["pedigree"] = {"ancestors": deeper}
        out.append(component)
    return out


def _model_card(
    coverage: CoverageReport, model_ref: str, dataset_refs: list[str]
) -> dict[str, object]:
    facts = coverage.facts
    arch = facts.architecture
    params: dict[str, object] = {}
    if facts.pipeline_tag:
        params["task"] = facts.pipeline_tag
    if arch.model_type:
        params["architectureFamily"] = arch.model_type
    if arch.architectures:
        params["modelArchitecture"] = ", ".join(arch.architectures)
    elif arch.peft_type:
        params["modelArchitecture"] = f"{arch.peft_type} adapter"
    if dataset_refs:
        params["datasets"] = [{"ref": r} for r in dataset_refs]
    io = _IO.get(facts.pipeline_tag or "")
    if io:
        params["inputs"] = [{"format": io[0]}]
        params["outputs"] = [{"format": io[1]}]
    card: dict[str, object] = {"bom-ref": f"{model_ref}/model-card"}
    if params:
        card["modelParameters"] = params
    metrics = [
        {
            "type": m.metric_name or m.metric,
            "value": m.value,
            **({"slice": " / ".join(p for p in (m.dataset, m.split) if p)} if m.dataset else {}),
        }
        for m in facts.eval_results
    ]
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations: dict[str, object] = {}
    for key, item_id in (
        ("useCases", "hf-direct-use"),
        ("technicalLimitations", "hf-bias-risks-limitations"),
    ):
        text = carried(coverage, item_id)
        if text:
            considerations[key] = [text[:MAX_TEXT]]
    ethics = carried(coverage, "mc-ethical-considerations")
    if ethics and ethics not in (carried(coverage, "hf-bias-risks-limitations"),):
        considerations["ethicalConsiderations"] = [{"name": ethics[:MAX_TEXT]}]
    if considerations:
        card["considerations"] = considerations
    card["properties"] = [
        {"name": "modeltrust:documentation:overall", "value": f"{coverage.overall:.4f}"},
        *(
            {"name": f"modeltrust:documentation:{s.standard}", "value": f"{s.score:.4f}"}
            for s in coverage.scores
        ),
    ]
    return card


def _external(facts: ModelFacts) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    if facts.hub_url and _URL.match(facts.hub_url):
        out.append({"type": "website", "url": facts.hub_url})
        if facts.revision:
            out.append({"type": "distribution", "url": f"{facts.hub_url}/tree/{facts.revision}"})
            if facts.card_path:
                out.append(
                    {
                        "type": "model-card",
                        "url": f"{facts.hub_url}/blob/{facts.revision}/{quote(facts.card_path)}",
                    }
                )
    if facts.license_link and _URL.match(facts.license_link):
        out.append({"type": "license", "url": facts.license_link})
    return out


def _properties(facts: ModelFacts) -> list[dict[str, str]]:
    props = [{"name": "modeltrust:source", "value": facts.kind}]
    p = facts.parameters
    if p is not None:
        props.append({"name": "modeltrust:parameters", "value": str(p.total)})
        props += [
            {"name": f"modeltrust:parameters:{d}", "value": str(n)} for d, n in p.by_dtype.items()
        ]
    if facts.architecture.context_length:
        props.append(
            {"name": "modeltrust:context_length", "value": str(facts.architecture.context_length)}
        )
    if facts.library:
        props.append({"name": "hf:library_name", "value": facts.library})
    props += [{"name": "hf:language", "value": lang} for lang in facts.languages]
    return props
