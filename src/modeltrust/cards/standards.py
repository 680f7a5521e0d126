"""The catalogue of documentation items, per standard, loaded from ``cards/data/standards.yaml``.

The catalogue is data so that a reviewer can read and correct it without reading code, and so
that each item carries its provenance: where the standard asks for it and how sure we are of
that reading (``verified``, ``secondary`` or ``unverified``, as in the shared reference). The
loader validates every key and fails with the item named, since a typo would silently turn an
item into one that can never be found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, cast

from modeltrust.cards.markdown import DEFAULT_PLACEHOLDERS, compile_placeholders, normalise
from modeltrust.errors import CatalogueError

Confidence = Literal["verified", "secondary", "unverified"]
CONFIDENCES: tuple[Confidence, ...] = ("verified", "secondary", "unverified")
MUST_HAVE_TOPICS = ("intended-use", "limitations", "training-data", "evaluation", "license")
FACTS = frozenset(
    {
        "license",
        "base_model",
        "datasets",
        "architecture",
        "parameters",
        "eval_results",
        "library",
        "context_length",
        "software_versions",
        "aup_file",
    }
)
"""Names of the facts an item may accept (computed in :mod:`modeltrust.cards.coverage`)."""
_ITEM_KEYS = frozenset(
    {
        "id",
        "standard",
        "ref",
        "title",
        "topic",
        "must_have",
        "optional",
        "confidence",
        "headings",
        "fields",
        "metadata",
        "facts",
        "like",
        "placeholders",
    }
)
_SHORT_HEADING_WORDS = 6


@dataclass(frozen=True, slots=True)
class Standard:
    id: str
    title: str
    reference: str


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    standard: str
    ref: str
    title: str
    topic: str
    must_have: bool
    optional: bool
    confidence: Confidence
    headings: tuple[str, ...]
    """Normalised synonyms; a leading ``=`` means the heading must equal it."""
    fields: tuple[str, ...]
    metadata: tuple[str, ...]
    facts: tuple[tuple[str, ...], ...]
    """Alternatives, each a group of facts that must all be known."""
    placeholder: re.Pattern[str]
    phrases: tuple[re.Pattern[str] | None, ...] = ()
    """Compiled whole-word patterns of the multi-word synonyms, aligned with ``headings``."""

    @property
    def unverified(self) -> bool:
        return self.confidence == "unverified"

    @property
    def weight(self) -> float:
        """Must-haves count double, items the standard calls optional half."""
        return 2.0 if self.must_have else 0.5 if self.optional else 1.0

    def heading_rank(self, key: str) -> int | None:
        """The position of the first synonym a normalised heading matches (earlier synonyms are
        more specific, so "Direct Use" beats its parent "Uses"); None when none does."""
        words = key.split()
        for rank, synonym in enumerate(self.headings):
            if synonym.startswith("="):
                if key == synonym[1:]:
                    return rank
            elif " " not in synonym:
                if synonym in words and len(words) <= _SHORT_HEADING_WORDS:
                    return rank
            else:
                phrase = self.phrases[rank] if rank < len(self.phrases) else None
                if phrase is not None and phrase.search(key):
                    return rank
        return None

    def matches_heading(self, key: str) -> bool:
        """Whether a normalised heading names this item."""
        return self.heading_rank(key) is not None

    def matches_field(self, key: str) -> bool:
        return key in self.fields


@dataclass(frozen=True, slots=True)
class Catalogue:
    standards: tuple[Standard, ...]
    items: tuple[Item, ...]

    def for_standard(self, standard: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.standard == standard)

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise KeyError(item_id)


@cache
def default_catalogue() -> Catalogue:
    text = resources.files("modeltrust.cards").joinpath("data/standards.yaml").read_text("utf-8")
    return parse_catalogue(text, origin="modeltrust/cards/data/standards.yaml")


def parse_catalogue(text: str, *, origin: str = "<string>") -> Catalogue:
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise CatalogueError(
            f"The documentation catalogue '{origin}' is not valid YAML: {e}"
        ) from None
    if not isinstance(raw, dict) or raw.get("schema_version") != 1:
        raise CatalogueError(f"The documentation catalogue '{origin}' lacks 'schema_version: 1'.")
    standards_raw = raw.get("standards")
    items_raw = raw.get("items")
    if not isinstance(standards_raw, dict) or not isinstance(items_raw, list):
        raise CatalogueError(
            f"The documentation catalogue '{origin}' needs 'standards' and 'items'."
        )
    standards = tuple(
        Standard(str(k), _text(v, "title", origin, str(k)), _text(v, "reference", origin, str(k)))
        for k, v in standards_raw.items()
    )
    known = {s.id for s in standards}
    by_id: dict[str, Mapping[str, object]] = {}
    items: list[Item] = []
    for entry in items_raw:
        item = _item(entry, by_id, known, origin)
        by_id[item.id] = cast("Mapping[str, object]", entry)
        items.append(item)
    return Catalogue(standards, tuple(items))


def _fail(origin: str, where: str, problem: str) -> CatalogueError:
    return CatalogueError(
        f"The documentation catalogue '{origin}' is invalid at {where}: {problem}. Fix the entry "
        "(see docs/cards.md for the keys)."
    )


def _text(raw: object, key: str, origin: str, where: str) -> str:
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise _fail(origin, where, f"'{key}' must be a non-empty string")
    return value.strip()


def _strings(raw: Mapping[str, object], key: str, origin: str, where: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(origin, where, f"'{key}' must be a list of non-empty strings")
    return [str(v).strip() for v in value]


def _item(
    entry: object, earlier: Mapping[str, Mapping[str, object]], standards: set[str], origin: str
) -> Item:
    if not isinstance(entry, dict):
        raise _fail(origin, "an item", "each item must be a mapping")
    where = f"item '{entry.get('id', '?')}'"
    unknown = set(entry) - _ITEM_KEYS
    if unknown:
        raise _fail(origin, where, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    item_id = _text(entry, "id", origin, where)
    if item_id in earlier:
        raise _fail(origin, where, "the id is used twice")
    standard = _text(entry, "standard", origin, where)
    if standard not in standards:
        raise _fail(origin, where, f"standard '{standard}' is not listed under 'standards'")
    confidence = _text(entry, "confidence", origin, where)
    if confidence not in CONFIDENCES:
        raise _fail(origin, where, f"confidence must be one of {', '.join(CONFIDENCES)}")
    source: Mapping[str, object] = entry
    like = entry.get("like")
    if like is not None:
        if not isinstance(like, str) or like not in earlier:
            raise _fail(origin, where, f"'like: {like}' must name an item listed before it")
        source = {**earlier[like], **{k: v for k, v in entry.items() if k in ("placeholders",)}}
    headings = []
    for synonym in _strings(source, "headings", origin, where):
        exact = synonym.startswith("=")
        key = synonym if synonym == "@intro" else normalise(synonym.lstrip("="))
        headings.append(f"={key}" if exact else key)
    facts = []
    for group in _strings(source, "facts", origin, where):
        names = tuple(group.split("+"))
        if not set(names) <= FACTS:
            raise _fail(origin, where, f"unknown fact in '{group}'")
        facts.append(names)
    patterns = _strings(source, "placeholders", origin, where)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as e:
            raise _fail(origin, where, f"placeholder pattern '{pattern}' is invalid: {e}") from None
    must_have = entry.get("must_have", False) is True
    topic = _text(entry, "topic", origin, where)
    if must_have and topic not in MUST_HAVE_TOPICS:
        raise _fail(origin, where, f"a must-have item's topic must be one of {MUST_HAVE_TOPICS}")
    return Item(
        id=item_id,
        standard=standard,
        ref=_text(entry, "ref", origin, where),
        title=_text(entry, "title", origin, where),
        topic=topic,
        must_have=must_have,
        optional=entry.get("optional", False) is True,
        confidence=confidence,
        headings=tuple(headings),
        phrases=tuple(
            re.compile(rf"(?:^| ){re.escape(h)}(?: |$)")
            if " " in h and not h.startswith("=")
            else None
            for h in headings
        ),
        fields=tuple(normalise(f) for f in _strings(source, "fields", origin, where)),
        metadata=tuple(_strings(source, "metadata", origin, where)),
        facts=tuple(facts),
        placeholder=compile_placeholders((*DEFAULT_PLACEHOLDERS, *patterns)),
    )
