"""The rule catalogue is data (src/modeltrust/rules.toml): docs/rules.md is generated from it,
every rule constant the code names exists, and each rule is raised where its family says."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from modeltrust import rules
from modeltrust.errors import RuleCatalogueError
from modeltrust.findings import Location, Severity

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "modeltrust"


def _folder(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parent.as_posix() if rel.parent != Path() else rel.stem


def _named_rules(tree: ast.AST) -> set[str]:
    """The rule constants a piece of code names: ``rules.NAME`` or ``from modeltrust.rules
    import NAME``."""
    out = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "rules"
            and node.attr.isupper()
        ):
            out.add(node.attr)
        if isinstance(node, ast.ImportFrom) and node.module == "modeltrust.rules":
            out |= {alias.name for alias in node.names if alias.name.isupper()}
    return out


def _calls(tree: ast.AST, name: str) -> bool:
    return any(
        isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == name)
            or (isinstance(node.func, ast.Name) and node.func.id == name)
        )
        for node in ast.walk(tree)
    )


def _references() -> dict[str, set[str]]:
    """Rule constant -> folders of src/modeltrust whose code names it or raises it.

    One indirection is followed: the pickle-import rules are named once, in the category table
    ``callables.rule_for()`` of scanners/common, and raised by whoever looks a category up in it.
    """
    found: dict[str, set[str]] = defaultdict(set)
    table: set[str] = set()
    table_users: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path == SRC / "rules.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for name in _named_rules(tree):
            found[name].add(_folder(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "rule_for":
                table |= _named_rules(node)
        if _calls(tree, "rule_for") and path != SRC / "scanners" / "common" / "callables.py":
            table_users.add(_folder(path))
    assert table and table_users, "the category table moved: update this test"
    for name in table:
        found[name] |= table_users
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


def _misplaced(entries: Iterable[rules.Entry], refs: dict[str, set[str]]) -> dict[str, str]:
    """Rule id -> what is wrong with where the catalogue says it is raised."""
    out = {}
    for e in entries:
        used = refs.get(e.name, set())
        stale = [f for f in e.also if f not in used]
        if not used:
            out[e.rule.id] = "no code raises it (retire it; never reuse the id)"
        elif e.family not in used:
            out[e.rule.id] = f"its family {e.family} never raises it; {sorted(used)} do"
        elif not used <= {e.family, *e.also}:
            out[e.rule.id] = f"also raised in {sorted(used - {e.family, *e.also})}: add to `also`"
        elif stale:
            out[e.rule.id] = f"`also` names {stale}, which no longer raise it"
    return out


def test_each_rule_is_raised_in_its_family_and_nowhere_else() -> None:
    entries = rules.catalogue().entries
    for e in entries:
        assert (SRC / e.family).exists() or (SRC / f"{e.family}.py").exists(), e.family
    assert not _misplaced(entries, _references())


def test_the_family_check_catches_a_misplaced_rule() -> None:
    refs = _references()
    assert refs["PKL_CODE_EXEC"] == {"scanners/common", "scanners/pickle"}  # via the table
    (good,) = (e for e in rules.catalogue().entries if e.name == "PKL_CODE_EXEC")
    cases = {
        "never raises it": replace(good, family="licenses"),
        "add to `also`": replace(good, also=()),
        "no longer raise it": replace(good, also=("scanners/common", "scanners/tensors")),
        "no code raises it": replace(good, name="NOT_RAISED_ANYWHERE"),
    }
    for expected, entry in cases.items():
        assert expected in _misplaced([entry], refs)["MT-PKL-001"]


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
