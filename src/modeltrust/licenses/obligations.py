"""From the licences of a model and its ancestors to findings, a verdict and a checklist.

The effective licences are the union over the lineage: a derivative is bound by every licence
that flows down to it, whatever its own card says. Against a :class:`UseProfile` (commercial or
not, monthly active users, annual revenue, EU establishment, how the model is shipped) each
licence is assessed; the verdict is the worst outcome — ``forbidden`` over ``unknown`` over
``conditional`` over ``allowed`` — with the reasons that produced it, and the checklist says what
the user must do and which licence asks it.

This is an engineering reading of licence terms recorded in the knowledge base, not legal advice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from modeltrust import rules
from modeltrust.errors import UsageError
from modeltrust.findings import Finding, Location, Severity
from modeltrust.licenses.identify import NodeLicense
from modeltrust.licenses.kb import KnowledgeBase, LicenseEntry
from modeltrust.licenses.lineage import Lineage, LineageNode
from modeltrust.licenses.repo import RepoFacts

Distribution = Literal["distribute", "hosted", "internal"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("distribute", "hosted", "internal")
Outcome = Literal["allowed", "conditional", "forbidden", "unknown"]
_RANK: dict[Outcome, int] = {"allowed": 0, "conditional": 1, "unknown": 2, "forbidden": 3}
_VISION = re.compile(
    r"vision|visual|mllama|llava|image|audio|video|omni|speech|whisper", re.IGNORECASE
)
"""Architecture names of models that take more than text (config.json's vision_config and
audio_config are the stronger signal and are checked first)."""


@dataclass(frozen=True, slots=True)
class UseProfile:
    """How the user means to use the model."""

    commercial: bool = True
    monthly_active_users: int | None = None
    annual_revenue_usd: int | None = None
    eu_established: bool = False
    distribution: Distribution = "distribute"
    """``distribute`` (ship the weights), ``hosted`` (a service others use), ``internal``."""

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise UsageError(
                f"Unknown distribution '{self.distribution}'; use one of "
                f"{', '.join(DISTRIBUTIONS)}."
            )
        for name in ("monthly_active_users", "annual_revenue_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise UsageError(f"'{name}' must be zero or more, not {value}.")


@dataclass(frozen=True, slots=True)
class EffectiveLicense:
    """One licence that binds the model, and the models in its lineage that carry it."""

    id: str
    entry: LicenseEntry | None
    carriers: tuple[str, ...]
    """Keys of the lineage nodes whose repos declare it."""
    inherited: bool
    """Carried by an ancestor (not only by the model itself)."""


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    topic: str
    """A stable kebab-case key: ``license-copy``, ``naming``, ``mau-threshold`` ..."""
    action: str
    why: str
    licenses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    commercial_use: Outcome
    """Whether commercial use is allowed under this profile's numbers and region."""
    use_permitted: Outcome
    """Whether the use as described (commercial or not) is allowed."""
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Assessment:
    effective: tuple[EffectiveLicense, ...]
    verdict: Verdict
    checklist: tuple[ChecklistItem, ...]
    findings: tuple[Finding, ...]


def assess(
    lineage: Lineage,
    licenses: Mapping[str, NodeLicense],
    kb: KnowledgeBase,
    use: UseProfile,
) -> Assessment:
    """Everything the licences of ``lineage`` (``licenses`` by node key) mean for ``use``."""
    effective = effective_licenses(lineage, licenses, kb)
    multimodal = _multimodal(lineage)
    findings = [
        *_node_findings(lineage, licenses, kb),
        *_inheritance_findings(lineage, licenses, effective),
        *_restriction_findings(lineage, effective, use),
        *_condition_findings(lineage, effective, use, multimodal),
        *_confidence_findings(lineage, effective),
    ]
    commercial = _outcome(lineage, licenses, effective, _with(use, commercial=True), multimodal)
    permitted = _outcome(lineage, licenses, effective, use, multimodal)
    reasons = tuple(dict.fromkeys([*commercial[1], *permitted[1]]))
    verdict = Verdict(commercial[0], permitted[0], reasons)
    checklist = _checklist(lineage, effective, use, multimodal)
    return Assessment(effective, verdict, checklist, tuple(findings))


