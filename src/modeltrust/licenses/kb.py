"""The licence knowledge base: one validated record per licence, loaded once from package data.

``data/licenses.yaml`` is written by people from primary sources (each entry says where it was
checked, when, and how confident we are). This module turns it into frozen, typed records and
refuses a file that breaks the schema, naming the entry and key, because a silently wrong record
would give silently wrong verdicts. Lookups cover every way a model names its licence: the card's
``license:`` id, a ``license_name`` alias (with ``license: other``), a ``license_link`` URL,
an SPDX id or ``LicenseRef``, and a ScanCode key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final, Literal, NoReturn, cast

from modeltrust.errors import LicenseDataError

SCHEMA_VERSION: Final = 1
CATEGORIES: Final = frozenset(
    {
        "permissive",
        "weak-copyleft",
        "copyleft",
        "network-copyleft",
        "public-domain",
        "creative-commons",
        "open-rail",
        "community",
        "research",
        "proprietary",
    }
)
COMMERCIAL: Final = frozenset({"yes", "no", "conditional"})
CONFIDENCE: Final = frozenset({"verified", "secondary", "unverified"})

CommercialUse = Literal["yes", "no", "conditional"]
Confidence = Literal["verified", "secondary", "unverified"]


@dataclass(frozen=True, slots=True)
class RegionClause:
    region: str
    """An ISO-like region code, e.g. ``EU``."""
    effect: str


@dataclass(frozen=True, slots=True)
class Conditions:
    mau_threshold: int | None = None
    """Monthly active users above which the licensor's separate permission is needed."""
    revenue_threshold_usd: int | None = None
    """Annual revenue at or above which the licence no longer covers commercial use."""
    regions: tuple[RegionClause, ...] = ()


@dataclass(frozen=True, slots=True)
class Obligations:
    license_copy: bool = False
    notice_file: bool = False
    attribution: str | None = None
    derivative_name_prefix: str | None = None
    state_changes: bool = False
    share_alike: bool = False
    use_policy: str | None = None
    include_use_restrictions: bool = False


@dataclass(frozen=True, slots=True)
class Restrictions:
    acceptable_use: tuple[str, ...] = ()
    non_commercial: bool = False
    research_only: bool = False
    no_improving_other_models: bool = False


@dataclass(frozen=True, slots=True)
class LicenseEntry:
    """One licence, as the knowledge base describes it (see docs/licenses.md)."""

    id: str
    name: str
    family: str
    version: str | None
    hub_ids: tuple[str, ...]
    license_names: tuple[str, ...]
    license_links: tuple[str, ...]
    spdx: str | None
    license_ref: str
    scancode_key: str | None
    category: str
    commercial_use: CommercialUse
    conditions: Conditions
    obligations: Obligations
    restrictions: Restrictions
    flows_down: bool
    outputs_trained_models_are_derivatives: bool | None
    title_patterns: tuple[str, ...]
    key_phrases: tuple[str, ...]
    source: str | None
    checked: str
    confidence: Confidence
    notes: str | None

    @property
    def forbids_commercial_use(self) -> bool:
        r = self.restrictions
        return self.commercial_use == "no" or r.non_commercial or r.research_only


