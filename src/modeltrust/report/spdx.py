"""An AI bill of materials in SPDX 3.0.1 JSON-LD, with the AI and Dataset profiles.

Built as plain dicts in the compact form the SPDX 3.0.1 context defines; tests load it with the
``spdx-python-model`` bindings (which check every type, property and enum value) and serialise it
back (which checks required properties). The mapping is in docs/cards.md:

- the model is an ``ai_AIPackage`` (primary purpose ``model``) with its type, domain, metrics,
  limitation and intended-use text; its files are ``software_File`` elements with SHA-256 that the
  package ``contains``;
- datasets from the card are ``dataset_DatasetPackage`` elements the model is ``trainedOn``;
- base models are ``ai_AIPackage`` elements, each ``ancestorOf`` the model derived from it;
- licences are ``simplelicensing_LicenseExpression`` elements: the card's through
  ``hasDeclaredLicense``, the licence engine's effective set through ``hasConcludedLicense``.

Properties the AI profile lists as required by restriction but that a repo does not disclose
(``releaseTime``, ``builtTime``) are left out rather than invented; docs/cards.md says so.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from modeltrust.cards.coverage import CoverageReport
from modeltrust.cards.draft import carried
from modeltrust.licenses.check import LicenseReport
from modeltrust.licenses.lineage import LineageNode
from modeltrust.report.cyclonedx import DEFAULT_HUB, dataset_url, hub_endpoint, purl

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
SPEC_VERSION = "3.0.1"
MAX_TEXT = 4000
_CREATION = "_:creationinfo"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_URL = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")
_LICENSE_REF = re.compile(r"[^A-Za-z0-9.-]+")


class _Graph:
    """Elements of one document, with ids under the document's namespace."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.elements: list[dict[str, object]] = []
        self._ids: set[str] = set()

    def id(self, local: str) -> str:
        base = re.sub(r"[^A-Za-z0-9._~-]+", "-", local).strip("-") or "element"
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}-{n}"
        self._ids.add(candidate)
        return f"{self.namespace}{candidate}"

    def add(self, kind: str, local: str, **props: object) -> str:
        spdx_id = self.id(local)
        element: dict[str, object] = {"type": kind, "spdxId": spdx_id, "creationInfo": _CREATION}
        element.update({k: v for k, v in props.items() if v not in (None, "", [], {})})
        self.elements.append(element)
        return spdx_id

    def relate(
        self, source: str, kind: str, targets: list[str], comment: str | None = None
    ) -> None:
        if targets:
            self.add(
                "Relationship",
                f"rel-{kind}",
                **{"from": source, "to": targets, "relationshipType": kind, "comment": comment},
            )


def license_expression(license_ids: tuple[str, ...], report: LicenseReport) -> str | None:
    """An SPDX licence expression: SPDX ids where known, ``LicenseRef-`` ids otherwise."""
    parts = []
    for license_id in license_ids:
        entry = report.kb.get(license_id)
        if entry is not None and entry.spdx:
            parts.append(entry.spdx)
        else:
            ref = entry.license_ref if entry is not None else f"LicenseRef-{license_id}"
            idstring = ref.removeprefix("LicenseRef-").replace("+", "-plus")
            parts.append("LicenseRef-" + _LICENSE_REF.sub("-", idstring).strip("-"))
    unique = list(dict.fromkeys(parts))
    if not unique:
        return None
    return " AND ".join(f"({p})" if " " in p else p for p in unique)