def effective_licenses(
    lineage: Lineage, licenses: Mapping[str, NodeLicense], kb: KnowledgeBase
) -> tuple[EffectiveLicense, ...]:
    """The union of every readable node's licences: the model's own first, then by depth."""
    carriers: dict[str, list[str]] = {}
    for node in lineage.nodes:
        found = licenses.get(node.key)
        for license_id in found.ids if found else ():
            carriers.setdefault(license_id, []).append(node.key)
    root = lineage.root.key
    return tuple(
        EffectiveLicense(i, kb.get(i), tuple(keys), any(k != root for k in keys))
        for i, keys in carriers.items()
    )


def _inherited(
    lineage: Lineage,
    licenses: Mapping[str, NodeLicense],
    node: LineageNode,
    seen: frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """The licences a node that declares none inherits, when every base it names was read and
    declares one or inherits one in turn (a quantization of a Llama model is under Llama's
    licence); else ()."""
    if not node.bases or node.key in seen:
        return ()
    by_key = {n.key: n for n in lineage.nodes}
    ids: list[str] = []
    for key in node.bases:
        base = by_key.get(key)
        found = licenses.get(key)
        if base is None or base.status != "ok" or found is None:
            return ()
        own = found.ids or _inherited(lineage, licenses, base, seen | {node.key})
        if not own:
            return ()
        ids.extend(i for i in own if i not in ids)
    return tuple(ids)


# --- findings --------------------------------------------------------------------------------


def _node_findings(
    lineage: Lineage, licenses: Mapping[str, NodeLicense], kb: KnowledgeBase
) -> list[Finding]:
    out = []
    for node in lineage.nodes:
        found = licenses.get(node.key)
        if node.status != "ok" or found is None:
            continue
        loc = _loc(node, _card_path(node))
        who = _who(node)
        if not found.ids:
            unknown = [e for e in found.evidence if e.license_id is None]
            said = f" (it says: {', '.join(repr(e.value) for e in unknown[:3])})" if unknown else ""
            inherited = _inherited(lineage, licenses, node)
            governs = (
                f"; its bases' licences ({', '.join(inherited)}) govern it, as they govern every "
                "fine-tune, adapter, merge or quantization. Ask the publisher to declare them"
                if inherited
                else ""
            )
            out.append(
                rules.LIC_NONE.finding(
                    loc,
                    f"{who} declares no licence that can be identified{said}: no card 'license:', "
                    f"no recognised LICENSE file, no GGUF general.license{governs}.",
                    severity=Severity.LOW if inherited else None,
                )
            )
        for license_id in found.unknown_ids(kb):
            where = [e for e in found.evidence if e.license_id == license_id]
            evidence = "; ".join(f"{e.origin} in {e.path}: {e.value!r}" for e in where[:3])
            out.append(
                rules.LIC_UNKNOWN.finding(
                    _loc(node, where[0].path if where else _card_path(node)),
                    f"{who} declares licence '{license_id}', which modeltrust does not know; its "
                    "terms were not checked.",
                    evidence=evidence or None,
                )
            )
        unrecognised = [
            e for e in found.evidence if e.origin == "licence file" and e.license_id is None
        ]
        for e in unrecognised:
            if found.ids:
                continue  # the licence is known from elsewhere; an extra text is not a finding
            out.append(
                rules.LIC_UNKNOWN.finding(
                    _loc(node, e.path),
                    f"{who} has a licence file whose text modeltrust does not recognise "
                    f"(it starts: {e.value!r}).",
                )
            )
        declared = {i for i in found.declared if kb.get(i)}
        elsewhere = {
            e.license_id
            for e in found.evidence
            if not e.origin.startswith("card") and e.license_id and e.known
        }
        if declared and elsewhere - declared:
            sources = sorted(
                {
                    f"{e.origin} in {e.path}: {e.license_id}"
                    for e in found.evidence
                    if e.license_id in elsewhere - declared
                }
            )
            out.append(
                rules.LIC_CONFLICT.finding(
                    loc,
                    f"{who}'s card declares {', '.join(sorted(declared))} but the repo also "
                    f"names {', '.join(sorted(elsewhere - declared))}. All of them are treated "
                    "as applying.",
                    evidence="; ".join(sources),
                )
            )
    return out


def _inheritance_findings(
    lineage: Lineage,
    licenses: Mapping[str, NodeLicense],
    effective: tuple[EffectiveLicense, ...],
) -> list[Finding]:
    """A derivative whose card names another licence than one its ancestors pass down."""
    root = lineage.root
    own = licenses.get(root.key)
    out: list[Finding] = []
    if root.status != "ok" or own is None or not own.ids:
        return out
    for lic in effective:
        entry = lic.entry
        if entry is None or not entry.flows_down or lic.id in own.ids:
            continue
        nearest = _nearest(lineage, lic.carriers)
        if nearest is None:
            continue
        quantized_only = _relations_to(lineage, nearest) <= {"quantized"}
        out.append(
            rules.LIC_MISLABELLED.finding(
                _loc(root, _card_path(root)),
                f"The model declares {', '.join(own.ids)}, but it derives from "
                f"'{nearest.display}' ({_path_text(lineage, nearest)}), which is under "
                f"{entry.name} ({entry.id}); that licence passes down to derivatives, so it "
                "applies here too"
                + (
                    " (a quantized copy: review which terms the publisher meant)."
                    if quantized_only
                    else "."
                ),
                severity=Severity.MEDIUM if quantized_only else None,
            )
        )
    prefixes: dict[str, EffectiveLicense] = {}
    for e in effective:
        prefix = e.entry.obligations.derivative_name_prefix if e.entry else None
        if e.inherited and prefix:
            prefixes.setdefault(prefix, e)
    for prefix, lic in prefixes.items():
        if not _named_with(root.name, prefix):
            out.append(
                rules.LIC_NAMING.finding(
                    _loc(root, _card_path(root)),
                    f"The model is named '{root.name}', but {lic.id} requires a distributed "
                    f"derivative's name to start with '{prefix}'.",
                )
            )
    return out


def _restriction_findings(
    lineage: Lineage, effective: tuple[EffectiveLicense, ...], use: UseProfile
) -> list[Finding]:
    out = []
    root = lineage.root
    for lic in effective:
        entry = lic.entry
        if entry is None:
            continue
        who = _carriers_text(lineage, lic)
        r = entry.restrictions
        if r.research_only:
            out.append(
                rules.LIC_RESEARCH_ONLY.finding(
                    _loc(root, _card_path(root)),
                    f"{who} under {entry.name} ({entry.id}), which allows research and "
                    "evaluation only.",
                    severity=None if use.commercial else Severity.MEDIUM,
                )
            )
        elif r.non_commercial or entry.commercial_use == "no":
            out.append(
                rules.LIC_NON_COMMERCIAL.finding(
                    _loc(root, _card_path(root)),
                    f"{who} under {entry.name} ({entry.id}), which does not allow commercial use.",
                    severity=None if use.commercial else Severity.LOW,
                )
            )
    return out


def _condition_findings(
    lineage: Lineage,
    effective: tuple[EffectiveLicense, ...],
    use: UseProfile,
    multimodal: bool | None,
) -> list[Finding]:
    out: list[Finding] = []
    loc = _loc(lineage.root, _card_path(lineage.root))
    for lic in effective:
        entry = lic.entry
        if entry is not None:
            out.extend(
                rules.LIC_USE_EXCEEDS.finding(loc, f"{entry.name} ({entry.id}): {problem}")
                for problem in _breaches(entry, use, multimodal)
            )
    return out


def _confidence_findings(
    lineage: Lineage, effective: tuple[EffectiveLicense, ...]
) -> list[Finding]:
    loc = _loc(lineage.root, _card_path(lineage.root))
    return [
        rules.LIC_UNVERIFIED.finding(
            loc,
            f"The knowledge base marks facts about {e.entry.name} ({e.id}) as unverified"
            + (f": {e.entry.notes}" if e.entry.notes else "."),
        )
        for e in effective
        if e.entry is not None and e.entry.confidence == "unverified"
    ]


# --- the verdict -----------------------------------------------------------------------------


def _breaches(entry: LicenseEntry, use: UseProfile, multimodal: bool | None) -> list[str]:
    """Conditions the profile is known to break."""
    c = entry.conditions
    out = []
    if c.mau_threshold is not None and (use.monthly_active_users or 0) > c.mau_threshold:
        out.append(
            f"{use.monthly_active_users:,} monthly active users is above the licence's "
            f"{c.mau_threshold:,}; a separate licence from the rights holder is needed."
        )
    if (
        use.commercial
        and c.revenue_threshold_usd is not None
        and use.annual_revenue_usd is not None
        and use.annual_revenue_usd >= c.revenue_threshold_usd
    ):
        out.append(
            f"annual revenue of US${use.annual_revenue_usd:,} is at or above the licence's "
            f"US${c.revenue_threshold_usd:,}; commercial use needs a separate licence."
        )
    if use.eu_established and multimodal:
        out.extend(
            f"{clause.effect} (region {clause.region}; this model looks multimodal)"
            for clause in c.regions
            if clause.region == "EU"
        )
    return out


def _outcome(
    lineage: Lineage,
    licenses: Mapping[str, NodeLicense],
    effective: tuple[EffectiveLicense, ...],
    use: UseProfile,
    multimodal: bool | None,
) -> tuple[Outcome, list[str]]:
    votes: list[tuple[Outcome, str]] = []
    for node in lineage.nodes:
        found = licenses.get(node.key)
        if node.status in ("not_found", "unresolvable", "depth_limit"):
            what = {
                "not_found": "could not be read",
                "unresolvable": "names no repo that could be looked up",
                "depth_limit": "is beyond the depth limit",
            }[node.status]
            votes.append(("unknown", f"the lineage is incomplete: base '{node.display}' {what}"))
        elif found is not None and not found.ids and not _inherited(lineage, licenses, node):
            votes.append(("unknown", f"{_who(node)} declares no identifiable licence"))
    for lic in effective:
        entry = lic.entry
        if entry is None:
            votes.append(("unknown", f"licence '{lic.id}' is not in the knowledge base"))
            continue
        votes.extend(_entry_votes(entry, use, multimodal))
    if not votes:
        return "allowed", []
    worst = max(_RANK[v] for v, _ in votes)
    outcome = next(v for v in _RANK if _RANK[v] == worst)
    return outcome, [reason for v, reason in votes if v == outcome]


def _entry_votes(
    entry: LicenseEntry, use: UseProfile, multimodal: bool | None
) -> list[tuple[Outcome, str]]:
    name = f"{entry.id}"
    r = entry.restrictions
    c = entry.conditions
    if use.commercial and entry.forbids_commercial_use:
        kind = "research and evaluation only" if r.research_only else "no commercial use"
        return [("forbidden", f"{name}: {kind}")]
    if not use.commercial and r.research_only:
        return [("conditional", f"{name}: allowed for research and evaluation only")]
    votes: list[tuple[Outcome, str]] = [
        ("forbidden", f"{name}: {b}") for b in _breaches(entry, use, multimodal)
    ]
    checked_a_condition = False
    if c.mau_threshold is not None:
        checked_a_condition = True
        if use.monthly_active_users is None:
            votes.append(
                (
                    "conditional",
                    (
                        f"{name}: allowed up to {c.mau_threshold:,} monthly active users "
                        "(give --mau to check)"
                    ),
                )
            )
    if use.commercial and c.revenue_threshold_usd is not None:
        checked_a_condition = True
        if use.annual_revenue_usd is None:
            votes.append(
                (
                    "conditional",
                    (
                        f"{name}: commercial use allowed below US${c.revenue_threshold_usd:,} "
                        "annual revenue (give --revenue to check)"
                    ),
                )
            )
    for clause in c.regions:
        checked_a_condition = True
        if clause.region == "EU" and use.eu_established and multimodal is None:
            votes.append(
                (
                    "conditional",
                    f"{name}: {clause.effect} (could not tell whether this model is multimodal)",
                )
            )
    if entry.commercial_use == "conditional" and use.commercial and not checked_a_condition:
        votes.append(("conditional", f"{name}: commercial use has conditions" + _notes(entry)))
    if use.commercial and flows_down_restrictions(entry):
        # Use-based restrictions (OpenRAIL's, an acceptable-use policy) bind every use and must
        # be passed on to whoever gets the model: whatever thresholds were checked, commercial
        # use is allowed only under them, never plainly.
        why = (
            f"{name}: commercial use only under its use restrictions, which you must follow "
            "and pass on to everyone you let use the model"
        )
        votes.append(("conditional", why))
    return votes


def flows_down_restrictions(entry: LicenseEntry) -> bool:
    """Whether the licence restricts how the model is used in a way that must flow down to
    users and recipients (OpenRAIL use restrictions, an acceptable-use policy)."""
    o, r = entry.obligations, entry.restrictions
    return bool(o.include_use_restrictions or o.use_policy or r.acceptable_use)


def _notes(entry: LicenseEntry) -> str:
    return f" ({entry.notes})" if entry.notes else ""


# --- the checklist ---------------------------------------------------------------------------


def _checklist(
    lineage: Lineage,
    effective: tuple[EffectiveLicense, ...],
    use: UseProfile,
    multimodal: bool | None,
) -> tuple[ChecklistItem, ...]:
    items: dict[tuple[str, str], list[str]] = {}
    why: dict[tuple[str, str], list[str]] = {}

    def add(topic: str, action: str, reason: str, license_id: str) -> None:
        key = (topic, action)
        ids = items.setdefault(key, [])
        if license_id not in ids:
            ids.append(license_id)
        reasons = why.setdefault(key, [])
        if reason not in reasons:
            reasons.append(reason)

    ships = use.distribution == "distribute"
    serves = use.distribution in ("distribute", "hosted")
    # Shipping the licence text and a Notice is the redistributor's duty, not a defect of the
    # model (most Hub repos declare their licence in metadata only): the checklist says where
    # to get what the repo does not carry.
    facts = lineage.root.facts if lineage.root.status == "ok" else None
    no_copy = facts is not None and not facts.license_texts
    no_notice = facts is not None and not facts.notice_files
    for lic in effective:
        entry = lic.entry
        if entry is None:
            add(
                "unknown-license",
                f"Read the licence '{lic.id}' yourself before use: modeltrust does not know it.",
                f"declared by {_carriers_text(lineage, lic)}",
                lic.id,
            )
            continue
        o, r, c = entry.obligations, entry.restrictions, entry.conditions
        origin = f"{entry.name}, carried by {_carriers_text(lineage, lic, short=True)}"
        if r.research_only:
            add("research-only", "Use the model for research and evaluation only.", origin, lic.id)
        elif r.non_commercial or entry.commercial_use == "no":
            add("non-commercial", "Do not use the model commercially.", origin, lic.id)
        if ships and o.license_copy:
            where = f" from {entry.source}" if entry.source else ""
            missing = f" (this repo has no LICENSE file: take the text{where})" if no_copy else ""
            add(
                "license-copy",
                f"Include a copy of the {entry.name} with every copy you distribute{missing}.",
                origin,
                lic.id,
            )
        if ships and o.notice_file:
            add(
                "notice",
                "Ship a Notice file with the attribution text the licence prescribes"
                + (" (this repo has none: write it)." if no_notice else "."),
                origin,
                lic.id,
            )
        if serves and o.attribution:
            add("attribution", o.attribution.rstrip(".") + ".", origin, lic.id)
        if ships and o.derivative_name_prefix and lic.inherited:
            add(
                "naming",
                f"Name any model you distribute that is built from this one (fine-tune, "
                f"adapter, merge, quantization or a model trained on its outputs) starting "
                f"with '{o.derivative_name_prefix}'.",
                origin,
                lic.id,
            )
        if ships and o.state_changes:
            add("state-changes", "Mark the files you changed, saying what changed.", origin, lic.id)
        if ships and o.share_alike:
            add(
                "share-alike",
                f"Release your derivatives under {entry.name} (or one it allows).",
                origin,
                lic.id,
            )
        if serves and o.include_use_restrictions:
            add(
                "pass-on-restrictions",
                "Make the licence's use restrictions an enforceable part of your terms with "
                "everyone who receives or uses the model, and tell them about them.",
                origin,
                lic.id,
            )
        if o.use_policy or r.acceptable_use:
            policy = f" at {o.use_policy}" if o.use_policy else ""
            cats = f" (covers: {', '.join(r.acceptable_use[:8])})" if r.acceptable_use else ""
            add(
                f"use-policy:{lic.id}",
                f"Follow the acceptable-use policy{policy}{cats}.",
                origin,
                lic.id,
            )
        if r.no_improving_other_models:
            add(
                "no-improving-other-models",
                "Do not use the model or its outputs to improve other large language models.",
                origin,
                lic.id,
            )
        if entry.outputs_trained_models_are_derivatives:
            add(
                "outputs",
                "Treat models you train on its outputs (distillation) as derivatives under the "
                "same licence.",
                origin,
                lic.id,
            )
        if c.mau_threshold is not None:
            add(
                f"mau-threshold:{c.mau_threshold}",
                f"Stay at or below {c.mau_threshold:,} monthly active users, or get a separate "
                "licence from the rights holder first.",
                origin,
                lic.id,
            )
        if use.commercial and c.revenue_threshold_usd is not None:
            add(
                f"revenue-threshold:{c.revenue_threshold_usd}",
                f"Keep annual revenue below US${c.revenue_threshold_usd:,} for commercial use, "
                "or get an enterprise licence.",
                origin,
                lic.id,
            )
        for clause in c.regions:
            if clause.region == "EU" and use.eu_established and multimodal is not False:
                add(
                    f"region:{clause.region}",
                    f"Check the EU clause: {clause.effect}",
                    origin,
                    lic.id,
                )
        if entry.confidence == "unverified":
            add(
                f"verify:{lic.id}",
                f"Check the terms of {entry.name} against its text ({entry.source or 'the licence'}): "
                "the knowledge base marks some of its facts as unverified.",
                origin,
                lic.id,
            )
    return tuple(
        ChecklistItem(topic.split(":", 1)[0], action, "; ".join(why[(topic, action)]), tuple(ids))
        for (topic, action), ids in items.items()
    )


# --- helpers ---------------------------------------------------------------------------------


def _with(use: UseProfile, *, commercial: bool) -> UseProfile:
    return UseProfile(
        commercial,
        use.monthly_active_users,
        use.annual_revenue_usd,
        use.eu_established,
        use.distribution,
    )


def _named_with(name: str, prefix: str) -> bool:
    """Case and separators are ignored: "llama-3.1-8b-x" starts with "Llama 3"."""

    def norm(text: str) -> str:
        return " ".join(re.split(r"[\s_\-]+", text.lower())).strip()

    return norm(name).startswith(norm(prefix))


def _nearest(lineage: Lineage, keys: tuple[str, ...]) -> LineageNode | None:
    nodes = [lineage.node(k) for k in keys if k != lineage.root.key]
    return min(nodes, key=lambda n: n.depth, default=None)


def _chain(lineage: Lineage, node: LineageNode) -> list[LineageNode]:
    """The node and its first children up to the root (the path the walk found)."""
    chain = [node]
    while chain[-1].children and len(chain) <= len(lineage.nodes):
        chain.append(lineage.node(chain[-1].children[0]))
    return chain


def _relations_to(lineage: Lineage, node: LineageNode) -> set[str]:
    return {n.relation or "" for n in _chain(lineage, node) if n.depth > 0}


def _path_text(lineage: Lineage, node: LineageNode) -> str:
    chain = _chain(lineage, node)
    steps = [n.relation or "base" for n in chain if n.depth > 0]
    return " of ".join(reversed(steps)) if len(steps) > 1 else (steps[0] if steps else "base")


def _carriers_text(lineage: Lineage, lic: EffectiveLicense, *, short: bool = False) -> str:
    names = []
    for key in lic.carriers:
        node = lineage.node(key)
        names.append("the model itself" if node.depth == 0 else f"'{node.display}'")
    text = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    if short:
        return text
    return (text[0].upper() + text[1:] + (" is" if len(names) == 1 else " are")) if text else ""


def _who(node: LineageNode) -> str:
    return "The model" if node.depth == 0 else f"Base model '{node.display}'"


def _card_path(node: LineageNode) -> str:
    return (node.facts.card_path if node.facts else None) or "README.md"


def _loc(node: LineageNode, path: str) -> Location:
    return Location(f"{node.display.rstrip('/')}/{path}")


def _multimodal(lineage: Lineage) -> bool | None:
    """Whether the weights take images, audio or video, from the nearest readable config."""
    for node in lineage.nodes:
        if node.facts is not None:
            verdict = is_multimodal(node.facts)
            if verdict is not None:
                return verdict
    return None


def is_multimodal(facts: RepoFacts) -> bool | None:
    config = facts.config
    if config is not None:
        if any(k in config for k in ("vision_config", "audio_config", "vision_tower")):
            return True
        architectures = config.get("architectures")
        if isinstance(architectures, list) and architectures:
            return any(isinstance(a, str) and _VISION.search(a) for a in architectures)
        model_type = config.get("model_type")
        if isinstance(model_type, str):
            return bool(_VISION.search(model_type))
    for meta in facts.gguf:
        arch = meta.facts.get("general.architecture")
        if arch:
            return bool(_VISION.search(arch) or arch in ("clip", "mllama"))
    return None
