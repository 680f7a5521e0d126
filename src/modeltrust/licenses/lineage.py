"""Walk a model's ancestry: which repos it declares as bases, how, and what those declare.

Bases are declared in three places, all read: the card's ``base_model`` (a repo id or a list,
for merges) with ``base_model_relation``; PEFT's ``adapter_config.json``
(``base_model_name_or_path``, and ``revision``); and GGUF headers (``general.base_model.N.*``
and ``general.source.*``, as a Hub URL or an organisation and name). When the card gives no
relation it is inferred the way the Hub does, from what the repo holds: adapter weights, a merge
config or several bases, quantized files, else a fine-tune.

Each base is opened through the source it was named from (the Hub, or folders next to a local
model), pinned to the commit it resolves to, and walked in turn, breadth first. A shared base (a
merge of two fine-tunes of one model) is read once. A base that leads back to a model already on
the path is a cycle; the walk stops at ``max_depth``; a base that cannot be opened is kept in the
lineage with its status, so the report shows what is missing rather than hiding it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from modeltrust import rules
from modeltrust.errors import SourceError
from modeltrust.findings import Finding, Location
from modeltrust.licenses.repo import RepoFacts, read_repo_facts
from modeltrust.sources.interface import Source, is_repo_id

DEFAULT_MAX_DEPTH = 10
MAX_REPOS = 100
"""Repos opened in one walk: merges of merges could otherwise fan out without bound."""
RELATIONS = ("adapter", "merge", "quantized", "finetune")
MAX_BASES_PER_NODE = 32
_QUANT_TAGS = frozenset({"gguf", "gptq", "awq", "exl2", "quantized", "bitsandbytes", "mlx"})
_HUB_HOSTS = ("huggingface.co", "hf.co")
_SHA = re.compile(r"[0-9a-f]{40}")

Status = Literal["ok", "not_found", "cycle", "depth_limit", "unresolvable"]


@dataclass(frozen=True, slots=True)
class BaseRef:
    """A base as one repo declares it."""

    name: str
    """As written: a repo id, a URL, a path or a free-text name."""
    repo_id: str | None
    """The Hub repo id it resolves to, or None when it names no repo."""
    revision: str | None
    relation: str
    declared_by: str
    path: str
    """The file that declares it."""


@dataclass(frozen=True, slots=True)
class LineageNode:
    key: str
    """Unique within one lineage: the opened repo's identity, else ``?<name>``."""
    ref: str
    repo_id: str | None
    revision: str | None
    name: str
    display: str
    depth: int
    relation: str | None
    """How the first model that named this one derives from it (None for the model itself)."""
    declared_by: str | None
    children: tuple[str, ...]
    """Keys of the nodes that name this one as a base."""
    bases: tuple[str, ...]
    status: Status
    facts: RepoFacts | None = field(default=None, repr=False, compare=False)
    message: str | None = None
    """Why the node could not be read (status other than ok)."""


@dataclass(frozen=True, slots=True)
class Lineage:
    nodes: tuple[LineageNode, ...]
    """Breadth first: the model itself first, then its bases by depth."""
    findings: tuple[Finding, ...]

    @property
    def root(self) -> LineageNode:
        return self.nodes[0]

    def node(self, key: str) -> LineageNode:
        for n in self.nodes:
            if n.key == key:
                return n
        raise KeyError(key)

    def ancestors(self) -> tuple[LineageNode, ...]:
        return self.nodes[1:]

    @property
    def complete(self) -> bool:
        return all(n.status == "ok" for n in self.nodes)


