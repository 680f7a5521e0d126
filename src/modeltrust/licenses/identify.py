"""Which licence(s) one repo declares: card metadata, licence files and GGUF keys.

Each declaration becomes a piece of :class:`Evidence`. The card's ``license:`` is the Hub's id;
with ``license: other`` the ``license_name`` (normalised) and then the ``license_link`` name it.
Licence files are recognised by their normalised text: a title pattern near the top (the most
specific wins, key phrases break ties between versions), else at least two key phrases anywhere.
When the ScanCode toolkit is importable it is asked too, as one more signal. GGUF headers carry
``general.license``, ``general.license.name`` and ``general.license.link``.

A licence id is the knowledge base's id when the licence is known, else the card's own id (the
Hub id, or the normalised ``license_name`` with ``other``), so an unknown licence is still named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from modeltrust.licenses.card import CardMetadata
from modeltrust.licenses.kb import KnowledgeBase, LicenseEntry, normalise_name
from modeltrust.licenses.repo import LicenseText, RepoFacts

HEAD_LINES = 12
"""Non-empty lines of a licence file searched for its title."""
MAX_MATCH_CHARS = 400_000
OTHER = "other"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One declaration of a licence: where it was seen, what it said, what we made of it."""

    origin: str
    """``card license``, ``card license_name``, ``card license_link``, ``licence file``,
    ``GGUF general.license``, ``GGUF general.license.name``, ``GGUF general.license.link``."""
    path: str
    value: str
    license_id: str | None
    """Our licence id (known to the knowledge base or not); None when nothing could be named."""
    known: bool


@dataclass(frozen=True, slots=True)
class NodeLicense:
    declared: tuple[str, ...]
    """Licence ids the card declares (what the Hub shows)."""
    ids: tuple[str, ...]
    """Every licence id found in the repo: the card's, the licence files', the GGUF headers'."""
    evidence: tuple[Evidence, ...]

    def unknown_ids(self, kb: KnowledgeBase) -> tuple[str, ...]:
        return tuple(i for i in self.ids if kb.get(i) is None)


def identify(facts: RepoFacts, kb: KnowledgeBase) -> NodeLicense:
    """Every licence declaration in one repo, each matched against the knowledge base."""
    evidence: list[Evidence] = []
    file_evidence = [_file_evidence(t, kb) for t in facts.license_texts]
    card_ev = _card_evidence(facts.card, facts.card_path or "README.md", kb, file_evidence)
    evidence.extend(card_ev)
    evidence.extend(file_evidence)
    for meta in facts.gguf:
        evidence.extend(_gguf_evidence(meta.path, meta.facts, kb))
    declared = _ids(card_ev)
    ids = _ids(evidence)
    return NodeLicense(declared, ids, tuple(evidence))


def _ids(evidence: Iterable[Evidence]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(e.license_id for e in evidence if e.license_id))


# --- the card --------------------------------------------------------------------------------


def _card_evidence(
    card: CardMetadata, path: str, kb: KnowledgeBase, files: list[Evidence]
) -> list[Evidence]:
    values = card.texts("license")
    name = card.text("license_name")
    link = card.text("license_link")
    if not values and (name or link):
        values = (OTHER,)
    out = []
    for value in values:
        hub_id = value.lower()
        if hub_id == OTHER:
            out.append(_other(name, link, path, kb, files))
        elif hub_id == UNKNOWN:
            out.append(Evidence("card license", path, value, None, False))
        else:
            entry = kb.by_hub_id(hub_id) or kb.lookup(hub_id)
            out.append(
                Evidence("card license", path, value, entry.id if entry else hub_id, bool(entry))
            )
    return out


def _other(
    name: str | None, link: str | None, path: str, kb: KnowledgeBase, files: list[Evidence]
) -> Evidence:
    """``license: other``: the license_name, else the license_link, else the licence file."""
    if name:
        entry = kb.by_license_name(name)
        if entry is None and link:
            entry = kb.by_link(link)
        return Evidence(
            "card license_name",
            path,
            name,
            entry.id if entry else normalise_name(name),
            entry is not None,
        )
    if link:
        entry = kb.by_link(link)
        if entry is not None:
            return Evidence("card license_link", path, link, entry.id, True)
        linked = _linked_file(link, files)
        if linked is not None and linked.license_id:
            return Evidence("card license_link", path, link, linked.license_id, linked.known)
    known_files = [f for f in files if f.known]
    if len(known_files) == 1:
        return Evidence("card license", path, OTHER, known_files[0].license_id, True)
    return Evidence("card license", path, OTHER, OTHER, False)