@dataclass(frozen=True)
class KnowledgeBase:
    schema_version: int
    checked: str
    entries: tuple[LicenseEntry, ...]
    origin: str = "modeltrust/licenses/data/licenses.yaml"
    _by_id: dict[str, LicenseEntry] = field(init=False, repr=False, compare=False)
    _by_hub_id: dict[str, LicenseEntry] = field(init=False, repr=False, compare=False)
    _by_name: dict[str, LicenseEntry] = field(init=False, repr=False, compare=False)
    _by_spdx: dict[str, LicenseEntry] = field(init=False, repr=False, compare=False)
    _by_scancode: dict[str, LicenseEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        indexes: dict[str, dict[str, LicenseEntry]] = {
            "id": {},
            "hub id": {},
            "license_name": {},
            "spdx": {},
            "scancode": {},
        }
        for e in self.entries:
            _index(indexes["id"], "id", e.id, e, self.origin)
            for hub_id in e.hub_ids:
                _index(indexes["hub id"], "hub id", hub_id, e, self.origin)
            for name in {normalise_name(n) for n in e.license_names}:
                _index(indexes["license_name"], "license_name", name, e, self.origin)
            for ref in {r.lower() for r in (e.spdx, e.license_ref) if r}:
                _index(indexes["spdx"], "SPDX id or LicenseRef", ref, e, self.origin)
            if e.scancode_key:
                _index(indexes["scancode"], "scancode_key", e.scancode_key.lower(), e, self.origin)
        object.__setattr__(self, "_by_id", indexes["id"])
        object.__setattr__(self, "_by_hub_id", indexes["hub id"])
        object.__setattr__(self, "_by_name", indexes["license_name"])
        object.__setattr__(self, "_by_spdx", indexes["spdx"])
        object.__setattr__(self, "_by_scancode", indexes["scancode"])

    def get(self, license_id: str) -> LicenseEntry | None:
        return self._by_id.get(license_id.strip().lower())

    def by_hub_id(self, hub_id: str) -> LicenseEntry | None:
        """The card's ``license:`` value (``other`` and ``unknown`` never match)."""
        key = hub_id.strip().lower()
        return self._by_hub_id.get(key) or (
            self._by_id.get(key) if key not in ("other", "unknown") else None
        )

    def by_license_name(self, name: str) -> LicenseEntry | None:
        """The card's ``license_name:`` (free text, normalised) or a licence id."""
        key = normalise_name(name)
        return self._by_name.get(key) or self._by_id.get(key) or self._by_hub_id.get(key)

    def by_spdx(self, spdx_id: str) -> LicenseEntry | None:
        """An SPDX id or ``LicenseRef-…`` (case-insensitive)."""
        return self._by_spdx.get(spdx_id.strip().lower())

    def by_scancode(self, key: str) -> LicenseEntry | None:
        return self._by_scancode.get(key.strip().lower())

    def by_link(self, url: str) -> LicenseEntry | None:
        """The entry whose ``license_links`` substring occurs in ``url``, the longest winning."""
        text = _strip_scheme(url)
        if not text:
            return None
        best: tuple[int, LicenseEntry] | None = None
        for e in self.entries:
            for link in e.license_links:
                if link and link in text and (best is None or len(link) > best[0]):
                    best = (len(link), e)
        return best[1] if best else None

    def lookup(self, text: str) -> LicenseEntry | None:
        """Any identifier a model may use: hub id, licence id, license_name, SPDX, ScanCode."""
        return (
            self.by_hub_id(text)
            or self.by_license_name(text)
            or self.by_spdx(text)
            or self.by_scancode(text.removeprefix("LicenseRef-scancode-"))
        )


def normalise_name(name: str) -> str:
    """``"Llama 3.1 Community_License"`` -> ``"llama-3.1-community-license"``."""
    return re.sub(r"[\s_]+", "-", name.strip().lower()).strip("-")


def _strip_scheme(url: str) -> str:
    text = url.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    return text.removeprefix("www.")


def _index(
    index: dict[str, LicenseEntry], what: str, key: str, entry: LicenseEntry, origin: str
) -> None:
    other = index.get(key)
    if other is not None and other is not entry:
        raise LicenseDataError(
            f"Licence knowledge base '{origin}' is invalid: {what} '{key}' belongs to both "
            f"'{other.id}' and '{entry.id}'. Give each alias to one entry."
        )
    index[key] = entry


# --- loading ---------------------------------------------------------------------------------


@cache
def default_kb() -> KnowledgeBase:
    """The knowledge base shipped with modeltrust (parsed and validated once per process)."""
    resource = resources.files("modeltrust.licenses").joinpath("data/licenses.yaml")
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, FileNotFoundError) as e:
        raise LicenseDataError(
            f"The licence knowledge base 'modeltrust/licenses/data/licenses.yaml' could not be "
            f"read ({e}). Reinstall modeltrust."
        ) from None
    return parse_kb(text, origin="modeltrust/licenses/data/licenses.yaml")