def declared_bases(facts: RepoFacts, endpoint_hosts: tuple[str, ...] = ()) -> list[BaseRef]:
    """Every base the repo declares, de-duplicated by repo id (the card's entry first)."""
    card = facts.card
    card_path = facts.card_path or "README.md"
    card_bases = [_url_to_repo_id(b, endpoint_hosts) or b for b in card.texts("base_model")]
    relation = _relation(facts, len(card_bases))
    refs: list[BaseRef] = []
    for name in card_bases[:MAX_BASES_PER_NODE]:
        repo_id, revision = _split_revision(name)
        refs.append(
            BaseRef(
                name,
                repo_id if is_repo_id(repo_id) else None,
                revision,
                relation,
                "card base_model",
                card_path,
            )
        )
    adapter = facts.adapter_config
    if adapter is not None:
        named = _text(adapter.get("base_model_name_or_path"))
        if named:
            adapter_id = _url_to_repo_id(named, endpoint_hosts) or named
            refs.append(
                BaseRef(
                    named,
                    adapter_id if is_repo_id(adapter_id) else None,
                    _text(adapter.get("revision")),
                    "adapter",
                    "adapter_config.json base_model_name_or_path",
                    "adapter_config.json",
                )
            )
    for meta in facts.gguf:
        refs.extend(_gguf_bases(meta.path, meta.facts, relation, endpoint_hosts))
    return _dedupe(refs)


def _dedupe(refs: list[BaseRef]) -> list[BaseRef]:
    seen: dict[str, BaseRef] = {}
    for ref in refs:
        key = ref.repo_id.lower() if ref.repo_id else f"?{ref.name.lower()}"
        if key not in seen:
            seen[key] = ref
    kept = list(seen.values())
    # A free-text or path base adds nothing when a resolvable one is declared beside it.
    if any(r.repo_id for r in kept):
        kept = [r for r in kept if r.repo_id or r.declared_by.startswith("card")]
    return kept


def infer_relation(facts: RepoFacts, base_count: int) -> str:
    """The relation the card states, else the one the repo's content implies."""
    return _relation(facts, base_count)


def _relation(facts: RepoFacts, base_count: int) -> str:
    stated = (facts.card.text("base_model_relation") or "").lower()
    if stated in RELATIONS:
        return stated
    if facts.adapter_config is not None or any(
        f.path.endswith(("adapter_model.safetensors", "adapter_model.bin")) for f in facts.files
    ):
        return "adapter"
    tags = {t.lower() for t in facts.card.texts("tags")}
    library = (facts.card.text("library_name") or "").lower()
    if base_count > 1 or facts.has_merge_config or "merge" in tags or library == "mergekit":
        return "merge"
    quantized_config = isinstance(facts.config, Mapping) and "quantization_config" in facts.config
    if facts.gguf_files or quantized_config or tags & _QUANT_TAGS or library == "gguf":
        return "quantized"
    return "finetune"


def _gguf_bases(
    path: str, facts: dict[str, str], relation: str, hosts: tuple[str, ...]
) -> list[BaseRef]:
    out = []
    indices = sorted(
        {int(m.group(1)) for k in facts if (m := re.match(r"general\.base_model\.(\d+)\.", k))}
    )
    for i in indices[:MAX_BASES_PER_NODE]:
        prefix = f"general.base_model.{i}."
        url = facts.get(prefix + "repo_url") or facts.get(prefix + "url") or ""
        repo_id = _url_to_repo_id(url, hosts) if url else None
        org = facts.get(prefix + "organization", "").strip()
        model = facts.get(prefix + "name", "").strip()
        name = url or " / ".join(p for p in (org, model) if p) or f"base model {i}"
        out.append(BaseRef(name, repo_id, None, relation, f"GGUF {prefix}*", path))
    source = facts.get("general.source.repo_url") or facts.get("general.source.url") or ""
    source_id = _url_to_repo_id(source, hosts) if source else None
    if source_id:
        out.append(BaseRef(source, source_id, None, relation, "GGUF general.source.*", path))
    return out


def _url_to_repo_id(text: str, hosts: tuple[str, ...]) -> str | None:
    """``https://huggingface.co/org/name/tree/main`` -> ``org/name`` (models only)."""
    match = re.match(r"^\s*(?:https?://)?([^/\s]+)/([^?#\s]*)", text)
    if match is None:
        return None
    host = match.group(1).lower().removeprefix("www.")
    if host not in _HUB_HOSTS and host not in hosts:
        return None
    parts = [p for p in match.group(2).split("/") if p]
    if len(parts) < 2 or parts[0] in ("datasets", "spaces", "api"):
        return None
    repo_id = f"{parts[0]}/{parts[1]}"
    return repo_id if is_repo_id(repo_id) else None