def _linked_file(link: str, files: list[Evidence]) -> Evidence | None:
    """``license_link: LICENSE.md`` (a path in the repo) names one of the licence files."""
    target = link.strip().removeprefix("./").rsplit("/", 1)[-1].lower()
    for f in files:
        if f.path.rsplit("/", 1)[-1].lower() == target:
            return f
    return None


# --- GGUF ------------------------------------------------------------------------------------


def _gguf_evidence(path: str, facts: dict[str, str], kb: KnowledgeBase) -> list[Evidence]:
    out = []
    value = facts.get("general.license", "").strip()
    name = facts.get("general.license.name", "").strip()
    link = facts.get("general.license.link", "").strip()
    if value and value.lower() not in (OTHER, UNKNOWN):
        entry = kb.lookup(value)
        out.append(
            Evidence(
                "GGUF general.license",
                path,
                value,
                entry.id if entry else normalise_name(value),
                entry is not None,
            )
        )
    elif name or link:
        entry = (kb.by_license_name(name) if name else None) or (kb.by_link(link) if link else None)
        origin = "GGUF general.license.name" if name else "GGUF general.license.link"
        out.append(
            Evidence(
                origin,
                path,
                name or link,
                entry.id if entry else (normalise_name(name) if name else None),
                entry is not None,
            )
        )
    elif value:
        out.append(Evidence("GGUF general.license", path, value, None, False))
    return out


# --- licence files ---------------------------------------------------------------------------


def _file_evidence(text: LicenseText, kb: KnowledgeBase) -> Evidence:
    entry = match_license_text(text.text, kb)
    if entry is None:
        entry = _scancode(text.text, kb)
    title = _first_line(text.text)
    return Evidence(
        "licence file", text.path, title, entry.id if entry else None, entry is not None
    )


def normalise_text(text: str) -> str:
    """Lowercase; every run of punctuation and whitespace becomes one space (a dot between
    digits is kept: "version 2.0"), so wrapping, quotes and markdown do not matter."""
    text = text[:MAX_MATCH_CHARS].lower()
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    return " ".join(re.sub(r"[^\w.]+", " ", text).split())


def match_license_text(text: str, kb: KnowledgeBase) -> LicenseEntry | None:
    """The knowledge base entry a licence text is, or None when it cannot be told."""
    lines = [line for line in text[:MAX_MATCH_CHARS].splitlines() if line.strip()]
    head = f" {normalise_text(' '.join(lines[:HEAD_LINES]))} "
    body = f" {normalise_text(text)} "
    scored: list[tuple[int, int, LicenseEntry]] = []
    for entry in kb.entries:
        hits = sum(1 for p in entry.key_phrases if f" {normalise_text(p)} " in body)
        title = max(
            (len(p) for p in entry.title_patterns if f" {normalise_text(p)} " in head), default=0
        )
        if title or hits >= 2:
            scored.append((title, hits, entry))
    if not scored:
        return None
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    best = scored[0]
    if len(scored) > 1 and scored[1][:2] == best[:2] and scored[1][2].id != best[2].id:
        return None  # two licences fit equally well: do not guess
    return best[2]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip(" #*=-\t\ufeff")
        if stripped:
            return stripped[:120]
    return ""


def scancode_keys(expression: str) -> tuple[str, ...]:
    """ScanCode license keys in a detected expression (``mit AND (apache-2.0 OR gpl-2.0)``)."""
    words = re.split(r"[\s()]+", expression.lower())
    return tuple(dict.fromkeys(w for w in words if w and w not in ("and", "or", "with")).keys())


def _scancode(text: str, kb: KnowledgeBase) -> LicenseEntry | None:
    """Ask the ScanCode toolkit, when it is installed, which licence a text is."""
    try:
        from scancode import api  # type: ignore[import-not-found]
    except ImportError:
        return None
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="modeltrust-") as tmp:
        path = Path(tmp) / "LICENSE"
        path.write_text(text, encoding="utf-8")
        try:
            result = api.get_licenses(location=str(path))
        except (OSError, ValueError, TypeError, KeyError, RuntimeError):
            return None  # an optional detector that fails is one signal fewer, not a failure
    expression = result.get("detected_license_expression") or ""
    if not isinstance(expression, str):
        return None
    entries = {e.id: e for k in scancode_keys(expression) if (e := kb.by_scancode(k))}
    return next(iter(entries.values())) if len(entries) == 1 else None