def load_kb(path: str | Path) -> KnowledgeBase:
    """A knowledge base from a YAML file (the same schema), e.g. an organisation's own."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise LicenseDataError(
            f"Licence knowledge base '{path}' could not be read: {e.strerror or e}."
        ) from None
    return parse_kb(text, origin=str(path))


def parse_kb(text: str, *, origin: str = "<string>") -> KnowledgeBase:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise LicenseDataError(
            f"Licence knowledge base '{origin}' is not valid YAML: {e}. Fix the file."
        ) from None
    top = _Fields(doc, origin, "the top level")
    version = top.int_("schema_version")
    if version != SCHEMA_VERSION:
        top.fail(f"'schema_version' is {version!r}; this modeltrust reads version {SCHEMA_VERSION}")
    checked = top.str_("checked")
    raw_entries = top.list_("licenses")
    top.done()
    entries = tuple(
        _entry(_Fields(raw, origin, f"licence #{i + 1}"), checked)
        for i, raw in enumerate(raw_entries)
    )
    if not entries:
        top.fail("'licenses' is empty")
    return KnowledgeBase(version, checked, entries, origin)


def _entry(f: _Fields, default_checked: str) -> LicenseEntry:
    license_id = f.str_("id").lower()
    f.where = f"licence '{license_id}'"
    entry = LicenseEntry(
        id=license_id,
        name=f.str_("name"),
        family=f.str_("family").lower(),
        version=f.opt_text("version"),
        hub_ids=f.aliases("hub_ids"),
        license_names=f.aliases("license_names"),
        license_links=tuple(_strip_scheme(link) for link in f.aliases("license_links")),
        spdx=f.opt_str("spdx"),
        license_ref=f.opt_str("license_ref") or f"LicenseRef-modeltrust-{license_id}",
        scancode_key=f.opt_str("scancode_key"),
        category=f.choice("category", CATEGORIES),
        commercial_use=cast(CommercialUse, f.choice("commercial_use", COMMERCIAL)),
        conditions=_conditions(f.sub("conditions")),
        obligations=_obligations(f.sub("obligations")),
        restrictions=_restrictions(f.sub("restrictions")),
        flows_down=f.bool_("flows_down", default=False),
        outputs_trained_models_are_derivatives=f.opt_bool("outputs_trained_models_are_derivatives"),
        title_patterns=f.phrases("title_patterns"),
        key_phrases=f.phrases("key_phrases"),
        source=f.opt_str("source"),
        checked=f.opt_text("checked") or default_checked,
        confidence=cast(Confidence, f.choice("confidence", CONFIDENCE)),
        notes=f.opt_str("notes"),
    )
    f.done()
    return entry


def _conditions(f: _Fields) -> Conditions:
    regions = []
    for i, raw in enumerate(f.list_("regions", default=[])):
        r = _Fields(raw, f.origin, f"{f.where}, conditions.regions[{i}]")
        regions.append(RegionClause(r.str_("region").upper(), r.str_("effect")))
        r.done()
    out = Conditions(
        mau_threshold=f.opt_int("mau_threshold"),
        revenue_threshold_usd=f.opt_int("revenue_threshold_usd"),
        regions=tuple(regions),
    )
    f.done()
    return out


def _obligations(f: _Fields) -> Obligations:
    out = Obligations(
        license_copy=f.bool_("license_copy", default=False),
        notice_file=f.bool_("notice_file", default=False),
        attribution=f.opt_str("attribution"),
        derivative_name_prefix=f.opt_str("derivative_name_prefix"),
        state_changes=f.bool_("state_changes", default=False),
        share_alike=f.bool_("share_alike", default=False),
        use_policy=f.opt_str("use_policy"),
        include_use_restrictions=f.bool_("include_use_restrictions", default=False),
    )
    f.done()
    return out


def _restrictions(f: _Fields) -> Restrictions:
    out = Restrictions(
        acceptable_use=f.phrases("acceptable_use"),
        non_commercial=f.bool_("non_commercial", default=False),
        research_only=f.bool_("research_only", default=False),
        no_improving_other_models=f.bool_("no_improving_other_models", default=False),
    )
    f.done()
    return out


class _Fields:
    """Typed reads from one YAML mapping; every error names the file, the entry and the key.
    ``done()`` refuses keys that were never read, so a typo cannot pass silently."""

    def __init__(self, raw: object, origin: str, where: str) -> None:
        self.origin = origin
        self.where = where
        if not isinstance(raw, dict):
            self.fail(f"expected a mapping, found {type(raw).__name__}")
        self.raw: dict[object, object] = cast(dict[object, object], raw)
        self.seen: set[str] = set()

    def fail(self, problem: str) -> NoReturn:
        raise LicenseDataError(
            f"Licence knowledge base '{self.origin}' is invalid: {self.where}: {problem}. Fix the "
            "file (the schema is in docs/licenses.md)."
        )

    def _get(self, key: str, *, required: bool) -> object:
        self.seen.add(key)
        if key not in self.raw:
            if required:
                self.fail(f"'{key}' is missing")
            return None
        return self.raw[key]

    def str_(self, key: str) -> str:
        value = self._get(key, required=True)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"'{key}' must be a non-empty string, not {value!r}")
        return value.strip()

    def opt_str(self, key: str) -> str | None:
        value = self._get(key, required=False)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"'{key}' must be a string or null, not {value!r}")
        return value.strip() or None

    def opt_text(self, key: str) -> str | None:
        """A string that YAML may have read as a number or date ("3.1", 2026-11-23)."""
        value = self._get(key, required=False)
        if value is None:
            return None
        if isinstance(value, bool | list | dict):
            self.fail(f"'{key}' must be a string or null, not {value!r}")
        return str(value).strip() or None

    def int_(self, key: str) -> int:
        value = self._get(key, required=True)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f"'{key}' must be an integer, not {value!r}")
        return value

    def opt_int(self, key: str) -> int | None:
        value = self._get(key, required=False)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.fail(f"'{key}' must be a non-negative integer or null, not {value!r}")
        return value

    def bool_(self, key: str, *, default: bool) -> bool:
        value = self._get(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(f"'{key}' must be true or false, not {value!r}")
        return value

    def opt_bool(self, key: str) -> bool | None:
        value = self._get(key, required=False)
        if value is not None and not isinstance(value, bool):
            self.fail(f"'{key}' must be true, false or null, not {value!r}")
        return value

    def choice(self, key: str, allowed: frozenset[str]) -> str:
        value = self._get(key, required=True)
        text = value.strip().lower() if isinstance(value, str) else value
        if text not in allowed:
            self.fail(f"'{key}' is {value!r}; allowed: {', '.join(sorted(allowed))}")
        return text

    def list_(self, key: str, default: list[object] | None = None) -> list[object]:
        value = self._get(key, required=default is None)
        if value is None:
            return list(default or [])
        if not isinstance(value, list):
            self.fail(f"'{key}' must be a list, not {value!r}")
        return cast(list[object], value)

    def aliases(self, key: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.lower() for p in self.phrases(key)))

    def phrases(self, key: str) -> tuple[str, ...]:
        items = self.list_(key, default=[])
        if not all(isinstance(i, str) and i.strip() for i in items):
            self.fail(f"'{key}' must be a list of non-empty strings, not {items!r}")
        return tuple(cast(str, i).strip() for i in items)

    def sub(self, key: str) -> _Fields:
        value = self._get(key, required=False)
        return _Fields({} if value is None else value, self.origin, f"{self.where}, {key}")

    def done(self) -> None:
        extra = sorted(str(k) for k in self.raw if k not in self.seen)
        if extra:
            self.fail(f"unknown key(s) {', '.join(repr(k) for k in extra)}")