def _split_revision(name: str) -> tuple[str, str | None]:
    repo_id, at, revision = name.partition("@")
    return (repo_id, revision) if at and revision else (name, None)


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# --- the walk --------------------------------------------------------------------------------


@dataclass
class _Draft:
    key: str
    ref: str
    source: Source | None
    depth: int
    relation: str | None
    declared_by: str | None
    status: Status
    facts: RepoFacts | None = None
    message: str | None = None
    children: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)


def walk_lineage(
    source: Source,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_repos: int = MAX_REPOS,
    read_facts: Callable[[Source], RepoFacts] = read_repo_facts,
) -> Lineage:
    """The model at ``source`` and its ancestors, up to ``max_depth`` generations and
    ``max_repos`` repos."""
    hosts = source.url_hosts()
    findings: list[Finding] = []
    root = _Draft(source.identity, source.ref, source, 0, None, None, "ok", read_facts(source))
    drafts: dict[str, _Draft] = {root.key: root}
    opened: dict[tuple[str, str | None], str] = {}
    if source.repo_id:
        opened[(source.repo_id.lower(), None)] = root.key
    queue = deque([root])
    while queue:
        node = queue.popleft()
        if node.source is None or node.facts is None:  # pragma: no cover - only opened nodes queue
            continue
        refs = [r for r in declared_bases(node.facts, hosts) if not _names_itself(node, r)]
        findings.extend(_declaration_findings(node, refs))
        if refs and node.depth >= max_depth:
            for ref in refs:
                _attach(drafts, node, _stub(ref, node, "depth_limit", None))
            findings.append(_beyond(node, refs, f"at depth {node.depth}, the limit"))
            continue
        skipped: list[BaseRef] = []
        for ref in refs:
            if ref.repo_id is None:
                _attach(drafts, node, _stub(ref, node, "unresolvable", None))
                findings.append(
                    rules.LIN_UNRESOLVABLE.finding(
                        _loc(node, ref.path),
                        f"{_label(node)} names its base as '{ref.name}' ({ref.declared_by}), "
                        "which is not a Hub repo id, so its licence could not be read.",
                    )
                )
                continue
            wanted = (ref.repo_id.lower(), ref.revision)
            key = opened.get(wanted)
            if key is None and _opened(drafts) >= max_repos:
                _attach(drafts, node, _stub(ref, node, "depth_limit", None))
                skipped.append(ref)
                continue
            if key is None:
                try:
                    base_source = node.source.open_related(ref.repo_id, ref.revision)
                except SourceError as e:
                    _attach(drafts, node, _stub(ref, node, "not_found", str(e)))
                    findings.append(
                        rules.LIN_BASE_NOT_FOUND.finding(
                            _loc(node, ref.path),
                            f"Base model '{ref.repo_id}' of {_label(node)} ({ref.declared_by}) "
                            f"could not be read: {e}",
                        )
                    )
                    continue
                key = base_source.identity
                opened[wanted] = key
                if base_source.repo_id and ref.revision is None:
                    opened[(base_source.repo_id.lower(), None)] = key
                if key not in drafts:
                    base = _Draft(
                        key,
                        ref.repo_id,
                        base_source,
                        node.depth + 1,
                        ref.relation,
                        ref.declared_by,
                        "ok",
                        read_facts(base_source),
                    )
                    drafts[key] = base
                    node.bases.append(key)
                    base.children.append(node.key)
                    queue.append(base)
                    continue
            if _reaches(drafts, key, node.key):
                findings.append(
                    rules.LIN_CYCLE.finding(
                        _loc(node, ref.path),
                        f"{_label(node)} names '{ref.repo_id}' as its base, but that model "
                        "already descends from it: the lineage is a cycle. The walk did not "
                        "follow it again.",
                    )
                )
                cycle = _stub(ref, node, "cycle", "already in the lineage")
                _attach(drafts, node, cycle)
                continue
            if key not in node.bases:  # a shared base (diamond): one more edge, no new read
                node.bases.append(key)
                drafts[key].children.append(node.key)
        if skipped:
            limit = f"after {max_repos} repos were read, the most one check reads"
            findings.append(_beyond(node, skipped, limit))
    return Lineage(tuple(_freeze(d) for d in drafts.values()), tuple(findings))


