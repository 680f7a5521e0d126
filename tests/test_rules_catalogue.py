"""The rule catalogue is data (src/modeltrust/rules.toml): docs/rules.md is generated from it,
every rule constant the code names exists, and each rule is raised where its family says."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from modeltrust import rules
from modeltrust.errors import RuleCatalogueError
from modeltrust.findings import Location, Severity

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "modeltrust"


def _references() -> dict[str, set[str]]:
    """Rule constant -> folders of src/modeltrust whose code names it."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        if path == SRC / "rules.py":
            continue
        rel = path.relative_to(SRC)
        folder = rel.parent.as_posix() if rel.parent != Path() else rel.stem
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "rules"
                and node.attr.isupper()
            ):
                found[node.attr].add(folder)
            if isinstance(node, ast.ImportFrom) and node.module == "modeltrust.rules":
                for alias in node.names:
                    if alias.name.isupper():
                        found[alias.name].add(folder)
    return found


def test_docs_are_generated_from_the_catalogue() -> None:
    assert (ROOT / "docs" / "rules.md").read_text("utf-8") == rules.markdown(), (
        "docs/rules.md is out of date: edit src/modeltrust/rules.toml, then run "
        "python tools/gen_rules_doc.py"
    )


def test_every_constant_the_code_names_is_in_the_catalogue() -> None:
    names = {e.name for e in rules.catalogue().entries}
    missing = sorted(set(_references()) - names)
    assert not missing, f"code names rules the catalogue lacks: {missing}"


def test_each_rule_is_raised_only_in_its_family() -> None:
    refs = _references()
    wrong = {}
    for e in rules.catalogue().entries:
        assert (SRC / e.family).exists() or (SRC / f"{e.family}.py").exists(), e.family
        allowed = {e.family, *e.also}
        if not refs.get(e.name, set()) <= allowed:
            wrong[e.rule.id] = sorted(refs[e.name] - allowed)
        for folder in e.also:  # an `also` that nothing uses any more is stale
            assert folder in refs.get(e.name, set()), (e.rule.id, folder)
    assert not wrong, f"raised outside their family (add the folder to `also`): {wrong}"


def test_constants_read_the_catalogue() -> None:
    rule = rules.PKL_CODE_EXEC
    assert rule is rules.by_id()["MT-PKL-001"]
    assert rule.severity is Severity.CRITICAL
    assert rule.remediation.startswith("Do not load this file.")  # the ${DO_NOT_LOAD} text
    finding = rule.finding(Location("x.pkl"), "m")
    assert (finding.rule_id, finding.references[0]) == ("MT-PKL-001", "CWE-502")
    with pytest.raises(AttributeError, match="no rule named NOT_A_RULE"):
        _ = rules.NOT_A_RULE
    assert len(rules.all_rules()) == len(rules.by_id()) == len(rules.catalogue().entries)


_GOOD = """
[text]
X = "shared words."
[[section]]
title = "S"
[[rule]]
id = "MT-AAA-001"
name = "AAA_ONE"
section = "S"
family = "scanners/pickle"
title = "t"
severity = "high"
remediation = "Do this. ${X}"
doc = "d"
"""


def test_a_wellformed_catalogue_is_typed_on_load() -> None:
    (entry,) = rules.parse(_GOOD).entries
    assert entry.rule == rules.Rule("MT-AAA-001", "t", Severity.HIGH, "Do this. shared words.")
    assert entry.family == "scanners/pickle" and entry.also == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('id = "MT-AAA-001"', 'id = "PKL-1"'), "must look like MT-XXX-001"),
        (('severity = "high"', 'severity = "severe"'), "unknown severity"),
        (('section = "S"', 'section = "T"'), "not a \\[\\[section\\]\\] title"),
        (("${X}", "${Y}"), "names no \\[text\\] entry"),
        (('family = "scanners/pickle"', 'family = "../etc"'), "not a folder"),
        (('title = "t"', 'title = ""'), "'title' must be a non-empty string"),
        (('doc = "d"', 'doc = "d"\nseverity_level = 3'), "unknown keys"),
        (('name = "AAA_ONE"', 'name = "aaa"'), "UPPER_CASE"),
        (("[text]", "[text"), "not valid TOML"),
    ],
)
def test_a_broken_catalogue_names_the_rule_and_key(change: tuple[str, str], message: str) -> None:
    with pytest.raises(RuleCatalogueError, match=message) as info:
        rules.parse(_GOOD.replace(*change), "test.toml")
    assert "test.toml" in str(info.value)


def test_a_duplicate_id_is_refused() -> None:
    twice = _GOOD + _GOOD[_GOOD.index("[[rule]]") :].replace("AAA_ONE", "AAA_TWO")
    with pytest.raises(RuleCatalogueError, match="unique"):
        rules.parse(twice)
