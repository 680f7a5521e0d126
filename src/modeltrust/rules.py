"""The catalogue of rules, read from ``rules.toml`` beside this module.

Ids are stable: a rule may be reworded, never renumbered or reused. The same id is the SARIF
``ruleId``, the anchor on docs/rules.md (generated from the catalogue by
``tools/gen_rules_doc.py``) and the key of policy exceptions.

Code names a rule by its constant, ``rules.PKL_CODE_EXEC``; the constants are the ``name`` keys
of the catalogue. The file is read and checked once, when a rule is first needed: a scan that
reports nothing never parses it. ``tests/test_rules_catalogue.py`` checks that every constant
the code uses exists and that each rule is raised only where its ``family`` says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from modeltrust.errors import RuleCatalogueError
from modeltrust.findings import Finding, Location, Severity

CATALOGUE = Path(__file__).with_name("rules.toml")
_ID = re.compile(r"MT-[A-Z]+-\d{3}")
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_FAMILY = re.compile(r"[a-z_]+(?:/[a-z_]+)?")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    remediation: str
    references: tuple[str, ...] = ()

    def finding(
        self,
        location: Location,
        message: str,
        *,
        evidence: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            severity=self.severity if severity is None else severity,
            title=self.title,
            message=message,
            location=location,
            evidence=evidence,
            remediation=self.remediation,
            references=self.references,
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """A rule with what the catalogue says about it beyond the finding: its constant, where it
    is raised, and its documentation."""

    rule: Rule
    name: str
    section: str
    family: str
    """The folder of ``src/modeltrust`` that raises it (``scanners/pickle``, ``licenses``)."""
    also: tuple[str, ...]
    """Other folders that raise it (the engine reports some container limits itself)."""
    severity_note: str | None
    """When the severity is not always the default: ``"high, low when ..."``."""
    doc: str


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    intro: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    preamble: str
    sections: tuple[Section, ...]
    entries: tuple[Entry, ...]

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(e.rule for e in self.entries)


# --- reading -------------------------------------------------------------------------------------
def _str(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleCatalogueError(f"{where}: '{key}' must be a non-empty string, not {value!r}.")
    return value


def _optional(table: dict[str, Any], key: str, where: str) -> str | None:
    return None if table.get(key) is None else _str(table, key, where)


def _strs(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleCatalogueError(f"{where}: '{key}' must be a list of strings, not {value!r}.")
    return tuple(value)


def parse(text: str, source: str = "rules.toml") -> Catalogue:
    """Read and check a catalogue; every error names the rule and the key at fault."""
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RuleCatalogueError(f"{source} is not valid TOML: {e}.") from None
    texts = doc.get("text", {})
    if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
        raise RuleCatalogueError(f"{source}: [text] must map names to strings.")
    sections = []
    for i, table in enumerate(doc.get("section", [])):
        where = f"{source} section #{i + 1}"
        title = _str(table, "title", where)
        sections.append(Section(title, _optional(table, "intro", where) or ""))
    titles = {s.title for s in sections}
    entries: list[Entry] = []
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    for i, table in enumerate(doc.get("rule", [])):
        where = f"{source} rule #{i + 1}"
        rule_id = _str(table, "id", where)
        where = f"{source} rule {rule_id}"
        if not _ID.fullmatch(rule_id) or rule_id in seen_ids:
            raise RuleCatalogueError(f"{where}: the id must look like MT-XXX-001 and be unique.")
        name = _str(table, "name", where)
        if not _NAME.fullmatch(name) or name in seen_names:
            raise RuleCatalogueError(f"{where}: 'name' {name!r} must be an unused UPPER_CASE name.")
        seen_ids.add(rule_id)
        seen_names.add(name)
        section = _str(table, "section", where)
        if section not in titles:
            raise RuleCatalogueError(f"{where}: 'section' {section!r} is not a [[section]] title.")
        family = _str(table, "family", where)
        also = _strs(table, "also", where)
        for folder in (family, *also):
            if not _FAMILY.fullmatch(folder):
                raise RuleCatalogueError(f"{where}: {folder!r} is not a folder of src/modeltrust.")
        severity_text = _str(table, "severity", where)
        try:
            severity = Severity.parse(severity_text)
        except ValueError as e:
            raise RuleCatalogueError(f"{where}: {e}.") from None
        remediation = _str(table, "remediation", where)
        try:
            remediation = Template(remediation).substitute(texts).strip()
        except (KeyError, ValueError) as e:
            raise RuleCatalogueError(f"{where}: 'remediation' names no [text] entry {e}.") from None
        title = _str(table, "title", where)
        unknown = set(table) - {
            "id", "name", "section", "family", "also", "title", "severity", "severity_note",
            "remediation", "references", "doc",
        }  # fmt: skip
        if unknown:
            raise RuleCatalogueError(f"{where}: unknown keys {sorted(unknown)}.")
        entries.append(
            Entry(
                rule=Rule(rule_id, title, severity, remediation, _strs(table, "references", where)),
                name=name,
                section=section,
                family=family,
                also=also,
                severity_note=_optional(table, "severity_note", where),
                doc=(_optional(table, "doc", where) or "").strip("\n"),
            )
        )
    if not entries:
        raise RuleCatalogueError(f"{source} holds no [[rule]].")
    return Catalogue(str(doc.get("preamble", "")).strip("\n"), tuple(sections), tuple(entries))


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue, read once."""
    try:
        text = CATALOGUE.read_text("utf-8")
    except OSError as e:
        raise RuleCatalogueError(
            f"Cannot read the rule catalogue {CATALOGUE}: {e.strerror or e}. Reinstall modeltrust."
        ) from None
    return parse(text, str(CATALOGUE))


@cache
def _by_name() -> dict[str, Rule]:
    return {e.name: e.rule for e in catalogue().entries}


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule, in catalogue order (the order of ``modeltrust rules`` and of SARIF)."""
    return catalogue().rules


@cache
def by_id() -> dict[str, Rule]:
    return {r.id: r for r in all_rules()}


def __getattr__(name: str) -> Rule:
    """``rules.PKL_CODE_EXEC``: a rule by its constant name, read on first use."""
    if not _NAME.fullmatch(name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        rule = _by_name()[name]
    except KeyError:
        raise AttributeError(
            f"modeltrust.rules has no rule named {name}: add it to {CATALOGUE.name}."
        ) from None
    globals()[name] = rule  # later lookups skip this function
    return rule


_GENERATED = (
    "<!-- Generated from src/modeltrust/rules.toml by tools/gen_rules_doc.py:"
    " edit the catalogue, not this page. -->"
)


# --- docs/rules.md -------------------------------------------------------------------------------
def markdown(cat: Catalogue | None = None) -> str:
    """docs/rules.md: the preamble, then each section's introduction and rules."""
    cat = cat or catalogue()
    out = [_GENERATED, "", cat.preamble, ""]
    for section in cat.sections:
        out += [f"## {section.title}", ""]
        if section.intro:
            out += [section.intro.strip("\n"), ""]
        for e in (e for e in cat.entries if e.section == section.title):
            r = e.rule
            out.append(f"### {r.id}")
            out.append(f"**{r.title}** — {e.severity_note or r.severity.label}.")
            if e.doc:
                out.append(e.doc)
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