def _opened(drafts: dict[str, _Draft]) -> int:
    return sum(1 for d in drafts.values() if d.source is not None)


def _beyond(node: _Draft, refs: list[BaseRef], limit: str) -> Finding:
    names = ", ".join(r.name for r in refs[:5]) + (", ..." if len(refs) > 5 else "")
    return rules.LIN_DEPTH.finding(
        _loc(node, refs[0].path),
        f"{_label(node)} declares {len(refs)} base model(s) ({names}) {limit}; they and their "
        "ancestors were not read.",
    )


def _names_itself(node: _Draft, ref: BaseRef) -> bool:
    """A GGUF file converted in the repo that hosts it records that repo as its source: not a
    base. (A card naming its own repo is a real cycle and is reported.)"""
    own = node.source.repo_id if node.source is not None else None
    return (
        ref.declared_by.startswith("GGUF")
        and own is not None
        and ref.repo_id is not None
        and ref.repo_id.lower() == own.lower()
    )


def _reaches(drafts: dict[str, _Draft], start: str, target: str) -> bool:
    """Whether ``target`` is ``start`` or one of its ancestors already in the walk."""
    stack, seen = [start], set()
    while stack:
        key = stack.pop()
        if key == target:
            return True
        if key in seen:
            continue
        seen.add(key)
        stack.extend(drafts[key].bases)
    return False


def _stub(ref: BaseRef, child: _Draft, status: Status, message: str | None) -> _Draft:
    key = f"?{status}:{ref.repo_id or ref.name}"
    return _Draft(
        key,
        ref.repo_id or ref.name,
        None,
        child.depth + 1,
        ref.relation,
        ref.declared_by,
        status,
        message=message,
    )


def _attach(drafts: dict[str, _Draft], child: _Draft, stub: _Draft) -> None:
    existing = drafts.setdefault(stub.key, stub)
    if existing.key not in child.bases:
        child.bases.append(existing.key)
        existing.children.append(child.key)


def _freeze(d: _Draft) -> LineageNode:
    src = d.source
    name = src.name if src else d.ref.rsplit("/", 1)[-1]
    return LineageNode(
        key=d.key,
        ref=d.ref,
        repo_id=src.repo_id if src else (d.ref if is_repo_id(d.ref) else None),
        revision=src.revision if src else None,
        name=name,
        display=src.display if src else d.ref,
        depth=d.depth,
        relation=d.relation,
        declared_by=d.declared_by,
        children=tuple(d.children),
        bases=tuple(d.bases),
        status=d.status,
        facts=d.facts,
        message=d.message,
    )


def _declaration_findings(node: _Draft, refs: list[BaseRef]) -> list[Finding]:
    """The card and adapter_config.json should name the same base (both are followed)."""
    card = sorted({r.repo_id for r in refs if r.repo_id and r.declared_by.startswith("card")})
    if not card:
        return []
    return [
        rules.LIN_DISAGREE.finding(
            _loc(node, r.path),
            f"For {_label(node)} the card names {', '.join(card)} as base but "
            f"adapter_config.json names '{r.name}'. Both were followed.",
        )
        for r in refs
        if r.repo_id and r.declared_by.startswith("adapter_config")
    ]


def _label(node: _Draft) -> str:
    return "the model" if node.depth == 0 else f"'{node.ref}'"


def _loc(node: _Draft, path: str) -> Location:
    base = node.source.display if node.source is not None else node.ref
    return Location(f"{base.rstrip('/')}/{path}")
