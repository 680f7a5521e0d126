"""Documentation says what the code does: every rule id, the README commands, the JSON schema."""

from __future__ import annotations

import re
from pathlib import Path

from modeltrust.rules import all_rules, by_id

ROOT = Path(__file__).resolve().parents[1]


def test_every_rule_is_documented_and_nothing_else() -> None:
    text = (ROOT / "docs/rules.md").read_text()
    documented = re.findall(r"^### (MT-[A-Z]+-\d{3})$", text, flags=re.MULTILINE)
    assert sorted(documented) == sorted(r.id for r in all_rules())
    for rule in all_rules():
        section = text.split(f"### {rule.id}\n", 1)[1].split("\n### ", 1)[0]
        # "— high." or "— high, critical when ...": the default severity comes first.
        assert re.search(rf"— {rule.severity.label}[.,]", section), rule.id


def test_rule_ids_are_unique_and_well_formed() -> None:
    assert len(by_id()) == len(all_rules())
    for rule in all_rules():
        assert re.fullmatch(r"MT-[A-Z]+-\d{3}", rule.id)
        assert rule.remediation


def test_readme_names_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text


def test_json_doc_describes_the_schema_version() -> None:
    text = (ROOT / "docs/json.md").read_text()
    assert "schema_version" in text and "scan-result-1.json" in text