def render_spdx(
    coverage: CoverageReport,
    hashes: Mapping[str, str],
    *,
    tool_version: str,
    serial: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> str:
    doc = build_spdx(
        coverage, hashes, tool_version=tool_version, serial=serial, timestamp=timestamp
    )
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def build_spdx(
    coverage: CoverageReport,
    hashes: Mapping[str, str],
    *,
    tool_version: str,
    serial: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> dict[str, object]:
    facts = coverage.facts
    report = facts.license_report
    g = _Graph(f"https://spdx.org/spdxdocs/modeltrust-{serial or uuid.uuid4()}/")
    moment = (timestamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    creation: dict[str, object] = {
        "type": "CreationInfo",
        "@id": _CREATION,
        "specVersion": SPEC_VERSION,
        "created": moment.isoformat().replace("+00:00", "Z"),
    }
    agent = g.add("SoftwareAgent", "modeltrust-agent", name="modeltrust")
    tool = g.add("Tool", "modeltrust", name=f"modeltrust {tool_version}")
    creation["createdBy"] = [agent]
    creation["createdUsing"] = [tool]
    hub = hub_endpoint(facts.hub_url, facts.repo_id or "") or DEFAULT_HUB
    supplier = None
    if facts.repo_id:
        supplier = g.add(
            "Organization",
            f"supplier-{facts.repo_id.split('/', 1)[0]}",
            name=facts.repo_id.split("/", 1)[0],
        )
    model = _model(g, coverage, supplier)
    files = [
        g.add(
            "software_File",
            f"file-{f.path}",
            name=f.path,
            verifiedUsing=[{"type": "Hash", "algorithm": "sha256", "hashValue": hashes[f.path]}],
        )
        for f in facts.files
        if _SHA.match(hashes.get(f.path, ""))
    ]
    g.relate(model, "contains", files)
    datasets = [
        g.add(
            "dataset_DatasetPackage",
            f"dataset-{name}",
            name=name,
            software_primaryPurpose="data",
            software_downloadLocation=dataset_url(name, hub),
            dataset_datasetType=["noAssertion"],
            comment="Named in the model card's 'datasets' metadata.",
        )
        for name in facts.datasets
    ]
    g.relate(model, "trainedOn", datasets)
    _licenses(g, model, facts.declared_licenses, facts.effective_licenses, report)
    _ancestors(
        g,
        report,
        report.lineage.root,
        model,
        hub if facts.kind == "hub" else None,
        {report.lineage.root.key: model},
    )
    data_license = g.add(
        "simplelicensing_LicenseExpression",
        "data-license",
        simplelicensing_licenseExpression="CC0-1.0",
    )
    document = {
        "type": "SpdxDocument",
        "spdxId": g.id("document"),
        "creationInfo": _CREATION,
        "name": f"AI BOM for {facts.repo_id or facts.name}",
        "dataLicense": data_license,
        "profileConformance": ["core", "software", "ai", "dataset", "simpleLicensing"],
        "rootElement": [model],
        "element": [str(e["spdxId"]) for e in g.elements],
    }
    return {"@context": CONTEXT, "@graph": [creation, document, *g.elements]}


def _model(g: _Graph, coverage: CoverageReport, supplier: str | None) -> str:
    facts = coverage.facts
    arch = facts.architecture
    types = list(
        dict.fromkeys([*arch.architectures, *([arch.model_type] if arch.model_type else [])])
    )
    if arch.peft_type:
        types.append(f"{arch.peft_type} adapter")
    metrics = [
        {
            "type": "DictionaryEntry",
            "key": " / ".join(p for p in (m.metric_name or m.metric, m.dataset, m.split) if p),
            "value": m.value,
        }
        for m in facts.eval_results
    ]
    training = carried(coverage, "hf-training-data") or carried(coverage, "hf-training-procedure")
    if facts.datasets and not training:
        training = "Datasets named in the model card: " + ", ".join(facts.datasets)
    download = None
    if facts.hub_url and facts.revision and _URL.match(facts.hub_url):
        download = f"{facts.hub_url}/tree/{facts.revision}"
    return g.add(
        "ai_AIPackage",
        f"model-{facts.repo_id or facts.name}",
        name=facts.repo_id or facts.name,
        software_packageVersion=facts.revision,
        software_downloadLocation=download,
        software_packageUrl=purl(facts.repo_id, facts.revision, facts.hub_url)
        if facts.repo_id and facts.kind == "hub"
        else None,
        software_primaryPurpose="model",
        suppliedBy=supplier,
        ai_typeOfModel=types,
        ai_domain=[facts.pipeline_tag] if facts.pipeline_tag else [],
        ai_autonomyType="noAssertion",
        ai_useSensitivePersonalInformation="noAssertion",
        ai_metric=metrics,
        ai_limitation=carried(coverage, "hf-bias-risks-limitations")[:MAX_TEXT] or None,
        ai_informationAboutApplication=carried(coverage, "hf-direct-use")[:MAX_TEXT] or None,
        ai_informationAboutTraining=training[:MAX_TEXT] or None,
    )


def _licenses(
    g: _Graph,
    element: str,
    declared: tuple[str, ...],
    concluded: tuple[str, ...],
    report: LicenseReport,
) -> None:
    for kind, ids in (("hasDeclaredLicense", declared), ("hasConcludedLicense", concluded)):
        expression = license_expression(ids, report)
        if expression:
            lic = g.add(
                "simplelicensing_LicenseExpression",
                f"license-{kind}",
                simplelicensing_licenseExpression=expression,
            )
            g.relate(element, kind, [lic])


def _ancestors(
    g: _Graph,
    report: LicenseReport,
    node: LineageNode,
    child: str,
    hub: str | None,
    seen: dict[str, str],
) -> None:
    """Each base of ``node`` as an ``ai_AIPackage`` that is ``ancestorOf`` ``child``; a shared
    base gets one element and one relationship per model derived from it."""
    for key in node.bases:
        base = report.lineage.node(key)
        existing = seen.get(key)
        if existing is not None:
            g.relate(
                existing, "ancestorOf", [child], comment=f"relation: {base.relation or 'unknown'}"
            )
            continue
        name = base.repo_id or base.ref
        element = g.add(
            "ai_AIPackage",
            f"base-{name}",
            name=name,
            software_packageVersion=base.revision,
            software_packageUrl=purl(base.repo_id, base.revision, f"{hub}/{base.repo_id}")
            if hub and base.repo_id and base.status == "ok"
            else None,
            software_primaryPurpose="model",
            comment=f"Base model ({base.relation or 'relation unknown'}; lineage status {base.status}).",
        )
        seen[key] = element
        g.relate(element, "ancestorOf", [child], comment=f"relation: {base.relation or 'unknown'}")
        found = report.licenses.get(key)
        if found is not None:
            _licenses(g, element, found.declared or found.ids, (), report)
        _ancestors(g, report, base, element, hub, seen)
